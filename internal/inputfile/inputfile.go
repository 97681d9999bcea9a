// Package inputfile reads the files a user hands cbload (a scenario, a
// report, a request file, a body, a certificate) with a size cap, a
// deadline and cancellation, so that /dev/zero, a FIFO nobody writes to or
// a huge file cannot exhaust memory or outlive a signal. Every file cbload
// reads because a user named it goes through Read or ReadRegular.
//
// Special files are read, not refused: `--targets <(generate)` and a FIFO
// written by another process are real uses. Opening and reading happen in a
// goroutine, so a FIFO's open (which waits for a writer) and its reads
// (which wait for data) give up at the deadline or on cancellation. A file
// that something else opens again by its name afterwards (a library given
// a certificate path) must be a regular file: ReadRegular.
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

// Timeout is the deadline for reading one input file that the callers in
// cbload use: long enough for a slow disk or a generator writing a FIFO,
// short enough that a forgotten FIFO is reported.
const Timeout = 10 * time.Second

// ErrNotRegular means a file that must be regular is a folder, a FIFO, a
// device or a socket.
var ErrNotRegular = errors.New("not a regular file")

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

// ReadRegular is Read for a file that must be a regular file: one that
// another reader (a library given its path) opens again later, which must
// not block on it. A folder, a FIFO, a device or a socket fails with an
// error wrapping ErrNotRegular, without being opened.
func ReadRegular(ctx context.Context, path string, limit int64, timeout time.Duration) ([]byte, error) {
	if err := CheckRegular(path); err != nil {
		return nil, err
	}
	return Read(ctx, path, limit, timeout)
}

// CheckRegular returns nil when path is a regular file (or a link to one),
// an error wrapping ErrNotRegular that says what it is instead ("a FIFO,
// not a regular file") when it is not, and os.Stat's error when there is
// nothing there. It opens nothing, so it cannot block.
func CheckRegular(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s, %w", kind(fi.Mode()), ErrNotRegular)
	}
	return nil
}

// kind names a file mode's type for a message.
func kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
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
