package harness

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/internal/field"
	"github.com/cbload/cbload/internal/printable"
	"github.com/cbload/cbload/reports"
	"github.com/cbload/cbload/schedule"
)

// Shard places a run among the N processes that share one experiment: shard
// Index of Count sends Rate/Count, its requests interleaved with the other
// shards' so that together they send exactly the constant-rate schedule one
// process at Rate would. The zero value is a run that is not sharded.
type Shard struct {
	Index, Count int
}

// MaxShards is the most shards a run may be split into: the most a report
// read back may claim (reports.MaxShards).
const MaxShards = reports.MaxShards

// count returns the number of shards, 1 for the zero value.
func (s Shard) count() int { return max(s.Count, 1) }

// Sharded reports whether the run is one of several shards.
func (s Shard) Sharded() bool { return s.Count > 1 }

// ShardSeed returns shard index's seed, derived from the run's seed; a run
// that is not sharded (count ≤ 1) keeps the run's seed.
func ShardSeed(seed int64, index, count int) int64 {
	if count <= 1 {
		return seed
	}
	// splitmix64 of the seed and the index: well spread, and shards of
	// one run never share a request mix.
	z := uint64(seed) + uint64(index+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return int64(z>>2) | 1
}

// armSettle is the pause between one arm's end and the next arm's start
// beyond the client timeout, in which the last answers arrive and the
// servers drain.
const armSettle = time.Second

// ArmSpan is the time from one arm's scheduled start to the next's in a run
// with a start time: the schedule, then the client timeout for the last
// answers, then armSettle.
func (c *Config) ArmSpan() time.Duration {
	return c.TotalDuration() + c.ClientTimeout + armSettle
}

// ArmStart returns when arm run k (0-based, in running order) is
// scheduled to start; zero when the run has no start time. Arm runs that
// run at once (ArmsConcurrent) share their trial's start.
func (c *Config) ArmStart(k int) time.Time {
	if c.StartAt.IsZero() {
		return time.Time{}
	}
	return c.StartAt.Add(time.Duration(c.armSlot(k)) * c.ArmSpan())
}

// FaultChange is one change of the upstream's faults in a run with a start
// time: at At, the upstream must inject Faults (none: healthy).
type FaultChange struct {
	At time.Time
	// Run is the arm run the change belongs to, 0-based in running order
	// (it starts at ArmStart(Run)); Arm is its arm's name and Trial its
	// trial, 0-based.
	Run   int
	Arm   string
	Trial int
	// Index is the phase beginning, 0-based in Phases, and Phase its name;
	// at the arm run's end, back to healthy, Index is len(Phases) and Phase
	// is empty.
	Index  int
	Phase  string
	Faults []faultserver.Spec
}

// UpstreamSchedule returns, for a run with a start time, every change of
// the upstream's faults by wall clock, through every arm's phases and back
// to healthy after each arm. It is what an upstream shared by the shards of
// a run (one process in front of the dependency, not in any shard) must
// follow — cbload serve --start-at follows it (with schedule.RunTimes, the
// clock the run's arms keep); nil without a start time, or when the phases
// do not make a schedule (Validate says why).
func (c *Config) UpstreamSchedule() []FaultChange {
	sched, err := c.schedule()
	if c.StartAt.IsZero() || err != nil {
		return nil
	}
	var out []FaultChange
	runs := c.armRuns()
	perTrial := len(runs) / max(c.Trials, 1)
	for k, name := range runs {
		at := c.ArmStart(k)
		for i, p := range c.Phases {
			out = append(out, FaultChange{At: at.Add(sched.Start(i)), Run: k, Arm: name, Trial: k / perTrial, Index: i, Phase: p.Name, Faults: p.Faults})
		}
		out = append(out, FaultChange{At: at.Add(sched.Duration()), Run: k, Arm: name, Trial: k / perTrial, Index: len(c.Phases)})
	}
	return out
}

// ShardSettings are the settings that spread a run over several
// processes, as given: the shard I/N, the start time (RFC 3339), the run's
// id, and whether another process runs the upstream.
type ShardSettings struct {
	Shard            string
	StartAt          string
	RunID            string
	UpstreamExternal bool
}

// Apply sets c's sharding fields from s; seedGiven says the run's seed was
// given, which every shard of a run needs. Validate checks how the fields
// combine. Errors are *field.Error named by the flag.
func (s *ShardSettings) Apply(c *Config, seedGiven bool) error {
	if s.Shard != "" {
		is, ns, ok := strings.Cut(s.Shard, "/")
		i, err1 := strconv.Atoi(is)
		n, err2 := strconv.Atoi(ns)
		if !ok || err1 != nil || err2 != nil || n < 1 || n > MaxShards || i < 0 || i >= n {
			return field.InvalidValue("shard", "--shard", "%q: want INDEX/COUNT with 0 ≤ INDEX < COUNT ≤ %d, like 0/3", s.Shard, MaxShards)
		}
		c.Shard = Shard{Index: i, Count: n}
		if n > 1 && !seedGiven {
			return field.InvalidValue("shard", "--shard", "%s: needs --seed, the same for every shard (each shard's seed is derived from it and the index)", s.Shard)
		}
	}
	if s.StartAt != "" {
		t, err := time.Parse(time.RFC3339Nano, s.StartAt)
		if err != nil {
			return field.InvalidValue("start_at", "--start-at", "%q: want an RFC 3339 time like 2026-12-01T12:00:00Z", printable.Echo(s.StartAt))
		}
		if t.IsZero() { // it would read as no start time at all
			return field.InvalidValue("start_at", "--start-at", "%s: the run's schedule ended long ago; want a time within %v from now, or in the past only while the run's schedule has not ended", s.StartAt, MaxStartAhead)
		}
		c.StartAt = t
	}
	c.RunID = s.RunID
	c.UpstreamExternal = s.UpstreamExternal
	return nil
}

// ArmNames returns the names of the run's arms, as its report names them:
// the targets' names in target mode, else Arms.
func (c *Config) ArmNames() []string {
	if len(c.Targets) == 0 {
		return c.Arms
	}
	names := make([]string, len(c.Targets))
	for i, t := range c.Targets {
		names[i] = t.Name
	}
	return names
}

// PhaseNames returns the names of the phases, in order.
func (c *Config) PhaseNames() []string {
	names := make([]string, len(c.Phases))
	for i, p := range c.Phases {
		names[i] = p.Name
	}
	return names
}

// ShardLine describes the shard and its start time, for the lines a run
// starts with; "" when the run is neither sharded nor timed.
func (c *Config) ShardLine() string {
	var b strings.Builder
	if c.Shard.Sharded() {
		fmt.Fprintf(&b, "shard %d/%d at %g req/s (seed %d, from run seed %d)", c.Shard.Index, c.Shard.Count,
			c.Rate/float64(c.Shard.Count), ShardSeed(c.Seed, c.Shard.Index, c.Shard.Count), c.Seed)
	}
	if !c.StartAt.IsZero() {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "starts at %s", c.StartAt.UTC().Format(time.RFC3339Nano))
		if d := time.Until(c.StartAt); d > 0 {
			fmt.Fprintf(&b, " (in %v)", d.Round(time.Millisecond))
		}
	}
	return b.String()
}

