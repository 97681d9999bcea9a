// Package outfile writes the files cbload produces — the reports,
// summary.txt, JUnit, a comparison, the results stream — the way a user
// expects of an output path:
//
//   - a new path or a regular file is replaced atomically: the data goes to
//     a temporary file in the same folder, is synced and renamed over the
//     path, so a reader never sees half a file;
//   - a symbolic link is followed: the regular file it points to is
//     replaced atomically (the link stays a link), a device or FIFO it
//     points to is written through (/dev/stdout, bash's >(…) as
//     /dev/fd/63); a link to nothing is refused;
//   - a character device or a FIFO is written through, never replaced nor
//     truncated; a FIFO waits for its reader, at most ReaderWait and never
//     past ctx;
//   - a folder, a socket or a block device is refused.
//
// A short write or a full disk — at write, sync or close — is an error.
// Lock keeps two processes from writing into one folder at once.
package outfile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ReaderWait is how long writing to a FIFO waits for a process to open it
// for reading.
const ReaderWait = 10 * time.Second

// Kind says how an output path is written.
type Kind int

// Kinds of output paths.
const (
	// New is a path where nothing is yet: created atomically.
	New Kind = iota
	// Regular is a regular file: replaced atomically.
	Regular
	// Device is a character device: written through.
	Device
	// FIFO is a named pipe: written through once a reader opens it.
	FIFO
)

// RefusedError means a path cannot be an output: a folder, a socket, a
// block device or a symbolic link to nothing. Reason says which, as a
// lowercase phrase ("is a folder").
type RefusedError struct {
	Path   string
	Reason string
}

func (e *RefusedError) Error() string { return e.Reason }

// Target is what an output path resolves to.
type Target struct {
	// Path is where to write: the path given, or for a symbolic link to a
	// regular file the file it points to.
	Path string
	Kind Kind
}

// Special says the target is written through rather than replaced.
func (t Target) Special() bool { return t.Kind == Device || t.Kind == FIFO }

// Resolve says how path would be written. Its error is a *RefusedError
// for a path that cannot be an output, or the error of a stat that failed
// for another reason than the path not existing.
func Resolve(path string) (Target, error) {
	li, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Target{Path: path, Kind: New}, nil
	}
	if err != nil {
		return Target{}, err
	}
	fi := li
	if li.Mode()&fs.ModeSymlink != 0 {
		fi, err = os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			dest, _ := os.Readlink(path)
			return Target{}, &RefusedError{path, fmt.Sprintf("is a symbolic link to %s, which does not exist", dest)}
		}
		if err != nil {
			return Target{}, err
		}
	}
	m := fi.Mode()
	switch {
	case m.IsRegular():
		if fi == li {
			return Target{Path: path, Kind: Regular}, nil
		}
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			return Target{}, err
		}
		return Target{Path: real, Kind: Regular}, nil
	case m.IsDir():
		return Target{}, &RefusedError{path, "is a folder"}
	case m&fs.ModeNamedPipe != 0:
		return Target{Path: path, Kind: FIFO}, nil
	case m&fs.ModeCharDevice != 0:
		return Target{Path: path, Kind: Device}, nil
	case m&fs.ModeSocket != 0:
		return Target{}, &RefusedError{path, "is a socket"}
	case m&fs.ModeDevice != 0:
		return Target{}, &RefusedError{path, "is a block device"}
	}
	return Target{}, &RefusedError{path, fmt.Sprintf("is not a regular file (%v)", m.Type())}
}

// CheckWritable checks, without writing to it or opening it (opening a
// FIFO would be seen by its reader), that the device or FIFO t may be
// written to. For a new or regular file it checks nothing: the caller
// probes the folder t.Path is in, which is where the file is created.
func CheckWritable(t Target) error {
	if t.Special() {
		if err := syscall.Access(t.Path, 2 /* W_OK */); err != nil {
			return fmt.Errorf("cannot write to it: %w", err)
		}
		return nil
	}
	return nil
}

// Write writes data to path as the package documents: atomically for a
// new path or a regular file (following a link), through the file for a
// device or a FIFO. A file it creates is readable by all (0644). Errors
// name path.
func Write(ctx context.Context, path string, data []byte) error {
	return WritePerm(ctx, path, data, 0o644)
}

