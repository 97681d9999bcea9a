package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRunFullDisk runs `cbload run` into a 1 MiB tmpfs: the full disk must
// be found before any load is sent (exit 3, a one-line message), and nothing
// may be left behind. Mounting needs root; CI runs as root.
func TestRunFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs; CI runs it")
	}
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v); CI runs it", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	out := filepath.Join(mnt, "run")
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--fault", "latency", "--out", out}, &stdout, &stderr)
	if code != exitCouldNotRun {
		t.Fatalf("exit code = %d; want %d\nstderr: %s", code, exitCouldNotRun, stderr.String())
	}
	msg := strings.TrimSpace(stderr.String())
	if last := msg[strings.LastIndex(msg, "\n")+1:]; !strings.Contains(last, "--out "+out) || !strings.Contains(last, "no space left on device") {
		t.Errorf("last stderr line = %q; want it to name --out and the full disk", last)
	}
	if strings.Contains(stdout.String(), "verdict") {
		t.Errorf("a run into a full disk sent load and printed a summary:\n%s", stdout.String())
	}
	entries, err := os.ReadDir(mnt)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("left behind in the full disk: %v", entries)
	}
}
