package harness

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/reports"
)

// metastableConfig is an upstream of finite capacity — 4 workers at 20 ms,
// 200 requests/s, a queue of 200 whose work is done even for callers that
// have gone — offered 128 /api requests/s by a gateway that retries each
// failure 3 times at once, with a trigger of trigger seconds of slowdown
// (the capacity cut) between a 3 s baseline and a recovery of recovery
// seconds.
func metastableConfig(t *testing.T, slowdown string, trigger, recovery time.Duration, arms ...string) Config {
	t.Helper()
	spec, err := faultserver.ParseSpec(slowdown)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Seed = 11
	cfg.Arms = arms
	cfg.Rate = 160
	cfg.Gateway.Workers = 400
	cfg.Gateway.Retries = 3
	cfg.Upstream = UpstreamConfig{ServiceTime: 20 * time.Millisecond, Concurrency: 4, Queue: 200}
	cfg.Phases = []Phase{
		{Name: "baseline", Duration: 3 * time.Second},
		{Name: "trigger", Duration: trigger, Faults: []faultserver.Spec{spec}},
		{Name: "recovery", Duration: recovery},
	}
	return cfg
}

// TestMetastableTriggerSweep is the shape of Huang et al.'s retry
// experiment (OSDI '22), scaled to this machine: the same capacity cut is
// survived when short and becomes a failure that outlives it when long,
// sustained by the retries and the work done for callers that had gone.
func TestMetastableTriggerSweep(t *testing.T) {
	for _, tt := range []struct {
		trigger   time.Duration
		recovered bool
	}{
		{1 * time.Second, true},
		{5 * time.Second, false},
	} {
		t.Run(fmt.Sprintf("trigger=%v", tt.trigger), func(t *testing.T) {
			r := runOrFail(t, metastableConfig(t, "slowdown:2x", tt.trigger, 6*time.Second, reports.ArmNoBreaker))
			rec := r.Arms[0].Figures.AfterTrigger
			if rec == nil {
				t.Fatal("the metastability rule does not apply")
			}
			t.Logf("trigger %v: %+v", tt.trigger, *rec)
			if rec.Recovered != tt.recovered {
				t.Errorf("after a %v trigger: recovered %v; want %v (%+v)", tt.trigger, rec.Recovered, tt.recovered, *rec)
			}
			if !tt.recovered && (rec.TimeToRecoverS != nil || !strings.HasPrefix(rec.StuckBy, "sustained by retries")) {
				t.Errorf("stuck arm: time to recover %v, stuck by %q; want none, sustained by retries", rec.TimeToRecoverS, rec.StuckBy)
			}
		})
	}
}

// TestMetastableBreakerRecovers is examples/metastable.yaml as a test: the
// same trigger leaves the no-breaker arm down and the breaker arm back.
func TestMetastableBreakerRecovers(t *testing.T) {
	r := runOrFail(t, metastableConfig(t, "slowdown:3x", 4*time.Second, 8*time.Second, reports.ArmNoBreaker, reports.ArmBreaker))
	n, b := r.Arm(reports.ArmNoBreaker).Figures.AfterTrigger, r.Arm(reports.ArmBreaker).Figures.AfterTrigger
	if n == nil || b == nil {
		t.Fatal("the metastability rule does not apply")
	}
	if n.Recovered || !b.Recovered {
		t.Errorf("recovered: no-breaker %v, breaker %v; want false, true (%+v, %+v)", n.Recovered, b.Recovered, *n, *b)
	}
	// Brooker's "throughput is great… goodput is zero": the upstream
	// keeps completing work, mostly for callers that have gone.
	rs := r.Arm(reports.ArmNoBreaker).Summary["recovery"]
	if rs.UpstreamCompleted < 500 || 2*rs.UpstreamCompletedForGone < rs.UpstreamCompleted || rs.API.OK*10 > rs.UpstreamCompleted {
		t.Errorf("no-breaker recovery: upstream completed %d, %d of them for gone callers, /api ok %d; want high throughput, mostly for nobody, and little goodput",
			rs.UpstreamCompleted, rs.UpstreamCompletedForGone, rs.API.OK)
	}
	if r.Verdict.Outcome != reports.OutcomePrevented || !strings.Contains(r.Verdict.Summary, "metastable") {
		t.Errorf("verdict %s: %s; want prevented, naming the metastable failure", r.Verdict.Outcome, r.Verdict.Summary)
	}
}
