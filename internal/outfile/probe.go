package outfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ProbeDir checks that reserve bytes can be written into dir, by writing
// and removing a probe file: an unwritable folder or a full disk is found
// before any load is sent, not when the results are due.
func ProbeDir(dir string, reserve int) error {
	probe, err := os.CreateTemp(dir, ".cbload-write-check-*")
	if err != nil {
		return fmt.Errorf("not writable: %w", err)
	}
	defer os.Remove(probe.Name())
	_, err = probe.Write(make([]byte, reserve))
	if err == nil {
		err = probe.Sync()
	}
	if cerr := probe.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cannot write %d KiB: %w", reserve>>10, err)
	}
	return nil
}

// CheckCreatable checks a file can be created in path's folder. Folders it
// had to create for the check are removed again: a dry run or a run that
// fails early leaves nothing behind; the writer creates them when it writes.
func CheckCreatable(path string) error {
	t, err := Resolve(path)
	if err != nil {
		return err
	}
	if t.Special() {
		return CheckWritable(t) // written through: nothing to create
	}
	dir := filepath.Clean(filepath.Dir(t.Path))
	var created []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		created = append(created, d)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	err = ProbeDir(dir, 0)
	for _, d := range created {
		os.Remove(d)
	}
	return err
}

// Same says whether a and b name the same file: the same inode when
// both exist (after following links), else the same absolute path once
// the links in its folder are resolved.
func Same(a, b string) bool {
	if fa, err := os.Stat(a); err == nil {
		if fb, err := os.Stat(b); err == nil {
			return os.SameFile(fa, fb)
		}
		return false
	}
	if _, err := os.Stat(b); err == nil {
		return false
	}
	return canonical(a) == canonical(b)
}

// canonical is path made absolute with the links of its folder resolved,
// for a path that may not exist yet.
func canonical(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.Clean(path)
	}
	dir, base := filepath.Split(abs)
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		return filepath.Join(real, base)
	}
	return abs
}

// appendTimeout is how long a write to a file OpenAppend opened may take
// when it is a FIFO whose reader stops reading.
const appendTimeout = 10 * time.Second

// ErrNoReader is appending to a FIFO or socket that nothing reads.
var ErrNoReader = errors.New("nothing reads it (a FIFO or socket without a reader)")

// OpenAppend opens path for appending (with flag os.O_CREATE, creating it)
// without waiting for anything: O_NONBLOCK makes opening a FIFO that no
// one reads fail at once (ENXIO) where a plain open would block until a
// reader came, and puts a FIFO that has one under the runtime's poller,
// where writes give up at a deadline. On a regular file it changes
// nothing.
func OpenAppend(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|syscall.O_NONBLOCK|flag, 0o644)
	if errors.Is(err, syscall.ENXIO) {
		return nil, &os.PathError{Op: "open", Path: path, Err: ErrNoReader}
	}
	if err != nil {
		return nil, err
	}
	// Fails with os.ErrNoDeadline on a regular file, whose writes never
	// wait for a reader.
	_ = f.SetWriteDeadline(time.Now().Add(appendTimeout))
	return f, nil
}
