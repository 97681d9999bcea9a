package harness

import (
	"sync"
	"time"

	"github.com/cbload/cbload/reports"
)

// The watchdog ticks every watchdogTick and calls a gap between two ticks
// longer than stallThreshold a stall: the process did not run — it was
// stopped (SIGSTOP, a suspended VM) or starved of CPU — so the load was not
// sent on schedule and the measurements around it are not to be trusted.
const (
	watchdogTick   = 50 * time.Millisecond
	stallThreshold = 250 * time.Millisecond
	// maxStalls bounds the stalls kept for the report; the longest gap is
	// still tracked beyond it.
	maxStalls = 100
)

// watchdog is a wall-clock watchdog over one arm. startWatchdog starts its
// goroutine; the caller must call stop, which waits for it.
type watchdog struct {
	start time.Time
	quit  chan struct{}
	done  chan struct{}

	mu      sync.Mutex
	stalls  []reports.Stall
	longest time.Duration
}

// watchdogReport is what a watchdog saw.
type watchdogReport struct {
	stalls  []reports.Stall
	longest time.Duration
}

func startWatchdog(start time.Time) *watchdog {
	w := &watchdog{start: start, quit: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w
}

func (w *watchdog) loop() {
	defer close(w.done)
	t := time.NewTicker(watchdogTick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-w.quit:
			return
		case <-t.C:
		}
		// The tick's own timestamp is when the runtime queued it; what
		// matters is when this goroutine ran again.
		now := time.Now()
		w.observe(last, now)
		last = now
	}
}

func (w *watchdog) observe(last, now time.Time) {
	gap := now.Sub(last)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.longest = max(w.longest, gap)
	if gap > stallThreshold && len(w.stalls) < maxStalls {
		w.stalls = append(w.stalls, reports.Stall{
			TS:    round3(max(last.Sub(w.start), 0).Seconds()),
			GapMS: round3(float64(gap) / float64(time.Millisecond)),
		})
	}
}

// stop ends the watchdog and returns what it saw.
func (w *watchdog) stop() watchdogReport {
	close(w.quit)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return watchdogReport{stalls: w.stalls, longest: w.longest}
}
