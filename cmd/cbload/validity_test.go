package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cbload/cbload/reports"
)

// runWatched runs cbload with args in dir; onLine, when set, sees each
// stderr line as it comes and may act on the process. It returns the exit
// code, stdout and stderr.
func runWatched(t *testing.T, bin, dir string, args []string, onLine func(p *os.Process, line string)) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill := time.AfterFunc(90*time.Second, func() { cmd.Process.Kill() })
	defer kill.Stop()
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		stderr.WriteString(sc.Text() + "\n")
		if onLine != nil {
			onLine(cmd.Process, sc.Text())
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run cbload: %v", err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// assertInvalid checks that a run was marked not valid with one of checks
// failed and named first everywhere, and that it exited 4.
func assertInvalid(t *testing.T, out string, code int, stdout, stderr string, checks ...string) *reports.Report {
	t.Helper()
	if code != exitNotValid {
		t.Fatalf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, exitNotValid, stdout, stderr)
	}
	r := readReport(t, filepath.Join(out, "report.json"))
	if r.Validity == nil || r.Validity.Valid {
		t.Fatalf("report validity = %+v; want not valid", r.Validity)
	}
	failed := r.Validity.Failed()
	var names []string
	for _, c := range failed {
		names = append(names, c.Name)
	}
	hit := ""
	for _, c := range checks {
		if slices.Contains(names, c) {
			hit = c
			break
		}
	}
	if hit == "" {
		t.Fatalf("failed checks %v; want one of %v among them", names, checks)
	}
	first := failed[0].Name
	if r.Verdict.Outcome != reports.OutcomeInconclusive || !strings.HasPrefix(r.Verdict.Summary, "Inconclusive: the experiment was not valid — "+first+" failed") {
		t.Errorf("verdict = %s: %q; want inconclusive, naming %s first", r.Verdict.Outcome, r.Verdict.Summary, first)
	}
	if line, _, _ := strings.Cut(strings.TrimSpace(stdout), "\n"); !strings.HasPrefix(line, "NOT VALID: "+first+" failed") {
		t.Errorf("first line of the summary = %q; want it to name %s", line, first)
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if line, _, _ := strings.Cut(string(md), "\n"); !strings.Contains(line, "not valid: "+strings.ReplaceAll(first, "_", `\_`)) && !strings.Contains(line, "not valid: "+first) {
		t.Errorf("report.md first line = %q; want it to name %s", line, first)
	}
	html, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), `id="headline">Inconclusive · not valid: `+first+`<`) {
		t.Errorf("report.html headline does not name %s", first)
	}
	return r
}

// A process stopped for 2 s (as a busy CI machine or a suspended VM does)
// cannot have sent its load on schedule: the run is marked not valid, the
// stall is named, and cbload exits 4.
func TestRunStoppedProcessIsNotValid(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t, "github.com/cbload/cbload/cmd/cbload")
	out := t.TempDir()
	args := []string{"run", "--fault", "latency", "--phases", "2s,4s,2s", "--rate", "50", "--arms", "breaker",
		"--seed", "3", "--progress", "always", "--out", out}
	stopped := false
	code, stdout, stderr := runWatched(t, bin, out, args, func(p *os.Process, line string) {
		if m := progressRE.FindStringSubmatch(line); !stopped && m != nil && m[2] == "fault" {
			stopped = true
			if err := p.Signal(syscall.SIGSTOP); err != nil {
				t.Errorf("SIGSTOP: %v", err)
				return
			}
			time.Sleep(2 * time.Second)
			if err := p.Signal(syscall.SIGCONT); err != nil {
				t.Errorf("SIGCONT: %v", err)
			}
		}
	})
	if !stopped {
		t.Fatalf("no progress line showed the fault phase\nstderr:\n%s", stderr)
	}
	r := assertInvalid(t, out, code, stdout, stderr, reports.CheckNoStall)
	a := r.Arm("breaker")
	if len(a.Load.Stalls) == 0 || a.Load.Stalls[0].GapMS < 1800 || a.Load.Stalls[0].GapMS > 3000 {
		t.Errorf("stalls = %+v; want one of about 2 s", a.Load.Stalls)
	}
}

// At a rate this machine cannot send, the load generator falls behind: the
// run is marked not valid rather than given a verdict.
func TestRunUnsendableRateIsNotValid(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t, "github.com/cbload/cbload/cmd/cbload")
	out := t.TempDir()
	args := []string{"run", "--fault", "error", "--phases", "1s,1s,1s", "--rate", "20000", "--arms", "no-breaker",
		"--seed", "3", "--progress", "never", "--out", out}
	code, stdout, stderr := runWatched(t, bin, out, args, nil)
	assertInvalid(t, out, code, stdout, stderr, reports.CheckOfferedRate, reports.CheckSendLag)
	for _, raw := range []string{"accept", "too many open files", "http: "} {
		if strings.Contains(stderr, raw) {
			t.Errorf("stderr holds a raw library log line (%q):\n%s", raw, stderr)
		}
	}
}

// Out of file descriptors, the load runner and the gateway fail for want
// of resources: that is counted and named, and net/http's own log lines
// ("accept4: too many open files") never reach stderr.
func TestRunOutOfFileDescriptorsIsNotValid(t *testing.T) {
	t.Parallel()
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) is not installed")
	}
	bin := buildBinary(t, "github.com/cbload/cbload/cmd/cbload")
	out := t.TempDir()
	args := []string{"--nofile=120:120", bin, "run", "--fault", "hang", "--phases", "1s,2s,1s", "--rate", "400", "--arms", "no-breaker",
		"--gateway-workers", "200", "--seed", "3", "--progress", "never", "--out", out}
	code, stdout, stderr := runWatched(t, prlimit, out, args, nil)
	r := assertInvalid(t, out, code, stdout, stderr, reports.CheckResourceErrors)
	if e := r.Arm("no-breaker").Load.ResourceErrors; e.LoadRunner+e.Gateway == 0 || !strings.Contains(e.Last, "too many open files") {
		t.Errorf("resource errors = %+v; want some, the last naming the cause", e)
	}
	if strings.Contains(stderr, "too many open files") || strings.Contains(stderr, "accept") {
		t.Errorf("stderr holds a raw library log line:\n%s", stderr)
	}
}
