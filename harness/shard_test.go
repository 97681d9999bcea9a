package harness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cbload/cbload/internal/field"
)

// drain returns the run-wide indexes a pacer sends, in order, by asking it
// as vegeta does until it stops.
func drain(p *schedulePacer) []int64 {
	var out []int64
	for hits := uint64(0); ; hits++ {
		if _, stop := p.Pace(0, hits); stop {
			return out
		}
		out = append(out, int64(p.due(hits)/p.interval))
	}
}

// The shards' sends interleave into exactly the schedule one process sends:
// the same due times, each once, and the same count per second.
func TestShardPacersUnionIsTheSchedule(t *testing.T) {
	t0 := time.Unix(1000, 0)
	const rate, n = 300, 3
	end := 2 * time.Second
	phases := []Phase{{Name: "p", Duration: end}}
	single := newSchedulePacer(t0, rate, end, Shard{}, t0)
	want := drain(single)
	if got, exp := int64(len(want)), int64((end+sendInterval(rate)-1)/sendInterval(rate)); got != exp {
		t.Fatalf("unsharded pacer sends %d; want %d, what vegeta's constant pacer sends in %v at %v/s", got, exp, end, rate)
	}
	seen := map[int64]int{}
	perSecond := make([]int64, 2)
	for i := range n {
		p := newSchedulePacer(t0, rate, end, Shard{Index: i, Count: n}, t0)
		js := drain(p)
		if d := len(js) - len(want)/n; d < 0 || d > 1 {
			t.Errorf("shard %d/%d sends %d; want %d or one more", i, n, len(js), len(want)/n)
		}
		for k, j := range js {
			seen[j]++
			if k > 0 && j-js[k-1] != n {
				t.Fatalf("shard %d: sends %d then %d; want every %dth", i, js[k-1], j, n)
			}
		}
		rec := testRecorder(t0, phases, rate, time.Second, false)
		rec.pace = p
		for s := range perSecond {
			perSecond[s] += rec.scheduled(s)
		}
	}
	for _, j := range want {
		if seen[j] != 1 {
			t.Errorf("send %d is sent by %d shards; want exactly 1", j, seen[j])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("shards send %d distinct requests; want %d", len(seen), len(want))
	}
	rec := testRecorder(t0, phases, rate, time.Second, false)
	for s, got := range perSecond {
		if w := rec.scheduled(s); got != w {
			t.Errorf("second %d: shards scheduled %d together; one process %d", s, got, w)
		}
	}
}

// A shard that starts late skips the sends due over lateSkip ago instead
// of bursting them, and its send lag is measured against the true schedule.
func TestLateShardSkipsMissedSends(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := newSchedulePacer(t0, 100, 5*time.Second, Shard{Index: 1, Count: 2}, t0.Add(time.Second))
	// Shard 1 of 2 at 100/s sends j = 2, 4, … every 20 ms; due before
	// 900 ms: j·10ms < 900ms → j ≤ 89 → 44 sends.
	if p.skipped != 44 {
		t.Errorf("skipped %d sends; want 44", p.skipped)
	}
	if got, want := p.due(0), 900*time.Millisecond; got != want {
		t.Errorf("first send due at %v; want %v", got, want)
	}
	if on := newSchedulePacer(t0, 100, 5*time.Second, Shard{}, t0.Add(lateSkip)); on.skipped != 0 {
		t.Errorf("a start %v late skipped %d sends; want 0 (it catches up)", lateSkip, on.skipped)
	}
}

func TestShardSeed(t *testing.T) {
	if got := ShardSeed(42, 0, 1); got != 42 {
		t.Errorf("ShardSeed(42, 0, 1) = %d; want the run's seed", got)
	}
	seen := map[int64]bool{}
	for i := range 100 {
		s := ShardSeed(42, i, 100)
		if s <= 0 || seen[s] || s != ShardSeed(42, i, 100) {
			t.Fatalf("ShardSeed(42, %d, 100) = %d: want positive, distinct and stable", i, s)
		}
		seen[s] = true
	}
}

func TestShardConfigValidate(t *testing.T) {
	future := time.Now().Add(time.Minute)
	target := []Target{{Name: "a", URL: "http://127.0.0.1:1/api"}}
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" for valid
	}{
		{"unsharded", func(c *Config) {}, ""},
		{"start-at alone", func(c *Config) { c.StartAt = future }, ""},
		{"sharded", func(c *Config) {
			c.Shard, c.StartAt, c.Targets, c.UpstreamExternal = Shard{Index: 2, Count: 3}, future, target, true
		}, ""},
		{"index out of range", func(c *Config) { c.Shard = Shard{Index: 3, Count: 3} }, "shard: index 3 must be in [0, 3)"},
		{"too many", func(c *Config) { c.Shard = Shard{Count: MaxShards + 1} }, "shard: count 1001 must be between 1 and 1000"},
		{"no start", func(c *Config) { c.Shard, c.Targets, c.UpstreamExternal = Shard{Count: 2}, target, true }, "shard: needs start-at"},
		{"own gateway", func(c *Config) { c.Shard, c.StartAt = Shard{Count: 2}, future }, "shard: needs targets"},
		{"own upstream", func(c *Config) {
			c.Shard, c.StartAt, c.Targets, c.UpstreamAddr = Shard{Count: 2}, future, target, "127.0.0.1:9"
		}, "shard: needs upstream-external"},
		{"rate too low", func(c *Config) {
			c.Shard, c.StartAt, c.Targets, c.UpstreamExternal, c.Rate = Shard{Count: 8}, future, target, true, 4
		}, "shard: rate 4 over 8 shards is 0.5 per shard"},
		{"far future", func(c *Config) { c.StartAt = time.Now().Add(48 * time.Hour) }, "start-at "},
		{"long past", func(c *Config) { c.StartAt = time.Now().Add(-time.Hour) }, "start-at "},
		{"bad run id", func(c *Config) { c.RunID = "a b" }, `run-id "a b"`},
		{"external without target", func(c *Config) { c.UpstreamExternal = true }, "upstream-external: only used with --target"},
		{"trials", func(c *Config) {
			c.Shard, c.StartAt, c.Targets, c.UpstreamExternal, c.Trials = Shard{Count: 2}, future, target, true, 3
		}, "trials: 3 with shard 0/2: not supported; cbload merge needs every second's raw data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Phases = []Phase{{Name: "p", Duration: time.Second}}
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v; want nil", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Errorf("Validate() = %v; want an error starting %q", err, tt.want)
			}
		})
	}
}

