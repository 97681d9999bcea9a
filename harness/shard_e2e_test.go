package harness

import (
	"context"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cbload/cbload/analysis"
	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/reports"
)

// sharedSystem is one system under test that every shard of a run drives:
// a fault-injecting upstream following the run's schedule by wall clock (as
// the one process in front of the dependency would), and two gateways in
// front of it, one with a breaker and one without.
type sharedSystem struct {
	up      *faultserver.Server
	chains  []*chain
	targets []Target
	cancel  context.CancelFunc
	done    chan struct{}
}

func startSharedSystem(t *testing.T, cfg Config) *sharedSystem {
	t.Helper()
	up, err := faultserver.New(faultserver.Config{Addr: "127.0.0.1:0", Seed: cfg.Seed, ServiceTime: cfg.Upstream.ServiceTime, Jitter: cfg.Upstream.Jitter})
	if err != nil {
		t.Fatal(err)
	}
	s := &sharedSystem{up: up, done: make(chan struct{})}
	for _, name := range []string{reports.ArmBreaker, reports.ArmNoBreaker} {
		ch, err := startChain(&cfg, name, up.URL(), nil)
		if err != nil {
			t.Fatal(err)
		}
		s.chains = append(s.chains, ch)
		gw := ch.top()
		s.targets = append(s.targets, Target{Name: name, URL: gw.url() + "/api", Collateral: gw.url() + "/local"})
	}
	return s
}

// follow switches the upstream's faults on cfg's schedule until stopped.
func (s *sharedSystem) follow(cfg *Config) {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		defer close(s.done)
		for _, c := range cfg.UpstreamSchedule() {
			if waitUntil(ctx, c.At) != nil {
				return
			}
			s.up.SetFaults(c.Faults)
		}
	}()
}

func (s *sharedSystem) close() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	for _, ch := range s.chains {
		ch.close()
	}
	s.up.Close()
}

// samples collects every request's latency by arm, phase and endpoint.
type samples struct {
	mu sync.Mutex
	by map[string][]time.Duration
}

func (s *samples) add(x Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.by == nil {
		s.by = map[string][]time.Duration{}
	}
	k := x.Arm + "." + x.Phase + "." + map[bool]string{false: "api", true: "collateral"}[x.Collateral]
	s.by[k] = append(s.by[k], x.Latency)
}

func shardTestConfig(t *testing.T) Config {
	t.Helper()
	cfg := DefaultConfig()
	fault, err := faultserver.ParseSpec("latency:1s")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Phases = []Phase{
		{Name: "baseline", Duration: 2 * time.Second},
		{Name: "fault", Duration: 4 * time.Second, Faults: []faultserver.Spec{fault}},
		{Name: "recovery", Duration: 3 * time.Second},
	}
	cfg.Rate = 300
	cfg.Seed = 11
	cfg.UpstreamExternal = true
	return cfg
}

// ruleOutcome is what the verdict rule decides from the data, whatever the
// validity checks said: a loaded test machine may fail a timing check in
// one run and not the other.
func ruleOutcome(r *reports.Report) string {
	c := *r
	c.Validity = nil
	c.Partial = false
	return analysis.Verdict(&c).Outcome
}