// armRuns returns the arm runs in the order they run: every arm per trial,
// interleaved as runTrials runs them (A B, then B A, …).
func (c *Config) armRuns() []string {
	names := c.ArmNames()
	var out []string
	for t := range max(c.Trials, 1) {
		seq := slices.Clone(names)
		if t%2 == 1 {
			slices.Reverse(seq)
		}
		out = append(out, seq...)
	}
	return out
}

// validateShard checks the sharding settings; it is part of Validate.
func (c *Config) validateShard() error {
	s := c.Shard
	switch {
	case s.Count < 0 || s.Count > MaxShards:
		return fmt.Errorf("shard: count %d must be between 1 and %d", s.Count, MaxShards)
	case s.Index < 0 || s.Index >= s.count():
		return fmt.Errorf("shard: index %d must be in [0, %d)", s.Index, s.count())
	case c.RunID != "" && reports.CheckRunID(c.RunID) != nil:
		return fmt.Errorf("run-id %w", reports.CheckRunID(c.RunID))
	case c.UpstreamExternal && len(c.Targets) == 0:
		return fmt.Errorf("upstream-external: only used with --target (cbload's own gateway calls its own upstream)")
	case c.UpstreamExternal && c.UpstreamAddr != "":
		return fmt.Errorf("upstream-external: not with upstream-addr; either this run starts the upstream there, or another process runs it")
	}
	if !c.StartAt.IsZero() {
		// Compared as times: the duration to a time centuries away
		// saturates, and would print as 2562047h47m16s.
		now := time.Now()
		if c.StartAt.After(now.Add(MaxStartAhead)) {
			return fmt.Errorf("start-at %s: more than %v from now; want a time within %v", c.StartAt.Format(time.RFC3339), MaxStartAhead, MaxStartAhead)
		}
		n := len(c.armRuns())
		if end := c.ArmStart(n - 1).Add(c.TotalDuration()); !end.After(now) {
			return fmt.Errorf("start-at %s: the run's schedule ended at %s, before now; want a time less than %v ago, the length of the run's schedule", c.StartAt.Format(time.RFC3339), end.Format(time.RFC3339), end.Sub(c.StartAt))
		}
	}
	if !s.Sharded() {
		return nil
	}
	switch {
	case c.StartAt.IsZero():
		return fmt.Errorf("shard: needs start-at, the absolute time every shard starts its schedule at")
	case len(c.Targets) == 0:
		return fmt.Errorf("shard: needs targets; each shard would otherwise test its own in-process gateway at rate/%d, not one system at the full rate", s.Count)
	case !c.UpstreamExternal:
		return fmt.Errorf("shard: needs upstream-external; every shard's service calls one upstream, which one process (not a shard) runs on the run's schedule")
	case c.Trials > 1:
		return invalid("trials", "trials", "%d with shard %d/%d: not supported; cbload merge needs every second's raw data (the histograms), which a report keeps for its first trial only; run each trial as its own sharded run (its own --start-at and --run-id), or the trials without --shard", c.Trials, s.Index, s.Count)
	case c.Rate/float64(s.Count) < MinRate:
		return fmt.Errorf("shard: rate %v over %d shards is %v per shard, below the %d request per second cbload paces", c.Rate, s.Count, c.Rate/float64(s.Count), MinRate)
	}
	return nil
}

