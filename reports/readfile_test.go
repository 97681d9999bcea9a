package reports

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFind checks what a report argument names: a file, a folder's
// report.json, the run folders below a folder, or nothing.
func TestFind(t *testing.T) {
	dir := t.TempDir()
	mk := func(rel string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file := mk("one/report.json")
	runB, runA := mk("runs/b/report.json"), mk("runs/a/report.json")
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path string
		want []string
	}{
		{file, []string{file}},
		{filepath.Join(dir, "one"), []string{file}},
		{filepath.Join(dir, "runs"), []string{runA, runB}},
		{filepath.Join(dir, "empty"), nil},
	} {
		if got, err := Find(tt.path); err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Find(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
	if _, err := Find(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Find(missing) error %v; want os.ErrNotExist", err)
	}
	if _, err := ReadFile(context.Background(), file); err == nil || !strings.HasPrefix(err.Error(), file+": ") {
		t.Errorf("ReadFile(%q) = %v; want an error naming the file", file, err)
	}
}
