package reports

import (
	"strings"
	"testing"
)

// TestThresholdBreakerFigures checks what a threshold on a breaker figure
// says when the figure is inferred, and when the breaker state cannot be
// observed at all.
func TestThresholdBreakerFigures(t *testing.T) {
	open := 0.4
	r := &Report{
		Phases: []Phase{{Name: "fault", Faults: []string{"latency"}}},
		Arms: []Arm{
			{Name: "seen", BreakerFigures: BreakerInferred, Figures: Figures{TimeToOpenS: &open, Opens: 1}, Summary: map[string]PhaseSummary{}},
			{Name: "blind", BreakerFigures: BreakerUnknown, Summary: map[string]PhaseSummary{}},
			{Name: "own", BreakerFigures: BreakerMeasured, Figures: Figures{TimeToOpenS: &open}, Summary: map[string]PhaseSummary{}},
		},
	}
	for _, tt := range []struct {
		expr, want string
		pass       bool
	}{
		{"seen.figures.time_to_open_s <= 1s", "want <= 1.000s; inferred: seen.figures.time_to_open_s from the upstream's arrivals", true},
		{"seen.figures.opens >= 1", "inferred: seen.figures.opens", true},
		{"seen.figures.inflight_peak >= 0", "want >= 0", true},
		{"blind.figures.time_to_open_s <= 1s", "no data: blind.figures.time_to_open_s: breaker state is not observable", false},
		{"blind.figures.opens >= 1", "no data: blind.figures.opens: breaker state is not observable", false},
		{"own.figures.time_to_open_s <= 1s", "want <= 1.000s", true},
	} {
		th, err := ParseThreshold(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		res := th.Evaluate(r)
		if res.Pass != tt.pass || !strings.Contains(res.Message, tt.want) {
			t.Errorf("%s: pass %v, %q; want %v and %q", tt.expr, res.Pass, res.Message, tt.pass, tt.want)
		}
		if strings.Contains(tt.expr, "own") && strings.Contains(res.Message, "inferred") {
			t.Errorf("%s: %q says inferred for a measured figure", tt.expr, res.Message)
		}
	}
}
