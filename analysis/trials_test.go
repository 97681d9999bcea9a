package analysis

import (
	"strconv"
	"testing"

	"github.com/cbload/cbload/reports"
)

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

func show(v *float64) string {
	if v == nil {
		return "never"
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}

// TestSpreadEveryCatalogueFigure: each figure of the catalogue gets its
// median, minimum and maximum over the trials.
func TestSpreadEveryCatalogueFigure(t *testing.T) {
	runs := make([]reports.Figures, 3)
	for i, x := range []float64{1, 3, 2} {
		for _, f := range reports.Catalogue {
			if f.Set != nil {
				f.Set(&runs[i], x, true)
			}
		}
	}
	med, lo, hi := spread(runs)
	for _, f := range reports.Catalogue {
		if f.Set == nil {
			continue
		}
		for _, c := range []struct {
			name string
			got  *reports.Figures
			want float64
		}{{"median", &med, 2}, {"min", &lo, 1}, {"max", &hi, 3}} {
			if v, err := f.Get(c.got); err != nil || v != c.want {
				t.Errorf("%s %s = %v, %v; want %v", f.Name, c.name, v, err, c.want)
			}
		}
	}
}
