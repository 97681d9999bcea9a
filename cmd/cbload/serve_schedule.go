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
	scenario  string
	phases    string
	startAt   string
	exitAfter bool
	cmd       *cobra.Command // for which flags were given
}

// servePlan is a checked schedule and when to start it.
type servePlan struct {
	sched     *sched.Schedule
	start     time.Time // zero: at launch
	exitAfter bool
}

const scheduleHelp = `Run a schedule (instead of faults active from the start):
  --phases 5s,15s,10s --fault SPEC  baseline, fault and recovery, the --fault
                       faults active in the middle one
  --scenario FILE      the phases (repeat groups included) and faults of the
                       file cbload run takes; its seed, upstream.service_time
                       and upstream.jitter apply; what configures run only
                       (load, gateway, breaker, arms, targets, thresholds,
                       tracing, output, upstream.addr) is ignored, named in
                       one line on stderr; --fault replaces the faults of its
                       fault phases, --phases its phases
  --start-at TIME      start at this RFC 3339 time, like 2026-12-01T12:00:00Z,
                       at most 24h ahead (default: at launch); a time past
                       joins the schedule where the clock stands (a restarted
                       serve takes it up again, saying how late and in which
                       phase); once the whole schedule is over, it is an error
  --exit-after-schedule  exit 0 after the last phase (default: keep serving)
Before the start and after the last phase the upstream is healthy. Each
switch prints one line on stdout: the time (UTC), the offset from the start,
the phase and its faults. A PUT or DELETE on the control API's /faults holds
until the next switch, which sets that phase's faults. SIGINT or SIGTERM
before the schedule has ended exits 130 (after it, 0).`

// addScheduleFlags registers the schedule flags on serve's cmd and adds
// their help to its long text and examples.
func addScheduleFlags(cmd *cobra.Command, o *scheduleOptions) {
	o.cmd = cmd
	f := cmd.Flags()
	f.StringVar(&o.scenario, "scenario", "", "run the phases and faults of this scenario file (the one cbload run takes)")
	f.StringVar(&o.phases, "phases", "", "run baseline,fault,recovery phases of these durations, like 5s,15s,10s, the --fault faults in the middle one")
	f.StringVar(&o.startAt, "start-at", "", "start the schedule at this RFC 3339 time, like 2026-12-01T12:00:00Z (default: at launch)")
	f.BoolVar(&o.exitAfter, "exit-after-schedule", false, "exit 0 when the schedule ends (default: keep serving, healthy)")
	cmd.Long += "\n\n" + scheduleHelp
	cmd.Example += `
  cbload serve --phases 5s,15s,10s --fault latency:1s
  cbload serve --scenario examples/flapping.yaml --start-at 2026-12-01T12:00:00Z --exit-after-schedule`
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
			return nil, usagef("--start-at: there is no schedule to start; give --phases or --scenario")
		case o.exitAfter:
			return nil, usagef("--exit-after-schedule: there is no schedule; give --phases or --scenario")
		}
		return nil, nil
	}
	ro := &runOptions{phases: o.phases, faults: opts.faults}
	if !flags.Changed("phases") {
		ro.phases = "5s,15s,10s" // run's default, for a file without phases
	}
	ro.ci.scenario = o.scenario
	ro.cfg.Seed = opts.seed
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
		return nil, ro.ci.inFile(usagef("--service-time %v: want a positive duration like 2ms", up.ServiceTime))
	case up.Jitter < 0 && !flags.Changed("jitter"):
		return nil, ro.ci.inFile(usagef("--jitter %v: want a duration of zero or more", up.Jitter))
	}
	phases, err := schedule(ro)
	if err != nil {
		return nil, ro.ci.inFile(err)
	}
	ps := make([]sched.Phase, len(phases))
	for i, p := range phases {
		// serve is one upstream: a fault for a named one has nowhere to go.
		if len(p.UpstreamFaults) > 0 {
			return nil, ro.ci.inFile(usagef("phases[%d] (%s): fault %s: serve runs one upstream; faults named NAME=SPEC are for cbload run --upstream NAME=ADDR", i, p.Name, p.FaultStrings()[len(p.Faults)]))
		}
		ps[i] = sched.Phase{Name: p.Name, Duration: p.Duration, Faults: p.Faults}
	}
	s, err := sched.New(ps)
	switch {
	case err != nil && ro.ci.phasesFlag:
		return nil, usagef("--phases %q: %v", o.phases, err)
	case err != nil:
		return nil, ro.ci.inFile(usagef("%v", err))
	}
	plan := &servePlan{sched: s, exitAfter: o.exitAfter}
	if o.startAt != "" {
		t, err := time.Parse(time.RFC3339, o.startAt)
		if err != nil {
			return nil, usagef("--start-at %q: want an RFC 3339 time like 2026-12-01T12:00:00Z", o.startAt)
		}
		switch {
		case now.Sub(t) >= s.Duration():
			return nil, usagef("--start-at %s is %v in the past: the %v schedule is over; want a time to come, or one less than %v ago to join it", o.startAt, now.Sub(t).Round(time.Second), s.Duration(), s.Duration())
		case t.Sub(now) > maxStartAhead:
			return nil, usagef("--start-at %s is %v ahead; the limit is %v", o.startAt, t.Sub(now).Round(time.Second), maxStartAhead)
		}
		plan.start = t
	}
	opts.seed, opts.serviceTime, opts.jitter = ro.cfg.Seed, ro.cfg.Upstream.ServiceTime, ro.cfg.Upstream.Jitter
	if ignored := ignoredSections(ro.ci.fileFields); len(ignored) > 0 {
		fmt.Fprintf(stderr, "cbload serve: scenario %s: ignoring %s (they configure cbload run)\n", o.scenario, strings.Join(ignored, ", "))
	}
	return plan, nil
}

