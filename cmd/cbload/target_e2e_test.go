package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cbload/cbload/reports"
)

var listeningRE = regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)

// startService runs the example service as a separate process until the
// test ends and returns its base URL.
func startService(t *testing.T, upstream string, args ...string) string {
	t.Helper()
	return startListening(t, "github.com/cbload/cbload/examples/service",
		append([]string{"-addr", "127.0.0.1:0", "-upstream", "http://" + upstream, "-workers", "8", "-call-timeout", "300ms", "-queue-timeout", "500ms"}, args...)...)
}

// startListening builds the program pkg, runs it with args until the test
// ends (SIGTERM, then a kill after 10 s) and returns the base URL it prints
// in its "listening on" line.
func startListening(t *testing.T, pkg string, args ...string) string {
	t.Helper()
	cmd := exec.Command(buildBinary(t, pkg), args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	name := path.Base(pkg)
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("service %s did not stop within 10s of SIGTERM", name)
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				lines <- m[1]
				break
			}
		}
		io.Copy(io.Discard, out)
		close(lines)
	}()
	select {
	case u, ok := <-lines:
		if !ok {
			t.Fatalf("service %s exited without listening", name)
		}
		return u
	case <-time.After(30 * time.Second):
		t.Fatalf("service %s did not say it was listening within 30s", name)
	}
	return ""
}

// TestTargetEndToEnd runs the example service twice — with its breaker and
// without — as separate processes, points cbload at both, and checks the
// report tells them apart.
func TestTargetEndToEnd(t *testing.T) {
	t.Parallel()
	upstream := freeAddr(t)
	withBreaker := startService(t, upstream)
	without := startService(t, upstream, "-breaker=false")

	out := t.TempDir()
	junit := filepath.Join(out, "junit.xml")
	code, stdout, stderr := cbloadProc(t, nil, "run", "--upstream-addr", upstream, "--fault", "latency:1s",
		"--phases", "2s,6s,4s", "--rate", "100", "--seed", "5", "--progress", "never", "--out", out,
		"--target", "breaker="+withBreaker+"/api", "--target", "no-breaker="+without+"/api",
		"--collateral", "/local", "--breaker-state-url", "/breaker", "--junit", junit,
		"--threshold", "breaker.fault.upstream_requests < 0.5 * no-breaker.fault.upstream_requests",
		"--threshold", "breaker.figures.opens >= 1",
		"--threshold", "breaker.fault.collateral.success_ratio > no-breaker.fault.collateral.success_ratio")
	if code != exitOK {
		t.Fatalf("exit %d; want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	r := readReport(t, filepath.Join(out, "report.json"))
	if got := fmt.Sprint(r.Config.Targets); !strings.Contains(got, withBreaker) || !strings.Contains(got, without) || r.Config.Upstream.Addr != upstream {
		t.Errorf("config targets %s, upstream %q; want both targets and %s", got, r.Config.Upstream.Addr, upstream)
	}
	b, n := r.Arm(reports.ArmBreaker), r.Arm(reports.ArmNoBreaker)
	if b == nil || n == nil {
		t.Fatalf("arms %v; want breaker and no-breaker", r.Arms)
	}
	if !b.Breaker || n.Breaker {
		t.Errorf("breaker flags: breaker arm %v, no-breaker arm %v; want true (state polled) and false (service says disabled)", b.Breaker, n.Breaker)
	}
	if b.Figures.TimeToOpenS == nil {
		t.Errorf("breaker arm: time_to_open_s is null; the polled state should show it opening")
	}
	if bu, nu := b.Figures.UpstreamRequestsDuringFault, n.Figures.UpstreamRequestsDuringFault; bu*2 >= nu {
		t.Errorf("upstream requests during the fault: %d with the breaker, %d without; want the breaker to shed most", bu, nu)
	}
	if bc, nc := b.Figures.CollateralSuccessDuringFault, n.Figures.CollateralSuccessDuringFault; bc < 0.95 || nc > 0.9 {
		t.Errorf("/local success during the fault: %.3f with the breaker, %.3f without; want ≥ 0.95 and ≤ 0.9", bc, nc)
	}
	if r.Verdict.Outcome != reports.OutcomePrevented {
		t.Errorf("verdict %q (%s); want prevented", r.Verdict.Outcome, r.Verdict.Summary)
	}
	notes := strings.Join(n.Notes, "\n")
	if !strings.Contains(notes, "upstream calls per /api request") || !strings.Contains(notes, "reported that the service has no breaker") {
		t.Errorf("no-breaker notes = %q; want the upstream calls per /api request and the state URL's answer", notes)
	}
	if !strings.Contains(strings.Join(b.Notes, "\n"), "polled from "+withBreaker+"/breaker") {
		t.Errorf("breaker notes = %q; want the polled state URL", b.Notes)
	}
	var states map[string]bool = map[string]bool{}
	for _, s := range b.Series {
		states[s.State] = true
	}
	if !states[reports.StateOpen] || !states[reports.StateClosed] {
		t.Errorf("breaker arm series states %v; want open and closed", states)
	}
	t.Logf("fault: upstream %d vs %d, /local %.3f vs %.3f, open %v", b.Figures.UpstreamRequestsDuringFault, n.Figures.UpstreamRequestsDuringFault, b.Figures.CollateralSuccessDuringFault, n.Figures.CollateralSuccessDuringFault, *b.Figures.TimeToOpenS)
	raw, _ := json.Marshal(r.Thresholds)
	if len(r.Thresholds) != 3 {
		t.Errorf("thresholds %s; want three", raw)
	}
}
