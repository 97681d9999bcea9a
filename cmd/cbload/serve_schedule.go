package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/internal/field"
	"github.com/cbload/cbload/internal/printable"
	"github.com/cbload/cbload/scenario"
	sched "github.com/cbload/cbload/schedule"
)

// maxStartAhead is how far ahead --start-at may be. A start in the past
// joins the schedule where the clock stands, as long as the schedule has
// not ended: a serve restarted during the run (a Kubernetes pod, say)
// takes up the same schedule again.
const maxStartAhead = 24 * time.Hour

// scheduleOptions holds the flags of `cbload serve` that run a timed fault
// schedule.
type scheduleOptions struct {
	scenario      string
	phases        string
	startAt       string
	exitAfter     bool
	arms          []string       // --arms: the run's arms (its targets' names)
	trials        int            // --trials, as the run's
	clientTimeout time.Duration  // --client-timeout, as the run's
	cmd           *cobra.Command // for which flags were given
}

// servePlan is a checked schedule and when to start it: the phases of one
// arm, and the run they are for, whose every arm run (each arm once per
// trial) serve follows by the same rule as cbload run --start-at.
type servePlan struct {
	sched *sched.Schedule // one arm's phases
	// run is the run the schedule is for: its Phases, Arms (the targets'
	// names; one unnamed arm when none were given), Trials and
	// ClientTimeout, which set when each arm run starts.
	run       harness.Config
	named     bool      // the arms have names, from --arms or the scenario's targets
	start     time.Time // zero: at launch
	exitAfter bool
}

// changes returns every switch of the plan started at start: the run's
// UpstreamSchedule, the one the shards of a run with that start time align
// their arms on.
func (p *servePlan) changes(start time.Time) []harness.FaultChange {
	c := p.run
	c.StartAt = start
	return c.UpstreamSchedule()
}

// total returns how long the whole schedule lasts, from the first arm
// run's start to the last one's end.
func (p *servePlan) total() time.Duration {
	epoch := time.Unix(0, 0) // any time but the zero one, which means none
	ch := p.changes(epoch)
	return ch[len(ch)-1].At.Sub(epoch)
}

// runs returns the number of arm runs: every arm once per trial.
func (p *servePlan) runs() int { return len(p.run.Arms) * p.run.Trials }

// armLabel names the arm run of c, like "arm 2/4 no-breaker trial 1/2 ",
// with a trailing space; empty for a plan of one unnamed arm run.
func (p *servePlan) armLabel(c harness.FaultChange) string {
	if p.runs() == 1 && !p.named {
		return ""
	}
	l := fmt.Sprintf("arm %d/%d", c.Run+1, p.runs())
	if p.named {
		l += " " + c.Arm
	}
	if p.run.Trials > 1 {
		l += fmt.Sprintf(" trial %d/%d", c.Trial+1, p.run.Trials)
	}
	return l + " "
}

// where says where in the schedule c is: a phase of an arm run, or the
// healthy pause after one.
func (p *servePlan) where(c harness.FaultChange) string {
	n := p.sched.Len()
	if c.Index == n {
		return "the healthy pause after " + strings.TrimSpace(p.armLabel(c))
	}
	return fmt.Sprintf("%sphase %d/%d %s", p.armLabel(c), c.Index+1, n, c.Phase)
}

const scheduleHelp = `Run a schedule (instead of faults active from the start):
  --phases 5s,15s,10s --fault SPEC  baseline, fault and recovery, the --fault
                       faults active in the middle one
  --scenario FILE      the phases (repeat groups included) and faults of the
                       file cbload run takes; its seed, upstream.service_time,
                       upstream.jitter, trials, load.client_timeout and the
                       names of its targets apply; what configures run only
                       (the rest of load, gateway, breaker, arms, thresholds,
                       tracing, output, upstream.addr, …) is ignored, named in
                       one line on stderr; --fault replaces the faults of its
                       fault phases, --phases its phases
  --arms A,B --trials N --client-timeout D  the run the schedule is for, as
                       cbload run has them: its targets' names in order
                       (default: the scenario's targets; without any, one
                       arm), its trials (default 1) and client timeout
                       (default 3s). Serve follows every arm run — each arm
                       once per trial, interleaved A B, B A — by the run's
                       rule: arm run k starts at the start + k × (schedule +
                       client timeout + 1s), healthy in between
  --start-at TIME      start at this RFC 3339 time, like 2026-12-01T12:00:00Z,
                       at most 24h ahead (default: at launch); a time past
                       joins the schedule where the clock stands (a restarted
                       serve takes it up again, saying how late and in which
                       phase); once the whole schedule is over, it is an error
  --exit-after-schedule  exit 0 after the last phase (default: keep serving)
Before the start, between arm runs and after the last phase the upstream is
healthy. Each switch prints one line on stdout: the time (UTC), the offset
from the start, the arm run (when named or several), the phase and its
faults. A PUT or DELETE on the control API's /faults holds until the next
switch, which sets that phase's faults. SIGINT or SIGTERM before the
schedule has ended exits 130 (after it, 0).`