// Three shards at 300 req/s in total, against one shared system, merge into
// the report one process at 300 req/s gives on the same seed and schedule:
// the same request counts per phase within 1%, percentiles within the
// histogram's relative error of the samples themselves, the same verdict.
// Without one shard the merge is partial and names it.
func TestShardsMergeLikeOneProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two 26 s experiments")
	}
	const n = 3

	// The sharded run: three shards at once, each at 100 req/s.
	base := shardTestConfig(t)
	sys := startSharedSystem(t, base)
	defer sys.close()
	base.Targets = sys.targets
	base.StartAt = time.Now().Add(1500 * time.Millisecond)
	sys.follow(&base)
	var got samples
	shards := make([]analysis.Shard, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		cfg := base
		cfg.Shard = Shard{Index: i, Count: n}
		cfg.OnSample = got.add
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := Run(context.Background(), cfg)
			shards[i], errs[i] = analysis.Shard{Source: "shard" + string(rune('0'+i)), Report: r}, err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
	}
	for _, sh := range shards {
		for _, a := range sh.Report.Arms {
			for _, sec := range a.Series {
				if sec.State == "" {
					t.Errorf("%s arm %s second %d has no state: its gauges were never sampled", sh.Source, a.Name, sec.T)
				}
			}
		}
	}
	merged, err := analysis.Merge(context.Background(), shards)
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	analysis.Judge(merged)

	// One process at the full rate, on the same seed and schedule.
	single := shardTestConfig(t)
	sys1 := startSharedSystem(t, single)
	defer sys1.close()
	single.Targets = sys1.targets
	single.StartAt = time.Now().Add(500 * time.Millisecond)
	sys1.follow(&single)
	one, err := Run(context.Background(), single)
	if err != nil {
		t.Fatalf("single process: %v", err)
	}

	if merged.Partial || len(merged.Merge.Missing) != 0 || merged.RunID != shards[0].Report.RunID {
		t.Errorf("merged: partial %v (%s), missing %v, run id %q; want a whole run %q", merged.Partial, merged.PartialReason, merged.Merge.Missing, merged.RunID, shards[0].Report.RunID)
	}
	for _, a := range one.Arms {
		m := merged.Arm(a.Name)
		if m == nil {
			t.Fatalf("merged report has no %s arm", a.Name)
		}
		var sentM, sentO int64
		for _, s := range m.Series {
			sentM += s.Sent
		}
		for _, s := range a.Series {
			sentO += s.Sent
		}
		if sentM != sentO || m.Load.Scheduled != a.Load.Scheduled {
			t.Errorf("%s: shards sent %d of %d scheduled, one process %d of %d; want the same schedule, sent in full", a.Name, sentM, m.Load.Scheduled, sentO, a.Load.Scheduled)
		}
		for _, p := range one.Phases {
			gm, go1 := m.Summary[p.Name], a.Summary[p.Name]
			cm, co := gm.API.Requests+gm.Collateral.Requests, go1.API.Requests+go1.Collateral.Requests
			// Requests count in the phase they completed in: a send that
			// left late at a phase boundary meets the next phase's
			// upstream and may complete across it, in either run — at
			// most the rate times the latest send of the second before
			// each boundary (as the rate validity check reasons).
			moved := boundaryMoves(single.Rate, p, m, &a)
			if math.Abs(float64(cm-co)) > 0.01*float64(co)+moved {
				t.Errorf("%s %s: %d requests merged, %d in one process; want within 1%% and the %.0f that late sends can move across its boundaries", a.Name, p.Name, cm, co, moved)
			}
			for _, ep := range []struct {
				name string
				st   reports.Stats
			}{{"api", gm.API}, {"collateral", gm.Collateral}} {
				vals := slices.Clone(got.by[a.Name+"."+p.Name+"."+ep.name])
				if int64(len(vals)) != ep.st.Requests {
					t.Errorf("%s %s %s: %d samples, %d requests merged; want every sample counted once", a.Name, p.Name, ep.name, len(vals), ep.st.Requests)
					continue
				}
				if len(vals) == 0 {
					continue
				}
				slices.Sort(vals)
				for _, q := range []struct {
					q   float64
					got float64
				}{{0.5, ep.st.LatencyMS.P50}, {0.99, ep.st.LatencyMS.P99}} {
					rank := max(int(q.q*float64(len(vals))+0.5), 1)
					want := float64(vals[rank-1]) / 1e6
					if math.Abs(q.got-want) > want*reports.HistogramRelativeError+0.0015 {
						t.Errorf("%s %s %s: merged p%v %.3f ms; the samples' is %.3f ms, want within %.2f%%", a.Name, p.Name, ep.name, q.q*100, q.got, want, reports.HistogramRelativeError*100)
					}
				}
			}
		}
	}
	for _, a := range merged.Arms {
		f, o := a.Summary["fault"], one.Arm(a.Name).Summary["fault"]
		t.Logf("%s fault: merged %d requests, /api p50 %.1f p99 %.1f ms, /local success %.3f; one process %d, p50 %.1f p99 %.1f ms, /local %.3f",
			a.Name, f.API.Requests+f.Collateral.Requests, f.API.LatencyMS.P50, f.API.LatencyMS.P99, f.Collateral.SuccessRatio,
			o.API.Requests+o.Collateral.Requests, o.API.LatencyMS.P50, o.API.LatencyMS.P99, o.Collateral.SuccessRatio)
	}
	t.Logf("verdict: merged %s, one process %s", merged.Verdict.Outcome, one.Verdict.Outcome)
	if g, w := ruleOutcome(merged), ruleOutcome(one); g != w {
		t.Errorf("verdict rule: %s merged, %s in one process\nmerged: %s\none: %s", g, w, merged.Verdict.Summary, one.Verdict.Summary)
	}
	if ruleOutcome(one) != reports.OutcomePrevented {
		t.Logf("note: one process's verdict rule said %s (%s)", ruleOutcome(one), one.Verdict.Summary)
	}
	if failed := merged.Validity.Failed(); len(failed) > 0 {
		t.Logf("merged validity failed (machine load?): %s: %s", failed[0].Name, failed[0].Message)
	}

	// Without shard 1 the merge is partial, says so, and names it.
	part, err := analysis.Merge(context.Background(), []analysis.Shard{shards[0], shards[2]})
	if err != nil {
		t.Fatalf("Merge of 2 of 3: %v", err)
	}
	analysis.Judge(part)
	if !part.Partial || !slices.Equal(part.Merge.Missing, []int{1}) || !strings.Contains(part.PartialReason, "shards missing: 1 of 3") {
		t.Errorf("merge without shard 1: partial %v (%q), missing %v; want partial, naming shard 1", part.Partial, part.PartialReason, part.Merge.Missing)
	}
	failed := part.Validity.Failed()
	if len(failed) == 0 || failed[0].Name != reports.CheckShardsPresent || !strings.Contains(failed[0].Message, "1/3") {
		t.Errorf("merge without shard 1: first failed check %+v; want shards_present naming 1/3", failed)
	}
	if part.Verdict.Outcome != reports.OutcomeInconclusive || !strings.Contains(part.Verdict.Summary, "1/3") {
		t.Errorf("merge without shard 1: verdict %q (%s); want inconclusive, naming shard 1/3", part.Verdict.Outcome, part.Verdict.Summary)
	}
}

// boundaryMoves is how many requests at rate, per second, the send lag of
// the arms can move across the boundaries of phase p: for each boundary
// inside the schedule, rate × the latest send (SendLagMS.Max) of the
// second before it, in each arm.
func boundaryMoves(rate float64, p reports.Phase, arms ...*reports.Arm) float64 {
	var moved float64
	for _, b := range []float64{p.StartS, p.EndS} {
		for _, a := range arms {
			for _, sec := range a.Series {
				if b > 0 && float64(sec.T+1) == b {
					moved += rate * sec.SendLagMS.Max / 1000
				}
			}
		}
	}
	return moved
}
