package faultserver

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cbload/cbload/internal/pool"
)

// capacity gives the synthetic upstream a finite number of workers and a
// bounded queue in front of them, the server side of a metastable failure
// (Config.Concurrency). A request takes a worker for its whole service
// time; when none is free it waits in line, and when the line is full it is
// answered 503 at once. By default neither the line nor a worker lets go of
// a request whose caller has gone — the server cannot tell, and that work
// for nobody is what keeps an overloaded system down — unless honorCancel
// is set.
type capacity struct {
	workers     *pool.Pool // a slot per worker, a queue of bounded length
	honorCancel bool
	// base is the server's base context, done when the server closes;
	// every request's context derives from it.
	base context.Context

	completed, completedForGone, rejected, abandoned atomic.Int64
}

func newCapacity(workers, queue int, honorCancel bool, base context.Context) *capacity {
	return &capacity{
		workers:     pool.NewQueue(workers, queue),
		honorCancel: honorCancel,
		base:        base,
	}
}

// atCapacityBody is the answer to a request the full queue turned away.
const atCapacityBody = `{"error":"upstream at capacity","status":503}` + "\n"

// serve runs one request's work of duration d through the workers and
// answers it with answer (writeHealthy, or a fault's): 200 when the work is done and the caller still there, 503 at
// once when the queue is full, nothing when the caller gave up (and the
// work was abandoned or done for nobody) or the server closed.
func (c *capacity) serve(w http.ResponseWriter, r *http.Request, d time.Duration, size int64, answer func(http.ResponseWriter, int64)) {
	// The wait ends when the server closes, and when the caller goes only
	// if cancellation is honoured.
	wait := c.base
	if c.honorCancel {
		wait = r.Context()
	}
	switch err := c.workers.Acquire(wait, nil); {
	case errors.Is(err, pool.ErrFull):
		c.rejected.Add(1)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(atCapacityBody)))
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(atCapacityBody)) //nolint:errcheck // the client may be gone
		return
	case err != nil:
		if c.base.Err() == nil {
			c.abandoned.Add(1) // the caller left the queue
		}
		return
	}
	var gone <-chan struct{} // nil, which never fires, unless cancellation is honoured
	if c.honorCancel {
		gone = r.Context().Done()
	}
	done := c.work(d, gone)
	c.workers.Release()
	if !done {
		return
	}
	c.completed.Add(1)
	if r.Context().Err() != nil {
		c.completedForGone.Add(1)
		return
	}
	answer(w, size)
}

// work holds a worker for d. It reports whether the work was done; it stops
// early only when gone fires (the caller left and cancellation is honoured)
// or the server closes.
func (c *capacity) work(d time.Duration, gone <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-gone:
		if c.base.Err() != nil {
			return false // the server closed: every request's context is done
		}
		c.abandoned.Add(1)
		return false
	case <-c.base.Done():
		return false
	}
}

// takeQueuePeak returns the most requests that waited in the queue at once
// since its last call (since the start, the first time), and starts the
// next period from the number waiting now.
func (c *capacity) takeQueuePeak() int64 { return c.workers.TakeWaitingPeak() }
