package main

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/internal/field"
	"github.com/cbload/cbload/scenario"
)

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
	// file is where the scenario's values came from, once load has read
	// it: errors found later about them name the file's line.
	file *ciOptions
}

// inFile names the scenario file's line in err when err is about a value
// the file gave (ciOptions.inFile).
func (o *scheduleOptions) inFile(err error) error {
	if o.file == nil {
		return err
	}
	return o.file.inFile(err)
}

//go:embed helptext/scheduleHelp.txt
var scheduleHelp string

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
// applies the scenario's seed and upstream (service time, jitter,
// capacity) to opts where their flags were not given. It returns nil when no schedule was asked for. It
// reads the file as cbload run does, through applyScenario, and builds the
// phases by run's rules, through schedule.
func (o *scheduleOptions) load(opts *serveOptions, now time.Time, stderr io.Writer) (*harness.UpstreamPlan, error) {
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
	ro.cfg.Upstream = harness.UpstreamConfig{ServiceTime: opts.serviceTime, Jitter: opts.jitter,
		Concurrency: opts.concurrency, Queue: opts.queue, HonorCancel: opts.honorCancel}
	if err := checkFlagCounts(ro); err != nil {
		return nil, err
	}
	if err := applyScenario(o.cmd, ro); err != nil {
		return nil, err
	}
	arms, err := o.armNames(ro)
	if err != nil {
		return nil, err
	}
	phases, err := schedule(ro)
	if err != nil {
		return nil, ro.ci.inFile(err)
	}
	plan, err := harness.NewUpstreamPlan(harness.Config{Phases: phases, Arms: arms, Trials: ro.cfg.Trials, ClientTimeout: ro.cfg.ClientTimeout}, o.exitAfter)
	if err != nil {
		return nil, ro.ci.inFile(asUsage(err))
	}
	if o.startAt != "" {
		t, err := time.Parse(time.RFC3339, o.startAt)
		if err != nil {
			return nil, flagErrorf("--start-at", " %q: want an RFC 3339 time like 2026-12-01T12:00:00Z", clipInput(o.startAt))
		}
		if err := plan.StartAt(t, now); err != nil {
			return nil, flagErrorf("--start-at", " %s %s", o.startAt, field.As(err).Detail)
		}
	}
	up := ro.cfg.Upstream
	opts.seed, opts.serviceTime, opts.jitter = ro.cfg.Seed, up.ServiceTime, up.Jitter
	opts.concurrency, opts.queue, opts.honorCancel = up.Concurrency, up.Queue, up.HonorCancel
	o.file = &ro.ci
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
	if fe := field.As(harness.CheckArmNames(names)); fe != nil {
		i, _ := fe.Index("arms")
		return nil, usagef("%s: %s", where(i), fe.Detail)
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
		case "seed", "service-time", "jitter", "upstream-concurrency", "upstream-queue", "upstream-honor-cancel", "trials", "client-timeout", "target":
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

// serveSchedule follows plan (see harness.UpstreamPlan.Follow) with s,
// printing each switch to stdout, and returns when ctx is done (nil), or
// when the schedule ends if the plan says to exit then (nil). Canceled
// before the schedule has ended, it returns an exitInterrupted error. A
// nil plan waits for ctx alone.
func serveSchedule(ctx context.Context, plan *harness.UpstreamPlan, s *faultserver.Server, stdout io.Writer) error {
	if plan == nil {
		<-ctx.Done()
		return nil
	}
	err := plan.Follow(ctx, s, stdout)
	var ie *harness.ScheduleInterrupted
	if errors.As(err, &ie) {
		return withCode(exitInterrupted, err)
	}
	return err
}