// WritePerm is Write with the permissions of a file it creates, such as
// 0600 for a private key.
func WritePerm(ctx context.Context, path string, data []byte, perm fs.FileMode) error {
	t, err := Resolve(path)
	if err != nil {
		return &fs.PathError{Op: "write", Path: path, Err: err}
	}
	if t.Special() {
		f, err := openSpecial(ctx, t)
		if err != nil {
			return &fs.PathError{Op: "write", Path: path, Err: err}
		}
		stop := bound(ctx, t, f)
		_, err = f.Write(data)
		stop()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		if err != nil {
			return &fs.PathError{Op: "write", Path: path, Err: unwrap(err)}
		}
		return nil
	}
	if err := writeAtomic(t.Path, data, perm); err != nil {
		return &fs.PathError{Op: "write", Path: path, Err: unwrap(err)}
	}
	return nil
}

func writeAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Append appends data to path (the GitHub step summary), creating a
// missing file readable by all: a symbolic link's file is appended to, a
// device or FIFO written through as Write does; a folder, a socket or a
// link to nothing is refused. A regular file is synced, so that a full
// disk is an error. Errors name path.
func Append(ctx context.Context, path string, data []byte) error {
	t, err := Resolve(path)
	if err != nil {
		return &fs.PathError{Op: "append", Path: path, Err: err}
	}
	var f *os.File
	if t.Special() {
		f, err = openSpecial(ctx, t)
	} else {
		f, err = os.OpenFile(t.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	}
	if err != nil {
		return &fs.PathError{Op: "append", Path: path, Err: unwrap(err)}
	}
	stop := bound(ctx, t, f)
	_, err = f.Write(data)
	stop()
	if err == nil && !t.Special() {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		return &fs.PathError{Op: "append", Path: path, Err: unwrap(err)}
	}
	return nil
}

// unwrap drops a *fs.PathError's path: Write names the path once.
func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// File is an output written as a stream (the results file). The caller
// must Close it; Close reports what a write, a sync or the close found.
type File struct {
	f       *os.File
	target  Target
	stop    func() bool
	special bool
}

// Create opens path for streaming: a new path or a regular file (following
// a link) is created or truncated in place — a stream cannot be renamed
// into place, and a process killed mid-run keeps what it wrote; a device
// or a FIFO is written through. ctx ends a wait for a FIFO's reader and a
// write blocked on it.
func Create(ctx context.Context, path string) (*File, error) {
	t, err := Resolve(path)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var f *os.File
	if t.Special() {
		f, err = openSpecial(ctx, t)
	} else {
		f, err = os.OpenFile(t.Path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: unwrap(err)}
	}
	return &File{f: f, target: t, special: t.Special(), stop: bound(ctx, t, f)}, nil
}

// Write writes p, all of it or an error.
func (o *File) Write(p []byte) (int, error) { return o.f.Write(p) }

// Target returns what the path resolved to.
func (o *File) Target() Target { return o.target }

// Close syncs a regular file and closes it.
func (o *File) Close() error {
	if o.stop != nil {
		o.stop()
	}
	var err error
	if !o.special {
		err = o.f.Sync()
	}
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// stopGrace is how long a write to a FIFO may still take once ctx is
// done: what an interrupted run writes last (its partial report) reaches
// a reader that is reading, and one that is not cannot hold the process.
const stopGrace = 500 * time.Millisecond

// bound ends a write to a FIFO blocked on a reader that does not read,
// stopGrace after ctx is done. Other files are not bounded: a regular
// file or a device does not wait on another process. The caller must call
// the returned stop once it is done writing.
func bound(ctx context.Context, t Target, f *os.File) (stop func() bool) {
	if t.Kind != FIFO {
		return func() bool { return true }
	}
	return context.AfterFunc(ctx, func() { f.SetWriteDeadline(time.Now().Add(stopGrace)) })
}

// openSpecial opens a device or FIFO for writing without creating or
// truncating it. A FIFO is opened without blocking, again until a reader
// has it open, for at most ReaderWait and never past ctx; the write that
// follows is ended by ctx too.
func openSpecial(ctx context.Context, t Target) (*os.File, error) {
	if t.Kind != FIFO {
		return os.OpenFile(t.Path, os.O_WRONLY, 0)
	}
	deadline := time.Now().Add(ReaderWait)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		// O_NONBLOCK: ENXIO at once while no reader has the FIFO open; the
		// file is then written through the runtime's poller.
		f, err := os.OpenFile(t.Path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.ENXIO) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("a FIFO no process opened for reading within %v", ReaderWait)
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-tick.C:
		}
	}
}
