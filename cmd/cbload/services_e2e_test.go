package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cbload/cbload/reports"
)

// startTestService runs one of the services in testdata/svc as a separate
// process until the test ends and returns its base URL.
func startTestService(t *testing.T, name string, args ...string) string {
	t.Helper()
	return startListening(t, "github.com/cbload/cbload/cmd/cbload/testdata/svc/"+name, args...)
}

// stateChange is one line of a test service's state log.
type stateChange struct {
	at       time.Time
	from, to string
}

func readStateLog(t *testing.T, path string) []stateChange {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []stateChange
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			t.Fatalf("state log line %q: %v", line, err)
		}
		out = append(out, stateChange{time.Unix(0, ns), f[1], f[2]})
	}
	return out
}

// trueBreakerTimes returns, from a service's state log and relative to the
// arm's start, when the breaker first opened after the fault began, and
// when it last closed (from half-open) after the fault ended.
func trueBreakerTimes(log []stateChange, start time.Time, faultStart, faultEnd float64) (opened, closed float64) {
	opened, closed = math.NaN(), math.NaN()
	for _, c := range log {
		t := c.at.Sub(start).Seconds()
		if c.to == "open" && c.from == "closed" && t >= faultStart && math.IsNaN(opened) {
			opened = t
		}
		if c.to == "closed" && t >= faultEnd {
			closed = t
		}
	}
	return opened, closed
}

// within checks an inferred figure against the service's own log.
func withinLog(t *testing.T, what string, inferred *float64, truth float64, tol float64) {
	t.Helper()
	if inferred != nil {
		t.Logf("%s: inferred %.3f s, the service's state log %.3f s", what, *inferred, truth)
	}
	if inferred == nil || math.IsNaN(truth) || math.Abs(*inferred-truth) > tol {
		got := "null"
		if inferred != nil {
			got = fmt.Sprintf("%.3f s", *inferred)
		}
		t.Errorf("%s: inferred %s; the service's state log says %.3f s; want within %.0f ms", what, got, truth, tol*1000)
	}
}

func fetchJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// runServiceExperiment runs cbload against the given targets and returns
// the report.
func runServiceExperiment(t *testing.T, upstream string, want int, args ...string) *reports.Report {
	t.Helper()
	out := t.TempDir()
	all := append([]string{"run", "--upstream-addr", upstream, "--rate", "100", "--seed", "9", "--progress", "never", "--out", out}, args...)
	code, stdout, stderr := cbloadProc(t, nil, all...)
	if code != want {
		t.Fatalf("cbload %v: exit %d; want %d\nstdout:\n%s\nstderr:\n%s", args, code, want, stdout, stderr)
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "### Fault → symptom") {
		t.Errorf("report.md has no fault → symptom table")
	}
	return readReport(t, filepath.Join(out, "report.json"))
}

