package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/internal/outfile"
	"github.com/cbload/cbload/reports"
	"github.com/cbload/cbload/scenario"
)

// ciOptions holds the flags of `cbload run` meant for CI: a scenario file,
// thresholds, JUnit output, the GitHub step summary, and a user's own
// service as the system under test.
type ciOptions struct {
	scenario        string
	thresholds      []string
	junit           string
	noStepSummary   bool
	targets         []string
	collateral      string
	upstreamAddr    string
	breakerStateURL string
	stateMetric     string // --breaker-state-metric
	stateMap        string // --breaker-state-map
	dryRun          bool
	allow           harness.AllowList // --allow-remote, parsed by runRun

	// Filled by applyScenario.
	fileThresholds []scenario.Threshold
	fileTargets    []scenario.Target
	filePhases     []harness.Phase
	filePhaseLines []int                // the line of each of filePhases
	fileFields     map[string]fileField // by flag name: the values the file set
	scenarioName   string
	description    string
	phasesFlag     bool // --phases was given
	faultsFlag     bool // --fault was given
	armsFlag       bool // --arms was given (or arms: in the file)
	collateralFlag bool // --collateral was given: it overrides every target's
	stateFlag      bool // --breaker-state-url was given: likewise

	abortOnFail bool // --abort-on-fail: every threshold stops the run once it cannot pass

	// Filled by applyCI.
	checks []reports.Threshold
	abort  []bool // by check: stop the run once it has failed and can no longer pass
	// arms and phases are the run's, for thresholds' paths.
	arms, phases []string
}

// fileField is where a scenario file set a value: the field's path, like
// load.rate, and its line.
type fileField struct {
	path string
	line int
}

// stepSummaryEnv is set by GitHub Actions to a file whose Markdown is shown
// on the run's summary page.
const stepSummaryEnv = "GITHUB_STEP_SUMMARY"

const ciHelp = `Thresholds: --threshold 'EXPR' (repeatable) checks a value of the report:
  breaker.fault.collateral.success_ratio >= 99%
  breaker.fault.api.latency_ms.p99 < 600ms
  breaker.figures.time_to_open_s <= 2s
  verdict.cascade_prevented == true
  breaker.fault.upstream_requests < 0.2 * no-breaker.fault.upstream_requests
Paths: <arm>.<phase>.<api|collateral>.<requests|ok|success_ratio|outcomes.KIND|latency_ms.pNN>,
<arm>.<phase>.upstream_requests, <arm>.figures.<figure> (the median with
--trials), <arm>.worst.<figure> (the worst trial), verdict.outcome,
verdict.cascade_prevented, validity.valid, partial. Units: %, ms, s; a plain number is read in
the path's unit. --abort-on-fail (or abort_on_fail: true on a scenario
threshold, written {check: EXPR, abort_on_fail: true}) stops the run as soon
as a threshold has failed and can no longer pass: when every value it reads
is final — a phase's once every request sent before the phase ended has been
answered, an arm's figures once all its trials ended (verdict, validity and
partial only at the end) — and fails over them; it is checked at each phase
end and arm end, the load stops within a second, the arms left never run,
and every report is written, partial, with the reason; exit 99. Each result is printed, stored in report.json and, with
--junit FILE, written as a JUnit test case (plus one for the verdict). When
$GITHUB_STEP_SUMMARY is set the Markdown report is appended to it
(--no-step-summary to opt out).

Scenario files: --scenario FILE.yaml says everything the flags can (load,
gateway, breaker, upstream, arms, targets, phases with faults and repeat,
thresholds, output); flags given on the command line override the file, lists
included. A repeat group's phases are named down-1, up-1, down-2, … See
examples/*.yaml.

Your own service: --target NAME=URL (repeatable) replaces the built-in gateway.
cbload starts the fault-injecting upstream at --upstream-addr (your service
must call it there) and drives the load at each target in turn through the
same phases; each target is an arm. --collateral URL|/path is an endpoint that
does not call the upstream; --breaker-state-url URL|/path returns the
breaker state as JSON ({"state":"open"}); a /path is resolved against each
target. Name the targets breaker and no-breaker for the A/B verdict; a single
target gets the verdict on one arm (contained, shed, failed fast, recovered
against its own baseline). Only loopback addresses are accepted.

Exit codes:
  0    the run completed and every threshold passed
  1    unexpected internal error
  2    bad flags, scenario file, fault spec or threshold
  3    the experiment could not run (address in use, target unreachable or
       answering the probe outside the expected statuses, output not
       writable); no load was sent
  4    the experiment was not valid: a validity check failed (the load
       generator did not hold the rate or fell behind, the process stalled,
       file descriptors or ports ran out, the baseline was unhealthy), so
       the verdict is inconclusive; the report names the check
  5    load ran, the summary was printed, but a result file (report,
       --junit, step summary) could not be written; the rest was
  99   the run completed and a threshold failed, or --abort-on-fail
       stopped it
  130  interrupted (SIGINT/SIGTERM); a partial report was written`

