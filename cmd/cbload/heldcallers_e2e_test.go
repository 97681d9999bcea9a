package main

import (
	"os"
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

// TestHeldCallersReadBySend: a service whose dependency call has no
// useful timeout (the fallback test service with a 1 h call deadline)
// holds every caller while the dependency hangs and answers them all once
// the fault ends. No answer completes in the fault's second half, yet the
// requests sent then were answered, after seconds: the one-target verdict
// reads them by send time — ok, slowly — where it used to find no answer.
func TestHeldCallersReadBySend(t *testing.T) {
	t.Parallel()
	upstream := freeAddr(t)
	svc := startTestService(t, "fallback", "-upstream", "http://"+upstream, "-state-log", os.DevNull, "-call-timeout", "1h")
	r := runServiceExperiment(t, upstream, exitOK, "--fault", "hang", "--phases", "2s,4s,2s", "--rate", "50",
		"--target", "svc="+svc+"/api", "--collateral", "/local")
	st := r.Verdict.Steady
	if st == nil {
		t.Fatalf("verdict %q (%s) has no one-target steady state", r.Verdict.Outcome, r.Verdict.Summary)
	}
	ff := st.FailedFast
	if ff.Held || !strings.Contains(ff.Finding, "for the requests sent in the fault's second half (by send time) were ok") {
		t.Errorf("failed fast: judged %v held %v (%s); want the held callers' answers read by send time: ok, after the fault", ff.Judged, ff.Held, ff.Finding)
	}
	if r.Verdict.Outcome == reports.OutcomeHeld {
		t.Errorf("verdict %q (%s); want anything but held", r.Verdict.Outcome, r.Verdict.Summary)
	}
}

// TestFailedFastBySendTime: the fallback test service with a 1.5 s call
// deadline opens its breaker 1.5 s into a 4 s hang; the calls sent just
// before it opened time out in the fault's second half, their answers
// completing then, slow. The requests sent in the second half were all
// answered at once by the open breaker's fallback (an assertion failure
// under --expect): by send time, the service failed fast.
func TestFailedFastBySendTime(t *testing.T) {
	t.Parallel()
	upstream := freeAddr(t)
	svc := startTestService(t, "fallback", "-upstream", "http://"+upstream, "-state-log", os.DevNull,
		"-call-timeout", "1500ms", "-open-for", "10s")
	r := runServiceExperiment(t, upstream, exitOK, "--fault", "hang", "--phases", "2s,4s,2s", "--rate", "50",
		"--target", "svc="+svc+"/api", "--collateral", "/local", "--expect", "json:.source=primary")
	st := r.Verdict.Steady
	if st == nil {
		t.Fatalf("verdict %q (%s) has no one-target steady state", r.Verdict.Outcome, r.Verdict.Summary)
	}
	ff := st.FailedFast
	if !ff.Judged || !ff.Held || !strings.Contains(ff.Finding, "by send time") {
		t.Errorf("failed fast: judged %v held %v (%s); want held, read by send time: the open breaker answered every request sent in the fault's second half at once", ff.Judged, ff.Held, ff.Finding)
	}
	if r.Verdict.Outcome == reports.OutcomeSlowFailure {
		t.Errorf("verdict %q (%s); want anything but a slow failure", r.Verdict.Outcome, r.Verdict.Summary)
	}
	var late int
	for _, s := range r.Arm("svc").Series {
		if s.T >= 4 && s.T < 6 && s.API.LatencyHist != nil && s.API.LatencyHist.QuantileMS(0.99) > 1000 {
			late++
		}
	}
	if late == 0 {
		t.Errorf("no second of the fault's second half completed slow answers: the test does not reproduce the late timeouts")
	}
}
