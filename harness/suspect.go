package harness

import (
	"math"
	"slices"
	"sync"
	"time"
)

// slotPair is a (start slot, end slot) pair: when a request was sent, or a
// call arrived, and when it ended.
type slotPair struct{ at, done int32 }

// pairCounter counts events by the slot they started in and the slot they
// ended in, since a start time. It is safe for concurrent use.
type pairCounter struct {
	mu     sync.Mutex
	start  time.Time
	max    int
	counts map[slotPair]int64
}

func newPairCounter(start time.Time, total time.Duration) *pairCounter {
	return &pairCounter{start: start, max: int(total/slotWidth) + 1, counts: map[slotPair]int64{}}
}

// add counts one event started at at and ended at done; events started
// before the start or after the end of the schedule are not counted, and
// an end past the schedule counts in its last slot + 1.
func (c *pairCounter) add(at, done time.Time) {
	a, d := at.Sub(c.start), done.Sub(c.start)
	if a < 0 || int(a/slotWidth) >= c.max {
		return
	}
	end := min(int(d/slotWidth), c.max)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[slotPair{int32(a / slotWidth), int32(end)}]++
}

// sumInto adds the counts to out.
func (c *pairCounter) sumInto(out map[slotPair]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.counts {
		out[k] += v
	}
}

// pairs returns a copy of the counts.
func (c *pairCounter) pairs() map[slotPair]int64 {
	out := map[slotPair]int64{}
	c.sumInto(out)
	return out
}

// suspectOK counts the ok answers that the upstream's calls do not
// account for, in the slots fault marks. Per second, by send time, an ok
// answer (ok: by send and answer slot) is accounted for by a call that
// arrived in the same second and that the upstream served in full (served:
// by arrival and end slot) no later than the answer came back — at the
// baseline's calls per ok answer, learned from its first base slots. A
// call that ended after the answer (held by a hang or a delay, abandoned
// by the service and served once the fault cleared) fed nothing: the
// answer was made without it. A second's shortfall counts only beyond
// jitter (more than one answer and 5% of its ok answers). A fault's last
// second does not count: a request sent then may wait in the service's
// queue and have its call served, in full, once the fault is over. False
// when the baseline does not tell the rate: no ok answers or no calls
// served.
func suspectOK(ok, served map[slotPair]int64, base int, fault []bool) (int64, bool) {
	var o0, s0 int64
	for k, v := range ok {
		if int(k.at) < base {
			o0 += v
		}
	}
	for k, v := range served {
		if int(k.at) < base {
			s0 += v
		}
	}
	if o0 == 0 || s0 == 0 {
		return 0, false
	}
	per := float64(s0) / float64(o0)
	perSec := int(time.Second / slotWidth)
	// Per second: the answers' and the calls' counts by end slot.
	bySec := func(m map[slotPair]int64) map[int]map[int32]float64 {
		out := map[int]map[int32]float64{}
		for k, v := range m {
			sec := int(k.at) / perSec
			if out[sec] == nil {
				out[sec] = map[int32]float64{}
			}
			out[sec][k.done] += float64(v)
		}
		return out
	}
	answers, calls := bySec(ok), bySec(served)
	var n int64
	for sec := 0; sec*perSec < len(fault); sec++ {
		whole := true
		for i := sec * perSec; i < min((sec+1)*perSec, len(fault)); i++ {
			whole = whole && fault[i]
		}
		if next := (sec + 1) * perSec; next >= len(fault) || !fault[next] {
			whole = false // the fault's last second
		}
		if !whole {
			continue
		}
		var ends []int32
		var o float64
		for d, v := range answers[sec] {
			ends, o = append(ends, d), o+v
		}
		for d := range calls[sec] {
			ends = append(ends, d)
		}
		slices.Sort(ends)
		ends = slices.Compact(ends)
		// Sweep the end slots in order: calls served by then can account
		// for the answers back by then.
		var pool, matched float64
		for _, d := range ends {
			pool += calls[sec][d] / per
			m := min(pool, answers[sec][d])
			pool, matched = pool-m, matched+m
		}
		short := o - matched
		if short > 1 && short > 0.05*o {
			n += int64(math.Round(short))
		}
	}
	return n, true
}

// faultSlots marks the slots, n of them, of the phases of cfg that inject
// a fault, on the run's clock.
func faultSlots(cfg *Config, n int) []bool {
	out := make([]bool, n)
	for k, p := range cfg.Phases {
		from, end := cfg.sched.Start(k), cfg.sched.Start(k+1)
		for i := int(from / slotWidth); i < min(int(end/slotWidth), n); i++ {
			out[i] = p.Faulty()
		}
	}
	return out
}