// addScheduleFlags registers the schedule flags on serve's cmd and adds
// their help to its long text and examples.
func addScheduleFlags(cmd *cobra.Command, o *scheduleOptions) {
	o.cmd = cmd
	f := cmd.Flags()
	f.StringVar(&o.scenario, "scenario", "", "run the phases and faults of this scenario file (the one cbload run takes)")
	f.StringVar(&o.phases, "phases", "", "run baseline,fault,recovery phases of these durations, like 5s,15s,10s, the --fault faults in the middle one")
	f.StringVar(&o.startAt, "start-at", "", "start the schedule at this RFC 3339 time, like 2026-12-01T12:00:00Z (default: at launch)")
	f.BoolVar(&o.exitAfter, "exit-after-schedule", false, "exit 0 when the schedule ends (default: keep serving, healthy)")
	f.StringSliceVar(&o.arms, "arms", nil, "the run's arms in order, the names of its targets, like breaker,no-breaker: the schedule runs once for each (default: the scenario's targets, else once)")
	f.IntVar(&o.trials, "trials", 1, "the run's --trials: every arm runs this many times, interleaved A B, B A")
	f.DurationVar(&o.clientTimeout, "client-timeout", harness.DefaultConfig().ClientTimeout, "the run's --client-timeout, part of the pause between arm runs")
	cmd.Long += "\n\n" + scheduleHelp
	cmd.Example += `
  cbload serve --phases 5s,15s,10s --fault latency:1s
  cbload serve --scenario examples/flapping.yaml --start-at 2026-12-01T12:00:00Z --exit-after-schedule
  cbload serve --phases 5s,15s,10s --fault latency:1s --arms breaker,no-breaker --start-at 2026-12-01T12:00:00Z`
}

