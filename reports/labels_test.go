package reports

import (
	"bytes"
	"strings"
	"testing"
)

// TestTargetReportsSpeakOfTheService checks that a report about a user's
// service uses its paths, counts in-flight at the load runner, has no
// collateral figures without a collateral endpoint, no gateway or breaker
// settings, and marks inferred and unknown breaker figures.
func TestTargetReportsSpeakOfTheService(t *testing.T) {
	open := 0.3
	r := &Report{
		Config: Config{Rate: 50, GatewayWorkers: 32, Targets: []Target{
			{Name: "seen", URL: "http://127.0.0.1:8081", Requests: []string{"POST http://127.0.0.1:8081/orders"}},
			{Name: "blind", URL: "http://127.0.0.1:8082", Requests: []string{"POST http://127.0.0.1:8082/orders"}},
		}, Upstream: Upstream{Addr: "127.0.0.1:3001"}},
		Phases: []Phase{{Name: "fault", Faults: []string{"latency:1s"}, EndS: 1}},
		Arms: []Arm{
			{Name: "seen", BreakerFigures: BreakerInferred, Figures: Figures{TimeToOpenS: &open}, Summary: map[string]PhaseSummary{}, Series: []Second{{T: 0, Phase: "fault"}}},
			{Name: "blind", BreakerFigures: BreakerUnknown, Summary: map[string]PhaseSummary{}},
		},
	}
	var md, html bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"markdown": md.String(), "html": html.String()} {
		for _, want := range []string{"/orders success", "In-flight peak at the load runner", "0.30 s (inferred)", "unknown (breaker state not observable)"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q", name, want)
			}
		}
		for _, bad := range []string{"/local success", "Gateway in-flight peak"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s has %q, which is about cbload's own gateway", name, bad)
			}
		}
	}
	for _, bad := range []string{"Gateway workers", "Breaker open timeout", "Queue timeout", "Share sent to"} {
		if strings.Contains(html.String(), bad) {
			t.Errorf("html config shows %q, a setting that is not the user's", bad)
		}
	}
	if strings.Contains(md.String(), "success over time") {
		t.Errorf("markdown draws a collateral chart for a service without a collateral endpoint")
	}
	if !strings.Contains(md.String(), "| Phase | Arm | /orders requests |") {
		t.Errorf("markdown per-phase table does not use the service's path")
	}

	// cbload's own gateway keeps its names.
	own := &Report{Phases: r.Phases, Arms: []Arm{{Name: "breaker", Breaker: true, BreakerFigures: BreakerMeasured, Figures: Figures{TimeToOpenS: &open}, Summary: map[string]PhaseSummary{}}}}
	md.Reset()
	if err := WriteMarkdown(&md, own); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "/local success") || strings.Contains(md.String(), "inferred") {
		t.Errorf("built-in gateway report:\n%s", md.String())
	}
}

// TestTermsEachArmItsOwnTarget checks that the report's words for the api
// and collateral endpoints name a path only when every target's is that
// path: two targets with their own paths are labelled "api", never the
// first target's path for both.
func TestTermsEachArmItsOwnTarget(t *testing.T) {
	for _, tt := range []struct {
		targets   []Target
		api, coll string
	}{
		{[]Target{
			{Name: "breaker", URL: "http://127.0.0.1:8080/api", Requests: []string{"GET http://127.0.0.1:8080/api", "GET http://127.0.0.1:8080/local (collateral)"}},
			{Name: "no-breaker", URL: "http://127.0.0.1:8081/api", Requests: []string{"GET http://127.0.0.1:8081/api", "GET http://127.0.0.1:8081/local (collateral)"}},
		}, "/api", "/local"},
		{[]Target{
			{Name: "breaker", URL: "http://127.0.0.1:8080/api/protected", Requests: []string{"GET http://127.0.0.1:8080/api/protected"}},
			{Name: "no-breaker", URL: "http://127.0.0.1:8080/api/raw", Requests: []string{"GET http://127.0.0.1:8080/api/raw"}},
		}, "api", "collateral"},
	} {
		got := TermsOf(Config{Targets: tt.targets})
		if got.API != tt.api || got.Collateral != tt.coll {
			t.Errorf("TermsOf(%v) = api %q, collateral %q; want %q, %q", tt.targets, got.API, got.Collateral, tt.api, tt.coll)
		}
	}
}
