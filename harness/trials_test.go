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
	}
	if !tr.Agree || r.Verdict.Outcome != reports.OutcomePrevented || !strings.HasPrefix(r.Verdict.Summary, "All 3 trials agree.") {
		t.Errorf("trials %v agree %v; verdict %s: %q; want all prevented", tr.Outcomes, tr.Agree, r.Verdict.Outcome, r.Verdict.Summary)
	}
	if n := len(r.Validity.Checks); n != 3*2*5 {
		t.Errorf("%d validity checks; want 5 per arm and trial", n)
	}
}

func TestTrialsVerdictDisagree(t *testing.T) {
	r := &reports.Report{Trials: &reports.Trials{N: 3, Outcomes: []string{"prevented", "nothing_to_prevent", "prevented"}}}
	v := trialsVerdict(r, reports.Verdict{Outcome: reports.OutcomePrevented, Summary: "x"})
	want := "Inconclusive: the trials disagree — prevented in 2, nothing_to_prevent in 1 of 3 trials (trial 1 prevented, trial 2 nothing_to_prevent, trial 3 prevented)."
	if v.Outcome != reports.OutcomeInconclusive || v.Summary != want {
		t.Errorf("trialsVerdict = %s: %q; want inconclusive: %q", v.Outcome, v.Summary, want)
	}
}

// A time that never happened in a trial sorts after every one that did.
func TestSpreadNever(t *testing.T) {
	one, two := 1.0, 2.0
	med, lo, hi := spread([]reports.Figures{{TimeToRecoverS: &two}, {TimeToRecoverS: nil}, {TimeToRecoverS: &one}})
	if show(med.TimeToRecoverS) != "2" || show(lo.TimeToRecoverS) != "1" || hi.TimeToRecoverS != nil {
		t.Errorf("spread of 2, never, 1 = median %s, min %s, max %s; want 2, 1, never",
			show(med.TimeToRecoverS), show(lo.TimeToRecoverS), show(hi.TimeToRecoverS))
	}
}
