package analysis

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

// verdictReport builds a two-arm report with the given collateral success
// and /api success during the fault for each arm.
func verdictReport(bLocal, nLocal, bAPI, nAPI float64) *reports.Report {
	arm := func(name string, local, api float64, up int64) reports.Arm {
		return reports.Arm{
			Name:   name,
			Series: []reports.Second{{T: 0}, {T: 1}, {T: 2}},
			Summary: map[string]reports.PhaseSummary{
				"baseline": {Collateral: reports.Stats{LatencyMS: reports.Latency{P99: 4}}},
			},
			Figures: reports.Figures{
				CollateralSuccessDuringFault: local,
				CollateralP99DuringFaultMS:   5,
				APISuccessDuringFault:        api,
				UpstreamRequestsDuringFault:  up,
			},
		}
	}
	return &reports.Report{
		Phases: []reports.Phase{
			{Name: "baseline", StartS: 0, EndS: 1},
			{Name: "fault", StartS: 1, EndS: 2, Faults: []string{"latency:1s"}},
			{Name: "recovery", StartS: 2, EndS: 3},
		},
		Arms: []reports.Arm{arm("breaker", bLocal, bAPI, 100), arm("no-breaker", nLocal, nAPI, 3000)},
	}
}

func TestVerdict(t *testing.T) {
	tests := []struct {
		name            string
		r               *reports.Report
		want            string
		prevented       bool
		summaryContains string
	}{
		{"prevented", verdictReport(1, 0.3, 0.1, 0.05), reports.OutcomePrevented, true, "prevented the cascade"},
		{"nothing to prevent", verdictReport(1, 1, 0.1, 0.1), reports.OutcomeNothingToPrevent, false, "cut the requests reaching the sick upstream 30.0×"},
		{"breaker hurt collateral", verdictReport(0.5, 1, 0.1, 0.1), reports.OutcomeWorse, false, "made things worse"},
		{"partial failure turned total", verdictReport(1, 1, 0.3, 0.7), reports.OutcomeWorse, false, "turned a partial failure into rejection"},
		{"calls that would have succeeded failed", verdictReport(1, 1, 0, 1), reports.OutcomeWorse, false, "failed calls that would have succeeded"},
		{"both cascaded", verdictReport(0.6, 0.3, 0.1, 0.05), reports.OutcomeNotPrevented, false, "did not prevent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Verdict(tt.r)
			if v.Outcome != tt.want || v.CascadePrevented != tt.prevented {
				t.Errorf("Verdict() = %s, prevented=%v; want %s, %v (%s)", v.Outcome, v.CascadePrevented, tt.want, tt.prevented, v.Summary)
			}
			if !strings.Contains(v.Summary, tt.summaryContains) {
				t.Errorf("Verdict().Summary = %q; want it to contain %q", v.Summary, tt.summaryContains)
			}
		})
	}
}

func TestVerdictSlowCollateralIsDegraded(t *testing.T) {
	r := verdictReport(1, 1, 0.1, 0.1)
	r.Arms[1].Figures.CollateralP99DuringFaultMS = 900
	if v := Verdict(r); v.Outcome != reports.OutcomePrevented {
		t.Errorf("Verdict() with /local p99 900 ms without the breaker = %s; want prevented", v.Outcome)
	}
}

// The collateral p99 is read from a histogram, a bucket's midpoint within
// 0.8% of the answers it stands for: an endpoint answering at the 500 ms
// limit reads 501.8 ms and is healthy, one clearly above it is degraded —
// for both arms of the A/B verdict and for the one-target verdict's
// "contained", as failed fast judges the api's p99.
func TestVerdictCollateralResolution(t *testing.T) {
	for _, tc := range []struct {
		p99      float64
		degraded bool
	}{
		{501.8, false},
		{503, false},
		{520, true},
	} {
		r := verdictReport(1, 1, 0.1, 0.1)
		r.Arms[1].Figures.CollateralP99DuringFaultMS = tc.p99
		want := reports.OutcomeNothingToPrevent
		if tc.degraded {
			want = reports.OutcomePrevented
		}
		if v := Verdict(r); v.Outcome != want {
			t.Errorf("no-breaker /local p99 %.1f ms: verdict %s (%s); want %s", tc.p99, v.Outcome, v.Summary, want)
		}
		deg, why := degraded(r, &r.Arms[1])
		if deg != tc.degraded || (deg && !strings.Contains(why, "(degraded: p99 above 500 ms, to the latency histogram's 0.8%)")) {
			t.Errorf("p99 %.1f ms: degraded %v (%s); want %v, saying the tolerance when degraded", tc.p99, deg, why, tc.degraded)
		}
		s := steadyReport(breakerService())
		s.Arms[0].Figures.CollateralP99DuringFaultMS = tc.p99
		if c := contained(s, &s.Arms[0], reports.TermsOf(s.Config)); c.Held == tc.degraded {
			t.Errorf("one target, /health p99 %.1f ms: contained held %v (%s); want %v", tc.p99, c.Held, c.Finding, !tc.degraded)
		}
	}
}

