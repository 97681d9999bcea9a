package analysis_test

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cbload/cbload/analysis"
	"github.com/cbload/cbload/reports"
)

// Merged shards keep the upstream's queue as the largest any shard saw,
// second by second — every shard calls the same upstream, so a sum would
// count one queue twice — and derive each phase's peak from the merged
// series; whether the queue was measured, and the lower tiers'
// transitions, come from the first shard.
func TestMergeUpstreamQueue(t *testing.T) {
	var shards []analysis.Shard
	lower := []reports.Transition{{T: 3.2, From: reports.StateClosed, To: reports.StateOpen, Tier: 2}}
	for i := range 2 {
		r := readRun(t)
		r.Shard = &reports.Shard{Index: i, Count: 2}
		for k := range r.Arms {
			a := &r.Arms[k]
			a.UpstreamQueue = reports.QueueMeasured
			a.LowerTierTransitions = lower
			for j := range a.Series {
				s := &a.Series[j]
				// Shard 0 sees the queue peak at second 3, shard 1 at 4.
				s.UpstreamQueuePeak, s.UpstreamQueueLen = int64(j), int64(j/2)
				if i == 1 {
					s.UpstreamQueuePeak, s.UpstreamQueueLen = int64(10-j), 1
				}
			}
		}
		shards = append(shards, analysis.Shard{Source: []string{"a", "b"}[i], Report: r})
	}
	m, err := analysis.Merge(shards)
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	for _, a := range m.Arms {
		if a.UpstreamQueue != reports.QueueMeasured {
			t.Errorf("%s: merged upstream_queue %q; want measured", a.Name, a.UpstreamQueue)
		}
		if diff := cmp.Diff(lower, a.LowerTierTransitions); diff != "" {
			t.Errorf("%s: lower tier transitions (-want +got):\n%s", a.Name, diff)
		}
		peaks := map[string]int64{}
		for j, s := range a.Series {
			wantPeak, wantLen := max(int64(j), int64(10-j)), max(int64(j/2), 1)
			if s.UpstreamQueuePeak != wantPeak || s.UpstreamQueueLen != wantLen {
				t.Errorf("%s second %d: queue peak %d, length %d; want %d, %d (the larger shard's)", a.Name, s.T, s.UpstreamQueuePeak, s.UpstreamQueueLen, wantPeak, wantLen)
			}
			peaks[s.Phase] = max(peaks[s.Phase], wantPeak)
		}
		for _, p := range m.Phases {
			got := a.Summary[p.Name].UpstreamQueuePeak
			if got == nil || *got != peaks[p.Name] {
				t.Errorf("%s %s: queue peak %v; want %d", a.Name, p.Name, got, peaks[p.Name])
			}
		}
	}
	// A report that did not measure the queue has no phase peaks.
	r := readRun(t)
	a := &r.Arms[0]
	a.UpstreamQueue = reports.QueueNotModelled
	analysis.Derive(a, r.Phases)
	for name, ps := range a.Summary {
		if ps.UpstreamQueuePeak != nil {
			t.Errorf("not modelled: %s queue peak %d; want none", name, *ps.UpstreamQueuePeak)
		}
	}
}

// readRun reads testdata/run.json, a real run's report with raw aggregates.
func readRun(t *testing.T) *reports.Report {
	t.Helper()
	f, err := os.Open("testdata/run.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := reports.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
