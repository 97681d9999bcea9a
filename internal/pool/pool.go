// Package pool is cbload's one bounded queue: a fixed number of slots, a
// bounded wait for one (by time, as the gateway's workers, or by length, as
// the upstream's capacity), and the counts reports show — callers in
// flight, waiting and busy, and their peaks (Gauge).
package pool

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// ErrTimeout is returned by Acquire when no slot came free within the
// queue timeout.
var ErrTimeout = errors.New("no slot free within the queue timeout")

// ErrFull is returned by Acquire when no slot was free and the queue of
// callers waiting for one was full.
var ErrFull = errors.New("no slot free and the queue is full")

// Gauge is a count of things in some state now — requests in flight,
// callers waiting — and the most there have been at once. It is safe for
// concurrent use; the zero value counts from zero.
type Gauge struct {
	n, peak atomic.Int64
}

// Add adds d (negative to take away) and returns the count now, raising
// the peak when the count passes it.
func (g *Gauge) Add(d int64) int64 {
	n := g.n.Add(d)
	if d > 0 {
		g.raise(n)
	}
	return n
}

// addBelow adds one unless the count is already at limit; it reports
// whether it did. The peak never passes limit.
func (g *Gauge) addBelow(limit int64) bool {
	for {
		n := g.n.Load()
		if n >= limit {
			return false
		}
		if g.n.CompareAndSwap(n, n+1) {
			g.raise(n + 1)
			return true
		}
	}
}

func (g *Gauge) raise(n int64) {
	for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
	}
}

// Load returns the count now.
func (g *Gauge) Load() int64 { return g.n.Load() }

// Peak returns the most there have been at once, since the start or since
// the last TakePeak.
func (g *Gauge) Peak() int64 { return g.peak.Load() }

// TakePeak returns the most there have been at once since its last call
// (since the start, the first time), and starts the next period from the
// count now.
func (g *Gauge) TakePeak() int64 { return g.peak.Swap(g.n.Load()) }

// Pool admits at most its size of callers at once; others wait for a slot,
// up to the queue timeout (New) or, in a queue of bounded length, as long
// as their context lasts (NewQueue). It counts callers in flight (Enter),
// waiting and holding a slot, with their peaks. A Pool is safe for
// concurrent use.
type Pool struct {
	slots   chan struct{}
	timeout time.Duration // 0: wait as long as ctx lasts
	queue   int64         // the most callers waiting; <0: no limit

	inflight Gauge
	waiting  Gauge
}

// New returns a pool of size slots whose callers wait up to timeout for
// one, as many as come. size must be at least 1, timeout positive.
func New(size int, timeout time.Duration) *Pool {
	return &Pool{slots: make(chan struct{}, size), timeout: timeout, queue: -1}
}

// NewQueue returns a pool of size slots in front of which at most queue
// callers wait, each as long as its context lasts; a caller finding the
// queue full gets ErrFull at once. size must be at least 1, queue at
// least 0.
func NewQueue(size, queue int) *Pool {
	return &Pool{slots: make(chan struct{}, size), queue: int64(queue)}
}

// Enter counts a caller in flight until the returned leave is called; the
// caller must call it exactly once. It is separate from Acquire so that the
// count includes callers waiting for a slot.
func (p *Pool) Enter() (leave func()) {
	p.inflight.Add(1)
	return func() { p.inflight.Add(-1) }
}

// Acquire takes a slot, waiting for one as the pool allows. It returns nil
// when a slot was taken — the caller must then call Release — ErrTimeout,
// ErrFull, or ctx's error when ctx ends first. When no slot is free at
// once and the caller waits, onWait, if not nil, is called before waiting,
// and the function it returns, if not nil, when the wait ends, with how
// long it lasted and the wait's error.
func (p *Pool) Acquire(ctx context.Context, onWait func() func(waited time.Duration, err error)) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	if p.queue >= 0 {
		if !p.waiting.addBelow(p.queue) {
			return ErrFull
		}
	} else {
		p.waiting.Add(1)
	}
	defer p.waiting.Add(-1)
	var end func(time.Duration, error)
	if onWait != nil {
		end = onWait()
	}
	start := time.Now()
	var expired <-chan time.Time // nil, which never fires, without a timeout
	if p.timeout > 0 {
		t := time.NewTimer(p.timeout)
		defer t.Stop()
		expired = t.C
	}
	var err error
	select {
	case p.slots <- struct{}{}:
	case <-expired:
		err = ErrTimeout
	case <-ctx.Done():
		err = ctx.Err()
	}
	if end != nil {
		end(time.Since(start), err)
	}
	return err
}

// Release returns a slot taken by Acquire.
func (p *Pool) Release() { <-p.slots }

// InFlight returns the number of callers in flight now (Enter).
func (p *Pool) InFlight() int64 { return p.inflight.Load() }

// TakePeak returns the most callers in flight at once since its last call,
// and starts the next period from the number in flight now.
func (p *Pool) TakePeak() int64 { return p.inflight.TakePeak() }

// Waiting returns the number of callers waiting for a slot now.
func (p *Pool) Waiting() int64 { return p.waiting.Load() }

// TakeWaitingPeak returns the most callers waiting at once since its last
// call (since the start, the first time), and starts the next period from
// the number waiting now.
func (p *Pool) TakeWaitingPeak() int64 { return p.waiting.TakePeak() }

// Busy returns the number of slots taken now.
func (p *Pool) Busy() int64 { return int64(len(p.slots)) }
