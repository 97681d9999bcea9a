package analysis_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

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
	m, err := analysis.Merge(context.Background(), shards)
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

// shardsOf returns n copies of the real run in testdata/run.json as the
// shards of one run, each arm's phases given upstream counts by up(i,
// phase).
func shardsOf(t *testing.T, n int, external bool, up func(i int, phase string) map[string]reports.UpstreamPhase) []analysis.Shard {
	t.Helper()
	data, err := os.ReadFile("testdata/run.json")
	if err != nil {
		t.Fatal(err)
	}
	var out []analysis.Shard
	for i := range n {
		r, err := reports.ReadJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		r.RunID, r.Shard = "run-1", &reports.Shard{Index: i, Count: n, Seed: int64(i + 1), ClockOffset: "unknown"}
		r.Config.Upstream.External = external
		for _, a := range r.Arms {
			for name, ps := range a.Summary {
				ps.Upstreams = up(i, name)
				a.Summary[name] = ps
			}
		}
		out = append(out, analysis.Shard{Source: fmt.Sprintf("shard-%d", i), Report: r})
	}
	return out
}

// Shards whose upstreams saw different gRPC methods: the merge counts as
// many apart as a report holds, and the rest as the upstream would, under
// reports.GRPCOtherMethod, so that the merged report reads.
func TestMergeCapsGRPCMethods(t *testing.T) {
	shards := shardsOf(t, 2, false, func(i int, phase string) map[string]reports.UpstreamPhase {
		u := reports.UpstreamPhase{Requests: 200, Injected: map[string]int64{}, GRPC: map[string]map[string]int64{reports.GRPCOtherMethod: {"OK": 5}}}
		for j := range 200 {
			u.GRPC[fmt.Sprintf("/s.S/M%03d", j+150*i)] = map[string]int64{"OK": 1}
		}
		return map[string]reports.UpstreamPhase{"upstream": u}
	})
	m, err := analysis.Merge(context.Background(), shards)
	if err != nil {
		t.Fatal(err)
	}
	calls := m.Arms[0].Summary["fault"].Upstreams["upstream"].GRPC
	// 350 methods in all, 50 of them in both shards: 256 by name, the 94
	// past them (1 call each) and the shards' own 10 in "(other)".
	if len(calls) != reports.MaxGRPCMethods || calls[reports.GRPCOtherMethod]["OK"] != 104 || calls["/s.S/M160"]["OK"] != 2 {
		t.Errorf("merged calls: %d methods, (other) %v, M160 %v; want %d, OK 104, OK 2", len(calls), calls[reports.GRPCOtherMethod], calls["/s.S/M160"], reports.MaxGRPCMethods)
	}
}

// Shards that count their own upstreams: the counts add, and the fault →
// symptom figures are read from the sums, as the run reads them from its
// own counts.
func TestMergeAddsUpstreamCounts(t *testing.T) {
	shards := shardsOf(t, 2, false, func(i int, phase string) map[string]reports.UpstreamPhase {
		u := reports.UpstreamPhase{Requests: int64(100 * (i + 1)), Injected: map[string]int64{}}
		if phase == "fault" {
			u.Injected["latency"] = int64(10 * (i + 1))
			u.GRPC = map[string]map[string]int64{"/shop.Payments/Charge": {"OK": int64(90 * (i + 1)), "CANCELLED": int64(10 * (i + 1))}}
		}
		return map[string]reports.UpstreamPhase{"upstream": u}
	})
	m, err := analysis.Merge(context.Background(), shards)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range m.Arms {
		f := a.Summary["fault"]
		u := f.Upstreams["upstream"]
		if c := u.GRPC["/shop.Payments/Charge"]; u.Requests != 300 || u.Injected["latency"] != 30 || c["OK"] != 270 || c["CANCELLED"] != 30 {
			t.Errorf("%s fault: upstream %+v; want the shards' sums, 300 received, 30 latency, 270 calls OK and 30 CANCELLED", a.Name, u)
		}
		var sent int64 // attempts are over the /api requests sent in the phase
		for _, s := range a.Series {
			if s.Phase == "fault" {
				sent += s.API.Sent
			}
		}
		want := float64(int64(300.0/float64(sent)*1000+0.5)) / 1000
		if v := f.UpstreamAttemptsPerAPIRequest; v == nil || *v != want || f.UpstreamEffect == "" {
			t.Errorf("%s fault: attempts per /api request %v, effect %q; want %v from the merged counts", a.Name, v, f.UpstreamEffect, want)
		}
		if slices.Contains(a.Notes, analysis.SharedUpstreamNote) {
			t.Errorf("%s: notes say the upstream is shared; it is each shard's own", a.Name)
		}
	}
	rows := reports.SymptomRows(m)
	if len(rows) != len(m.Phases)*len(m.Arms) || rows[len(m.Arms)].Injected != "upstream: 300 received, latency 30; /shop.Payments/Charge: CANCELLED 30, OK 270" {
		t.Errorf("merged fault → symptom rows %+v; want one per phase and arm, the fault's showing the sums", rows)
	}
}