// load builds the schedule from --scenario, --phases and --fault, and
// applies the scenario's seed, service time and jitter to opts where their
// flags were not given. It returns nil when no schedule was asked for. It
// reads the file as cbload run does, through applyScenario, and builds the
// phases by run's rules, through schedule.
func (o *scheduleOptions) load(opts *serveOptions, now time.Time, stderr io.Writer) (*servePlan, error) {
	flags := o.cmd.Flags()
	if o.scenario == "" && !flags.Changed("phases") {
		switch {
		case o.startAt != "":
			return nil, flagErrorf("--start-at", ": there is no schedule to start; give --phases or --scenario")
		case o.exitAfter:
			return nil, flagErrorf("--exit-after-schedule", ": there is no schedule; give --phases or --scenario")
		}
		for _, name := range []string{"arms", "trials", "client-timeout"} {
			if flags.Changed(name) {
				return nil, flagErrorf("--"+name, ": describes the run a schedule is for, and there is no schedule; give --phases or --scenario")
			}
		}
		return nil, nil
	}
	ro := &runOptions{phases: o.phases, faults: opts.faults}
	if !flags.Changed("phases") {
		ro.phases = "5s,15s,10s" // run's default, for a file without phases
	}
	ro.ci.scenario = o.scenario
	ro.cfg.Seed = opts.seed
	ro.cfg.Trials, ro.cfg.ClientTimeout = o.trials, o.clientTimeout
	ro.cfg.Upstream = harness.UpstreamConfig{ServiceTime: opts.serviceTime, Jitter: opts.jitter}
	if err := checkFlagCounts(ro); err != nil {
		return nil, err
	}
	if err := applyScenario(o.cmd, ro); err != nil {
		return nil, err
	}
	// Checked here, where the error can name the file's line; serve checks
	// the flags' values.
	switch up := ro.cfg.Upstream; {
	case up.ServiceTime <= 0 && !flags.Changed("service-time"):
		return nil, ro.ci.inFile(flagErrorf("--service-time", " %v: want a positive duration like 2ms", up.ServiceTime))
	case up.Jitter < 0 && !flags.Changed("jitter"):
		return nil, ro.ci.inFile(flagErrorf("--jitter", " %v: want a duration of zero or more", up.Jitter))
	case ro.cfg.Trials < 1 || ro.cfg.Trials > harness.MaxTrials:
		return nil, ro.ci.inFile(flagErrorf("--trials", " %d: want 1 to %d, the run's --trials", ro.cfg.Trials, harness.MaxTrials))
	case ro.cfg.ClientTimeout <= 0 || ro.cfg.ClientTimeout > harness.MaxTimeout:
		return nil, ro.ci.inFile(flagErrorf("--client-timeout", " %v: want a positive duration up to %v like 3s, the run's --client-timeout", ro.cfg.ClientTimeout, harness.MaxTimeout))
	}
	arms, err := o.armNames(ro)
	if err != nil {
		return nil, err
	}
	phases, err := schedule(ro)
	if err != nil {
		return nil, ro.ci.inFile(err)
	}
	ps := make([]sched.Phase, len(phases))
	for i, p := range phases {
		// serve is one upstream: a fault for a named one has nowhere to go.
		if len(p.UpstreamFaults) > 0 {
			return nil, ro.ci.inFile(asUsage(field.Invalid(fmt.Sprintf("phases[%d]", i), fmt.Sprintf("phases[%d] (%s)", i, p.Name), "fault %s: serve runs one upstream; faults named NAME=SPEC are for cbload run --upstream NAME=ADDR", p.FaultStrings()[len(p.Faults)])))
		}
		ps[i] = sched.Phase{Name: p.Name, Duration: p.Duration, Faults: p.Faults}
	}
	s, err := sched.New(ps)
	switch {
	case err != nil && ro.ci.phasesFlag:
		return nil, flagErrorf("--phases", " %q: %v", o.phases, err)
	case err != nil:
		return nil, ro.ci.inFile(asUsage(err))
	}
	plan := &servePlan{sched: s, exitAfter: o.exitAfter, named: len(arms) > 0,
		run: harness.Config{Phases: phases, Arms: arms, Trials: ro.cfg.Trials, ClientTimeout: ro.cfg.ClientTimeout}}
	if !plan.named {
		plan.run.Arms = []string{""}
	}
	if o.startAt != "" {
		t, err := time.Parse(time.RFC3339, o.startAt)
		if err != nil {
			return nil, flagErrorf("--start-at", " %q: want an RFC 3339 time like 2026-12-01T12:00:00Z", clipInput(o.startAt))
		}
		// Compared as times, not as the durations between them, which
		// saturate at about 292 years (year 9999 is not "2562047h ahead").
		switch total := plan.total(); {
		case !t.After(now.Add(-total)):
			return nil, flagErrorf("--start-at", " %s is %s in the past: the %v schedule is over; want a time to come, or one less than %v ago to join it", o.startAt, printable.RoughSpan(now, t), total, total)
		case t.After(now.Add(maxStartAhead)):
			return nil, flagErrorf("--start-at", " %s is %s ahead; the limit is %v", o.startAt, printable.RoughSpan(now, t), maxStartAhead)
		}
		plan.start = t
	}
	opts.seed, opts.serviceTime, opts.jitter = ro.cfg.Seed, ro.cfg.Upstream.ServiceTime, ro.cfg.Upstream.Jitter
	if ignored := ignoredSections(ro.ci.fileFields); len(ignored) > 0 {
		fmt.Fprintf(stderr, "cbload serve: scenario %s: ignoring %s (they configure cbload run)\n", o.scenario, strings.Join(ignored, ", "))
	}
	return plan, nil
}

// armNames returns the arms of the run the schedule is for: --arms, else
// the names of the scenario's targets, else none (one unnamed arm). Each
// name must be given once: cbload run refuses a repeated target name.
func (o *scheduleOptions) armNames(ro *runOptions) ([]string, error) {
	names, where := o.arms, func(int) string { return fmt.Sprintf("--arms %q", strings.Join(o.arms, ",")) }
	if !o.cmd.Flags().Changed("arms") {
		names = nil
		for _, t := range ro.ci.fileTargets {
			names = append(names, t.Name)
		}
		where = func(i int) string {
			return fmt.Sprintf("scenario %s: line %d: targets[%d].name", ro.ci.scenarioName, ro.ci.fileTargets[i].Line, i)
		}
	}
	switch {
	case o.cmd.Flags().Changed("arms") && len(names) == 0:
		return nil, flagErrorf("--arms", ": empty; want the run's target names in order, like breaker,no-breaker")
	case len(names) > scenario.MaxTargets:
		return nil, usagef("%s: %d arms; the limit is %d, that of targets", where(scenario.MaxTargets), len(names), scenario.MaxTargets)
	}
	for i, n := range names {
		switch {
		case n == "":
			return nil, usagef("%s: an empty name; want the run's target names, like breaker,no-breaker", where(i))
		case !harness.ValidTargetName(n):
			return nil, usagef("%s: %q: want a target name, a letter followed by letters, digits, _ or -", where(i), n)
		case slices.Index(names, n) < i:
			return nil, usagef("%s: %q is named twice; want each of the run's target names once", where(i), n)
		}
	}
	return names, nil
}

