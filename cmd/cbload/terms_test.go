package main

import (
	"strings"
	"testing"
	"time"

	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/reports"
)

// TestTargetTerminalSpeaksOfTheService checks the live line and the
// summary of a run against a user's service without a collateral
// endpoint: its path, in flight at the load runner, no collateral figure,
// breaker figures inferred or unknown — and that cbload's own gateway keeps
// its words.
func TestTargetTerminalSpeaksOfTheService(t *testing.T) {
	cfg := harness.DefaultConfig()
	cfg.Targets = []harness.Target{{Name: "svc", URL: "http://127.0.0.1:8081/orders"}}
	p := harness.Progress{Arm: "svc", Second: 3, Phase: "fault", Total: 10 * time.Second, Scheduled: 100, Sent: 100, APIOK: 0.5, LocalOK: -1, Inflight: 7, State: reports.StateUnknown}
	line := p.Line(cfg.Terms())
	for _, want := range []string{"/orders ok  50.0%", "in flight at the load runner    7", "breaker unknown"} {
		if !strings.Contains(line, want) {
			t.Errorf("live line %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "/api") || strings.Contains(line, "/local") || strings.Contains(line, "collateral") {
		t.Errorf("live line %q speaks of endpoints the service does not have", line)
	}

	open := 0.4
	phases := []reports.Phase{{Name: "fault", Faults: []string{"latency:1s"}, EndS: 2}}
	sum := map[string]reports.PhaseSummary{"fault": {API: reports.Stats{Requests: 10, OK: 5}}}
	r := &reports.Report{
		Config: reports.Config{Rate: 50, Targets: []reports.Target{{Name: "svc", URL: "http://127.0.0.1:8081/orders", Requests: []string{"GET http://127.0.0.1:8081/orders"}}}},
		Phases: phases,
		Arms: []reports.Arm{
			{Name: "svc", Breaker: true, BreakerFigures: reports.BreakerInferred, Figures: reports.Figures{TimeToOpenS: &open, InflightPeak: 7}, Summary: sum},
			{Name: "blind", BreakerFigures: reports.BreakerUnknown, Summary: sum},
		},
		Verdict: reports.Verdict{Summary: "Inconclusive: target svc has no collateral endpoint."},
	}
	var b strings.Builder
	_ = reports.WriteTerminal(&b, r)
	out := b.String()
	for _, want := range []string{"/orders success", "in-flight peak at the load runner", "0.40 s (inferred)", "unknown"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"/api", "/local", "gateway", "collateral success"} {
		if strings.Contains(out, bad) {
			t.Errorf("summary says %q, which is not about the user's service:\n%s", bad, out)
		}
	}

	own := harness.DefaultConfig()
	if line := p.Line(own.Terms()); !strings.Contains(line, "/api ok") || !strings.Contains(line, "/local ok") || !strings.Contains(line, "in-flight") {
		t.Errorf("built-in gateway live line %q; want /api, /local and in-flight", line)
	}
}
