package reports

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

var (
	thArms   = []string{ArmBreaker, ArmNoBreaker}
	thPhases = []string{"baseline", "fault", "recovery"}
)

// thReport is a small report with known values for every kind of path.
func thReport() *Report {
	open := 1.25
	stats := func(ok, n int64, p99 float64) Stats {
		return Stats{Requests: n, OK: ok, SuccessRatio: float64(ok) / float64(n),
			Outcomes:  Outcomes{OK: ok, Saturated: n - ok},
			LatencyMS: Latency{P50: 2, P90: 5, P99: p99, Max: p99 * 2}}
	}
	r := &Report{
		Phases: []Phase{{Name: "baseline"}, {Name: "fault", Faults: []string{"latency:1s"}}, {Name: "recovery"}},
		Arms: []Arm{
			{Name: ArmBreaker, Breaker: true,
				Summary: map[string]PhaseSummary{"fault": {API: stats(10, 1000, 550), Collateral: stats(995, 1000, 4), UpstreamRequests: 60}},
				Figures: Figures{TimeToOpenS: &open, CollateralSuccessDuringFault: 0.995, Opens: 2}},
			{Name: ArmNoBreaker,
				Summary: map[string]PhaseSummary{"fault": {API: stats(0, 1000, 1500), Collateral: stats(500, 1000, 900), UpstreamRequests: 400}},
				Figures: Figures{CollateralSuccessDuringFault: 0.5}},
		},
		Verdict: Verdict{CascadePrevented: true, Outcome: OutcomePrevented},
	}
	return r
}

func TestThresholdEvaluate(t *testing.T) {
	r := thReport()
	tests := []struct {
		expr     string
		pass     bool
		measured string
	}{
		{"breaker.fault.collateral.success_ratio >= 99%", true, "99.50%"},
		{"breaker.fault.collateral.success_ratio >= 99.6%", false, "99.50%"},
		{"breaker.fault.collateral.success_ratio >= 0.99", true, "99.50%"},
		{"breaker.fault.collateral.success_ratio>=99%", true, "99.50%"},
		{"no-breaker.fault.collateral.success_ratio < 99%", true, "50.00%"},
		{"breaker.fault.api.latency_ms.p99 < 600ms", true, "550.0ms"},
		{"breaker.fault.api.latency_ms.p99 < 0.6s", true, "550.0ms"},
		{"breaker.fault.api.latency_ms.p99 < 600", true, "550.0ms"},
		{"breaker.fault.api.latency_ms.p99 < 500ms", false, "550.0ms"},
		{"breaker.fault.api.latency_ms.max == 1100ms", true, "1100.0ms"},
		{"breaker.figures.time_to_open_s <= 2s", true, "1.250s"},
		{"breaker.figures.time_to_open_s <= 1250ms", true, "1.250s"},
		{"breaker.figures.time_to_open_s < 1s", false, "1.250s"},
		{"breaker.figures.time_to_open_s <= 2", true, "1.250s"},
		{"no-breaker.figures.time_to_open_s <= 2s", false, "n/a"}, // never opened
		{"breaker.figures.time_to_recover_s < 5s", false, "n/a"},
		{"breaker.figures.opens == 2", true, "2"},
		{"verdict.cascade_prevented == true", true, "true"},
		{"verdict.cascade_prevented != true", false, "true"},
		{"verdict.outcome == prevented", true, "prevented"},
		{"verdict.outcome != worse", true, "prevented"},
		{"partial == false", true, "false"},
		{"breaker.fault.upstream_requests < 0.2 * no-breaker.fault.upstream_requests", true, "60"},
		{"breaker.fault.upstream_requests < 0.1 * no-breaker.fault.upstream_requests", false, "60"},
		{"breaker.fault.upstream_requests * 5 < no-breaker.fault.upstream_requests", true, "300"},
		{"breaker.fault.upstream_requests < no-breaker.fault.upstream_requests / 4", true, "60"},
		{"breaker.fault.api.outcomes.saturated == 990", true, "990"},
		{"breaker.baseline.api.requests == 0", true, "0"}, // a phase with no summary data reads as zero? see below
		{"99% <= breaker.fault.collateral.success_ratio", true, "99.00%"},
	}
	for _, tt := range tests {
		th, err := ParseThreshold(tt.expr)
		if err != nil {
			t.Errorf("ParseThreshold(%q): %v", tt.expr, err)
			continue
		}
		if err := th.Check(thArms, thPhases); err != nil {
			t.Errorf("Check(%q): %v", tt.expr, err)
			continue
		}
		got := th.Evaluate(r)
		if tt.expr == "breaker.baseline.api.requests == 0" {
			// The summary lacks the phase: that is missing data, not zero.
			if got.Pass || !strings.Contains(got.Message, "no phase baseline") {
				t.Errorf("Evaluate(%q) = %+v; want a failure for missing data", tt.expr, got)
			}
			continue
		}
		if got.Pass != tt.pass || got.Measured != tt.measured {
			t.Errorf("Evaluate(%q) = pass %v, measured %q (%s); want pass %v, measured %q", tt.expr, got.Pass, got.Measured, got.Message, tt.pass, tt.measured)
		}
		if got.Expr != tt.expr {
			t.Errorf("Evaluate(%q).Expr = %q; want the expression as given", tt.expr, got.Expr)
		}
	}
}