// ignoredSections names, in file order, what the scenario file set that
// serve does not use: a section, or a field of the upstream or load
// section, which serve uses in part (the targets only for their names).
func ignoredSections(fields map[string]fileField) []string {
	var used []fileField
	for flag, ff := range fields {
		switch flag {
		case "seed", "service-time", "jitter", "trials", "client-timeout", "target":
			continue
		}
		section, _, _ := strings.Cut(ff.path, ".")
		if section != "upstream" && section != "load" {
			ff.path = section
		}
		used = append(used, ff)
	}
	slices.SortFunc(used, func(a, b fileField) int { return cmp.Or(cmp.Compare(a.line, b.line), cmp.Compare(a.path, b.path)) })
	var out []string
	for _, ff := range used {
		if !slices.Contains(out, ff.path) {
			out = append(out, ff.path)
		}
	}
	return out
}

// checkPlanFaults checks, before anything starts, that the server cfg
// configures can take every phase's faults (within the active-fault limit,
// no slowdown in proxy mode), so that no switch fails halfway through a
// schedule. The error names the first phase and fault it refuses.
func checkPlanFaults(plan *servePlan, cfg faultserver.Config) error {
	if plan == nil {
		return nil
	}
	n := plan.sched.Len()
	for i := range n {
		p := plan.sched.Phase(i)
		cfg.Faults = p.Faults
		if err := cfg.Validate(); err != nil {
			return usagef("phase %d/%d %s: %v", i+1, n, p.Name, err)
		}
	}
	return nil
}

// serveSchedule runs plan against s, printing each switch to stdout, and
// returns when ctx is done (nil), or when the schedule ends if the plan
// says to exit then (nil). Canceled before the schedule has ended, it
// returns an exitInterrupted error. A nil plan waits for ctx alone.
func serveSchedule(ctx context.Context, plan *servePlan, s *faultserver.Server, stdout io.Writer) error {
	if plan == nil {
		<-ctx.Done()
		return nil
	}
	start := plan.start
	if start.IsZero() {
		start = time.Now()
	}
	changes := plan.changes(start)
	last := len(changes) - 1
	when := "starting at launch"
	switch late := time.Since(start); {
	case plan.start.IsZero():
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
	err := sched.RunTimes(runCtx, times, func(i int, now time.Time) {
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
			if plan.exitAfter {
				next = "exiting (--exit-after-schedule)"
			}
			fmt.Fprintf(stdout, "%s  schedule done  faults none; %s\n", at, next)
		case c.Index == plan.sched.Len():
			phase = plan.where(c)
			n := changes[i+1]
			fmt.Fprintf(stdout, "%s  %sdone  faults none; healthy until %sat %s\n", at, plan.armLabel(c), plan.armLabel(n), n.At.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
		default:
			phase = plan.where(c)
			fmt.Fprintf(stdout, "%s  %s  faults %s\n", at, phase, faultNames(c.Faults))
		}
	})
	switch {
	case setErr != nil:
		return setErr
	case err != nil && phase == "":
		return withCode(exitInterrupted, fmt.Errorf("interrupted before the schedule started"))
	case err != nil:
		return withCode(exitInterrupted, fmt.Errorf("interrupted in %s; the schedule did not finish", phase))
	case plan.exitAfter:
		return nil
	}
	<-ctx.Done()
	return nil
}

// describe says what the schedule is, for the schedule line: its phases
// and, for several arm runs, which, how far apart, and how long they take
// in all.
func (p *servePlan) describe() string {
	one := fmt.Sprintf("%d phases over %v", p.sched.Len(), p.sched.Duration())
	switch {
	case p.runs() == 1 && p.named:
		return one + " for arm " + p.run.Arms[0]
	case p.runs() == 1:
		return one
	}
	var names []string
	for _, c := range p.changes(time.Unix(0, 0)) { // any start: only the order matters
		if c.Index == 0 && p.named {
			names = append(names, c.Arm)
		}
	}
	list := ""
	if p.named {
		list = " (" + strings.Join(names, ", ") + ")"
	}
	return fmt.Sprintf("%s for each of %d arm runs%s, one every %v: %v in all", one, p.runs(), list, p.run.ArmSpan(), p.total())
}

// faultNames lists specs as they would be given, or says there are none.
func faultNames(specs []faultserver.Spec) string {
	if len(specs) == 0 {
		return "none"
	}
	names := make([]string, len(specs))
	for i, f := range specs {
		names[i] = f.String()
	}
	return strings.Join(names, "  ")
}
