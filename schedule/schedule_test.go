package schedule

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/cbload/cbload/faultserver"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func specs(t *testing.T, ss ...string) []faultserver.Spec {
	t.Helper()
	out, err := faultserver.ParseSpecs(ss)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// threePhases is baseline 5s, fault 15s with a latency fault, recovery 10s.
func threePhases(t *testing.T) *Schedule {
	t.Helper()
	s, err := New([]Phase{
		{Name: "baseline", Duration: 5 * time.Second},
		{Name: "fault", Duration: 15 * time.Second, Faults: specs(t, "latency:1s")},
		{Name: "recovery", Duration: 10 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAt(t *testing.T) {
	s := threePhases(t)
	for _, tt := range []struct {
		off  time.Duration
		want int
	}{
		{-time.Nanosecond, -1},
		{0, 0},
		{5*time.Second - 1, 0},
		{5 * time.Second, 1},
		{19 * time.Second, 1},
		{20 * time.Second, 2},
		{30*time.Second - 1, 2},
		{30 * time.Second, 3},
		{time.Hour, 3},
	} {
		if got := s.At(tt.off); got != tt.want {
			t.Errorf("At(%v) = %d; want %d", tt.off, got, tt.want)
		}
	}
	if got := s.Duration(); got != 30*time.Second {
		t.Errorf("Duration() = %v; want 30s", got)
	}
	if got := s.Start(2); got != 20*time.Second {
		t.Errorf("Start(2) = %v; want 20s", got)
	}
}

func TestNewRejects(t *testing.T) {
	many := make([]Phase, MaxPhases+1)
	for i := range many {
		many[i] = Phase{Name: "p" + strings.Repeat("x", i), Duration: time.Second}
	}
	for _, tt := range []struct {
		name   string
		phases []Phase
		want   string
	}{
		{"none", nil, "phases: need at least one phase"},
		{"too many", many, "the limit is 200"},
		{"no name", []Phase{{Duration: time.Second}}, "phases[0].name: must not be empty"},
		{"twice", []Phase{{Name: "a", Duration: time.Second}, {Name: "a", Duration: time.Second}}, `phases[1].name: "a" is used twice`},
		{"zero", []Phase{{Name: "a"}}, "phases[0] (a): duration 0s: want a positive duration"},
		{"negative", []Phase{{Name: "a", Duration: -time.Second}}, "duration -1s"},
		{"too long", []Phase{{Name: "a", Duration: 40 * time.Minute}, {Name: "b", Duration: 30 * time.Minute}}, "phases[1] (b): duration 30m0s makes the schedule longer than the limit of 1h0m0s"},
	} {
		_, err := New(tt.phases)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%s) = %v; want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestNewCopiesFaults(t *testing.T) {
	faults := specs(t, "error:503")
	s, err := New([]Phase{{Name: "a", Duration: time.Second, Faults: faults}})
	if err != nil {
		t.Fatal(err)
	}
	faults[0] = specs(t, "hang")[0]
	if got := s.Phase(0).Faults[0].String(); got != "error:503" {
		t.Errorf("after the caller changed its slice, Phase(0).Faults[0] = %s; want error:503", got)
	}
}

// record is a switch as the tests compare it: offsets from the start, in
// the fake clock of a synctest bubble, where they are exact.
type record struct {
	Index    int
	Name     string
	Faults   string
	Due, Now time.Duration
}

func run(ctx context.Context, s *Schedule, start time.Time, base time.Time, onPhase func(Switch)) ([]record, error) {
	var got []record
	err := runPhases(ctx, s, start, func(sw Switch) {
		var f []string
		for _, sp := range sw.Phase.Faults {
			f = append(f, sp.String())
		}
		got = append(got, record{sw.Index, sw.Phase.Name, strings.Join(f, " "), sw.Due.Sub(base), sw.Now.Sub(base)})
		if onPhase != nil {
			onPhase(sw)
		}
	})
	return got, err
}

func TestRunFromNow(t *testing.T) {
	s := threePhases(t)
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		got, err := run(t.Context(), s, start, start, nil)
		if err != nil {
			t.Fatalf("Run = %v; want nil", err)
		}
		want := []record{
			{0, "baseline", "", 0, 0},
			{1, "fault", "latency:1s", 5 * time.Second, 5 * time.Second},
			{2, "recovery", "", 20 * time.Second, 20 * time.Second},
			{3, "", "", 30 * time.Second, 30 * time.Second},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("switches (-want +got):\n%s", diff)
		}
	})
}

func TestRunWaitsForStart(t *testing.T) {
	s := threePhases(t)
	synctest.Test(t, func(t *testing.T) {
		base := time.Now()
		got, err := run(t.Context(), s, base.Add(time.Minute), base, nil)
		if err != nil {
			t.Fatalf("Run = %v; want nil", err)
		}
		if len(got) != 4 || got[0].Now != time.Minute || got[3].Now != time.Minute+30*time.Second {
			t.Errorf("switches = %+v; want the first at 1m and the end at 1m30s", got)
		}
	})
}

// TestRunNoDrift checks that a slow callback does not push later switches.
func TestRunNoDrift(t *testing.T) {
	s := threePhases(t)
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		got, err := run(t.Context(), s, start, start, func(Switch) { time.Sleep(2 * time.Second) })
		if err != nil {
			t.Fatalf("Run = %v; want nil", err)
		}
		for _, r := range got {
			if want := s.Start(r.Index); r.Now != want || r.Due != want {
				t.Errorf("switch to %q at %v, due %v; want both at its offset, %v", r.Name, r.Now, r.Due, want)
			}
		}
	})
}

// TestRunJoinsLate checks a start in the past: the phase active now at
// once, the phases already over skipped, and the callback that stalled
// past a whole phase skipping it too.
func TestRunJoinsLate(t *testing.T) {
	s := threePhases(t)
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		start := now.Add(-7 * time.Second)
		stalled := false
		got, err := run(t.Context(), s, start, start, func(sw Switch) {
			if sw.Index == 1 && !stalled {
				stalled = true
				time.Sleep(24 * time.Second) // past the whole recovery phase
			}
		})
		if err != nil {
			t.Fatalf("Run = %v; want nil", err)
		}
		want := []record{
			{1, "fault", "latency:1s", 5 * time.Second, 7 * time.Second},
			{3, "", "", 30 * time.Second, 31 * time.Second},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("switches (-want +got):\n%s", diff)
		}
	})
}