// addCIFlags registers the CI flags on cmd.
func addCIFlags(cmd *cobra.Command, o *ciOptions) {
	f := cmd.Flags()
	f.StringVar(&o.scenario, "scenario", "", "read the experiment from this YAML scenario file; flags override it")
	f.StringArrayVar(&o.thresholds, "threshold", nil, "check a report value, e.g. 'breaker.fault.collateral.success_ratio >= 99%' (repeatable; exit 99 when one fails)")
	f.BoolVar(&o.abortOnFail, "abort-on-fail", false, "stop the run as soon as a threshold has failed and can no longer pass (every threshold; in a scenario, abort_on_fail per threshold); exit 99")
	f.StringVar(&o.junit, "junit", "", "write the threshold and verdict results as JUnit XML to this file")
	f.BoolVar(&o.noStepSummary, "no-step-summary", false, "do not append the Markdown report to $"+stepSummaryEnv)
	f.StringArrayVar(&o.targets, "target", nil, "test your own service: NAME=URL of an endpoint that calls the upstream (repeatable; loopback only)")
	f.StringVar(&o.collateral, "collateral", "", "with --target: an endpoint that does not call the upstream, as a URL or a /path on each target")
	f.StringVar(&o.upstreamAddr, "upstream-addr", "", "with --target: loopback host:port where the upstream listens and your service calls it")
	f.BoolVar(&o.dryRun, "dry-run", false, "check the flags, scenario and thresholds, print the plan and exit without running")
	f.StringVar(&o.breakerStateURL, "breaker-state-url", "", "with --target: URL or /path returning the breaker state as JSON, polled while running")
	f.StringVar(&o.stateMetric, "breaker-state-metric", "", "with --breaker-state-url: the page is Prometheus text; the series holding the state, like resilience4j_circuitbreaker_state{name=\"backend\"} or app_http_circuit_breaker_state{service=\"payments\"}")
	f.StringVar(&o.stateMap, "breaker-state-map", "", "with --breaker-state-metric: label:NAME (the state is in label NAME, its series at 1: resilience4j) or VALUE=STATE pairs (default "+harness.DefaultStateMap+")")
}

