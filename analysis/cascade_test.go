package analysis

import (
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

func TestAddComparisons(t *testing.T) {
	arm := func(name string, up, api int64, local float64) reports.Arm {
		return reports.Arm{Name: name, Series: []reports.Second{{}},
			Summary: map[string]reports.PhaseSummary{
				"baseline": {UpstreamRequests: 1000, API: reports.Stats{Requests: 10}},
				"fault":    {UpstreamRequests: up, API: reports.Stats{Requests: api}},
			},
			Figures: reports.Figures{CollateralSuccessDuringFault: local}}
	}
	r := &reports.Report{
		Phases: []reports.Phase{{Name: "baseline"}, {Name: "fault", Faults: []string{"error:503"}}},
		Arms:   []reports.Arm{arm("no-breaker", 6400, 100, 1), arm("breaker", 10, 100, 1), arm("throttle", 150, 100, 0.5)},
	}
	var v reports.Verdict
	addComparisons(r, &v)
	want := []string{
		"breaker vs no-breaker during the fault: /local success 100.0% vs 100.0%, /api success 0.0% vs 0.0%, attempts reaching the upstream per /api request 0.10 vs 64.00",
		"throttle vs no-breaker during the fault: /local success 50.0% vs 100.0%, /api success 0.0% vs 0.0%, attempts reaching the upstream per /api request 1.50 vs 64.00",
	}
	if strings.Join(v.Reasons, "\n") != strings.Join(want, "\n") {
		t.Errorf("reasons\n%s\nwant\n%s", strings.Join(v.Reasons, "\n"), strings.Join(want, "\n"))
	}
	r.Arms = r.Arms[1:]
	v = reports.Verdict{}
	addComparisons(r, &v)
	if len(v.Reasons) != 0 {
		t.Errorf("reasons %q without a no-breaker arm; want none", v.Reasons)
	}
}
