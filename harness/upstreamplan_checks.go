package harness

import (
	"fmt"
	"slices"
	"time"

	"github.com/cbload/cbload/internal/field"
	"github.com/cbload/cbload/internal/printable"
	"github.com/cbload/cbload/schedule"
)

// MaxStartAhead is how far ahead a run (--start-at) or an UpstreamPlan may
// start: further is a typo, and a process waiting a day for it looks hung. A
// plan's start in the past joins the schedule where the clock stands, as long as
// the schedule has not ended: a serve restarted during the run (a
// Kubernetes pod, say) takes up the same schedule again.
const MaxStartAhead = 24 * time.Hour

// NewUpstreamPlan returns the plan of one upstream that follows run on
// its own (cbload serve): run's Phases as its schedule, for run's Arms
// (the targets' names; none: one unnamed arm), Trials and ClientTimeout.
// It starts at launch unless StartAt says otherwise; exitAfter says
// Follow returns when the schedule ends. An error is a *field.Error: run's
// Trials or ClientTimeout out of range (quoting the value), or one naming
// the phase: a fault for a named upstream (the plan drives one), or a
// schedule that schedule.New refuses.
func NewUpstreamPlan(run Config, exitAfter bool) (*UpstreamPlan, error) {
	switch {
	case run.Trials < 1 || run.Trials > MaxTrials:
		return nil, field.InvalidValue("trials", "--trials", "%d: want 1 to %d, the run's --trials", run.Trials, MaxTrials)
	case run.ClientTimeout <= 0 || run.ClientTimeout > MaxTimeout:
		return nil, field.InvalidValue("load.client_timeout", "--client-timeout", "%v: want a positive duration up to %v like 3s, the run's --client-timeout", run.ClientTimeout, MaxTimeout)
	}
	ps := make([]schedule.Phase, len(run.Phases))
	for i, p := range run.Phases {
		if len(p.UpstreamFaults) > 0 {
			return nil, phaseInvalid(i, p, "fault %s: serve runs one upstream; faults named NAME=SPEC are for cbload run --upstream NAME=ADDR", p.FaultStrings()[len(p.Faults)])
		}
		ps[i] = schedule.Phase{Name: p.Name, Duration: p.Duration, Faults: p.Faults}
	}
	s, err := schedule.New(ps)
	if err != nil {
		return nil, err
	}
	plan := &UpstreamPlan{Schedule: s, ExitAfter: exitAfter, Named: len(run.Arms) > 0,
		Run: Config{Phases: run.Phases, Arms: run.Arms, Trials: run.Trials, ClientTimeout: run.ClientTimeout}}
	if !plan.Named {
		plan.Run.Arms = []string{""}
	}
	return plan, nil
}

// StartAt makes the plan start at t, seen at now: a time to come, up to
// MaxStartAhead, or one in the past the schedule has not ended by. An
// error is a *field.Error at start_at whose Detail follows the time.
func (p *UpstreamPlan) StartAt(t, now time.Time) error {
	// Compared as times, not as the durations between them, which
	// saturate at about 292 years (year 9999 is not "2562047h ahead").
	switch total := p.Total(); {
	case !t.After(now.Add(-total)):
		return field.Invalid("start_at", "start_at", "is %s in the past: the %v schedule is over; want a time to come, or one less than %v ago to join it", printable.RoughSpan(now, t), total, total)
	case t.After(now.Add(MaxStartAhead)):
		return field.Invalid("start_at", "start_at", "is %s ahead; the limit is %v", printable.RoughSpan(now, t), MaxStartAhead)
	}
	p.Start = t
	return nil
}

// CheckArmNames checks the names of the arms of the run a plan is for
// (Config.Targets' names, in order): each a valid target name, each once.
// An error is a *field.Error at arms[i], its Detail alone the message, for
// the caller to say where the list came from.
func CheckArmNames(names []string) error {
	for i, n := range names {
		var detail string
		switch {
		case n == "":
			detail = "an empty name; want the run's target names, like breaker,no-breaker"
		case !ValidTargetName(n):
			detail = fmt.Sprintf("%q: want a target name, a letter followed by letters, digits, _ or -", n)
		case slices.Index(names, n) < i:
			detail = fmt.Sprintf("%q is named twice; want each of the run's target names once", n)
		default:
			continue
		}
		return &field.Error{Paths: []string{fmt.Sprintf("arms[%d]", i)}, Detail: detail}
	}
	return nil
}