// applyScenario loads --scenario, if given, into opts wherever the command
// line did not set the same thing.
func applyScenario(cmd *cobra.Command, opts *runOptions) error {
	f := cmd.Flags()
	ci := &opts.ci
	ci.phasesFlag, ci.faultsFlag, ci.armsFlag = f.Changed("phases"), f.Changed("fault"), f.Changed("arms")
	ci.collateralFlag, ci.stateFlag = f.Changed("collateral"), f.Changed("breaker-state-url")
	if ci.scenario == "" {
		return nil
	}
	s, err := scenario.ReadFile(cmd.Context(), ci.scenario)
	var se *scenario.Error
	switch {
	case cmd.Context().Err() != nil:
		return errInterrupted
	case errors.As(err, &se):
		return asUsage(err)
	case err != nil:
		return usagef("--scenario: %v", err)
	}
	ci.scenarioName, ci.description = ci.scenario, s.Description
	d := &opts.cfg
	ci.fileFields = map[string]fileField{}
	// set applies a value of the file unless its flag was given, and
	// remembers where it came from, for errors found later.
	set := func(flag, path string, present bool, apply func()) {
		if present && !f.Changed(flag) {
			apply()
			ci.fileFields[flag] = fileField{path: path, line: s.Line(path)}
		}
	}
	dur := func(v *scenario.Duration) time.Duration { return time.Duration(*v) }
	set("seed", "seed", s.Seed != nil, func() { d.Seed = int64(*s.Seed) })
	set("trials", "trials", s.Trials != nil, func() { d.Trials = int(*s.Trials) })
	set("arm-mode", "arm_mode", s.ArmMode != nil, func() { d.ArmMode = *s.ArmMode })
	set("rate", "load.rate", s.Load.Rate != nil, func() { d.Rate = *s.Load.Rate })
	set("collateral-share", "load.collateral_share", s.Load.CollateralShare != nil, func() { d.CollateralShare = *s.Load.CollateralShare })
	set("client-timeout", "load.client_timeout", s.Load.ClientTimeout != nil, func() { d.ClientTimeout = dur(s.Load.ClientTimeout) })
	set("gateway-workers", "gateway.workers", s.Gateway.Workers != nil, func() { d.Gateway.Workers = int(*s.Gateway.Workers) })
	set("queue-timeout", "gateway.queue_timeout", s.Gateway.QueueTimeout != nil, func() { d.Gateway.QueueTimeout = dur(s.Gateway.QueueTimeout) })
	set("call-timeout", "gateway.call_timeout", s.Gateway.CallTimeout != nil, func() { d.Gateway.CallTimeout = dur(s.Gateway.CallTimeout) })
	set("local-work", "gateway.local_work", s.Gateway.LocalWork != nil, func() { d.Gateway.LocalWork = dur(s.Gateway.LocalWork) })
	set("tiers", "gateway.tiers", s.Gateway.Tiers != nil, func() { d.Tiers = int(*s.Gateway.Tiers) })
	set("retries", "gateway.retries", s.Gateway.Retries != nil, func() { d.Gateway.Retries = int(*s.Gateway.Retries) })
	set("retry-backoff", "gateway.retry_backoff", s.Gateway.RetryBackoff != nil, func() { d.Gateway.RetryBackoff = dur(s.Gateway.RetryBackoff) })
	rb, th := s.RetryBudget, s.Throttle
	set("retry-budget", "retry_budget.ratio", rb.Ratio != nil, func() { opts.retryBudget = strconv.FormatFloat(float64(*rb.Ratio), 'g', -1, 64) })
	set("retry-budget-window", "retry_budget.window", rb.Window != nil, func() { d.RetryBudget.Window = dur(rb.Window) })
	set("throttle-k", "throttle.k", th.K != nil, func() { d.Throttle.K = *th.K })
	set("throttle-window", "throttle.window", th.Window != nil, func() { d.Throttle.Window = dur(th.Window) })
	b := s.Breaker
	set("breaker-timeout", "breaker.timeout", b.Timeout != nil, func() { d.Breaker.Timeout = dur(b.Timeout) })
	set("breaker-max-requests", "breaker.max_requests", b.MaxRequests != nil, func() { d.Breaker.MaxRequests = uint32(*b.MaxRequests) })
	set("breaker-interval", "breaker.interval", b.Interval != nil, func() { d.Breaker.Interval = dur(b.Interval) })
	set("breaker-bucket-period", "breaker.bucket_period", b.BucketPeriod != nil, func() { d.Breaker.BucketPeriod = dur(b.BucketPeriod) })
	set("breaker-consecutive-failures", "breaker.consecutive_failures", b.ConsecutiveFailures != nil, func() { d.Breaker.ConsecutiveFailures = uint32(*b.ConsecutiveFailures) })
	set("breaker-failure-ratio", "breaker.failure_ratio", b.FailureRatio != nil, func() { d.Breaker.FailureRatio = *b.FailureRatio })
	set("breaker-min-requests", "breaker.min_requests", b.MinRequests != nil, func() { d.Breaker.MinRequests = uint32(*b.MinRequests) })
	set("service-time", "upstream.service_time", s.Upstream.ServiceTime != nil, func() { d.Upstream.ServiceTime = dur(s.Upstream.ServiceTime) })
	set("jitter", "upstream.jitter", s.Upstream.Jitter != nil, func() { d.Upstream.Jitter = dur(s.Upstream.Jitter) })
	set("upstream-concurrency", "upstream.concurrency", s.Upstream.Concurrency != nil, func() { d.Upstream.Concurrency = int(*s.Upstream.Concurrency) })
	set("upstream-queue", "upstream.queue", s.Upstream.Queue != nil, func() { d.Upstream.Queue = int(*s.Upstream.Queue) })
	set("upstream-honor-cancel", "upstream.honor_cancel", s.Upstream.HonorCancel != nil, func() { d.Upstream.HonorCancel = *s.Upstream.HonorCancel })
	set("upstream-addr", "upstream.addr", s.Upstream.Addr != nil, func() { ci.upstreamAddr = *s.Upstream.Addr })
	set("arms", "arms", s.Arms != nil, func() { opts.arms, ci.armsFlag = s.Arms, true })
	set("target", "targets", s.Targets != nil, func() { ci.fileTargets = s.Targets })
	set("collateral", "collateral", s.Collateral != nil, func() { ci.collateral = *s.Collateral })
	set("breaker-state-url", "breaker_state_url", s.BreakerStateURL != nil, func() { ci.breakerStateURL = *s.BreakerStateURL })
	set("threshold", "thresholds", s.Thresholds != nil, func() { ci.fileThresholds = s.Thresholds })
	tr := s.Tracing
	set("otlp-endpoint", "tracing.otlp_endpoint", tr.OTLPEndpoint != nil, func() { d.Tracing.Endpoint = *tr.OTLPEndpoint })
	set("otlp-protocol", "tracing.otlp_protocol", tr.OTLPProtocol != nil, func() { d.Tracing.Protocol = *tr.OTLPProtocol })
	set("trace-sample", "tracing.sample", tr.Sample != nil, func() { opts.traceSample = *tr.Sample })
	set("jaeger-url", "tracing.jaeger_url", tr.JaegerURL != nil, func() { d.Tracing.JaegerURL = *tr.JaegerURL })
	applyRequestScenario(s, set, &opts.req)
	o := s.Output
	set("out", "output.dir", o.Dir != nil, func() { opts.out = *o.Dir })
	set("force", "output.force", o.Force != nil, func() { opts.force = *o.Force })
	set("junit", "output.junit", o.JUnit != nil, func() { ci.junit = *o.JUnit })
	set("progress", "output.progress", o.Progress != nil, func() { opts.progress = *o.Progress })
	set("no-step-summary", "output.step_summary", o.StepSummary != nil, func() { ci.noStepSummary = !*o.StepSummary })
	set("results", "output.results", o.Results != nil, func() { opts.results = *o.Results })
	set("summary-template", "output.summary_template", o.SummaryTemplate != nil, func() { opts.summaryTemplate = *o.SummaryTemplate })
	if s.Phases != nil {
		if ci.filePhases, ci.filePhaseLines, err = s.ExpandPhases(); err != nil {
			return asUsage(err)
		}
		if len(ci.filePhases) == 0 {
			return usagef("scenario %s: phases is empty; list at least one phase", ci.scenario)
		}
	}
	return nil
}

