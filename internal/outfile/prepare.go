package outfile

import (
	"errors"
	"os"
	"path/filepath"
)

// ErrExists means an output folder holds already the file a command would
// write there (another run's report), and it was not told to replace it.
var ErrExists = errors.New("already holds the file")

// CheckAbsent returns ErrExists when the folder dir holds name already,
// unless force.
func CheckAbsent(dir, name string, force bool) error {
	if _, err := os.Stat(filepath.Join(dir, name)); err == nil && !force {
		return ErrExists
	}
	return nil
}

// PrepareDir readies the folder dir for a command's results before any
// work: it refuses a folder that holds name (CheckAbsent); it
// creates dir, takes its lock (Lock; ErrLocked while another process
// holds it), looks for name again under the lock (a run that finished
// meanwhile wrote one), and checks that reserve bytes can be written
// (ProbeDir). A folder it created for a check that fails is removed
// again. Other errors are the file system's.
// The caller must call release when it has written its files.
func PrepareDir(dir, name string, force bool, reserve int) (release func(), err error) {
	if err := CheckAbsent(dir, name, force); err != nil {
		return nil, err
	}
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	release, err = Lock(dir)
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if err == nil {
		if err = CheckAbsent(dir, name, force); err != nil {
			release()
		}
	}
	if err != nil {
		return nil, err
	}
	if err = ProbeDir(dir, reserve); err != nil {
		release()
		if statErr != nil {
			os.Remove(dir) // created here, and empty: leave nothing behind
		}
		return nil, err
	}
	return release, nil
}
