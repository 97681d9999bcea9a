package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cbload/cbload/internal/testenv"
)

// memLimitKiB caps the address space of the processes runProcess starts
// (ulimit -v): enough for cbload reading a report up to its 256 MiB limit,
// far too little for reading /dev/zero to the end, so a missing size cap
// fails fast instead of filling memory.
const memLimitKiB = 4 << 20

// runProcess runs the cbload binary with args under memLimitKiB, sends sig
// after delay (0: none), and returns the exit code, stderr and how long the
// process lived after the signal (or in all, without one).
func runProcess(t *testing.T, sig syscall.Signal, delay time.Duration, args ...string) (int, string, time.Duration) {
	t.Helper()
	bin := buildBinary(t, "github.com/cbload/cbload/cmd/cbload")
	script := fmt.Sprintf(`ulimit -v %d && exec "$0" "$@"`, memLimitKiB)
	cmd := exec.Command("sh", append([]string{"-c", script, bin}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Dir = t.TempDir()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	done := make(chan struct{})
	kill := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer kill.Stop()
	if sig != 0 {
		go func() {
			select {
			case <-time.After(delay):
				cmd.Process.Signal(sig)
			case <-done:
			}
		}()
	}
	err := cmd.Wait()
	close(done)
	took := time.Since(start)
	if sig != 0 {
		took -= delay
	}
	code := cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("cbload %v: %v (killed after 30s?)\nstderr: %s", args, err, stderr.String())
	}
	return code, strings.TrimSpace(stderr.String()), took
}

// TestInputSizeCaps gives cbload endless and huge inputs as real processes:
// each must end quickly with exit 2 and one line naming the limit, instead
// of reading until memory runs out.
func TestInputSizeCaps(t *testing.T) {
	huge := filepath.Join(t.TempDir(), "huge.json")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(300 << 20); err != nil { // 300 MiB, sparse: over every limit
		t.Fatal(err)
	}
	f.Close()
	// A file with no end: a /dev/zero node made in the test's own folder
	// (never the machine's /dev).
	zero := mknodIn(t.TempDir(), "zero", 1, 5)
	if zero == "" {
		t.Skip("cannot make a device node here; CI runs as root")
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"report", zero}, zero + ": larger than the 256 MiB limit for a report.json"},
		{[]string{"report", huge}, "larger than the 256 MiB limit for a report.json"},
		{[]string{"run", "--scenario", zero, "--dry-run"}, "scenario " + zero + ": the file is larger than the 1 MiB limit for scenario files"},
		{[]string{"run", "--scenario", huge, "--dry-run"}, "the file is larger than the 1 MiB limit for scenario files"},
	}
	for _, tt := range tests {
		code, stderr, _ := runProcess(t, 0, 0, tt.args...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) || strings.Contains(stderr, "\n") {
			t.Errorf("cbload %v = exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr, exitUsage, tt.want)
		}
	}
}

// TestInputSignals blocks cbload on a FIFO no one writes to, as a scenario
// and as a report, and signals it: the first SIGINT or SIGTERM must end it
// with exit 130 within a second.
func TestInputSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		for _, args := range [][]string{
			{"report", testenv.FIFO(t)},
			{"run", "--scenario", testenv.FIFO(t), "--dry-run"},
			{"run", "--fault", "hang", "--scenario", testenv.FIFO(t)},
		} {
			code, stderr, took := runProcess(t, sig, 300*time.Millisecond, args...)
			if code != exitInterrupted || took > time.Second+500*time.Millisecond {
				t.Errorf("cbload %v with %v after 300ms = exit %d after %v, stderr %q; want exit %d within about a second", args, sig, code, took.Round(time.Millisecond), stderr, exitInterrupted)
			}
			if strings.Contains(stderr, "goroutine ") {
				t.Errorf("cbload %v printed a stack trace: %s", args, stderr)
			}
		}
	}
}

// TestInputTimeout feeds a FIFO that is opened for writing but never
// written to: the read gives up after its deadline with exit 2.
func TestInputTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 10s read deadline")
	}
	p := testenv.FIFO(t)
	testenv.HoldFIFO(t, p)
	code, stderr, took := runProcess(t, 0, 0, "report", p)
	if code != exitUsage || !strings.Contains(stderr, "not read to its end within 10s") {
		t.Errorf("cbload report FIFO = exit %d, stderr %q; want exit %d and the deadline named", code, stderr, exitUsage)
	}
	if took < 9*time.Second || took > 20*time.Second {
		t.Errorf("cbload report FIFO took %v; want about the 10s deadline", took)
	}
}