// indexedRE matches an error about one of the phases or targets.
var indexedRE = regexp.MustCompile(`^(phases|targets)\[(\d+)\]`)

// inFile rewrites a usage error about a value that came from the scenario
// file, found after the file was read, so that it names the file, the line
// and the field rather than the flag the user did not give.
func (ci *ciOptions) inFile(err error) error {
	var ue *usageError
	if ci.scenarioName == "" || !errors.As(err, &ue) {
		return err
	}
	msg := err.Error()
	at := func(line int, rest string) error {
		return &usageError{err: fmt.Errorf("scenario %s: line %d: %s", ci.scenarioName, line, rest), hint: ue.hint}
	}
	for flag, ff := range ci.fileFields {
		for _, prefix := range []string{"--" + flag, flag} {
			if rest, ok := strings.CutPrefix(msg, prefix); ok && rest != "" && strings.ContainsRune(": ,", rune(rest[0])) {
				return at(ff.line, ff.path+rest)
			}
		}
	}
	if m := indexedRE.FindStringSubmatch(msg); m != nil {
		i, _ := strconv.Atoi(m[2])
		switch {
		case m[1] == "phases" && !ci.phasesFlag && i < len(ci.filePhaseLines):
			return at(ci.filePhaseLines[i], msg)
		case m[1] == "targets" && len(ci.targets) == 0 && i < len(ci.fileTargets):
			return at(ci.fileTargets[i].Line, msg)
		}
	}
	return err
}

// schedule builds the phases: the scenario's, unless --phases gives the
// classic baseline,fault,recovery. --fault replaces the faults of every
// fault phase of the scenario.
func schedule(opts *runOptions) ([]harness.Phase, error) {
	ci := &opts.ci
	// flagFaults holds the --fault faults, NAME=SPEC ones by upstream.
	var flagFaults harness.Phase
	for _, f := range opts.faults {
		name, spec, err := harness.ParseUpstreamFault(f)
		if err != nil {
			return nil, usagef("--fault: %v", err)
		}
		flagFaults.AddFault(name, spec)
	}
	if ci.filePhases != nil && !ci.phasesFlag {
		phases := append([]harness.Phase(nil), ci.filePhases...)
		if ci.faultsFlag {
			replaced := false
			for i := range phases {
				if phases[i].Faulty() {
					phases[i].Faults, phases[i].UpstreamFaults, replaced = flagFaults.Faults, flagFaults.UpstreamFaults, true
				}
			}
			if !replaced {
				return nil, usagef("--fault: scenario %s has no phase with faults to replace; give --phases too for a baseline,fault,recovery schedule", ci.scenarioName)
			}
		}
		return phases, nil
	}
	faults := flagFaults
	if !faults.Faulty() {
		for _, p := range ci.filePhases {
			if p.Faulty() {
				faults = p
				break
			}
		}
	}
	if !faults.Faulty() {
		return nil, usagef("--fault: required; give a kind (%s) or a spec like latency:2s, or a --scenario file", strings.Join(kindNames(), ", "))
	}
	return parsePhases(opts.phases, faults)
}

