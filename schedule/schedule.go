// Package schedule is a timed list of phases, each with the faults active
// during it, and a runner that walks the list by the clock: the faults of
// `cbload serve --phases` or `--scenario`, switched at the offsets the
// phases give from a start time.
//
// A Schedule is immutable once built with New, so one may be shared.
// RunTimes walks an ascending list of wall-clock times — a schedule's phase
// starts, or the switches of a whole run, every arm run's phases one after
// another, as serve uses it — calling back at each; what a switch does (set
// a fault server's faults, print a line) is up to the caller.
package schedule

import (
	"context"
	"fmt"
	"time"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/internal/field"
)

// Limits on a schedule; New refuses more, and is the one check of them:
// harness.Config.Validate builds the run's schedule with New, and a
// scenario file's phases are held to them there (scenario.MaxDuration is
// MaxDuration), so a file that `cbload run` takes is one serve takes too.
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
		return nil, field.Invalid("phases", "phases", "need at least one phase")
	case len(phases) > MaxPhases:
		return nil, field.Invalid("phases", "phases", "%d phases; the limit is %d", len(phases), MaxPhases)
	}
	s := &Schedule{phases: make([]Phase, len(phases)), starts: make([]time.Duration, len(phases)+1)}
	names := map[string]bool{}
	var at time.Duration
	for i, p := range phases {
		switch {
		case p.Name == "":
			return nil, field.Invalid(fmt.Sprintf("phases[%d]", i), fmt.Sprintf("phases[%d].name", i), "must not be empty")
		case names[p.Name]:
			return nil, field.Invalid(fmt.Sprintf("phases[%d]", i), fmt.Sprintf("phases[%d].name", i), "%q is used twice; phase names must be unique", p.Name)
		case p.Duration <= 0:
			return nil, field.Invalid(fmt.Sprintf("phases[%d]", i), fmt.Sprintf("phases[%d] (%s)", i, p.Name), "duration %v: want a positive duration like 5s", p.Duration)
		case p.Duration > MaxDuration-at:
			return nil, field.Invalid(fmt.Sprintf("phases[%d]", i), fmt.Sprintf("phases[%d] (%s)", i, p.Name), "duration %v makes the schedule longer than the limit of %v per arm", p.Duration, MaxDuration)
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
