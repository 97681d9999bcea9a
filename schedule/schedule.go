// Package schedule is a timed list of phases, each with the faults active
// during it, and a runner that walks the list by the clock: the faults of
// `cbload serve --phases` or `--scenario`, switched at the offsets the
// phases give from a start time.
//
// A Schedule is immutable once built with New, so one may be shared. Run
// calls back at each switch; what a switch does (set a fault server's
// faults, print a line) is up to the caller. RunTimes walks any ascending
// list of wall-clock times the same way: serve uses it for the switches of
// a whole run, every arm run's phases one after another.
package schedule

import (
	"context"
	"fmt"
	"time"

	"github.com/cbload/cbload/faultserver"
)

// Limits on a schedule; New refuses more. They are those of a scenario
// file's phases (scenario.MaxPhases and scenario.MaxDuration), so a file
// that `cbload run` takes is one serve takes too.
const (
	// MaxPhases is the most phases a schedule can have.
	MaxPhases = 200
	// MaxDuration is the longest schedule, the sum of its phases' durations.
	MaxDuration = time.Hour
)

// Phase is one stretch of a schedule: its name, how long it lasts and the
// faults active during it (none: healthy).
type Phase struct {
	Name     string
	Duration time.Duration
	Faults   []faultserver.Spec
}

// Schedule is a checked list of phases. Build one with New.
type Schedule struct {
	phases []Phase
	starts []time.Duration // starts[i] is phase i's offset; starts[len] is the end
}

// New checks phases and returns them as a Schedule: at least one phase and
// at most MaxPhases, each with a unique non-empty name and a positive
// duration, lasting MaxDuration at most in all. An error names the phase,
// like "phases[1] (fault): ...".
func New(phases []Phase) (*Schedule, error) {
	switch {
	case len(phases) == 0:
		return nil, fmt.Errorf("phases: need at least one phase")
	case len(phases) > MaxPhases:
		return nil, fmt.Errorf("phases: %d phases; the limit is %d", len(phases), MaxPhases)
	}
	s := &Schedule{phases: make([]Phase, len(phases)), starts: make([]time.Duration, len(phases)+1)}
	names := map[string]bool{}
	var at time.Duration
	for i, p := range phases {
		switch {
		case p.Name == "":
			return nil, fmt.Errorf("phases[%d]: the name must not be empty", i)
		case names[p.Name]:
			return nil, fmt.Errorf("phases[%d] (%s): the name is used twice; phase names must be unique", i, p.Name)
		case p.Duration <= 0:
			return nil, fmt.Errorf("phases[%d] (%s): duration %v: want a positive duration like 5s", i, p.Name, p.Duration)
		case p.Duration > MaxDuration-at:
			return nil, fmt.Errorf("phases[%d] (%s): duration %v makes the schedule longer than the limit of %v", i, p.Name, p.Duration, MaxDuration)
		}
		names[p.Name] = true
		p.Faults = append([]faultserver.Spec(nil), p.Faults...)
		s.phases[i], s.starts[i] = p, at
		at += p.Duration
	}
	s.starts[len(phases)] = at
	return s, nil
}

// Len returns the number of phases.
func (s *Schedule) Len() int { return len(s.phases) }

// Phase returns phase i, for 0 ≤ i < Len. Its Faults must not be modified.
func (s *Schedule) Phase(i int) Phase { return s.phases[i] }

// Start returns the offset from the schedule's start at which phase i
// begins; Start(Len()) is the schedule's end.
func (s *Schedule) Start(i int) time.Duration { return s.starts[i] }

// Duration returns the schedule's length, the sum of its phases' durations.
func (s *Schedule) Duration() time.Duration { return s.starts[len(s.phases)] }

// At returns the index of the phase active at offset off from the start:
// a phase is active from its start up to, not including, the next one's.
// It returns -1 before the start and Len() from the end on.
func (s *Schedule) At(off time.Duration) int {
	if off < 0 {
		return -1
	}
	for i := range s.phases {
		if off < s.starts[i+1] {
			return i
		}
	}
	return len(s.phases)
}

// Switch is one call of Run's callback: a phase begins, or the schedule
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
	// or a little later, or later still when Run joined the phase after it
	// had begun.
	Now time.Time
}

// End reports whether the switch is the schedule's end.
func (sw Switch) End() bool { return sw.Phase.Name == "" }

// Run walks the schedule from start: it waits until start if that is in the
// future, then calls onPhase as each phase begins and once more, with an
// End switch, when the last one ends, and returns nil. Each switch is due
// at start plus its offset, so a late callback does not delay later ones.
// A start in the past joins the schedule where the clock stands: onPhase is
// called at once for the phase active now, and phases already over are
// skipped (so is every phase a stalled process slept through). Run returns
// ctx's error as soon as ctx is done. onPhase runs on Run's goroutine and
// should return quickly: the next switch waits for it. Run is RunTimes over
// the phases' start times and the end.
func (s *Schedule) Run(ctx context.Context, start time.Time, onPhase func(Switch)) error {
	times := make([]time.Time, len(s.starts))
	for i, off := range s.starts {
		times[i] = start.Add(off)
	}
	return RunTimes(ctx, times, func(i int, now time.Time) {
		sw := Switch{Index: i, Due: times[i], Now: now}
		if i < len(s.phases) {
			sw.Phase = s.phases[i]
		}
		onPhase(sw)
	})
}

// RunTimes calls on(i, now) when the clock reaches times[i], for each i in
// order, and returns nil after the last; times must be ascending. Each call
// is due at its own time, so a late callback does not delay later ones. A
// time already past is joined: on is called at once for the last time not
// after now, and the earlier ones are skipped (so is every time a stalled
// process slept through). RunTimes returns ctx's error as soon as ctx is
// done. on runs on RunTimes's goroutine and should return quickly: the next
// call waits for it.
func RunTimes(ctx context.Context, times []time.Time, on func(i int, now time.Time)) error {
	if len(times) == 0 {
		return nil
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for next := 0; ; next++ {
		due := times[next]
		// The loop, not the timer alone, decides: a due time read from a
		// wall clock can be reached later than the timer's monotonic wait
		// when the wall clock is stepped back.
		for d := time.Until(due); d > 0; d = time.Until(due) {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		now := time.Now()
		for next+1 < len(times) && !times[next+1].After(now) {
			next++
		}
		on(next, now)
		if next == len(times)-1 {
			return nil
		}
	}
}
