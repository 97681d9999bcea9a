package harness

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/schedule"
)

// UpstreamPlan is a checked schedule for an upstream that runs on its own
// (cbload serve) and when to start it: the phases of one arm, and the run
// they are for, whose every arm run (each arm once per trial) it follows by
// the rule a run's arms start by (Config.ArmStart).
type UpstreamPlan struct {
	Schedule *schedule.Schedule // one arm's phases
	// Run is the run the schedule is for: its Phases, Arms (the targets'
	// names; one unnamed arm, "", when none were given), Trials and
	// ClientTimeout, which set when each arm run starts.
	Run       Config
	Named     bool      // the arms have names
	Start     time.Time // zero: at launch
	ExitAfter bool      // Follow returns when the schedule ends
}

// ScheduleInterrupted is Follow's error when ctx ended before the schedule
// did.
type ScheduleInterrupted struct {
	// Where is where the schedule stood; "" before it started.
	Where string
}

func (e *ScheduleInterrupted) Error() string {
	if e.Where == "" {
		return "interrupted before the schedule started"
	}
	return fmt.Sprintf("interrupted in %s; the schedule did not finish", e.Where)
}

// changes returns every switch of the plan started at start: the run's
// UpstreamSchedule, the one the shards of a run with that start time align
// their arms on.
func (p *UpstreamPlan) changes(start time.Time) []FaultChange {
	c := p.Run
	c.StartAt = start
	return c.UpstreamSchedule()
}

// Total returns how long the whole schedule lasts, from the first arm
// run's start to the last one's end.
func (p *UpstreamPlan) Total() time.Duration {
	epoch := time.Unix(0, 0) // any time but the zero one, which means none
	ch := p.changes(epoch)
	return ch[len(ch)-1].At.Sub(epoch)
}

// runs returns the number of arm runs: every arm once per trial.
func (p *UpstreamPlan) runs() int { return len(p.Run.Arms) * p.Run.Trials }

// armLabel names the arm run of c, like "arm 2/4 no-breaker trial 1/2 ",
// with a trailing space; empty for a plan of one unnamed arm run.
func (p *UpstreamPlan) armLabel(c FaultChange) string {
	if p.runs() == 1 && !p.Named {
		return ""
	}
	l := fmt.Sprintf("arm %d/%d", c.Run+1, p.runs())
	if p.Named {
		l += " " + c.Arm
	}
	if p.Run.Trials > 1 {
		l += fmt.Sprintf(" trial %d/%d", c.Trial+1, p.Run.Trials)
	}
	return l + " "
}

// where says where in the schedule c is: a phase of an arm run, or the
// healthy pause after one.
func (p *UpstreamPlan) where(c FaultChange) string {
	n := p.Schedule.Len()
	if c.Index == n {
		return "the healthy pause after " + strings.TrimSpace(p.armLabel(c))
	}
	return fmt.Sprintf("%sphase %d/%d %s", p.armLabel(c), c.Index+1, n, c.Phase)
}

// Follow runs the plan against s, printing each switch to stdout, and
// returns when ctx is done (nil), or when the schedule ends if the plan
// says to exit then (nil). Canceled before the schedule has ended, it
// returns a *ScheduleInterrupted.
func (plan *UpstreamPlan) Follow(ctx context.Context, s *faultserver.Server, stdout io.Writer) error {
	start := plan.Start
	if start.IsZero() {
		start = time.Now()
	}
	changes := plan.changes(start)
	last := len(changes) - 1
	when := "starting at launch"
	switch late := time.Since(start); {
	case plan.Start.IsZero():
	case late > 0:
		// The run joins where the clock stands; say so once, here.
		i := 0
		for i < last && !changes[i+1].At.After(start.Add(late)) {
			i++
		}
		when = fmt.Sprintf("started at %s; joined %v late, in %s", start.UTC().Format(time.RFC3339Nano), late.Round(100*time.Millisecond), plan.where(changes[i]))
	default:
		when = fmt.Sprintf("starting at %s (in %v); healthy until then", start.UTC().Format(time.RFC3339), (-late).Round(time.Second))
	}
	fmt.Fprintf(stdout, "  schedule  %s, %s\n", plan.describe(), when)
	phase := "" // where the schedule stands, for the interrupted message
	// checkPlanFaults has checked every phase's faults, so a failed switch
	// is a bug: it stops the schedule rather than leave the wrong faults on.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var setErr error
	times := make([]time.Time, len(changes))
	for i, c := range changes {
		times[i] = c.At
	}
	err := schedule.RunTimes(runCtx, times, func(i int, now time.Time) {
		c := changes[i]
		if err := s.SetFaults(c.Faults); err != nil {
			setErr = fmt.Errorf("%s: set faults: %w", plan.where(c), err)
			stop()
			return
		}
		at := fmt.Sprintf("%s  +%.3fs", now.UTC().Format("2006-01-02T15:04:05.000Z07:00"), now.Sub(start).Seconds())
		switch {
		case i == last:
			next := "serving healthy until stopped"
			if plan.ExitAfter {
				next = "exiting (--exit-after-schedule)"
			}
			fmt.Fprintf(stdout, "%s  schedule done  faults none; %s\n", at, next)
		case c.Index == plan.Schedule.Len():
			phase = plan.where(c)
			n := changes[i+1]
			fmt.Fprintf(stdout, "%s  %sdone  faults none; healthy until %sat %s\n", at, plan.armLabel(c), plan.armLabel(n), n.At.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
		default:
			phase = plan.where(c)
			fmt.Fprintf(stdout, "%s  %s  faults %s\n", at, phase, FaultNames(c.Faults))
		}
	})
	switch {
	case setErr != nil:
		return setErr
	case err != nil:
		return &ScheduleInterrupted{Where: phase}
	case plan.ExitAfter:
		return nil
	}
	<-ctx.Done()
	return nil
}

// describe says what the schedule is, for the schedule line: its phases
// and, for several arm runs, which, how far apart, and how long they take
// in all.
func (p *UpstreamPlan) describe() string {
	one := fmt.Sprintf("%d phases over %v", p.Schedule.Len(), p.Schedule.Duration())
	switch {
	case p.runs() == 1 && p.Named:
		return one + " for arm " + p.Run.Arms[0]
	case p.runs() == 1:
		return one
	}
	var names []string
	for _, c := range p.changes(time.Unix(0, 0)) { // any start: only the order matters
		if c.Index == 0 && p.Named {
			names = append(names, c.Arm)
		}
	}
	list := ""
	if p.Named {
		list = " (" + strings.Join(names, ", ") + ")"
	}
	return fmt.Sprintf("%s for each of %d arm runs%s, one every %v: %v in all", one, p.runs(), list, p.Run.ArmSpan(), p.Total())
}

// FaultNames lists specs as they would be given, or says there are none.
func FaultNames(specs []faultserver.Spec) string {
	if len(specs) == 0 {
		return "none"
	}
	names := make([]string, len(specs))
	for i, f := range specs {
		names[i] = f.String()
	}
	return strings.Join(names, "  ")
}

// CheckFaults checks, before anything starts, that the server cfg
// configures can take every phase's faults (within the active-fault limit,
// no slowdown in proxy mode), so that no switch fails halfway through the
// schedule. The error names the first phase and fault it refuses.
func (p *UpstreamPlan) CheckFaults(cfg faultserver.Config) error {
	n := p.Schedule.Len()
	for i := range n {
		ph := p.Schedule.Phase(i)
		cfg.Faults = ph.Faults
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("phase %d/%d %s: %w", i+1, n, ph.Name, err)
		}
	}
	return nil
}
