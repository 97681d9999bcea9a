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

// The after-trigger finding of several trials: ordered by time to recover,
// a trial that stayed stuck last, so the median is the middle trial's
// finding and the range runs from the quickest recovery to stuck; its
// goodput and attempts are medians and ranges of their own.
func TestSpreadRecovery(t *testing.T) {
	one, two := 1.0, 2.0
	runs := []reports.Figures{
		{AfterTrigger: &reports.Recovery{Recovered: true, TimeToRecoverS: &two, FinalGoodput: 0.9, AttemptsPerRequest: 1.2}},
		{AfterTrigger: &reports.Recovery{Recovered: false, FinalGoodput: 0.1, AttemptsPerRequest: 3.5, StuckBy: "sustained by retries"}},
		{AfterTrigger: &reports.Recovery{Recovered: true, TimeToRecoverS: &one, FinalGoodput: 0.95, AttemptsPerRequest: 1.1}},
	}
	med, lo, hi := spread(runs)
	if med.AfterTrigger == nil || lo.AfterTrigger == nil || hi.AfterTrigger == nil {
		t.Fatalf("spread left the after-trigger finding out: median %v, min %v, max %v", med.AfterTrigger, lo.AfterTrigger, hi.AfterTrigger)
	}
	m, l, h := med.AfterTrigger, lo.AfterTrigger, hi.AfterTrigger
	if !m.Recovered || show(m.TimeToRecoverS) != "2" || !l.Recovered || show(l.TimeToRecoverS) != "1" || h.Recovered || h.TimeToRecoverS != nil || h.StuckBy != "sustained by retries" {
		t.Errorf("after trigger: median %v %s, min %v %s, max %v %s %q; want back in 2, back in 1, stuck by retries",
			m.Recovered, show(m.TimeToRecoverS), l.Recovered, show(l.TimeToRecoverS), h.Recovered, show(h.TimeToRecoverS), h.StuckBy)
	}
	if m.FinalGoodput != 0.9 || l.FinalGoodput != 0.1 || h.FinalGoodput != 0.95 || m.AttemptsPerRequest != 1.2 || l.AttemptsPerRequest != 1.1 || h.AttemptsPerRequest != 3.5 {
		t.Errorf("final goodput %v (%v–%v), attempts %v (%v–%v); want 0.9 (0.1–0.95), 1.2 (1.1–3.5)",
			m.FinalGoodput, l.FinalGoodput, h.FinalGoodput, m.AttemptsPerRequest, l.AttemptsPerRequest, h.AttemptsPerRequest)
	}
	if got := reports.AfterTrigger(&reports.Arm{Figures: med}); got != "back in 2.00 s" {
		t.Errorf("AfterTrigger(median) = %q; want back in 2.00 s", got)
	}
	// A trial the rule did not apply to (it stopped early) is left out.
	med, _, _ = spread([]reports.Figures{runs[1], {}})
	if med.AfterTrigger == nil || med.AfterTrigger.Recovered {
		t.Errorf("spread of stuck and no finding = %+v; want stuck", med.AfterTrigger)
	}
}
