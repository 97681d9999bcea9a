// Package inputfile reads the files a user hands cbload (a scenario, a
// report) with a size cap, a deadline and cancellation, so that /dev/zero,
// a FIFO nobody writes to or a huge file cannot exhaust memory or outlive a
// signal.
package inputfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// ErrTimeout means the file did not deliver all its bytes within the
// deadline, like a FIFO that no one writes to.
var ErrTimeout = errors.New("no end of file within the deadline")

// TooLargeError means the file holds more than Limit bytes.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("larger than the %s limit", Size(e.Limit))
}

// Size writes a byte count the way limits are documented: 1 MiB, 64 MiB.
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Read returns the contents of the file at path. It fails with a
// *TooLargeError beyond limit bytes (without reading more than limit+1), with
// an error wrapping ErrTimeout when the file is not read to its end within
// timeout, and with ctx's error as soon as ctx is done, even while opening a
// FIFO or waiting for its writer. Errors opening or reading the file are
// returned as they are.
func Read(ctx context.Context, path string, limit int64, timeout time.Duration) ([]byte, error) {
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Size() > limit {
		return nil, &TooLargeError{Limit: limit}
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("%w (%v)", ErrTimeout, timeout))
	defer cancel()

	done := make(chan result, 1)
	var (
		mu      sync.Mutex
		file    *os.File
		stopped bool
	)
	go func() {
		// Opening a FIFO blocks until a writer opens it.
		f, err := os.Open(path)
		if err != nil {
			done <- result{nil, err}
			return
		}
		mu.Lock()
		if stopped {
			mu.Unlock()
			f.Close()
			done <- result{nil, context.Cause(ctx)}
			return
		}
		file = f
		mu.Unlock()
		data, err := io.ReadAll(io.LimitReader(ctxReader{ctx, f}, limit+1))
		mu.Lock()
		if !stopped {
			f.Close()
		}
		stopped = true
		mu.Unlock()
		done <- result{data, err}
	}()

	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		mu.Lock()
		f, already := file, stopped
		stopped = true
		mu.Unlock()
		if f != nil && !already {
			// Unblocks a read waiting for a FIFO's writer: pipes are
			// read through the runtime's poller.
			f.Close()
		}
		r = waitUnblocking(path, done, f == nil && !already)
		if r.err == nil || errors.Is(r.err, os.ErrClosed) || ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
	}
	if r.err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, r.err
	}
	if int64(len(r.data)) > limit {
		return nil, &TooLargeError{Limit: limit}
	}
	return r.data, nil
}

// waitUnblocking waits for the reader goroutine. One blocked in opening a
// FIFO is released by opening the FIFO for writing once, which is what its
// open waits for; it then reads end of file at once. It gives up after a
// second, leaving the goroutine to the process's exit.
func waitUnblocking(path string, done <-chan result, opening bool) result {
	give := time.NewTimer(time.Second)
	defer give.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if opening {
			// O_NONBLOCK: fails at once (ENXIO) while no reader is
			// waiting, instead of blocking like the reader.
			if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
		}
		select {
		case r := <-done:
			return r
		case <-give.C:
			return result{}
		case <-tick.C:
		}
	}
}

// result is what the reader goroutine hands back.
type result struct {
	data []byte
	err  error
}

// ctxReader stops reading once ctx is done: /dev/zero never blocks, so a
// cancellation has to be noticed between reads.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.r.Read(p)
}
