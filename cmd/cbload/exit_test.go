package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cbload/cbload/reports"
)

// cbloadProc runs the built cbload binary with args and env added, and
// returns its exit code and output.
func cbloadProc(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(buildBinary(t, "github.com/cbload/cbload/cmd/cbload"), args...)
	cmd.Env = append(os.Environ(), env...)
	return runCmd(t, cmd)
}

// runCmd runs cmd in a temporary folder and returns its exit code and
// output.
func runCmd(t *testing.T, cmd *exec.Cmd) (code int, stdout, stderr string) {
	t.Helper()
	cmd.Dir = t.TempDir()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), o.String(), e.String()
	}
	if err != nil {
		t.Fatalf("run %s: %v", cmd.Path, err)
	}
	return 0, o.String(), e.String()
}

// shortRun is a small single-arm experiment: four seconds, light load.
func shortRun(out string, extra ...string) []string {
	return append([]string{"run", "--fault", "latency", "--arms", "breaker", "--phases", "1s,2s,1s",
		"--rate", "40", "--seed", "11", "--progress", "never", "--out", out}, extra...)
}

func readReport(t *testing.T, path string) *reports.Report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read report: %v", err)
	}
	var r reports.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return &r
}

func TestExitCodePassAndJUnitAndStepSummary(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	junit := filepath.Join(out, "ci", "junit.xml")
	summary := filepath.Join(out, "summary.md")
	if err := os.WriteFile(summary, []byte("# earlier step\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := cbloadProc(t, []string{stepSummaryEnv + "=" + summary}, shortRun(out,
		"--threshold", "breaker.fault.api.requests > 0",
		"--threshold", "breaker.baseline.collateral.success_ratio >= 50%",
		"--junit", junit)...)
	if code != exitOK {
		t.Fatalf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, exitOK, stdout, stderr)
	}
	if !strings.Contains(stdout, "PASS  breaker.fault.api.requests > 0  measured ") {
		t.Errorf("stdout lacks the threshold line:\n%s", stdout)
	}
	r := readReport(t, filepath.Join(out, "report.json"))
	if len(r.Thresholds) != 2 || !r.Thresholds[0].Pass || r.Thresholds[0].Expr != "breaker.fault.api.requests > 0" {
		t.Errorf("report thresholds = %+v; want both, passing, in order", r.Thresholds)
	}

	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatalf("--junit file: %v", err)
	}
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &suites); err != nil {
		t.Fatalf("JUnit does not parse: %v\n%s", err, b)
	}
	// Two thresholds, six validity checks of the one arm, the verdict.
	if suites.Tests != 9 || len(suites.Suites) != 1 || suites.Suites[0].Cases[8].Name != "verdict" || suites.Suites[0].Cases[2].Name != "no_stall (breaker)" {
		t.Errorf("JUnit = %+v; want 9 cases: the thresholds, the validity checks, the verdict", suites)
	}

	s, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(s), "# earlier step\n") || !strings.Contains(string(s), "breaker.fault.api.requests > 0") {
		t.Errorf("step summary = %q; want the earlier content followed by the Markdown report with thresholds", s)
	}
}

func TestExitCodeThresholdFailed(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	summary := filepath.Join(out, "summary.md")
	code, stdout, stderr := cbloadProc(t, []string{stepSummaryEnv + "=" + summary}, shortRun(out,
		"--threshold", "breaker.fault.api.requests < 1",
		"--threshold", "partial == false",
		"--no-step-summary")...)
	if code != exitThreshold {
		t.Fatalf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, exitThreshold, stdout, stderr)
	}
	if !strings.Contains(stdout, "FAIL  breaker.fault.api.requests < 1  measured ") || !strings.Contains(stdout, "PASS  partial == false") {
		t.Errorf("stdout lacks the threshold lines:\n%s", stdout)
	}
	if !strings.Contains(stderr, "1 of 2 thresholds failed") {
		t.Errorf("stderr = %q; want it to count the failures", stderr)
	}
	if _, err := os.Stat(summary); !os.IsNotExist(err) {
		t.Errorf("--no-step-summary: the step summary was written (stat: %v)", err)
	}
	r := readReport(t, filepath.Join(out, "report.json"))
	if len(r.Thresholds) != 2 || r.Thresholds[0].Pass {
		t.Errorf("report thresholds = %+v; want the first failing", r.Thresholds)
	}
}