func TestVerdictInconclusive(t *testing.T) {
	r := verdictReport(1, 0.3, 0.1, 0.1)
	r.Arms = r.Arms[:1]
	if v := Verdict(r); v.Outcome != reports.OutcomeInconclusive {
		t.Errorf("Verdict() with one arm = %s; want inconclusive", v.Outcome)
	}
	r = verdictReport(1, 0.3, 0.1, 0.1)
	r.Arms[1].Series = r.Arms[1].Series[:1] // stopped during the baseline
	if v := Verdict(r); v.Outcome != reports.OutcomeInconclusive {
		t.Errorf("Verdict() with the no-breaker arm stopped before the fault = %s; want inconclusive", v.Outcome)
	}
	for _, arms := range []int{1, 2} {
		r = verdictReport(1, 0.3, 0.1, 0.1)
		r.Arms = r.Arms[:arms]
		r.Partial, r.PartialReason = true, "interrupted"
		if v := Verdict(r); !strings.HasPrefix(v.Summary, "Partial run (interrupted): ") {
			t.Errorf("Verdict().Summary of a partial run with %d arms = %q; want it to start with the partial notice", arms, v.Summary)
		}
	}
}

// Every policy arm is judged against the control arm: a third arm gets a
// verdict of its own, and without a breaker arm the first policy arm is
// the headline, in its own name.
func TestVerdictEveryPolicyArm(t *testing.T) {
	r := verdictReport(1, 0.3, 0.1, 0.05)
	th := verdictReport(0.4, 0.3, 0.1, 0.05).Arms[0]
	th.Name = "throttle"
	r.Arms = append(r.Arms, th)
	v := Verdict(r)
	if v.Outcome != reports.OutcomePrevented || !strings.HasPrefix(v.Summary, "The breaker prevented the cascade") {
		t.Errorf("headline %s: %q; want the breaker's, prevented", v.Outcome, v.Summary)
	}
	if len(v.Arms) != 2 || v.Arms[0].Arm != "breaker" || v.Arms[0].Outcome != reports.OutcomePrevented || v.Arms[0].Summary != v.Summary ||
		v.Arms[1].Arm != "throttle" || v.Arms[1].Outcome != reports.OutcomeNotPrevented || !strings.HasPrefix(v.Arms[1].Summary, "The throttle policy did not prevent the cascade") {
		t.Errorf("arm verdicts %+v; want breaker prevented (the headline), throttle not prevented", v.Arms)
	}
	if last := v.Reasons[len(v.Reasons)-1]; !strings.HasPrefix(last, "throttle arm against no-breaker: not_prevented — The throttle policy did not prevent") {
		t.Errorf("last reason %q; want the throttle arm's verdict", last)
	}

	// No breaker arm: the throttle arm is the headline.
	r.Arms = r.Arms[1:]
	v = Verdict(r)
	if v.Outcome != reports.OutcomeNotPrevented || !strings.HasPrefix(v.Summary, "The throttle policy did not prevent the cascade") ||
		!strings.Contains(strings.Join(v.Reasons, "\n"), "with the throttle policy, /local during the fault") {
		t.Errorf("without a breaker arm: %s %q, reasons %q; want the throttle arm's verdict in its name", v.Outcome, v.Summary, v.Reasons)
	}
	if len(v.Arms) != 1 || v.Arms[0].Arm != "throttle" {
		t.Errorf("arm verdicts %+v; want the throttle arm's alone", v.Arms)
	}

	// A failed validity check withholds every arm's verdict.
	r = verdictReport(1, 0.3, 0.1, 0.05)
	r.Arms = append(r.Arms, th)
	r.Validity = &reports.Validity{Checks: []reports.ValidityCheck{{Name: reports.CheckSendLag, Arm: "throttle", Message: "late"}}}
	for _, av := range Verdict(r).Arms {
		if av.Outcome != reports.OutcomeInconclusive {
			t.Errorf("invalid run: arm %s verdict %s; want inconclusive", av.Arm, av.Outcome)
		}
	}
	// Without the control arm there is no arm verdict.
	r.Validity = nil
	r.Arms = []reports.Arm{r.Arms[0], r.Arms[2]}
	if v := Verdict(r); len(v.Arms) != 0 || v.Outcome != reports.OutcomeInconclusive {
		t.Errorf("without the control arm: %s, arm verdicts %+v; want inconclusive and none", v.Outcome, v.Arms)
	}
}