// waitUntil blocks until t or until ctx is cancelled, whichever is first,
// and returns ctx's error in the second case. It waits on schedule's
// clock, as the phases do, so a wall clock stepped back cannot end the
// wait early.
func waitUntil(ctx context.Context, t time.Time) error {
	return schedule.RunTimes(ctx, []time.Time{t}, func(int, time.Time) {})
}

// lateSkip is how late a scheduled send may be at the start of an arm and
// still be sent (at once, catching up); sends due earlier are skipped, so a
// shard that starts late does not burst, and the seconds it missed show as
// not sent.
const lateSkip = 100 * time.Millisecond

// schedulePacer paces one shard's share of the run's constant-rate schedule
// against an absolute start: the run's request j (j = 1, 2, … last) is due
// at t0 + j × interval, and shard Index of Count sends those with j ≡
// Index+1 (mod Count). Unsharded it is vegeta's constant pacer anchored on
// t0. vegeta's Seq counts this shard's sends; skipped sends due before the
// attack started are not counted in it.
type schedulePacer struct {
	t0           time.Time
	interval     time.Duration
	index, count int64
	last         int64
	skipped      int64
}

// newSchedulePacer returns the pacer of shard s at rate (the run's total)
// for an arm of length end starting at t0, skipping the sends that were due
// more than lateSkip before now.
func newSchedulePacer(t0 time.Time, rate float64, end time.Duration, s Shard, now time.Time) *schedulePacer {
	iv := sendInterval(rate)
	p := &schedulePacer{t0: t0, interval: iv, index: int64(s.Index), count: int64(s.count()), last: int64((end + iv - 1) / iv)}
	if late := now.Sub(t0) - lateSkip; late > 0 {
		// Sends due at j × iv < late: j ≤ (late-1)/iv.
		p.skipped = p.sendsUpTo(int64((late - 1) / iv))
	}
	return p
}

