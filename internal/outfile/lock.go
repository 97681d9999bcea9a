package outfile

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrLocked means another process holds the lock on a folder: it is
// writing its own results there.
var ErrLocked = errors.New("another cbload process is writing into this folder")

// Lock takes an exclusive lock on the folder dir (flock(2) on the folder
// itself), so that a second process writing into the same folder is found
// before it starts instead of racing the first. It fails with ErrLocked
// while another process holds the lock. The lock lives as long as the
// returned release is not called, and no longer than the process: a crash
// or kill -9 leaves no stale lock and no file behind. The caller must call
// release when it is done writing. On a file system that does not support
// flock (some network mounts) the folder is not locked and Lock succeeds.
func Lock(dir string) (release func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	switch {
	case err == nil:
		return func() { f.Close() }, nil // closing releases the lock
	case errors.Is(err, syscall.EWOULDBLOCK):
		f.Close()
		return nil, ErrLocked
	case errors.Is(err, syscall.ENOLCK), errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.EBADF), errors.Is(err, syscall.EINVAL):
		f.Close()
		return func() {}, nil
	}
	f.Close()
	return nil, fmt.Errorf("lock: %w", err)
}
