package outfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// PrepareDir creates the folder and holds its lock; it refuses a folder
// holding the named file unless forced, one another caller holds, and one
// that cannot be created.
func TestPrepareDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "out")
	release, err := PrepareDir(dir, "report.json", false, 1<<10)
	if err != nil {
		t.Fatalf("PrepareDir(new folder) = %v", err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("PrepareDir left %v, %v; want an empty folder", entries, err)
	}
	if _, err := PrepareDir(dir, "report.json", false, 1<<10); !errors.Is(err, ErrLocked) {
		t.Errorf("PrepareDir while locked = %v; want ErrLocked", err)
	}
	release()

	if err := os.WriteFile(filepath.Join(dir, "report.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckAbsent(dir, "report.json", false); !errors.Is(err, ErrExists) {
		t.Errorf("CheckAbsent(holds it) = %v; want ErrExists", err)
	}
	if _, err := PrepareDir(dir, "report.json", false, 1<<10); !errors.Is(err, ErrExists) {
		t.Errorf("PrepareDir(holds a report) = %v; want ErrExists", err)
	}
	release, err = PrepareDir(dir, "report.json", true, 1<<10)
	if err != nil {
		t.Fatalf("PrepareDir(holds a report, force) = %v", err)
	}
	release()

	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := PrepareDir(filepath.Join(file, "out"), "report.json", false, 1<<10); err == nil || errors.Is(err, ErrExists) || errors.Is(err, ErrLocked) {
		t.Errorf("PrepareDir(below a file) = %v; want the file system's error", err)
	}
}