// A verdict never rests on successes the report itself suspects: without
// --expect it is inconclusive, naming them and what the rule would have
// said; with --expect the answers were checked, and the rule decides.
func TestVerdictSuspectSuccesses(t *testing.T) {
	r := verdictReport(1, 1, 1, 1)
	r.Arms[1].SuspectOK = new(int64(120))
	v := Verdict(r)
	if v.Outcome != reports.OutcomeInconclusive ||
		v.Summary != "Inconclusive: 120 /api answers of the no-breaker arm were ok while their upstream call failed — fallbacks? The verdict does not rest on successes the report itself suspects: check the answers with --expect." ||
		!strings.HasPrefix(v.Reasons[0], "had those answers been checked and found true, the rule would have said: Nothing to prevent") {
		t.Errorf("suspect successes: %s %q, reasons %q; want inconclusive, naming them", v.Outcome, v.Summary, v.Reasons)
	}
	for _, av := range v.Arms {
		if av.Outcome != reports.OutcomeInconclusive {
			t.Errorf("suspect successes: arm %s verdict %s; want inconclusive", av.Arm, av.Outcome)
		}
	}
	r.Config.Expect = []string{"body-contains=ok"}
	if v := Verdict(r); v.Outcome != reports.OutcomeNothingToPrevent {
		t.Errorf("suspect successes checked with --expect: %s %q; want the rule's nothing to prevent", v.Outcome, v.Summary)
	}

	// The verdict on one arm too.
	s := steadyReport(breakerService())
	s.Arms[0].SuspectOK = new(int64(70))
	if v := Verdict(s); v.Outcome != reports.OutcomeInconclusive || !strings.Contains(v.Summary, "70 /api answers of the svc arm were ok while their upstream call failed") || v.Steady == nil {
		t.Errorf("one arm with suspect successes: %s %q; want inconclusive, the parts kept", v.Outcome, v.Summary)
	}

	// A handful at the edges of the fault's seconds is not what a verdict
	// rests on: under 10 answers, or under 5% of the arm's ok answers
	// during the fault.
	s.Arms[0].SuspectOK = new(int64(7))
	if v := Verdict(s); v.Outcome != reports.OutcomeHeld {
		t.Errorf("7 suspect answers: %s %q; want the rule's held", v.Outcome, v.Summary)
	}
	r.Config.Expect = nil
	r.Arms[1].Summary["fault"] = reports.PhaseSummary{API: reports.Stats{Requests: 5000, OK: 5000, SuccessRatio: 1}}
	r.Arms[1].SuspectOK = new(int64(120))
	if v := Verdict(r); v.Outcome == reports.OutcomeInconclusive {
		t.Errorf("120 suspect of 5000 ok answers: %s %q; want the rule's verdict", v.Outcome, v.Summary)
	}
}

// A policy arm's verdict reaches every format: the reasons the Markdown,
// HTML and JUnit reports show, and the JSON's verdict.arms.
func TestVerdictEveryPolicyArmEveryFormat(t *testing.T) {
	r := verdictReport(1, 0.3, 0.1, 0.05)
	th := verdictReport(0.4, 0.3, 0.1, 0.05).Arms[0]
	th.Name = "throttle"
	r.Arms = append(r.Arms, th)
	r.Schema = reports.Schema
	r.Verdict = Verdict(r)
	var md, html, junit, js bytes.Buffer
	for _, err := range []error{reports.WriteMarkdown(&md, r), reports.WriteHTML(&html, r), reports.WriteJUnit(&junit, r), reports.WriteJSON(&js, r)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Markdown escapes the outcome's underscore.
	for name, out := range map[string]string{"markdown": strings.ReplaceAll(md.String(), `\_`, "_"), "html": html.String(), "junit": junit.String()} {
		if !strings.Contains(out, "throttle arm against no-breaker: not_prevented — The throttle policy did not prevent the cascade") {
			t.Errorf("%s lacks the throttle arm's verdict", name)
		}
	}
	if !strings.Contains(js.String(), `"arm": "throttle"`) {
		t.Errorf("json lacks the throttle arm's verdict")
	}
}