// applyCI sets the targets on cfg and parses and checks the thresholds
// against the run's arms and phases. It runs before cfg is validated.
func applyCI(cfg *harness.Config, opts *runOptions) error {
	ci := &opts.ci
	targets, err := ci.resolveTargets()
	if err != nil {
		return err
	}
	if len(targets) > 0 {
		if ci.armsFlag {
			return usagef("--arms: not used with --target; each target is an arm (name them breaker and no-breaker for the A/B verdict)")
		}
		// A shard never starts the upstream: every shard's service calls
		// one, run by another process (cbload serve) on the run's schedule.
		if ci.upstreamAddr == "" && len(opts.req.upstreams) == 0 && cfg.Shard.Sharded() {
			cfg.UpstreamExternal = true
		}
		if ci.upstreamAddr == "" && len(opts.req.upstreams) == 0 && !cfg.UpstreamExternal {
			return usagef("--upstream-addr: required with --target; the loopback host:port your service calls as its upstream, like 127.0.0.1:9090 (or --upstream NAME=ADDR for each of several)")
		}
		cfg.Targets, cfg.UpstreamAddr = targets, ci.upstreamAddr
	} else {
		for flag, v := range map[string]string{"collateral": ci.collateral, "breaker-state-url": ci.breakerStateURL, "upstream-addr": ci.upstreamAddr, "breaker-state-metric": ci.stateMetric, "breaker-state-map": ci.stateMap} {
			if v != "" {
				return usagef("--%s: only used with --target", flag)
			}
		}
		if opts.shard.upstreamExternal {
			return usagef("--upstream-external: only used with --target (cbload's own gateway calls its own upstream)")
		}
	}

	arms := cfg.Arms
	if len(targets) > 0 {
		arms = nil
		for _, t := range targets {
			arms = append(arms, t.Name)
		}
	}
	phases := make([]string, len(cfg.Phases))
	for i, p := range cfg.Phases {
		phases[i] = p.Name
	}
	ci.checks, ci.abort, ci.arms, ci.phases = nil, nil, arms, phases
	add := func(where, expr string, abort bool) error {
		th, err := reports.ParseThreshold(expr)
		if err == nil {
			err = th.Check(arms, phases)
		}
		if err != nil {
			return usagef("%s%v", where, err)
		}
		ci.checks = append(ci.checks, th)
		ci.abort = append(ci.abort, abort || ci.abortOnFail)
		return nil
	}
	if len(ci.thresholds) > 0 {
		for _, t := range ci.thresholds {
			if err := add("--threshold: ", t, false); err != nil {
				return err
			}
		}
	} else {
		for _, t := range ci.fileThresholds {
			if err := add(fmt.Sprintf("scenario %s: line %d: ", ci.scenarioName, t.Line), t.Expr, t.AbortOnFail); err != nil {
				return err
			}
		}
	}
	if ci.abortOnFail && len(ci.checks) == 0 {
		return usagef("--abort-on-fail: no threshold to abort on; give --threshold 'EXPR' (or thresholds: in the scenario)")
	}
	if slices.Contains(ci.abort, true) {
		if cfg.Shard.Sharded() {
			return usagef("--abort-on-fail: not with --shard; a shard sees only its share of the load and cannot stop the others (check the thresholds with cbload merge)")
		}
		cfg.OnCheckpoint = ci.abortCheck
	}
	if ci.junit != "" {
		if err := checkOutputFile("--junit", ci.junit, "junit.xml", runOutputs(opts, "--junit"), opts.force); err != nil {
			return err
		}
		if err := checkWritable(ci.junit); err != nil {
			return withCode(exitCouldNotRun, fmt.Errorf("--junit %s: %w", ci.junit, err))
		}
	}
	return nil
}