func TestArmStartsAndUpstreamSchedule(t *testing.T) {
	c := DefaultConfig()
	c.Phases = []Phase{{Name: "a", Duration: 2 * time.Second}, {Name: "b", Duration: 3 * time.Second}}
	if !c.ArmStart(1).IsZero() || c.UpstreamSchedule() != nil {
		t.Fatalf("without a start time: ArmStart %v, schedule %v; want zero, nil", c.ArmStart(1), c.UpstreamSchedule())
	}
	c.StartAt = time.Unix(1000, 0)
	span := 5*time.Second + c.ClientTimeout + armSettle
	if got, want := c.ArmStart(1), c.StartAt.Add(span); !got.Equal(want) {
		t.Errorf("ArmStart(1) = %v; want %v", got, want)
	}
	sch := c.UpstreamSchedule()
	if len(sch) != 6 {
		t.Fatalf("schedule has %d changes; want 3 per arm", len(sch))
	}
	if got := sch[4]; got.Arm != "no-breaker" || got.Phase != "b" || !got.At.Equal(c.StartAt.Add(span+2*time.Second)) {
		t.Errorf("change 4 = %+v; want no-breaker phase b at start+span+2s", got)
	}
	if got := sch[5]; got.Faults != nil || !got.At.Equal(c.StartAt.Add(span+5*time.Second)) {
		t.Errorf("change 5 = %+v; want healthy at the arm's end", got)
	}
	// Trials interleave the arms: breaker, no-breaker, then no-breaker,
	// breaker; run k starts at ArmStart(k).
	c.Trials = 2
	sch = c.UpstreamSchedule()
	var arms []string
	for i := 0; i < len(sch); i += 3 {
		arms = append(arms, sch[i].Arm)
		if !sch[i].At.Equal(c.ArmStart(i / 3)) {
			t.Errorf("arm run %d starts at %v; want ArmStart(%d) = %v", i/3, sch[i].At, i/3, c.ArmStart(i/3))
		}
	}
	if got := strings.Join(arms, ","); got != "breaker,no-breaker,no-breaker,breaker" {
		t.Errorf("arm runs %s; want breaker,no-breaker,no-breaker,breaker", got)
	}
}

func TestWaitUntilHonoursCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	began := time.Now()
	if err := waitUntil(ctx, began.Add(time.Hour)); err == nil {
		t.Fatalf("waitUntil returned nil after cancel")
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("waitUntil took %v to notice the cancel", took)
	}
	if err := waitUntil(context.Background(), began.Add(-time.Second)); err != nil {
		t.Errorf("waitUntil(past) = %v; want nil at once", err)
	}
}

// A run waiting for its start time stops waiting when cancelled, having
// sent nothing.
func TestRunCancelledBeforeStart(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Phases = []Phase{{Name: "p", Duration: time.Second}}
	cfg.Arms = []string{"no-breaker"}
	cfg.Seed = 1
	cfg.StartAt = time.Now().Add(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	r, err := Run(ctx, cfg)
	if !errors.Is(err, context.DeadlineExceeded) || r == nil || len(r.Arms) != 0 || !r.Partial {
		t.Fatalf("Run = %v arms, partial %v, err %v; want no arm, partial, the context's error", len(r.Arms), r.Partial, err)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("Run took %v to stop waiting", took)
	}
	if got, want := r.RunID, cfg.StartAt.UTC().Format("20060102T150405Z")+"-1"; got != want {
		t.Errorf("run id %q; want %q, from the start time and the seed", got, want)
	}
}

// TestConfigNamesAndShardLine checks the arm names (the targets' in target
// mode), the phase names and the line a sharded, timed run starts with.
func TestConfigNamesAndShardLine(t *testing.T) {
	c := DefaultConfig()
	c.Phases = []Phase{{Name: "baseline"}, {Name: "fault"}}
	if got := c.ArmNames(); !slices.Equal(got, c.Arms) {
		t.Errorf("ArmNames() = %q; want the arms %q", got, c.Arms)
	}
	if got := c.PhaseNames(); !slices.Equal(got, []string{"baseline", "fault"}) {
		t.Errorf("PhaseNames() = %q", got)
	}
	c.Targets = []Target{{Name: "svc-a"}, {Name: "svc-b"}}
	if got := c.ArmNames(); !slices.Equal(got, []string{"svc-a", "svc-b"}) {
		t.Errorf("ArmNames() in target mode = %q; want the targets' names", got)
	}
	if got := c.ShardLine(); got != "" {
		t.Errorf("ShardLine() of a run neither sharded nor timed = %q; want none", got)
	}
	c.Seed, c.Rate, c.Shard = 7, 100, Shard{Index: 1, Count: 4}
	c.StartAt = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	want := fmt.Sprintf("shard 1/4 at 25 req/s (seed %d, from run seed 7); starts at 2020-01-02T03:04:05Z", ShardSeed(7, 1, 4))
	if got := c.ShardLine(); got != want {
		t.Errorf("ShardLine() = %q; want %q", got, want)
	}
}

// TestShardSettingsApply checks the shard and start time as given, and
// that a bad one is a field error named by its flag.
func TestShardSettingsApply(t *testing.T) {
	var c Config
	s := ShardSettings{Shard: "1/3", StartAt: "2026-12-01T12:00:00Z", RunID: "r1"}
	if err := s.Apply(&c, true); err != nil || c.Shard != (Shard{Index: 1, Count: 3}) || c.StartAt.IsZero() || c.RunID != "r1" {
		t.Fatalf("Apply(%+v) = %v; config shard %+v, start %v, run id %q", s, err, c.Shard, c.StartAt, c.RunID)
	}
	for _, tt := range []struct {
		s         ShardSettings
		seed      bool
		path, msg string
	}{
		{ShardSettings{Shard: "3/3"}, true, "shard", `--shard "3/3": want INDEX/COUNT`},
		{ShardSettings{Shard: "0/2"}, false, "shard", "--shard 0/2: needs --seed"},
		{ShardSettings{StartAt: "noon"}, true, "start_at", `--start-at "noon": want an RFC 3339 time`},
	} {
		err := tt.s.Apply(&Config{}, tt.seed)
		if fe := field.As(err); fe.Path() != tt.path || err == nil || !strings.HasPrefix(err.Error(), tt.msg) {
			t.Errorf("Apply(%+v) = %v; want %q… at %s", tt.s, err, tt.msg, tt.path)
		}
	}
}