func TestRunAfterTheEnd(t *testing.T) {
	s := threePhases(t)
	synctest.Test(t, func(t *testing.T) {
		start := time.Now().Add(-time.Hour)
		got, err := run(t.Context(), s, start, start, nil)
		if err != nil || len(got) != 1 || got[0].Index != 3 {
			t.Errorf("Run an hour after the start = %+v, %v; want only the end switch and nil", got, err)
		}
	})
}

func TestRunCanceled(t *testing.T) {
	s := threePhases(t)
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now().Add(time.Minute)
		time.AfterFunc(10*time.Second, cancel)
		got, err := run(ctx, s, start, start, nil)
		if !errors.Is(err, context.Canceled) || len(got) != 0 {
			t.Errorf("Run canceled while waiting = %+v, %v; want no switch and context.Canceled", got, err)
		}
		if waited := time.Since(start.Add(-time.Minute)); waited != 10*time.Second {
			t.Errorf("Run returned %v after the start of the wait; want 10s, when canceled", waited)
		}

		ctx, cancel = context.WithCancel(t.Context())
		start = time.Now()
		got, err = run(ctx, s, start, start, func(sw Switch) {
			if sw.Index == 1 {
				cancel()
			}
		})
		if !errors.Is(err, context.Canceled) || len(got) != 2 {
			t.Errorf("Run canceled in phase 1 = %+v, %v; want two switches and context.Canceled", got, err)
		}
	})
}