// resolveTargets turns --target flags (or the file's targets) into harness
// targets, resolving /paths against each target's origin.
func (ci *ciOptions) resolveTargets() ([]harness.Target, error) {
	var out []harness.Target
	if len(ci.targets) > 0 {
		for _, t := range ci.targets {
			name, u, ok := strings.Cut(t, "=")
			if !ok || name == "" || u == "" {
				return nil, usagef("--target %q: want NAME=URL like breaker=http://127.0.0.1:8080/api", t)
			}
			if err := checkURL(u, ci.allow); err != nil {
				return nil, usagef("--target %s: %v", name, err)
			}
			out = append(out, harness.Target{Name: name, URL: u})
		}
	} else {
		for i, t := range ci.fileTargets {
			where := fmt.Sprintf("scenario %s: line %d: targets[%d]", ci.scenarioName, t.Line, i)
			if t.Name == "" || t.URL == "" {
				return nil, usagef("%s: name and url are required", where)
			}
			if err := checkURL(t.URL, ci.allow); err != nil {
				return nil, usagef("%s.url: %v", where, err)
			}
			ht := harness.Target{Name: t.Name, URL: t.URL}
			var err error
			if ht.Collateral, err = resolveRef(t.URL, t.Collateral, ci.allow); err != nil {
				return nil, usagef("%s.collateral: %v", where, err)
			}
			if ht.BreakerStateURL, err = resolveRef(t.URL, t.BreakerStateURL, ci.allow); err != nil {
				return nil, usagef("%s.breaker_state_url: %v", where, err)
			}
			out = append(out, ht)
		}
	}
	for i := range out {
		var err error
		if ci.collateral != "" && (out[i].Collateral == "" || ci.collateralFlag) {
			if out[i].Collateral, err = resolveRef(out[i].URL, ci.collateral, ci.allow); err != nil {
				return nil, usagef("--collateral: %v", err)
			}
		}
		if ci.breakerStateURL != "" && (out[i].BreakerStateURL == "" || ci.stateFlag) {
			if out[i].BreakerStateURL, err = resolveRef(out[i].URL, ci.breakerStateURL, ci.allow); err != nil {
				return nil, usagef("--breaker-state-url: %v", err)
			}
		}
	}
	if ci.stateMap != "" && ci.stateMetric == "" {
		return nil, usagef("--breaker-state-map: only used with --breaker-state-metric")
	}
	if ci.stateMetric != "" {
		sm, err := harness.ParseStateMetric(ci.stateMetric, ci.stateMap)
		if err != nil {
			return nil, usagef("--%v", err)
		}
		for i := range out {
			if out[i].BreakerStateURL == "" {
				return nil, usagef("--breaker-state-metric: target %s has no --breaker-state-url to read it from", out[i].Name)
			}
			out[i].StateMetric = sm
		}
	}
	return out, nil
}

// resolveRef resolves ref against base when it is a /path; otherwise ref
// must be a URL cbload may send to itself.
func resolveRef(base, ref string, allow harness.AllowList) (string, error) {
	if ref == "" {
		return "", nil
	}
	if strings.HasPrefix(ref, "/") {
		b, err := url.Parse(base)
		if err != nil {
			return "", err
		}
		return b.Scheme + "://" + b.Host + ref, nil
	}
	if err := checkURL(ref, allow); err != nil {
		return "", fmt.Errorf("%v (or give a /path on the target)", err)
	}
	return ref, nil
}

// checkURL checks a URL cbload will send requests to: loopback, http(s),
// and a port, when given, from 1 to 65535. The port is checked here, with
// the rest, so a bad one is a usage error rather than an unreachable
// target.
func checkURL(raw string, allow harness.AllowList) error {
	if err := harness.CheckTargetURL(raw, allow); err != nil {
		return err
	}
	return checkPort(raw)
}

// checkPort checks the port of an absolute URL, if it has one.
func checkPort(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q: want an absolute URL like http://127.0.0.1:8080/api", clipInput(harness.RedactURL(raw)))
	}
	if strings.HasSuffix(u.Host, ":") {
		return fmt.Errorf("%q: empty port; want a port from 1 to 65535 after the colon, or none", clipInput(harness.RedactURL(raw)))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("%q: port %q: want a number from 1 to 65535", clipInput(harness.RedactURL(raw)), clipInput(p))
		}
	}
	return nil
}

// checkWritable checks a file can be created in path's folder. Folders it
// had to create for the check are removed again: a dry run or a run that
// fails early leaves nothing behind; the writer creates them when it writes.
func checkWritable(path string) error {
	t, err := outfile.Resolve(path)
	if err != nil {
		return err
	}
	if t.Special() {
		return outfile.CheckWritable(t) // written through: nothing to create
	}
	dir := filepath.Clean(filepath.Dir(t.Path))
	var created []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		created = append(created, d)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	err = probeDir(dir, 0)
	for _, d := range created {
		os.Remove(d)
	}
	return err
}