// TestExitCodeStepSummary checks $GITHUB_STEP_SUMMARY like a flag: a
// missing folder is refused before any load (exit 2); a file that fills up
// at the end (/dev/full) costs only itself: the summary is printed, the
// reports are written and the exit code is 5, not 3 "no load was sent".
func TestExitCodeStepSummary(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	code, stdout, stderr := cbloadProc(t, []string{stepSummaryEnv + "=" + filepath.Join(out, "missing", "dir", "summary.md")}, shortRun(out)...)
	if code != exitUsage || !strings.Contains(stderr, "$GITHUB_STEP_SUMMARY") || !strings.Contains(stderr, "--no-step-summary") || strings.Contains(stdout, "verdict") {
		t.Errorf("a step summary in a missing folder = exit %d, stderr %q; want exit %d naming the variable and the opt-out, before any load", code, stderr, exitUsage)
	}

	out = t.TempDir()
	full := mknodIn(t.TempDir(), "full", 1, 7) // a /dev/full of the test's own
	if full == "" {
		t.Skip("cannot make a device node here; CI runs as root")
	}
	code, stdout, stderr = cbloadProc(t, []string{stepSummaryEnv + "=" + full}, shortRun(out)...)
	if code != exitNotWritten {
		t.Fatalf("exit %d with a full step summary; want %d\nstdout:\n%s\nstderr:\n%s", code, exitNotWritten, stdout, stderr)
	}
	if !strings.Contains(stderr, "could not append to $GITHUB_STEP_SUMMARY: no space left on device (pass --no-step-summary to skip it)") {
		t.Errorf("stderr = %q; want it to name the variable, the error and the opt-out", stderr)
	}
	if strings.Contains(stderr, "no load was sent") || !strings.Contains(stdout, "verdict: ") {
		t.Errorf("stdout = %q; want the summary", stdout)
	}
	if _, err := os.Stat(filepath.Join(out, "report.json")); err != nil {
		t.Errorf("the report should still be written: %v", err)
	}
}

func TestExitCodeUsage(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	bad := filepath.Join(out, "bad.yaml")
	if err := os.WriteFile(bad, []byte("load:\n  rate: 10\n  rps: 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{shortRun(out, "--threshold", "breaker.fault.colateral.success_ratio >= 99%"), "did you mean breaker.fault.collateral"},
		{[]string{"run", "--scenario", bad}, `line 3: unknown field "rps" in load`},
		{shortRun(out, "--target", "svc=http://10.1.2.3/api", "--upstream-addr", "127.0.0.1:9"), "not loopback"},
	} {
		code, _, stderr := cbloadProc(t, nil, tt.args...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("cbload %q = exit %d, stderr %q; want exit %d and one line containing %q", tt.args, code, stderr, exitUsage, tt.want)
		}
	}
}

// TestExitCodeCouldNotRun checks that an experiment that cannot start
// exits 3 with the reason, before any load is sent and without a report.
func TestExitCodeCouldNotRun(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	var hits atomic.Int64
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer svc.Close()
	closed := freeAddr(t)

	tests := []struct {
		name, target, upstream, want string
	}{
		{"target unreachable", "http://" + closed + "/api", freeAddr(t), "target svc unreachable at http://" + closed + "/api"},
		{"upstream address in use", svc.URL + "/api", busy.Addr().String(), "start upstream at " + busy.Addr().String() + ": "},
		{"upstream address in use, said so", svc.URL + "/api", busy.Addr().String(), "address already in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			start := time.Now()
			code, stdout, stderr := cbloadProc(t, nil, "run", "--fault", "latency", "--phases", "1s,2s,1s", "--progress", "never",
				"--out", out, "--target", "svc="+tt.target, "--collateral", "/local", "--upstream-addr", tt.upstream)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if last := lines[len(lines)-1]; code != exitCouldNotRun || !strings.HasPrefix(last, "cbload: ") || !strings.Contains(last, tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d and a last line containing %q\nstdout:\n%s", code, stderr, exitCouldNotRun, tt.want, stdout)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
				t.Errorf("stderr has a stack trace:\n%s", stderr)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("--out folder left behind by a run that could not start (stat: %v)", err)
			}
			if d := time.Since(start); d > 3*time.Second+2*time.Second {
				t.Errorf("took %v; cbload should stop before the 4s schedule", d)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the target got %d requests; want none from a run that could not start", n)
	}
}

// freeAddr returns a loopback address nothing listens on (it did a moment ago).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
