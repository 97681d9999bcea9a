package harness

import (
	"testing"
	"time"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/reports"
)

// TestRetryStorm is the SRE book's ch. 22 example through whole runs: 3
// tiers, each retrying 3 times, over an upstream answering 503. Without
// breakers the attempts reaching the upstream during the fault are ≥ 20 per
// /api request (64 when every attempt fails and none is lost to a
// timeout); with a breaker at each tier they are ≤ 2.
func TestRetryStorm(t *testing.T) {
	spec, err := faultserver.ParseSpec("error:503")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Seed = 3
	cfg.Rate = 12.5
	cfg.Tiers = 3
	cfg.Gateway.Retries = 3
	cfg.Phases = []Phase{
		{Name: "baseline", Duration: 2 * time.Second},
		{Name: "fault", Duration: 6 * time.Second, Faults: []faultserver.Spec{spec}},
		{Name: "recovery", Duration: 2 * time.Second},
	}
	r := runOrFail(t, cfg)
	amp := func(name string) float64 {
		a := r.Arm(name)
		if a == nil {
			t.Fatalf("no %s arm", name)
		}
		s := a.Summary["fault"]
		if s.API.Requests == 0 {
			t.Fatalf("%s: no /api requests during the fault", name)
		}
		return float64(s.UpstreamRequests) / float64(s.API.Requests)
	}
	b, n := amp(reports.ArmBreaker), amp(reports.ArmNoBreaker)
	t.Logf("attempts reaching the upstream per /api request during the fault: %.2f with breakers, %.2f without", b, n)
	if n < 20 {
		t.Errorf("no-breaker amplification %.2f; want ≥ 20", n)
	}
	if b > 2 {
		t.Errorf("breaker amplification %.2f; want ≤ 2", b)
	}

	// Every tier's breaker opened on the failures below it, and the
	// report has each tier's: tier 1's in the transitions, the lower
	// tiers' with their tier number.
	a := r.Arm(reports.ArmBreaker)
	opened := map[int]bool{}
	for _, tr := range a.Transitions {
		if tr.Tier != 0 {
			t.Errorf("tier 1 transition %+v names tier %d; want none", tr, tr.Tier)
		}
		opened[1] = opened[1] || tr.To == reports.StateOpen
	}
	for i, tr := range a.LowerTierTransitions {
		if tr.Tier < 2 || tr.Tier > 3 {
			t.Errorf("lower tier transition %+v; want tier 2 or 3", tr)
		}
		if i > 0 && tr.T < a.LowerTierTransitions[i-1].T {
			t.Errorf("lower tier transitions out of order at %d: %v after %v", i, tr.T, a.LowerTierTransitions[i-1].T)
		}
		opened[tr.Tier] = opened[tr.Tier] || tr.To == reports.StateOpen
	}
	if !opened[1] || !opened[2] || !opened[3] {
		t.Errorf("breakers opened at tiers %v; want 1, 2 and 3 (lower tiers: %+v)", opened, a.LowerTierTransitions)
	}
	if n := r.Arm(reports.ArmNoBreaker); len(n.LowerTierTransitions) != 0 {
		t.Errorf("no-breaker arm has lower tier transitions %+v; want none", n.LowerTierTransitions)
	}
}