// dryRun prints what a run would do, once everything has been checked;
// picked says the seed was chosen at random, not given.
func dryRun(ctx context.Context, w io.Writer, cfg *harness.Config, opts *runOptions, picked bool) error {
	if opts.ci.scenarioName != "" {
		fmt.Fprintf(w, "scenario %s", opts.ci.scenarioName)
		if opts.ci.description != "" {
			fmt.Fprintf(w, ": %s", opts.ci.description)
		}
		fmt.Fprintln(w)
	}
	if len(cfg.Targets) > 0 {
		if cfg.UpstreamExternal {
			fmt.Fprintln(w, "upstream: external (another process runs it on the run's schedule)")
		}
		calls := "your service calls it"
		if cfg.UpstreamGRPC {
			calls = "gRPC; your service calls it"
		}
		if cfg.UpstreamAddr != "" {
			fmt.Fprintf(w, "upstream: %s (%s)\n", cfg.UpstreamAddr, calls)
		}
		for _, u := range cfg.Upstreams {
			fmt.Fprintf(w, "upstream %s: %s (%s)\n", u.Name, u.Addr, calls)
		}
		for _, t := range cfg.Targets {
			fmt.Fprintf(w, "target %s: %s", t.Name, harness.RedactURL(t.URL))
			if t.Collateral != "" {
				fmt.Fprintf(w, "  collateral %s", harness.RedactURL(t.Collateral))
			}
			if t.BreakerStateURL != "" {
				fmt.Fprintf(w, "  breaker state %s", harness.RedactURL(t.BreakerStateURL))
			}
			fmt.Fprintln(w)
			printRequests(w, t)
		}
		for _, e := range cfg.Expect {
			fmt.Fprintf(w, "expect: %s\n", e)
		}
	} else {
		fmt.Fprintf(w, "arms: %s\n", strings.Join(cfg.Arms, ", "))
		fmt.Fprintf(w, "gateway: %d workers, queue timeout %v, call timeout %v; breaker timeout %v\n",
			cfg.Gateway.Workers, cfg.Gateway.QueueTimeout, cfg.Gateway.CallTimeout, cfg.Breaker.Timeout)
		if cfg.Tiers > 1 || cfg.Gateway.Retries > 0 {
			fmt.Fprintf(w, "tiers: %d, each retrying %d times (backoff %v, full jitter); retry-budget arm: %s of requests over %v; throttle arm: K %g over %v\n",
				cfg.Tiers, cfg.Gateway.Retries, cfg.Gateway.RetryBackoff, reports.Percent(cfg.RetryBudget.Ratio), cfg.RetryBudget.Window, cfg.Throttle.K, cfg.Throttle.Window)
		}
	}
	seed := strconv.FormatInt(cfg.Seed, 10)
	if picked {
		seed += fmt.Sprintf(" (picked at random, as a run without --seed picks its own; add --seed=%d to run with this one)", cfg.Seed)
	}
	share := fmt.Sprintf(", collateral share %g", cfg.CollateralShare)
	if !cfg.Terms().HasCollateral {
		share = "" // a service without a collateral endpoint gets none
	}
	fmt.Fprintf(w, "load: %g req/s%s, client timeout %v, seed %s\n", cfg.Rate, share, cfg.ClientTimeout, seed)
	if t := cfg.Tracing; t.Endpoint != "" {
		sample := "auto"
		if t.SampleRatio != nil {
			sample = fmt.Sprint(*t.SampleRatio)
		}
		fmt.Fprintf(w, "tracing: %s (%s), sample %s\n", harness.RedactURL(t.Endpoint), cmp.Or(t.Protocol, "protocol from the environment"), sample)
	}
	if cfg.ArmMode == harness.ArmsConcurrent {
		fmt.Fprintf(w, "arms: concurrent, all at once on one clock, each with its own gateway and upstream\n")
	}
	if cfg.Trials > 1 {
		fmt.Fprintf(w, "trials: %d per arm, interleaved\n", cfg.Trials)
	}
	fmt.Fprintf(w, "phases (%v per arm):\n", cfg.TotalDuration())
	var at time.Duration
	for _, p := range cfg.Phases {
		fmt.Fprintf(w, "  %-12s %5v – %-5v %s\n", p.Name, at, at+p.Duration, strings.Join(p.FaultStrings(), " "))
		at += p.Duration
	}
	if len(opts.ci.checks) > 0 {
		fmt.Fprintln(w, "thresholds:")
		for i, t := range opts.ci.checks {
			abort := ""
			if opts.ci.abort[i] {
				abort = "  (abort on fail)"
			}
			fmt.Fprintf(w, "  %s%s\n", t, abort)
		}
	}
	if dir := cfg.UpstreamTLSDir; dir != "" {
		created, err := harness.EnsureUpstreamCert(ctx, dir)
		if err != nil {
			return withCode(exitCouldNotRun, err)
		}
		verb := "uses"
		if created {
			verb = "created"
		}
		fmt.Fprintf(w, "upstream TLS: %s %s; your service must trust it\n", verb, filepath.Join(dir, harness.UpstreamCAFile))
	}
	fmt.Fprintln(w, "dry run: everything checks out; nothing was run")
	return nil
}