func TestThresholdValueIsNative(t *testing.T) {
	r := thReport()
	for _, tt := range []struct {
		expr string
		want float64
	}{
		{"breaker.fault.api.latency_ms.p99 < 600ms", 550},
		{"breaker.figures.time_to_open_s < 2s", 1.25},
		{"breaker.fault.collateral.success_ratio > 99%", 0.995},
		{"verdict.cascade_prevented == true", 1},
	} {
		th, err := ParseThreshold(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := th.Evaluate(r).Value; got != tt.want {
			t.Errorf("Evaluate(%q).Value = %v; want %v (the report's own unit)", tt.expr, got, tt.want)
		}
	}
}

func TestThresholdErrors(t *testing.T) {
	tests := []struct {
		expr string
		want []string // every part must appear in the error
	}{
		{"", []string{"empty"}},
		{"breaker.fault.collateral.success_ratio", []string{"missing comparison"}},
		{"breaker.fault.collateral.success_ratio = 99%", []string{"column 40", "write =="}},
		{"breaker.fault.collateral.success_ratio >= ", []string{"missing a value"}},
		{"breaker.fault.collateral.success_ratio >= 99 %", []string{"column 46", `unexpected "%"`}},
		{"breaker.fault.collateral.success_ratio >= 99pct", []string{`unknown unit "pct"`, "want %, ms or s"}},
		{"breaker.fault.collateral.success_ratio >= 99", []string{"ratio from 0 to 1", "write 99% or 0.99"}},
		{"breaker.fault.colateral.success_ratio >= 99%", []string{`"colateral" is not a value here`, "after breaker.fault comes one of: api, collateral", "did you mean breaker.fault.collateral"}},
		{"breakr.fault.api.requests > 1", []string{`"breakr"`, "a path starts with one of: breaker, no-breaker, verdict, validity, partial", "did you mean breaker"}},
		{"breaker.faults.api.requests > 1", []string{"baseline, fault, recovery, figures", "did you mean breaker.fault"}},
		{"breaker.fault.api > 1", []string{"is a group, not a value", "breaker.fault.api.success_ratio"}},
		{"breaker.fault.api.latency_ms.p99 < 99%", []string{"different units"}},
		{"breaker.figures.time_to_open_s < 5", nil},
		{"verdict.cascade_prevented > 0", []string{"compare it with == true"}},
		{"verdict.cascade_prevented == 1", []string{"compare it with == true"}},
		{"verdict.outcome == 3", []string{"verdict.outcome is a word"}},
		{"1 < 2", []string{"names no report value"}},
		{"breaker.fault.upstream_requests < 0.2 * no-breaker.fault.api.latency_ms.p99 * 2s", []string{"at most one value with a unit"}},
		{"breaker.fault.upstream_requests < 10 / no-breaker.fault.upstream_requests", []string{"divide only by plain numbers"}},
		{"breaker.fault.upstream_requests < 10 / 0", []string{"division by zero"}},
		{"breaker..fault > 1", []string{"empty path segment"}},
		{"breaker.fault.1st > 1", []string{`"1st" is not a value here`}},
		{"breaker.fault.api.status_codes.5000 > 1", []string{`"5000" is not a value here`, "<code>"}},
		{"breaker.fault.api.status_codes.0503 > 1", []string{`"0503" is not a value here`}},
		{"breaker.fault.upstream_requests > 1 extra", []string{`unexpected "extra"`}},
		{"true == verdict.cascade_prevented * 2", []string{"cannot be multiplied"}},
		{"breaker.fault.api.requests > 1e5", []string{`unknown unit "e"`}},
	}
	for _, tt := range tests {
		_, err := ParseThresholdFor(tt.expr, thArms, thPhases)
		if tt.want == nil {
			if err != nil {
				t.Errorf("ParseThreshold+Check(%q) = %v; want no error", tt.expr, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("ParseThreshold+Check(%q) = nil; want an error containing %q", tt.expr, tt.want)
			continue
		}
		var te *ThresholdError
		if !errors.As(err, &te) {
			t.Errorf("ParseThreshold+Check(%q) = %T; want *ThresholdError", tt.expr, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParseThreshold+Check(%q) = %q; want it to contain %q", tt.expr, err, w)
			}
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseThreshold+Check(%q) = %q; want one line", tt.expr, err)
		}
	}
}

func TestThresholdPaths(t *testing.T) {
	paths := ThresholdPaths([]string{"svc"}, []string{"down-1"})
	for _, want := range []string{
		"svc.down-1.api.success_ratio", "svc.down-1.collateral.latency_ms.p99",
		"svc.down-1.api.outcomes.rejected", "svc.down-1.upstream_requests",
		"svc.figures.time_to_open_s", "verdict.cascade_prevented", "verdict.outcome", "partial",
	} {
		found := false
		for _, p := range paths {
			found = found || p == want
		}
		if !found {
			t.Errorf("ThresholdPaths lacks %q", want)
		}
	}
	// Every listed path parses and checks.
	for _, p := range paths {
		expr := p + " >= 0"
		switch {
		case strings.HasSuffix(p, "cascade_prevented") || p == "verdict.contained" || p == "verdict.shed" || p == "verdict.failed_fast" || p == "verdict.recovered" || p == "partial" || p == "validity.valid" || strings.HasSuffix(p, ".recovered_after_trigger"):
			expr = p + " == true"
		case strings.HasPrefix(p, "verdict.") && strings.HasSuffix(p, ".outcome"):
			expr = p + " == worse"
		}
		th, err := ParseThreshold(expr)
		if err == nil {
			err = th.Check([]string{"svc"}, []string{"down-1"})
		}
		if err != nil {
			t.Errorf("listed path %q does not check: %v", p, err)
		}
	}
}

func TestEvaluateThresholdsMissingArm(t *testing.T) {
	r := thReport()
	r.Arms = r.Arms[:1]
	th, err := ParseThreshold("breaker.fault.upstream_requests < 0.2 * no-breaker.fault.upstream_requests")
	if err != nil {
		t.Fatal(err)
	}
	res, ok := EvaluateThresholds([]Threshold{th}, r)
	if ok || res[0].Pass || !strings.Contains(res[0].Message, "no-breaker") {
		t.Errorf("EvaluateThresholds with the no-breaker arm missing = %+v, %v; want a failure naming the arm", res, ok)
	}
}

// FuzzParseThreshold checks that no input panics, that accepted expressions
// keep their text, and that checking and evaluating them never panics either.
func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{
		"breaker.fault.collateral.success_ratio >= 99%",
		"breaker.fault.api.latency_ms.p99 < 600ms",
		"breaker.figures.time_to_open_s <= 2s",
		"verdict.cascade_prevented == true",
		"breaker.fault.upstream_requests < 0.2 * no-breaker.fault.upstream_requests",
		"verdict.outcome != worse",
		"-1.5 < breaker.fault.api.requests / 3",
		"a.b..c >= .5%",
	} {
		f.Add(s)
	}
	r := thReport()
	f.Fuzz(func(t *testing.T, s string) {
		th, err := ParseThreshold(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !strings.Contains(s, "\n") {
				t.Errorf("ParseThreshold(%q) error has a newline: %q", s, err)
			}
			return
		}
		if th.String() != strings.TrimSpace(s) {
			t.Errorf("ParseThreshold(%q).String() = %q", s, th.String())
		}
		if th.Check(thArms, thPhases) == nil {
			res := th.Evaluate(r)
			if _, err := json.Marshal(res); err != nil {
				t.Errorf("Evaluate(%q) = %+v cannot go into report.json: %v", s, res, err)
			}
		}
	})
}

// TestThresholdNotFinite checks that arithmetic that overflows or divides
// by a measured zero fails the threshold with "not a finite number" and
// leaves a result report.json can hold; what the literals alone show is
// refused when parsing (the dry run).
func TestThresholdNotFinite(t *testing.T) {
	r := thReport()
	big := "1" + strings.Repeat("0", 300)         // 1e300, written out: the grammar has no exponents
	tiny := "0." + strings.Repeat("0", 319) + "1" // 1e-320
	for _, expr := range []string{
		// Finite literals, but the measured values make the product overflow.
		"breaker.fault.upstream_requests * " + big + " * " + "1" + strings.Repeat("0", 7) + " > 1",
		"breaker.fault.api.latency_ms.p99 * " + big + " * 100000000 < 1s",
		"breaker.fault.api.requests / 0." + strings.Repeat("0", 306) + "1 > 1",
		"1 < no-breaker.fault.api.requests * " + big + " * 1000000 / 2",
	} {
		th, err := ParseThreshold(expr)
		if err != nil {
			t.Errorf("ParseThreshold(%q): %v", expr, err)
			continue
		}
		if err := th.Check(thArms, thPhases); err != nil {
			t.Errorf("Check(%q): %v", expr, err)
			continue
		}
		res := th.Evaluate(r)
		if res.Pass || !strings.Contains(res.Message, "not a finite number") {
			t.Errorf("Evaluate(%q) = %+v; want a failure saying not a finite number", expr, res)
		}
		if _, err := json.Marshal(res); err != nil {
			t.Errorf("Evaluate(%q) = %+v: %v", expr, res, err)
		}
	}
	// What the literals alone show is refused before the run.
	for _, expr := range []string{
		"breaker.fault.api.requests > " + big + " * " + big,
		"breaker.fault.api.requests * " + big + " * " + big + " > 1",
		"breaker.fault.api.requests / " + tiny + " / " + tiny + " > 1",
		"breaker.fault.api.requests < " + big + " * " + big + " * no-breaker.fault.api.requests",
	} {
		_, err := ParseThreshold(expr)
		if err == nil || !strings.Contains(err.Error(), "not a finite number") || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseThreshold(%q) = %v; want an error saying not a finite number", expr, err)
		}
	}
}

func TestThresholdRecoveredAfterTrigger(t *testing.T) {
	r := thReport()
	at := 2.0
	r.Arms[0].Figures.AfterTrigger = &Recovery{Recovered: true, TimeToRecoverS: &at}
	r.Arms[0].Figures.AttemptsPerRequestDuringFault = 0.1
	tests := []struct {
		expr string
		pass bool
		msg  string // part of the message
	}{
		{r.Arms[0].Name + ".figures.recovered_after_trigger == true", true, ""},
		{r.Arms[0].Name + ".figures.time_to_recover_goodput_s <= 3s", true, ""},
		{r.Arms[0].Name + ".figures.attempts_per_request_during_fault <= 2", true, ""},
		{r.Arms[1].Name + ".figures.recovered_after_trigger == false", false, "no faultless first phase"},
	}
	for _, tt := range tests {
		th, err := ParseThreshold(tt.expr)
		if err != nil {
			t.Fatalf("ParseThreshold(%q): %v", tt.expr, err)
		}
		res := th.Evaluate(r)
		if res.Pass != tt.pass || !strings.Contains(res.Message, tt.msg) {
			t.Errorf("Evaluate(%q) = pass %v, %q; want pass %v, message with %q", tt.expr, res.Pass, res.Message, tt.pass, tt.msg)
		}
	}
}

// TestThresholdSettled: a threshold is settled only when every path it
// reads rests on what is final — a phase, a whole arm, never the run.
func TestThresholdSettled(t *testing.T) {
	arms, phases := []string{"breaker", "no-breaker"}, []string{"baseline", "fault", "recovery"}
	// breaker has ended whole; no-breaker has settled its baseline only.
	armDone := func(a string) bool { return a == "breaker" }
	phaseDone := func(a, p string) bool { return a == "breaker" || p == "baseline" }
	tests := []struct {
		expr string
		want bool
	}{
		{"breaker.fault.api.success_ratio >= 99%", true},
		{"no-breaker.baseline.collateral.latency_ms.p99 < 100ms", true},
		{"no-breaker.baseline.api.status_codes.503 == 0", true},
		{"no-breaker.fault.api.success_ratio >= 99%", false},
		{"breaker.figures.time_to_open_s <= 2s", true},
		{"no-breaker.figures.inflight_peak < 10", false},
		{"no-breaker.worst.inflight_peak < 10", false},
		{"breaker.fault.upstream_requests < 0.2 * no-breaker.fault.upstream_requests", false},
		{"breaker.fault.upstream_requests < 0.2 * no-breaker.baseline.upstream_requests", true},
		{"verdict.cascade_prevented == true", false},
		{"validity.valid == true", false},
		{"partial == false", false},
	}
	for _, tt := range tests {
		th, err := ParseThreshold(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := th.Settled(arms, phases, armDone, phaseDone); got != tt.want {
			t.Errorf("Settled(%q) = %v; want %v", tt.expr, got, tt.want)
		}
	}
}

// A phase's upstream queue peak can be held to a limit when the queue was
// measured; otherwise the threshold fails saying why there is no queue.
func TestThresholdUpstreamQueuePeak(t *testing.T) {
	r := thReport()
	peak := int64(40)
	r.Arms[1].UpstreamQueue = QueueMeasured
	s := r.Arms[1].Summary["fault"]
	s.UpstreamQueuePeak = &peak
	r.Arms[1].Summary["fault"] = s
	r.Arms[0].UpstreamQueue = QueueMeasured
	for _, tt := range []struct {
		expr string
		pass bool
		msg  string
	}{
		{"no-breaker.fault.upstream_queue_peak <= 50", true, ""},
		{"no-breaker.fault.upstream_queue_peak < 40", false, ""},
		{"breaker.fault.upstream_queue_peak < 40", false, "the upstream's queue is not measured in this phase"},
	} {
		th, err := ParseThreshold(tt.expr)
		if err != nil {
			t.Fatalf("ParseThreshold(%q): %v", tt.expr, err)
		}
		if res := th.Evaluate(r); res.Pass != tt.pass || !strings.Contains(res.Message, tt.msg) {
			t.Errorf("Evaluate(%q) = pass %v, %q; want pass %v, message with %q", tt.expr, res.Pass, res.Message, tt.pass, tt.msg)
		}
	}
	r.Arms[0].UpstreamQueue, r.Arms[1].UpstreamQueue = QueueNotModelled, QueueNotModelled
	s.UpstreamQueuePeak = nil
	r.Arms[1].Summary["fault"] = s
	th, _ := ParseThreshold("no-breaker.fault.upstream_queue_peak <= 50")
	if res := th.Evaluate(r); res.Pass || !strings.Contains(res.Message, "the upstream's queue is not modelled: the upstream has unlimited capacity") {
		t.Errorf("Evaluate without a queue = pass %v, %q; want a failure saying it is not modelled", res.Pass, res.Message)
	}
}

// Every policy arm but the breaker (the headline's verdict.outcome) has a
// verdict of its own, verdict.<arm>.outcome; it is a run's value, settled
// only at the end.
func TestThresholdArmVerdict(t *testing.T) {
	r := thReport()
	r.Arms = append(r.Arms, Arm{Name: "throttle"})
	r.Verdict.Arms = []ArmVerdict{{Arm: ArmBreaker, Outcome: OutcomePrevented, CascadePrevented: true}, {Arm: "throttle", Outcome: OutcomeWorse}}
	arms := []string{ArmBreaker, ArmNoBreaker, "throttle"}
	paths := strings.Join(ThresholdPaths(arms, thPhases), " ")
	if !strings.Contains(paths, "verdict.throttle.outcome") || !strings.Contains(paths, "verdict.throttle.cascade_prevented") || strings.Contains(paths, "verdict.breaker.") || strings.Contains(paths, "verdict.no-breaker.") {
		t.Errorf("ThresholdPaths = %s; want verdict.throttle.outcome and .cascade_prevented, none for breaker or no-breaker", paths)
	}
	for _, tt := range []struct {
		expr string
		pass bool
	}{
		{"verdict.throttle.outcome == worse", true},
		{"verdict.throttle.outcome != worse", false},
		{"verdict.throttle.cascade_prevented == true", false},
		{"verdict.outcome == prevented", true},
	} {
		th, err := ParseThreshold(tt.expr)
		if err == nil {
			err = th.Check(arms, thPhases)
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		if res := th.Evaluate(r); res.Pass != tt.pass {
			t.Errorf("Evaluate(%q) = %v (%s %s); want %v", tt.expr, res.Pass, res.Measured, res.Message, tt.pass)
		}
		if th.Settled(arms, thPhases, func(string) bool { return true }, func(string, string) bool { return true }) {
			t.Errorf("Settled(%q) = true; want a verdict settled only at the end of the run", tt.expr)
		}
	}
	r.Verdict.Arms = nil
	th, _ := ParseThreshold("verdict.throttle.outcome != worse")
	if res := th.Evaluate(r); res.Pass || !strings.Contains(res.Message, "no verdict on arm throttle") {
		t.Errorf("without the arm's verdict: %v %q; want a failure saying there is none", res.Pass, res.Message)
	}
}

// A report's phase names are what its thresholds are checked against.
func TestReportPhaseNames(t *testing.T) {
	r := &Report{Phases: []Phase{{Name: "baseline"}, {Name: "fault"}, {Name: "recovery"}}}
	if got := r.PhaseNames(); !slices.Equal(got, thPhases) {
		t.Errorf("PhaseNames = %q; want %q", got, thPhases)
	}
}
