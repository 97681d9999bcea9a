package harness

import (
	"testing"
	"time"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/reports"
)

// An upstream with two workers, slowed 50× during the fault (2 ms → 100 ms
// of work: 20 req/s against 80 /api req/s), fills its queue: the report
// carries the queue's peak per second and per phase, far above the
// baseline's, within the queue's limit, and never below the number waiting
// at the end of the same second. With unlimited capacity the queue is not
// modelled: no phase peak at all.
func TestRunUpstreamQueue(t *testing.T) {
	slow, err := faultserver.ParseSpec("slowdown:50x")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Seed = 5
	cfg.Rate = 100
	cfg.Arms = []string{"no-breaker"}
	cfg.Upstream.Concurrency, cfg.Upstream.Queue = 2, 1000
	cfg.Phases = []Phase{
		{Name: "baseline", Duration: 2 * time.Second},
		{Name: "fault", Duration: 2 * time.Second, Faults: []faultserver.Spec{slow}},
		{Name: "recovery", Duration: 1 * time.Second},
	}
	r := runOrFail(t, cfg)
	a := r.Arm("no-breaker")
	if a.UpstreamQueue != reports.QueueMeasured {
		t.Fatalf("upstream_queue = %q; want measured", a.UpstreamQueue)
	}
	base, fault := a.Summary["baseline"].UpstreamQueuePeak, a.Summary["fault"].UpstreamQueuePeak
	if base == nil || fault == nil {
		t.Fatalf("queue peaks: baseline %v, fault %v; want both", base, fault)
	}
	t.Logf("upstream queue peak: baseline %d, fault %d", *base, *fault)
	if *fault < 20 || *fault < 4*(*base+1) {
		t.Errorf("upstream queue peak during the fault %d, in the baseline %d; want ≥ 20 and well above the baseline's", *fault, *base)
	}
	var seriesPeak int64
	for _, s := range a.Series {
		if s.UpstreamQueuePeak < s.UpstreamQueueLen || s.UpstreamQueuePeak > int64(cfg.Upstream.Queue) {
			t.Errorf("second %d: queue peak %d with %d waiting at its end; want peak ≥ the end's and ≤ the limit %d", s.T, s.UpstreamQueuePeak, s.UpstreamQueueLen, cfg.Upstream.Queue)
		}
		if s.Phase == "fault" {
			seriesPeak = max(seriesPeak, s.UpstreamQueuePeak)
		}
	}
	if seriesPeak != *fault {
		t.Errorf("fault phase peak %d; want %d, the highest of its seconds", *fault, seriesPeak)
	}

	cfg.Upstream.Concurrency, cfg.Upstream.Queue = 0, 0
	r = runOrFail(t, cfg)
	a = r.Arm("no-breaker")
	if a.UpstreamQueue != reports.QueueNotModelled {
		t.Errorf("unlimited capacity: upstream_queue = %q; want not_modelled", a.UpstreamQueue)
	}
	for name, ps := range a.Summary {
		if ps.UpstreamQueuePeak != nil {
			t.Errorf("unlimited capacity: %s queue peak %d; want none, there is no queue", name, *ps.UpstreamQueuePeak)
		}
	}
}