// abortCheck is the run's OnCheckpoint with an abort_on_fail threshold:
// it stops the run, naming the first such threshold whose every input has
// settled and that fails over them, so that no later measurement could
// make it pass.
func (ci *ciOptions) abortCheck(r *reports.Report, at harness.Checkpoint) string {
	for i, t := range ci.checks {
		if !ci.abort[i] || !t.Settled(ci.arms, ci.phases, at.ArmDone, at.PhaseDone) {
			continue
		}
		if !t.Evaluate(r).Pass {
			return fmt.Sprintf("aborted: threshold %s failed and could no longer pass, %s", t, at)
		}
	}
	return ""
}

// evaluateThresholds fills the report's threshold results. After an
// abort, each result says whether it stopped the run or was judged before
// all of its inputs were measured.
func evaluateThresholds(opts *runOptions, r *reports.Report, abort *harness.AbortError) {
	ci := &opts.ci
	if len(ci.checks) == 0 {
		return
	}
	r.Thresholds, _ = reports.EvaluateThresholds(ci.checks, r)
	if abort == nil {
		return
	}
	stopped := false
	for i, t := range ci.checks {
		res := &r.Thresholds[i]
		switch {
		case !t.Settled(ci.arms, ci.phases, abort.At.ArmDone, abort.At.PhaseDone):
			res.Message += "; not final: the run was aborted before all of its inputs were measured"
		case ci.abort[i] && !res.Pass && !stopped:
			res.Message += "; aborted the run " + abort.At.String()
			stopped = true
		}
	}
}

// finishCI prints one line per threshold and writes the JUnit file and the
// step summary. It returns the outputs that could not be written and the
// threshold outcome (exit 99 when one failed).
func finishCI(ctx context.Context, stdout io.Writer, opts *runOptions, r *reports.Report) (writeErrs []error, thresholdErr error) {
	failed := 0
	if len(r.Thresholds) > 0 {
		fmt.Fprintln(stdout, "\nthresholds:")
	}
	for _, t := range r.Thresholds {
		mark := "PASS"
		if !t.Pass {
			mark = "FAIL"
			failed++
		}
		fmt.Fprintf(stdout, "  %s  %s  measured %s; %s\n", mark, t.Expr, t.Measured, t.Message)
	}
	var errs []error
	if opts.ci.junit != "" {
		var b bytes.Buffer
		err := reports.WriteJUnit(&b, r)
		if err == nil {
			// checkWritable removed the folders it made for its probe.
			err = os.MkdirAll(filepath.Dir(opts.ci.junit), 0o755)
		}
		if err == nil {
			err = outfile.Write(ctx, opts.ci.junit, b.Bytes())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("could not write --junit %s: %w", opts.ci.junit, unwrapWrite(err)))
		} else {
			fmt.Fprintf(stdout, "junit: %s\n", opts.ci.junit)
		}
	}
	if path := os.Getenv(stepSummaryEnv); path != "" && !opts.ci.noStepSummary {
		if err := appendStepSummary(ctx, path, r); err != nil {
			errs = append(errs, fmt.Errorf("could not append to $%s: %w (pass --no-step-summary to skip it)", stepSummaryEnv, unwrapWrite(err)))
		}
	}
	if failed > 0 {
		return errs, withCode(exitThreshold, fmt.Errorf("%d of %d thresholds failed", failed, len(r.Thresholds)))
	}
	return errs, nil
}

func appendStepSummary(ctx context.Context, path string, r *reports.Report) error {
	var b bytes.Buffer
	if err := reports.WriteMarkdown(&b, r); err != nil {
		return err
	}
	return outfile.Append(ctx, path, append(b.Bytes(), '\n'))
}

// stepSummaryTimeout is how long appending to $GITHUB_STEP_SUMMARY may
// take when it is a FIFO whose reader stops reading.
const stepSummaryTimeout = 10 * time.Second

// errNoReader is appending to a FIFO or socket that nothing reads.
var errNoReader = errors.New("nothing reads it (a FIFO or socket without a reader)")

// openAppend opens path for appending (with flag os.O_CREATE, creating it)
// without waiting for anything: O_NONBLOCK makes opening a FIFO that no
// one reads fail at once (ENXIO) where a plain open would block until a
// reader came, and puts a FIFO that has one under the runtime's poller,
// where writes give up at a deadline. On a regular file it changes
// nothing.
func openAppend(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|syscall.O_NONBLOCK|flag, 0o644)
	if errors.Is(err, syscall.ENXIO) {
		return nil, &os.PathError{Op: "open", Path: path, Err: errNoReader}
	}
	if err != nil {
		return nil, err
	}
	// Fails with os.ErrNoDeadline on a regular file, whose writes never
	// wait for a reader.
	_ = f.SetWriteDeadline(time.Now().Add(stepSummaryTimeout))
	return f, nil
}
