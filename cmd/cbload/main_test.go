package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// binDir holds the binaries built for tests that run cbload (and the example
// service) as real processes.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cbload-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var builds sync.Map // package path → *buildResult

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// buildBinary builds the package once per test process with `go build` and
// returns the executable's path.
func buildBinary(t *testing.T, pkg string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(pkg, &buildResult{})
	b := v.(*buildResult)
	b.once.Do(func() {
		b.path = filepath.Join(binDir, filepath.Base(pkg))
		var out bytes.Buffer
		cmd := exec.Command("go", "build", "-o", b.path, pkg)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out.String())
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}
