package analysis

import (
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

// seriesReport builds a report of one arm whose /api goodput in each second
// is ok[t] of 100 requests, with amp attempts per request reaching the
// upstream, over phases baseline 0–3 s, fault 3–5 s, recovery 5–end.
func seriesReport(ok []int64, amp int64) (*reports.Report, *reports.Arm) {
	n := float64(len(ok))
	r := &reports.Report{Phases: []reports.Phase{
		{Name: "baseline", StartS: 0, EndS: 3},
		{Name: "fault", StartS: 3, EndS: 5, Faults: []string{"slowdown:3x"}},
		{Name: "recovery", StartS: 5, EndS: n},
	}}
	a := &reports.Arm{Name: "no-breaker", Summary: map[string]reports.PhaseSummary{}}
	var base reports.Stats
	for t, k := range ok {
		a.Series = append(a.Series, reports.Second{T: t, UpstreamRequests: 100 * amp,
			UpstreamCompleted: 100, UpstreamCompletedForGone: 100 - k,
			API: reports.Bucket{Requests: 100, Outcomes: failed(k, amp)}})
		if t < 3 {
			base.Requests += 100
			base.OK += k
		}
	}
	a.Summary["baseline"] = reports.PhaseSummary{API: base}
	return r, a
}

// failed counts 100 − ok requests as rejected when amp is 0 (nothing
// reached the upstream), as timeouts otherwise.
func failed(ok, amp int64) reports.Outcomes {
	if amp == 0 {
		return reports.Outcomes{OK: ok, Rejected: 100 - ok}
	}
	return reports.Outcomes{OK: ok, Timeout: 100 - ok}
}

func TestArmRecovery(t *testing.T) {
	tests := []struct {
		name      string
		ok        []int64
		amp       int64
		recovered bool
		at        float64
		reason    string
	}{
		{"back at once", []int64{100, 100, 100, 0, 0, 95, 100, 100}, 1, true, 0, ""},
		{"back after 2 s", []int64{100, 100, 100, 0, 0, 10, 50, 92, 100}, 1, true, 2, ""},
		// A good second that does not last is not recovery.
		{"relapse", []int64{100, 100, 100, 0, 0, 95, 20, 95, 30}, 4, false, 0, "sustained by retries: 4.0 attempts"},
		{"stuck without retries", []int64{100, 100, 100, 0, 0, 5, 5, 5, 5}, 1, false, 0, "sustained by abandoned work: 95.0% of the upstream's work"},
		{"stuck by both", []int64{100, 100, 100, 0, 0, 5, 5, 5, 5}, 3, false, 0, "sustained by retries: 3.0 attempts reached the upstream per /api request after the trigger, and by abandoned work: 95.0%"},
		{"held down by rejections", []int64{100, 100, 100, 0, 0, 5, 5, 5, 5}, 0, false, 0, "held down by its own policy: it rejected 95.0% of /api requests"},
		// Goodput at 90% of a 90% baseline is enough.
		{"relative to baseline", []int64{90, 90, 90, 0, 0, 81, 81, 81}, 1, true, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, a := seriesReport(tt.ok, tt.amp)
			rec, ok := armRecovery(r, a)
			if !ok {
				t.Fatal("armRecovery does not apply; want it to")
			}
			if rec.recovered != tt.recovered || (tt.recovered && rec.at != tt.at) {
				t.Errorf("armRecovery = recovered %v at %v; want %v at %v", rec.recovered, rec.at, tt.recovered, tt.at)
			}
			if got := rec.describe(); !tt.recovered && !strings.Contains(got, tt.reason) {
				t.Errorf("describe() = %q; want it to say %q", got, tt.reason)
			}
			if got := rec.describe(); !tt.recovered && !strings.Contains(got, "did not recover") {
				t.Errorf("describe() = %q; want \"did not recover\"", got)
			}
		})
	}
}

// TestArmRecoveryHeldOpen checks that an arm whose breaker opened in the
// fault and never closed again — gobreaker's default 60 s open timeout
// outlasting the recovery phase — is said to be held down by its breaker,
// inferred or measured, not by a cause unknown.
func TestArmRecoveryHeldOpen(t *testing.T) {
	for _, figures := range []string{reports.BreakerInferred, reports.BreakerMeasured} {
		r, a := seriesReport([]int64{100, 100, 100, 0, 0, 0, 0, 0, 0}, 0)
		for i := range a.Series {
			a.Series[i].API.Outcomes = reports.Outcomes{OK: a.Series[i].API.Outcomes.OK, UpstreamError: 100 - a.Series[i].API.Outcomes.OK}
		}
		a.Breaker, a.BreakerFigures = true, figures
		a.Transitions = []reports.Transition{{T: 3.1, From: reports.StateClosed, To: reports.StateOpen}}
		rec, ok := armRecovery(r, a)
		if !ok || rec.recovered {
			t.Fatalf("%s: armRecovery = %+v, %v; want it to apply and not recover", figures, rec, ok)
		}
		want := "held down by its breaker: open from 3.1 s to the end of the run"
		if figures == reports.BreakerInferred {
			want = "held down by its breaker: open (inferred) from 3.1 s"
		}
		if got := rec.describe(); !strings.Contains(got, want) {
			t.Errorf("%s: describe() = %q; want it to say %q", figures, got, want)
		}
		// Without the breaker figures (unknown: the upstream refused
		// connections during the fault), no calls after the trigger still
		// say who held the arm down.
		b := *a
		b.Breaker, b.BreakerFigures, b.Transitions = false, reports.BreakerUnknown, nil
		if rec, _ := armRecovery(r, &b); !strings.Contains(rec.describe(), "held down by the service itself: it made 0.00 calls") {
			t.Errorf("%s, breaker unknown: describe() = %q; want it held down by the service itself", figures, rec.describe())
		}
		// Closed again before the end: not held down by it.
		a.Transitions = append(a.Transitions, reports.Transition{T: 6, From: reports.StateOpen, To: reports.StateClosed})
		if rec, _ := armRecovery(r, a); strings.Contains(rec.describe(), "held down by its breaker") {
			t.Errorf("%s: a breaker that closed again: describe() = %q; want another reason", figures, rec.describe())
		}
	}
}