// ignoredSections names, in file order, what the scenario file set that
// serve does not use: a section, or a field of the upstream section, which
// serve uses in part.
func ignoredSections(fields map[string]fileField) []string {
	var used []fileField
	for flag, ff := range fields {
		switch flag {
		case "seed", "service-time", "jitter":
			continue
		}
		section, _, _ := strings.Cut(ff.path, ".")
		if section != "upstream" {
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
	n := plan.sched.Len()
	start := plan.start
	when := "starting at launch"
	switch late := time.Since(start); {
	case start.IsZero():
		start = time.Now()
	case late > 0:
		// Run joins the phase the clock stands in; say so once, here.
		i := min(plan.sched.At(late), n-1)
		when = fmt.Sprintf("started at %s; joined %v late, in phase %d/%d %s", start.UTC().Format(time.RFC3339Nano), late.Round(100*time.Millisecond), i+1, n, plan.sched.Phase(i).Name)
	default:
		when = fmt.Sprintf("starting at %s (in %v); healthy until then", start.UTC().Format(time.RFC3339), (-late).Round(time.Second))
	}
	fmt.Fprintf(stdout, "  schedule  %d phases over %v, %s\n", n, plan.sched.Duration(), when)
	phase := "" // the phase running, for the interrupted message
	// checkPlanFaults has checked every phase's faults, so a failed switch
	// is a bug: it stops the schedule rather than leave the wrong faults on.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var setErr error
	err := plan.sched.Run(runCtx, start, func(sw sched.Switch) {
		if err := s.SetFaults(sw.Phase.Faults); err != nil {
			setErr = fmt.Errorf("phase %d/%d %s: set faults: %w", sw.Index+1, n, sw.Phase.Name, err)
			stop()
			return
		}
		at := fmt.Sprintf("%s  +%.3fs", sw.Now.UTC().Format("2006-01-02T15:04:05.000Z07:00"), sw.Now.Sub(start).Seconds())
		if sw.End() {
			next := "serving healthy until stopped"
			if plan.exitAfter {
				next = "exiting (--exit-after-schedule)"
			}
			fmt.Fprintf(stdout, "%s  schedule done  faults none; %s\n", at, next)
			return
		}
		phase = fmt.Sprintf("phase %d/%d %s", sw.Index+1, n, sw.Phase.Name)
		fmt.Fprintf(stdout, "%s  %s  faults %s\n", at, phase, faultNames(sw.Phase.Faults))
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
