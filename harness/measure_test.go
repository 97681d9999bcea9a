package harness

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cbload/cbload/reports"
)

// In a hang run the breaker closes whenever its probes succeed, rarely on a
// second boundary: time to recover must be dated within 100 ms of that
// close, not at the next whole second.
func TestRunTimeToRecoverFollowsTheClose(t *testing.T) {
	cfg := testConfig(t, "hang")
	cfg.Arms = []string{reports.ArmBreaker}
	r := runOrFail(t, cfg)
	b := r.Arm(reports.ArmBreaker)
	if len(b.Transitions) == 0 || b.Figures.TimeToRecoverS == nil {
		t.Fatalf("transitions %v, time to recover %v; want a close and a recovery", b.Transitions, show(b.Figures.TimeToRecoverS))
	}
	last := b.Transitions[len(b.Transitions)-1]
	faultEnd := r.Phases[1].EndS
	if last.To != reports.StateClosed || last.T < faultEnd {
		t.Fatalf("last transition %+v; want → closed after the fault ended at %v s", last, faultEnd)
	}
	closeAfter := last.T - faultEnd
	got := *b.Figures.TimeToRecoverS
	t.Logf("closed %.3f s after the fault, recovered at %.3f s", closeAfter, got)
	if got < closeAfter-0.001 || got > closeAfter+0.1+0.001 {
		t.Errorf("time to recover = %.3f s; want within 100 ms after the close at %.3f s", got, closeAfter)
	}
}

// "During the fault" figures cover the fault phase only: the in-flight peak
// shown there is the fault seconds' peak, not the whole run's.
func TestRunFaultFiguresArePhaseTrue(t *testing.T) {
	cfg := testConfig(t, "error:503")
	// The figures must agree with the series whether or not the machine
	// let the run be valid, so a busy machine does not fail this test.
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if r.Partial || len(r.Arms) != 2 {
		t.Fatalf("report partial %v with %d arms; want complete with both", r.Partial, len(r.Arms))
	}
	fault := r.Phases[1]
	for _, a := range r.Arms {
		var peak, all int64
		for _, s := range a.Series {
			all = max(all, s.InflightPeak)
			if s.Phase == fault.Name {
				peak = max(peak, s.InflightPeak)
			}
		}
		if a.Figures.InflightPeak != peak || a.Summary[fault.Name].InflightPeak != peak {
			t.Errorf("%s: figures.inflight_peak %d, fault summary %d; want the fault seconds' peak %d",
				a.Name, a.Figures.InflightPeak, a.Summary[fault.Name].InflightPeak, peak)
		}
		if a.Figures.InflightPeakWholeRun != all {
			t.Errorf("%s: figures.inflight_peak_whole_run = %d; want the series peak %d", a.Name, a.Figures.InflightPeakWholeRun, all)
		}
		var api int64
		for _, s := range a.Series {
			if s.Phase == fault.Name {
				api += s.API.Requests
			}
		}
		if got := a.Summary[fault.Name].API.Requests; got != api {
			t.Errorf("%s: fault /api requests %d in the summary, %d in the series; want the same count", a.Name, got, api)
		}
	}
}

// attackOnce runs the real load runner at h for du at rate and records the
// results, returning the arm.
func attackOnce(t *testing.T, url string, rate float64, timeout, du time.Duration) reports.Arm {
	t.Helper()
	lr := newLoadRunner(rate, timeout, nil, nil)
	defer lr.close()
	phases := []Phase{{Name: "p", Duration: du}}
	start := time.Now()
	rec := testRecorder(start, phases, rate, time.Second, false)
	var sent atomic.Int64
	for res := range lr.attack(mixTargeter(url, url, 0, 1, &sent), rec.pace) {
		rec.add(res, false)
	}
	rec.flush(time.Now(), true)
	return rec.arm("a", nil, watchdogReport{}, 0, "")
}