// With /api slots, recovery after the trigger is dated at their 100 ms
// resolution, not at the whole second the series shows.
func TestArmRecoveryAtSlotResolution(t *testing.T) {
	r, a := seriesReport([]int64{100, 100, 100, 0, 0, 60, 100, 100, 100}, 1)
	// Slots of 100 ms, 10 completions each: all fail until 5.4 s, then all
	// succeed (the series' second 5 is 60% ok).
	sl := &reports.Slots{WidthMS: 100}
	for i := range 90 {
		ok := int64(10)
		if i >= 30 && i < 54 {
			ok = 0
		}
		sl.OK, sl.N = append(sl.OK, ok), append(sl.N, 10)
	}
	a.APISlots = sl
	rec, _ := armRecovery(r, a)
	// The second from 5.3 s holds one failed slot of ten: 90%, the bar.
	if !rec.recovered || rec.at != 0.3 {
		t.Errorf("armRecovery = recovered %v at %v s; want recovered at 0.3 s", rec.recovered, rec.at)
	}
	a.APISlots = nil
	if rec, _ := armRecovery(r, a); !rec.recovered || rec.at != 1 {
		t.Errorf("without slots: recovered %v at %v s; want at 1 s (whole seconds)", rec.recovered, rec.at)
	}
}

func TestArmRecoveryDoesNotApply(t *testing.T) {
	r, a := seriesReport([]int64{100, 100, 100, 0, 0, 100}, 1)
	r.Phases[2].EndS = 5 // nothing after the trigger
	r.Phases = r.Phases[:2]
	if _, ok := armRecovery(r, a); ok {
		t.Errorf("armRecovery applies without a phase after the trigger; want not")
	}
	r, a = seriesReport([]int64{0, 0, 0, 0, 0, 100}, 1)
	if _, ok := armRecovery(r, a); ok {
		t.Errorf("armRecovery applies with no baseline goodput; want not")
	}
}

func TestAddRecovery(t *testing.T) {
	r, n := seriesReport([]int64{100, 100, 100, 0, 0, 5, 5, 5}, 4)
	_, b := seriesReport([]int64{100, 100, 100, 0, 0, 100, 100, 100}, 1)
	b.Name = reports.ArmBreaker
	r.Arms = []reports.Arm{*b, *n}
	v := reports.Verdict{Outcome: reports.OutcomeNothingToPrevent, Summary: "Nothing to prevent: S."}
	addRecovery(r, &v, reports.ArmBreaker)
	if want := "The breaker let the system recover from a metastable failure: without it /api goodput stayed at 5.0% after the trigger ended (sustained by retries: 4.0 attempts reached the upstream per /api request after the trigger, and by abandoned work: 95.0% of the upstream's work after the trigger was for callers that had gone); with it goodput was back to ≥ 90.0% of its baseline 0.00 s after the trigger. Arms that recovered: breaker."; v.Summary != want {
		t.Errorf("summary\n%s\nwant\n%s", v.Summary, want)
	}
	if v.Outcome != reports.OutcomePrevented || !v.CascadePrevented {
		t.Errorf("outcome %s, prevented %v; want prevented", v.Outcome, v.CascadePrevented)
	}
	if len(v.Reasons) != 3 || v.Reasons[0] != "across endpoints: Nothing to prevent: S." ||
		!strings.HasPrefix(v.Reasons[1], "breaker arm after the trigger: recovered") ||
		!strings.HasPrefix(v.Reasons[2], "no-breaker arm after the trigger: did not recover (stuck: sustained by retries") {
		t.Errorf("reasons %q; want the collateral verdict, the breaker recovered, the no-breaker stuck by retries", v.Reasons)
	}

	// Both stuck: not prevented.
	r.Arms = []reports.Arm{*n, *n}
	r.Arms[0].Name = reports.ArmBreaker
	v = reports.Verdict{Outcome: reports.OutcomeNothingToPrevent, Summary: "S."}
	addRecovery(r, &v, reports.ArmBreaker)
	if v.Outcome != reports.OutcomeNotPrevented || !strings.HasPrefix(v.Summary, "The breaker did not prevent a metastable failure") {
		t.Errorf("both stuck: %s %q; want not_prevented", v.Outcome, v.Summary)
	}

	// Both recover: the verdict is left alone.
	r.Arms = []reports.Arm{*b, *b}
	r.Arms[1].Name = reports.ArmNoBreaker
	v = reports.Verdict{Outcome: reports.OutcomeNothingToPrevent, Summary: "S."}
	addRecovery(r, &v, reports.ArmBreaker)
	if v.Summary != "S." || v.Outcome != reports.OutcomeNothingToPrevent {
		t.Errorf("every arm recovered: %s %q; want the verdict unchanged", v.Outcome, v.Summary)
	}
}
