package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cbload/cbload/internal/testenv"
)

// TestRunFullDisk runs `cbload run` into a 1 MiB tmpfs: the full disk must
// be found before any load is sent (exit 3, a one-line message), and nothing
// may be left behind. Mounting needs root; CI runs as root.
func TestRunFullDisk(t *testing.T) {
	mnt := testenv.SmallDisk(t, "1m")
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

// signalWriter closes ready at the first write that contains marker.
type signalWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	ready  chan struct{}
	once   sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.Contains(p, []byte(w.marker)) {
		w.once.Do(func() { close(w.ready) })
	}
	return w.buf.Write(p)
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestRunDiskFillsDuringRun fills the output's tmpfs while the load runs,
// leaving room for report.json and report.md but not report.html: the
// summary must still be printed, what fits written (JSON first), what does
// not named, and the exit code 5 — load was sent, so not 3.
func TestRunDiskFillsDuringRun(t *testing.T) {
	mnt := testenv.SmallDisk(t, "16m")
	out := filepath.Join(mnt, "run")
	var stdout bytes.Buffer
	stderr := &signalWriter{marker: "[breaker", ready: make(chan struct{})}
	done := make(chan int, 1)
	go func() {
		done <- run(append(shortRun(out), "--progress", "always"), &stdout, stderr)
	}()
	select {
	case <-stderr.ready: // the load runs: the disk check is behind us
	case code := <-done:
		t.Fatalf("run ended with exit %d before any progress:\n%s", code, stderr.String())
	}
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	size := int64(0)
	for {
		n, err := f.Write(chunk)
		size += int64(n)
		if err != nil {
			break // the disk is full
		}
	}
	// Room for the JSON and the Markdown of a 4-second run (~20 KiB), not
	// for the HTML (~100 KiB).
	if err := f.Truncate(size - 48<<10); err != nil {
		t.Fatal(err)
	}
	f.Close()
	code := <-done
	if code != exitNotWritten {
		t.Fatalf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, exitNotWritten, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "verdict: ") {
		t.Errorf("no summary on stdout:\n%s", stdout.String())
	}
	errs := stderr.String()
	if !strings.Contains(errs, "could not write "+filepath.Join(out, "report.html")+": no space left on device") {
		t.Errorf("stderr does not name report.html and the full disk:\n%s", errs)
	}
	if strings.Contains(errs, "no load was sent") {
		t.Errorf("stderr claims no load was sent:\n%s", errs)
	}
	r := readReport(t, filepath.Join(out, "report.json"))
	if len(r.Arms) != 1 || len(r.Arms[0].Series) == 0 {
		t.Errorf("report.json holds no measurements: %+v", r.Arms)
	}
	if _, err := os.Stat(filepath.Join(out, "report.md")); err != nil {
		t.Errorf("report.md, which fits, was not written: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "report.html")); !os.IsNotExist(err) {
		t.Errorf("report.html exists (%v); it cannot have fitted", err)
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("a temporary file was left behind: %s", e.Name())
		}
	}
}