// j returns the run-wide index of this shard's send number h (0-based,
// skipped sends included).
func (p *schedulePacer) j(h int64) int64 { return h*p.count + p.index + 1 }

// due returns when the send vegeta numbered seq was scheduled, from t0.
func (p *schedulePacer) due(seq uint64) time.Duration {
	return time.Duration(p.j(int64(seq)+p.skipped)) * p.interval
}

// sendsUpTo returns how many of this shard's sends have a run-wide index
// of at most j.
func (p *schedulePacer) sendsUpTo(j int64) int64 {
	j = min(j, p.last)
	if j < p.index+1 {
		return 0
	}
	return (j-p.index-1)/p.count + 1
}

// Pace implements vegeta.Pacer.
func (p *schedulePacer) Pace(_ time.Duration, hits uint64) (time.Duration, bool) {
	j := p.j(int64(hits) + p.skipped)
	if j > p.last {
		return 0, true
	}
	return time.Until(p.t0.Add(time.Duration(j) * p.interval)), false
}

// Rate implements vegeta.Pacer: this shard's share of the rate.
func (p *schedulePacer) Rate(time.Duration) float64 {
	return float64(time.Second) / float64(p.interval) / float64(p.count)
}

// armStart is when and how one arm began against its schedule.
type armStart struct {
	t0      time.Time // the arm's schedule starts here
	planned bool      // t0 came from the run's start time
	lag     time.Duration
}

// beginArm waits for arm run k's scheduled start, if the run has one, or
// else, with gate, for every arm run that starts with it, and returns the
// arm's start; ctx's error when it was cancelled while waiting.
func beginArm(ctx context.Context, cfg *Config, k int, gate *startGate) (armStart, error) {
	at := cfg.ArmStart(k)
	if at.IsZero() && gate != nil {
		return gate.wait(ctx)
	}
	if at.IsZero() {
		return armStart{t0: time.Now()}, nil
	}
	if err := waitUntil(ctx, at); err != nil {
		return armStart{}, err
	}
	return armStart{t0: at, planned: true, lag: max(time.Since(at), 0)}, nil
}

// startGate starts arm runs that run at once on one clock: each waits in
// wait until all n have set up their systems, and all get the time the
// last arrived as their start.
type startGate struct {
	n     int
	ready chan struct{}

	mu      sync.Mutex
	arrived int
	t0      time.Time // set before ready closes
}

func newStartGate(n int) *startGate { return &startGate{n: n, ready: make(chan struct{})} }

// wait returns the common start once every arm run has arrived, or ctx's
// error when it is cancelled first (a sibling failed to set up, say).
func (g *startGate) wait(ctx context.Context) (armStart, error) {
	g.mu.Lock()
	g.arrived++
	if g.arrived == g.n {
		g.t0 = time.Now()
		close(g.ready)
	}
	g.mu.Unlock()
	select {
	case <-g.ready:
		return armStart{t0: g.t0}, nil
	case <-ctx.Done():
		return armStart{}, ctx.Err()
	}
}

// report returns the arm's start as the report states it; nil for an arm
// without a scheduled start.
func (s armStart) report(p *schedulePacer) *reports.ArmStart {
	if !s.planned {
		return nil
	}
	return &reports.ArmStart{At: s.t0.UTC(), LagMS: round3(float64(s.lag) / float64(time.Millisecond)), SkippedSends: p.skipped}
}

// ClockOffsetUnknown is what a report says of its clock's offset: cbload
// has no reference clock to measure it against, and relies on the
// machines' clock sync (NTP or the cluster's); a shard's start lag, which
// it does measure, is against its own clock.
const ClockOffsetUnknown = "unknown: cbload has no reference clock and relies on the machines' clock sync (NTP, chrony or the cluster's); start lag is measured against this process's clock"
