package harness

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cbload/cbload/reports"
)

// Three trials of the default experiment (short phases): the arms run
// interleaved, every headline figure is a median with its range, and the
// verdict is given because the trials agree.
func TestRunTrials(t *testing.T) {
	cfg := testConfig(t, "latency:1s")
	cfg.Phases[1].Duration = 4e9
	cfg.Phases[2].Duration = 3e9
	cfg.Trials = 3
	r := runOrFail(t, cfg)
	tr := r.Trials
	if tr == nil || tr.N != 3 {
		t.Fatalf("trials = %+v; want 3", tr)
	}
	wantOrder := []string{"breaker#1", "no-breaker#1", "no-breaker#2", "breaker#2", "breaker#3", "no-breaker#3"}
	if diff := cmp.Diff(wantOrder, tr.Order); diff != "" {
		t.Errorf("run order (-want +got):\n%s", diff)
	}
	for _, a := range r.Arms {
		ta := tr.TrialArm(a.Name)
		if ta == nil || len(ta.Runs) != 3 {
			t.Fatalf("%s: trial figures %+v; want 3 runs", a.Name, ta)
		}
		if diff := cmp.Diff(ta.Median, a.Figures); diff != "" {
			t.Errorf("%s: arm figures are not the medians (-median +figures):\n%s", a.Name, diff)
		}
		for _, f := range []struct {
			name string
			get  func(f reports.Figures) float64
		}{
			{"collateral success", func(f reports.Figures) float64 { return f.CollateralSuccessDuringFault }},
			{"collateral p99", func(f reports.Figures) float64 { return f.CollateralP99DuringFaultMS }},
			{"api success", func(f reports.Figures) float64 { return f.APISuccessDuringFault }},
			{"upstream requests", func(f reports.Figures) float64 { return float64(f.UpstreamRequestsDuringFault) }},
			{"in-flight peak", func(f reports.Figures) float64 { return float64(f.InflightPeak) }},
			{"attempts per request", func(f reports.Figures) float64 { return f.AttemptsPerRequestDuringFault }},
		} {
			var vals []float64
			for _, run := range ta.Runs {
				vals = append(vals, f.get(run))
			}
			slices.Sort(vals)
			if lo, med, hi := f.get(ta.Min), f.get(ta.Median), f.get(ta.Max); lo != vals[0] || med != vals[1] || hi != vals[2] {
				t.Errorf("%s %s: min %v, median %v, max %v; want %v", a.Name, f.name, lo, med, hi, vals)
			}
		}
		// At most one attempt per /api request without retries (the
		// breaker arm's rejections reach no upstream), and some: 0 would
		// mean the figure was left out.
		if v := a.Figures.AttemptsPerRequestDuringFault; !(v > 0 && v < 1.5) {
			t.Errorf("%s: median attempts per /api request %v; want above 0 and below 1.5", a.Name, v)
		}
		// The default schedule has a faultless baseline and a recovery:
		// the metastability rule applies to every trial, and its finding
		// is a median with its range too.
		for _, f := range []struct {
			name string
			rec  *reports.Recovery
		}{{"median", ta.Median.AfterTrigger}, {"min", ta.Min.AfterTrigger}, {"max", ta.Max.AfterTrigger}, {"arm", a.Figures.AfterTrigger}} {
			if f.rec == nil {
				t.Errorf("%s: %s after-trigger finding is missing; want one, as every trial has one", a.Name, f.name)
			}
		}
		recovered := 0
		for i, run := range ta.Runs {
			if run.AfterTrigger == nil {
				t.Fatalf("%s trial %d: no after-trigger finding", a.Name, i+1)
			}
			if run.AfterTrigger.Recovered {
				recovered++
			}
		}
		if m := ta.Median.AfterTrigger; m != nil && m.Recovered != (recovered >= 2) {
			t.Errorf("%s: median says recovered %v, but %d of 3 trials recovered", a.Name, m.Recovered, recovered)
		}
	}
	if !tr.Agree || r.Verdict.Outcome != reports.OutcomePrevented || !strings.HasPrefix(r.Verdict.Summary, "All 3 trials agree.") {
		t.Errorf("trials %v agree %v; verdict %s: %q; want all prevented", tr.Outcomes, tr.Agree, r.Verdict.Outcome, r.Verdict.Summary)
	}
	if n := len(r.Validity.Checks); n != 3*2*6 {
		t.Errorf("%d validity checks; want 6 per arm and trial", n)
	}
}
