package main

import (
	"os"
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

// TestHeldCallersNotFailFast: a service whose dependency call has no
// useful timeout (the fallback test service with a 1 h call deadline)
// holds every caller while the dependency hangs and answers them all once
// the fault ends. No answer completes in the fault's second half, yet the
// requests sent then were held for seconds: the one-target verdict says it
// did not fail fast, where it used to say it could not be judged.
func TestHeldCallersNotFailFast(t *testing.T) {
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
	if !ff.Judged || ff.Held || !strings.Contains(ff.Finding, "held past the limit") {
		t.Errorf("failed fast: judged %v held %v (%s); want judged and not held: every caller was held until the fault ended", ff.Judged, ff.Held, ff.Finding)
	}
	if r.Verdict.Outcome == reports.OutcomeHeld {
		t.Errorf("verdict %q (%s); want anything but held", r.Verdict.Outcome, r.Verdict.Summary)
	}
}