// A request the load runner gives up on is a timeout, at the load runner,
// whether its answer stalls before its headers or in its body, and it is
// given up at the load runner's timeout.
func TestLoadRunnerTimeoutIsTimeout(t *testing.T) {
	for _, tc := range []struct {
		name     string
		headSent bool
	}{{"headers", false}, {"body", true}} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.headSent {
					w.Header().Set("Content-Length", "10")
					w.WriteHeader(http.StatusOK)
					_, _ = w.Write([]byte("12345"))
					w.(http.Flusher).Flush()
				}
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}))
			defer srv.Close()
			defer close(release)
			const timeout = 200 * time.Millisecond
			a := attackOnce(t, srv.URL, 10, timeout, time.Second)
			o := a.Summary["p"].API.Outcomes
			if o.Total() == 0 || o.Timeout != o.Total() || o.TimeoutAt.LoadRunner != o.Total() || o.ClientError != 0 {
				t.Errorf("outcomes %+v; want every request a timeout at the load runner", o)
			}
			if l := a.Summary["p"].API.LatencyMS; l.P50 < 198 || l.P50 > 400 { // the histogram reads within about 1%
				t.Errorf("latency %+v; want the timeout's 200 ms (to 400)", l)
			}
		})
	}
}

// Rates are paced as asked, fractional ones included, and a rate too slow
// to pace is refused before any load.
func TestPacingIsExact(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	a := attackOnce(t, srv.URL, 2.5, time.Second, 4*time.Second)
	if got := hits.Load(); got != 10 || a.Load.Sent != 10 || a.Load.Scheduled != 10 {
		t.Errorf("2.5 req/s for 4 s: server saw %d, sent %d, scheduled %d; want 10 each", got, a.Load.Sent, a.Load.Scheduled)
	}
	for _, rate := range []float64{0.0004, 0.5, 0.999} {
		cfg := DefaultConfig()
		cfg.Rate = rate
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "rate:") {
			t.Errorf("Validate(rate %v) = %v; want a rate error", rate, err)
		}
	}
}

// redirectTrap is a server on another loopback address that counts every
// request it gets, and a server that redirects everything to it.
func redirectTrap(t *testing.T) (redirector string, trapped *atomic.Int64) {
	t.Helper()
	trapped = new(atomic.Int64)
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	trap := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trapped.Add(1)
		w.Write([]byte(`{"state":"closed"}`))
	}))
	trap.Listener.Close()
	trap.Listener = l
	trap.Start()
	t.Cleanup(trap.Close)
	red := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, trap.URL+r.URL.Path, http.StatusFound)
	}))
	t.Cleanup(red.Close)
	return red.URL, trapped
}

// No client cbload builds follows a redirect: not the target probe, not
// the breaker-state poller, not the load runner, which counts a 3xx as
// its own outcome.
func TestNoClientFollowsRedirects(t *testing.T) {
	red, trapped := redirectTrap(t)
	// A redirect is the probe's answer, and outside the expected statuses.
	err := probeTargets(context.Background(), []Target{{Name: "svc", URL: red + "/api", Collateral: red + "/local", BreakerStateURL: red + "/breaker"}}, nil, "127.0.0.1:1", func(*http.Transport) {})
	if err == nil || !strings.Contains(err.Error(), "not followed") {
		t.Errorf("probeTargets: %v; want the redirect refused, not followed", err)
	}
	p := startStatePoller(red+"/breaker", nil, func(*http.Transport) {})
	time.Sleep(3 * statePollInterval)
	p.stop()
	if got := p.state(); got != reports.StateUnknown {
		t.Errorf("poller state behind a redirect = %q; want unknown", got)
	}
	a := attackOnce(t, red+"/api", 20, time.Second, time.Second)
	if o := a.Summary["p"].API.Outcomes; o.Total() == 0 || o.Redirect != o.Total() {
		t.Errorf("load runner outcomes behind a redirect: %+v; want every one a redirect", o)
	}
	if n := trapped.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests; want none", n)
	}
}

// Bytes in are the body bytes really read, although vegeta keeps no body;
// a 404 body counts like any other, and the status code and its error text
// are recorded.
func TestLoadRunnerCountsBodyBytes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, strings.Repeat("x", 1500)) // more than one read
	}))
	defer srv.Close()
	a := attackOnce(t, srv.URL, 20, time.Second, time.Second)
	s := a.Summary["p"].API
	if s.Requests == 0 || s.BytesIn != 1500*s.Requests {
		t.Errorf("%d requests, %d bytes in; want 1500 per request", s.Requests, s.BytesIn)
	}
	if s.StatusCodes["404"] != s.Requests || len(s.Errors) != 1 || s.Errors[0].Error != "404 Not Found" || s.Errors[0].Count != s.Requests {
		t.Errorf("status codes %v, errors %+v; want every request a 404 with vegeta's text", s.StatusCodes, s.Errors)
	}
}