// TestRunRealClock runs a short schedule on the real clock, with wide
// margins: the switches come when due and in order.
func TestRunRealClock(t *testing.T) {
	s, err := New([]Phase{
		{Name: "a", Duration: 100 * time.Millisecond},
		{Name: "b", Duration: 100 * time.Millisecond, Faults: specs(t, "error:503")},
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := run(context.Background(), s, start, start, nil)
	if err != nil || len(got) != 3 {
		t.Fatalf("Run = %+v, %v; want three switches and nil", got, err)
	}
	for _, r := range got {
		if late := r.Now - r.Due; late < 0 || late > 100*time.Millisecond {
			t.Errorf("switch %d at %v, due %v; want within 100ms after", r.Index, r.Now, r.Due)
		}
	}
}

func ExampleRunTimes() {
	faults, _ := faultserver.ParseSpecs([]string{"error:503"})
	s, err := New([]Phase{
		{Name: "baseline", Duration: 20 * time.Millisecond},
		{Name: "fault", Duration: 20 * time.Millisecond, Faults: faults},
	})
	if err != nil {
		panic(err)
	}
	// Every phase's start, then the end, from now.
	start := time.Now()
	var times []time.Time
	for i := range s.Len() {
		times = append(times, start.Add(s.Start(i)))
	}
	times = append(times, start.Add(s.Duration()))
	_ = RunTimes(context.Background(), times, func(i int, now time.Time) {
		if i == s.Len() {
			fmt.Println("end: healthy")
			return
		}
		fmt.Println(s.Phase(i).Name, s.Phase(i).Faults)
	})
	// Output:
	// baseline []
	// fault [error:503]
	// end: healthy
}

// TestRunTimes walks times that no Schedule could hold (hours apart, beyond
// MaxDuration), joining late at the last time past, and returns at once for
// none.
func TestRunTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := time.Now()
		if err := RunTimes(t.Context(), nil, func(int, time.Time) { t.Error("called for no times") }); err != nil {
			t.Errorf("RunTimes(none) = %v; want nil", err)
		}
		times := []time.Time{base.Add(-3 * time.Hour), base.Add(-time.Hour), base.Add(2 * time.Hour), base.Add(5 * time.Hour)}
		type call struct {
			I   int
			Off time.Duration
		}
		var got []call
		err := RunTimes(t.Context(), times, func(i int, now time.Time) { got = append(got, call{i, now.Sub(base)}) })
		if err != nil {
			t.Fatalf("RunTimes = %v; want nil", err)
		}
		want := []call{{1, 0}, {2, 2 * time.Hour}, {3, 5 * time.Hour}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	})
}

// Switch is one call of runPhases's callback: a phase begins, or the schedule
// ends.
type Switch struct {
	// Index is the phase now active, or Len() when the schedule has ended.
	Index int
	// Phase is that phase; the zero Phase when the schedule has ended.
	Phase Phase
	// Due is when the phase was due to begin (or the schedule to end):
	// the start plus the phase's offset.
	Due time.Time
	// Now is the clock's reading when the callback was called; it is Due
	// or a little later, or later still when runPhases joined the phase after it
	// had begun.
	Now time.Time
}

// End reports whether the switch is the schedule's end.
func (sw Switch) End() bool { return sw.Phase.Name == "" }

// runPhases walks the schedule from start: it waits until start if that is in the
// future, then calls onPhase as each phase begins and once more, with an
// End switch, when the last one ends, and returns nil. Each switch is due
// at start plus its offset, so a late callback does not delay later ones.
// A start in the past joins the schedule where the clock stands: onPhase is
// called at once for the phase active now, and phases already over are
// skipped (so is every phase a stalled process slept through). It returns
// ctx's error as soon as ctx is done. onPhase runs on its goroutine and
// should return quickly: the next switch waits for it. It is RunTimes over
// the phases' start times and the end, the way a caller walks one schedule;
// the tests check RunTimes through it.
func runPhases(ctx context.Context, s *Schedule, start time.Time, onPhase func(Switch)) error {
	var phases []Phase
	var starts []time.Duration
	for i := range s.Len() {
		phases = append(phases, s.Phase(i))
		starts = append(starts, s.Start(i))
	}
	starts = append(starts, s.Duration())
	times := make([]time.Time, len(starts))
	for i, off := range starts {
		times[i] = start.Add(off)
	}
	return RunTimes(ctx, times, func(i int, now time.Time) {
		sw := Switch{Index: i, Due: times[i], Now: now}
		if i < len(phases) {
			sw.Phase = phases[i]
		}
		onPhase(sw)
	})
}
