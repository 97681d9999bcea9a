package harness

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cbload/cbload/reports"
	"github.com/cbload/cbload/schedule"
)

// TestSettler: a phase settles once every request sent before its end has
// been answered, in whatever order the answers come, and its last second
// has been sampled.
func TestSettler(t *testing.T) {
	sched, err := schedule.New([]schedule.Phase{{Name: "a", Duration: 2 * time.Second}, {Name: "b", Duration: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	s := newSettler(sched)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	steps := []struct {
		seq     uint64
		sent    time.Duration
		sampled int
		want    bool
	}{
		{0, ms(100), 1, false},
		{2, ms(2001), 1, false}, // sent after the end, but request 1 is still out
		{3, ms(2100), 1, false},
		{1, ms(1999), 0, false}, // all in, but second 1 not yet sampled
		{4, ms(2200), 1, true},
	}
	for i, st := range steps {
		s.add(st.seq, st.sent)
		if got := s.ready(st.sampled); got != st.want {
			t.Errorf("step %d (seq %d): ready = %v; want %v", i, st.seq, got, st.want)
		}
	}
	if len(s.ahead) != 0 || s.low != 5 {
		t.Errorf("after all answers: %d held ahead, low %d; want 0 and 5", len(s.ahead), s.low)
	}
}

// TestCheckpointDone: figures are final when every trial of the arm has
// ended; a phase's summary (the first trial's) when that trial settled it.
func TestCheckpointDone(t *testing.T) {
	c := Checkpoint{Arm: "breaker", Trial: 1, Phase: "fault", trials: 2, done: map[string]int{"no-breaker": 1},
		phases: []string{"baseline", "fault", "recovery"}, settled: 2}
	for _, tt := range []struct {
		arm, phase string
		want       bool
	}{
		{"breaker", "baseline", true}, {"breaker", "fault", true}, {"breaker", "recovery", false},
		{"no-breaker", "recovery", true}, {"retry-budget", "baseline", false},
	} {
		if got := c.PhaseDone(tt.arm, tt.phase); got != tt.want {
			t.Errorf("PhaseDone(%s, %s) = %v; want %v", tt.arm, tt.phase, got, tt.want)
		}
	}
	if c.ArmDone("no-breaker") || c.ArmDone("breaker") {
		t.Error("ArmDone true with trials left to run")
	}
	if got, want := c.String(), "after phase fault of arm breaker (trial 1)"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
}

// TestCheckpointsFinal runs a real A/B experiment whose slow answers
// straddle the phase ends and checks the promise of a checkpoint: a
// phase's summary at the checkpoint where it settled, and an arm's figures
// where it ended, are those of the final report.
func TestCheckpointsFinal(t *testing.T) {
	cfg := testConfig(t, "latency:400ms")
	cfg.Phases[0].Duration, cfg.Phases[1].Duration, cfg.Phases[2].Duration = 2*time.Second, 2*time.Second, 2*time.Second
	type seen struct {
		at      Checkpoint
		summary reports.PhaseSummary
		figures reports.Figures
	}
	var got []seen
	cfg.OnCheckpoint = func(r *reports.Report, at Checkpoint) string {
		a := r.Arm(at.Arm)
		if a == nil {
			t.Errorf("checkpoint %v: the report has no arm %s", at, at.Arm)
			return ""
		}
		got = append(got, seen{at: at, summary: a.Summary[at.Phase], figures: a.Figures})
		return ""
	}
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.at.String())
		final := r.Arm(s.at.Arm)
		if s.at.Phase == "" {
			if diff := cmp.Diff(final.Figures, s.figures); diff != "" {
				t.Errorf("%v: figures differ from the final report's (-final +checkpoint):\n%s", s.at, diff)
			}
			continue
		}
		if diff := cmp.Diff(final.Summary[s.at.Phase], s.summary); diff != "" {
			t.Errorf("%v: phase summary differs from the final report's (-final +checkpoint):\n%s", s.at, diff)
		}
	}
	want := []string{"after phase baseline of arm breaker", "after phase fault of arm breaker", "after arm breaker",
		"after phase baseline of arm no-breaker", "after phase fault of arm no-breaker"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("checkpoints (-want +got):\n%s", diff)
	}
}
