// Package pool is a bounded admission pool: a fixed number of slots, a
// bounded wait for one, and the in-flight count and peak that reports show.
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

// Pool admits at most Size callers at once; others wait up to the queue
// timeout. It also counts callers in flight — holding a slot or waiting for
// one — and their peak. A Pool is safe for concurrent use.
type Pool struct {
	slots   chan struct{}
	timeout time.Duration

	inflight atomic.Int64
	peak     atomic.Int64
}

// New returns a pool of size slots whose callers wait up to timeout for
// one. size must be at least 1.
func New(size int, timeout time.Duration) *Pool {
	return &Pool{slots: make(chan struct{}, size), timeout: timeout}
}

// Enter counts a caller in flight until the returned leave is called; the
// caller must call it exactly once. It is separate from Acquire so that the
// count includes callers waiting for a slot.
func (p *Pool) Enter() (leave func()) {
	n := p.inflight.Add(1)
	for old := p.peak.Load(); n > old && !p.peak.CompareAndSwap(old, n); old = p.peak.Load() {
	}
	return func() { p.inflight.Add(-1) }
}

// Acquire takes a slot, waiting up to the queue timeout. It returns nil when
// a slot was taken — the caller must then call Release — ErrTimeout, or
// ctx's error when ctx ends first. When no slot is free at once, onWait, if
// not nil, is called before waiting, and the function it returns, if not
// nil, when the wait ends, with how long it lasted and the wait's error.
func (p *Pool) Acquire(ctx context.Context, onWait func() func(waited time.Duration, err error)) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	var end func(time.Duration, error)
	if onWait != nil {
		end = onWait()
	}
	start := time.Now()
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	var err error
	select {
	case p.slots <- struct{}{}:
	case <-t.C:
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

// InFlight returns the number of callers in flight now.
func (p *Pool) InFlight() int64 { return p.inflight.Load() }

// TakePeak returns the most callers in flight at once since its last call,
// and starts the next period from the number in flight now.
func (p *Pool) TakePeak() int64 { return p.peak.Swap(p.inflight.Load()) }
