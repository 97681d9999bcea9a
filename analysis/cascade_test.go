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

// Every attempts figure counts by send time, as the fault → symptom table
// does: a slow fault whose answers complete in the next phase reads as one
// call per request in the key figure, the phase summaries and the table
// alike — not as amplification in the fault and shedding after it.
func TestAttemptsBySendTime(t *testing.T) {
	phases := []reports.Phase{{Name: "baseline", StartS: 0, EndS: 1}, {Name: "fault", StartS: 1, EndS: 2, Faults: []string{"latency:1500ms"}}, {Name: "recovery", StartS: 2, EndS: 3}}
	ps := func(answered, calls int64) reports.PhaseSummary {
		return reports.PhaseSummary{API: reports.Stats{Requests: answered, OK: answered}, UpstreamRequests: calls,
			Upstreams: map[string]reports.UpstreamPhase{"upstream": {Requests: calls}}}
	}
	a := reports.Arm{Name: "svc", Summary: map[string]reports.PhaseSummary{
		"baseline": ps(100, 100),
		"fault":    ps(40, 100), // 100 sent, 40 answered before the phase ended
		"recovery": ps(160, 100),
	}}
	for i, p := range phases {
		a.Series = append(a.Series, reports.Second{T: i, Phase: p.Name, UpstreamRequests: 100, API: reports.Bucket{Sent: 100, Requests: a.Summary[p.Name].API.Requests}})
	}
	r := &reports.Report{Phases: phases, Arms: []reports.Arm{a}}
	Cascades(r)
	Symptoms(&r.Arms[0], phases)
	got := r.Arms[0]
	table := got.Summary["fault"].UpstreamAttemptsPerAPIRequest
	if got.Figures.AttemptsPerRequestDuringFault != 1 || table == nil || *table != 1 {
		t.Errorf("attempts per request during the fault: key figure %v, fault → symptom %v; want 1 in both", got.Figures.AttemptsPerRequestDuringFault, table)
	}
	for _, p := range phases {
		if v := got.Summary[p.Name].AttemptsPerRequest; v != 1 {
			t.Errorf("phase %s attempts per request %v; want 1 (by send time)", p.Name, v)
		}
	}
}