// TestServicesEndToEnd runs cbload, without breaker state URLs, against
// three small services of its own — a gobreaker service (with and without
// its breaker), a fail-fast fallback that answers 200, and a client that
// retries 4× — and checks the verdict, the inferred breaker figures
// against each service's own state log, the fault → symptom accounting and
// the amplification figure against what each service really did.
func TestServicesEndToEnd(t *testing.T) {
	t.Parallel()
	// Faults start at 2 s and end at 6 s.
	const faultStart, faultEnd, tol = 2.0, 6.0, 0.2

	t.Run("gobreaker", func(t *testing.T) {
		t.Parallel()
		upstream := freeAddr(t)
		stateLog := filepath.Join(t.TempDir(), "states.log")
		withBreaker := startTestService(t, "breaker", "-upstream", "http://"+upstream, "-state-log", stateLog)
		without := startTestService(t, "breaker", "-upstream", "http://"+upstream, "-state-log", os.DevNull, "-breaker=false")
		r := runServiceExperiment(t, upstream, exitOK, "--fault", "latency:1s", "--phases", "2s,4s,3s",
			"--target", "breaker="+withBreaker+"/api", "--target", "no-breaker="+without+"/api", "--collateral", "/local")
		if r.Verdict.Outcome != reports.OutcomePrevented {
			t.Errorf("verdict %q (%s); want prevented: the pool of the service without its breaker fills", r.Verdict.Outcome, r.Verdict.Summary)
		}
		b, n := r.Arm("breaker"), r.Arm("no-breaker")
		if b.BreakerFigures != reports.BreakerInferred {
			t.Errorf("breaker arm's figures are %q; want inferred (no state URL)", b.BreakerFigures)
		}
		opened, closed := trueBreakerTimes(readStateLog(t, stateLog), b.StartedAt, faultStart, faultEnd)
		withinLog(t, "time to open", b.Figures.TimeToOpenS, opened-faultStart, tol)
		if len(b.Transitions) == 0 || b.Transitions[len(b.Transitions)-1].To != reports.StateClosed {
			t.Fatalf("inferred transitions %v; want the last one closing", b.Transitions)
		}
		last := b.Transitions[len(b.Transitions)-1].T
		withinLog(t, "the close after the fault", &last, closed, tol)
		if n.Figures.TimeToOpenS != nil || n.Figures.Opens != 0 {
			t.Errorf("no-breaker arm: inferred %d opens, time to open %v; want none (its pool sheds, but it has no breaker)", n.Figures.Opens, *n.Figures.TimeToOpenS)
		}
		if e := b.Summary["fault"].UpstreamEffect; e != reports.EffectShedding {
			t.Errorf("breaker arm, fault phase: upstream effect %q; want shedding", e)
		}
	})

	t.Run("fallback", func(t *testing.T) {
		t.Parallel()
		upstream := freeAddr(t)
		stateLog := filepath.Join(t.TempDir(), "states.log")
		svc := startTestService(t, "fallback", "-upstream", "http://"+upstream, "-state-log", stateLog)
		r := runServiceExperiment(t, upstream, exitOK, "--fault", "error:503", "--phases", "2s,4s,3s",
			"--target", "fallback="+svc+"/api", "--collateral", "/local", "--expect", "json:.source=primary")
		a := r.Arm("fallback")
		f := a.Summary["fault"]
		if f.API.Outcomes.AssertionFailed < f.API.Requests*9/10 || f.API.OK > f.API.Requests/10 {
			t.Errorf("fault /api outcomes %+v of %d; want ≥ 90%% assertion_failed: the fallback's 200s are not successes", f.API.Outcomes, f.API.Requests)
		}
		up := f.Upstreams["upstream"]
		if up.Injected["error"] == 0 || up.Injected["error"] != up.Requests {
			t.Errorf("fault phase: the upstream received %d and injected %v; want error on every request", up.Requests, up.Injected)
		}
		opened, closed := trueBreakerTimes(readStateLog(t, stateLog), a.StartedAt, faultStart, faultEnd)
		withinLog(t, "time to open", a.Figures.TimeToOpenS, opened-faultStart, tol)
		if len(a.Transitions) > 0 {
			last := a.Transitions[len(a.Transitions)-1].T
			withinLog(t, "the close after the fault", &last, closed, tol)
		}
		// One target: the verdict on one arm. The breaker opened, the
		// fallback answered at once, /local stayed healthy and the
		// service came back.
		if r.Verdict.Outcome != reports.OutcomeHeld {
			t.Errorf("verdict %q (%s); want held: the service shed, failed fast and recovered", r.Verdict.Outcome, r.Verdict.Summary)
		}
	})

	t.Run("retries", func(t *testing.T) {
		t.Parallel()
		upstream := freeAddr(t)
		svc := startTestService(t, "retry", "-upstream", "http://"+upstream)
		r := runServiceExperiment(t, upstream, exitOK, "--fault", "error:503", "--phases", "2s,4s,3s",
			"--target", "retry="+svc+"/api", "--collateral", "/local")
		a := r.Arm("retry")
		var stats struct{ Requests, Calls int64 }
		fetchJSON(t, svc+"/stats", &stats)
		f := a.Summary["fault"]
		if v := f.UpstreamAttemptsPerAPIRequest; v == nil || math.Abs(*v-4) > 0.15 || f.UpstreamEffect != reports.EffectAmplification {
			t.Errorf("fault phase: attempts per /api request %v, effect %q; want 4 (the client tries 4×) and amplification", v, f.UpstreamEffect)
		}
		if v := a.Summary["baseline"].UpstreamAttemptsPerAPIRequest; v == nil || math.Abs(*v-1) > 0.05 {
			t.Errorf("baseline: attempts per /api request %v; want 1", v)
		}
		var received int64
		for _, s := range a.Summary {
			received += s.Upstreams["upstream"].Requests
		}
		if d := stats.Calls - received; d < 0 || d > 5 {
			t.Errorf("the upstream counted %d requests; the service made %d calls", received, stats.Calls)
		}
		if a.Figures.Opens != 0 || a.BreakerFigures != reports.BreakerInferred {
			t.Errorf("retrying client: %d inferred opens (%q); want none, inferred", a.Figures.Opens, a.BreakerFigures)
		}
	})

	t.Run("wrong upstream port", func(t *testing.T) {
		t.Parallel()
		upstream := freeAddr(t)
		// The service calls another port, and its fallback hides it from
		// the probe: only the baseline check can tell.
		svc := startTestService(t, "fallback", "-upstream", "http://"+freeAddr(t), "-state-log", os.DevNull)
		out := t.TempDir()
		code, stdout, stderr := cbloadProc(t, nil, "run", "--upstream-addr", upstream, "--fault", "latency", "--phases", "1s,1s,1s",
			"--rate", "50", "--progress", "never", "--out", out, "--target", "svc="+svc+"/api")
		want := "your service did not call the upstream at " + upstream + " — is it configured to?"
		if code != exitNotValid || !strings.Contains(stderr+stdout, want) {
			t.Errorf("exit %d; want %d and %q\nstdout:\n%s\nstderr:\n%s", code, exitNotValid, want, stdout, stderr)
		}
	})
}
