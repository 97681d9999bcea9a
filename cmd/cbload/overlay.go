package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cbload/cbload/internal/field"
	"github.com/cbload/cbload/scenario"
)

// fileField is where a scenario file set a value: the field's path, like
// load.rate, and its line.
type fileField struct {
	path string
	line int
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
		return flagErrorf("--scenario", ": %v", err)
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

// inFile rewrites a usage error about a value that came from the scenario
// file, found after the file was read, so that it names the file, the line
// and the field rather than the flag the user did not give. The error says
// which setting it is about by its type: a flagError names the flag, a
// field.Error the settings' paths.
func (ci *ciOptions) inFile(err error) error {
	var ue *usageError
	if ci.scenarioName == "" || !errors.As(err, &ue) {
		return err
	}
	at := func(line int, msg string) error {
		return &usageError{err: fmt.Errorf("scenario %s: line %d: %s", ci.scenarioName, line, msg), hint: ue.hint}
	}
	switch e := ue.err.(type) {
	case *flagError:
		if ff, ok := ci.fileFields[strings.TrimPrefix(e.flag, "--")]; ok {
			return at(ff.line, ff.path+e.rest)
		}
	case *field.Error:
		names, line := slices.Clone(e.Names), 0
		for i, p := range e.Paths {
			for _, ff := range ci.fileFields {
				if ff.path == p && i < len(names) {
					names[i] = p
					if line == 0 {
						line = ff.line
					}
				}
			}
		}
		if line > 0 {
			return at(line, strings.Join(names, ", ")+": "+e.Detail)
		}
		if i, ok := e.Index("phases"); ok && !ci.phasesFlag && i < len(ci.filePhaseLines) {
			return at(ci.filePhaseLines[i], e.Error())
		}
		if i, ok := e.Index("targets"); ok && len(ci.targets) == 0 && i < len(ci.fileTargets) {
			return at(ci.fileTargets[i].Line, e.Error())
		}
	}
	return err
}