// Shards of one shared upstream (external, as every sharded run's is)
// count nothing of it: the merged rows show the /api answers summed and
// what the upstream injected as unknown, never a shard's count times N.
func TestMergeSharedUpstreamUnknown(t *testing.T) {
	shards := shardsOf(t, 3, true, func(int, string) map[string]reports.UpstreamPhase { return nil })
	m, err := analysis.Merge(context.Background(), shards)
	if err != nil {
		t.Fatal(err)
	}
	rows := reports.SymptomRows(m)
	if len(rows) != len(m.Phases)*len(m.Arms) {
		t.Fatalf("merged fault → symptom rows: %d; want one per phase and arm, %d", len(rows), len(m.Phases)*len(m.Arms))
	}
	for _, row := range rows {
		if row.Injected != reports.ExternalInjected || row.Attempts != "unknown" {
			t.Errorf("row %+v; want the injected faults and attempts unknown", row)
		}
	}
	for _, a := range m.Arms {
		var want reports.Outcomes
		for _, s := range shards {
			want = want.Add(s.Report.Arm(a.Name).Summary["fault"].API.Outcomes)
		}
		if got := a.Summary["fault"].API.Outcomes; got != want {
			t.Errorf("%s fault: merged /api outcomes %+v; want the shards' sum %+v", a.Name, got, want)
		}
		if !slices.Contains(a.Notes, analysis.SharedUpstreamNote) {
			t.Errorf("%s: notes %q; want the shared upstream's note", a.Name, a.Notes)
		}
	}
}

// Merge refuses what would drop a shard without a word — an index past
// the count, more reports than shards, an arm without load figures — and
// stops when its context ends.
func TestMergeRefusesAndStops(t *testing.T) {
	none := func(int, string) map[string]reports.UpstreamPhase { return nil }
	tests := []struct {
		name string
		edit func(s []analysis.Shard) []analysis.Shard
		want string
	}{
		{"index past the count", func(s []analysis.Shard) []analysis.Shard { s[1].Report.Shard.Index = 5; return s }, "shard-1: shard 5/2: want index 0..count-1"},
		{"more reports than shards", func(s []analysis.Shard) []analysis.Shard {
			for _, x := range s {
				x.Report.Shard.Count = 1
			}
			s[1].Report.Shard.Index = 0
			return s
		}, "shard-0: a run of 1 shards, but 2 reports were given"},
		{"no load figures", func(s []analysis.Shard) []analysis.Shard { s[1].Report.Arms[0].Load = nil; return s }, "shard-1: arm breaker has no load_generator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := analysis.Merge(context.Background(), tt.edit(shardsOf(t, 2, false, none)))
			var mm *analysis.MismatchError
			if !errors.As(err, &mm) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Merge = %v; want a *MismatchError containing %q", err, tt.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := analysis.Merge(ctx, shardsOf(t, 2, false, none)); !errors.Is(err, context.Canceled) {
		t.Errorf("Merge with a cancelled context = %v; want context.Canceled", err)
	}
}

// The api answers by send time add up across shards like the rest of a
// second: outcomes summed, histograms merged; a shard without them adds
// nothing, and the shards' own reports are left as they were.
func TestMergeAnswersBySend(t *testing.T) {
	var shards []analysis.Shard
	for i := range 3 {
		r := readRun(t)
		r.Shard = &reports.Shard{Index: i, Count: 3}
		for k := range r.Arms {
			for j := range r.Arms[k].Series {
				if i == 2 {
					continue // an older shard, without them
				}
				var h reports.DenseHistogram
				h.Record(time.Duration(i+1) * time.Second)
				r.Arms[k].Series[j].API.BySend = &reports.SentAnswers{Outcomes: reports.Outcomes{OK: int64(i + 1)}, LatencyHist: h.Sparse()}
			}
		}
		shards = append(shards, analysis.Shard{Source: fmt.Sprintf("shard-%d", i), Report: r})
	}
	m, err := analysis.Merge(context.Background(), shards)
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	for _, a := range m.Arms {
		for _, s := range a.Series {
			b := s.API.BySend
			if b == nil || b.Outcomes.OK != 3 || b.LatencyHist == nil || b.LatencyHist.Count != 2 {
				t.Fatalf("%s second %d: merged by-send answers %+v; want 3 ok from 2 latencies", a.Name, s.T, b)
			}
		}
	}
	if b := shards[0].Report.Arms[0].Series[0].API.BySend; b.Outcomes.OK != 1 || b.LatencyHist.Count != 1 {
		t.Errorf("shard 0's own by-send answers became %+v; want them left as they were", b)
	}
}

// Each shard is its own process: the merged second's scheduling latency
// is the worst shard's, a shard without it leaves the other's, and the
// merged report's cpu_not_starved judges the worst — one starved shard
// makes the merged run not valid, as its own checks would have.
func TestMergeSchedLatency(t *testing.T) {
	var shards []analysis.Shard
	for i := range 2 {
		r := readRun(t)
		r.Shard = &reports.Shard{Index: i, Count: 2}
		for k := range r.Arms {
			for j := range r.Arms[k].Series {
				s := &r.Arms[k].Series[j]
				// Shard 0 is quiet but for second 1, which it did not
				// measure; shard 1 is starved in its seconds 2 to 4.
				v := 0.5
				if i == 1 && j >= 2 && j <= 4 {
					v = 120
				}
				s.SchedLatencyP99MS = &v
				if i == 0 && j == 1 {
					s.SchedLatencyP99MS = nil
				}
			}
		}
		shards = append(shards, analysis.Shard{Source: []string{"a", "b"}[i], Report: r})
	}
	m, err := analysis.Merge(context.Background(), shards)
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	for _, a := range m.Arms {
		for j, s := range a.Series {
			want := 0.5
			if j >= 2 && j <= 4 {
				want = 120
			}
			if s.SchedLatencyP99MS == nil || *s.SchedLatencyP99MS != want {
				t.Errorf("%s second %d: sched latency p99 %v; want %v (the worse shard's)", a.Name, s.T, s.SchedLatencyP99MS, want)
			}
		}
	}
	failed := map[string]bool{}
	for _, c := range analysis.CheckValidity(m).Failed() {
		if c.Name == reports.CheckCPU {
			failed[c.Arm] = true
		}
	}
	if len(failed) != len(m.Arms) {
		t.Errorf("cpu_not_starved failed for %v; want every arm of the merged run", failed)
	}
}
