package main

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/policy"
	"github.com/cbload/cbload/reports"
	"github.com/cbload/cbload/scenario"
)

// setting is one row of run's flag ⇄ path table: a flag of `cbload run`
// and the path of the same setting in a scenario file. The table is the
// one place a run setting is named in cmd: it declares the flags (bound to
// the fields they fill), groups them in --help, completes their values,
// lays a scenario file under them (a flag given wins) and says where a
// value came from when it is refused — the flag, or the file's path and
// line (see inFile). A new run setting is a field of the config its
// package owns (harness.Config, checked by its Validate), the field of a
// scenario file, and a row here.
type setting struct {
	flag string
	// path is the setting's path in a scenario file; "" for a flag a file
	// cannot set.
	path string
	// bind declares the flag on f, bound to its field in o, with o's
	// value as the default.
	bind func(f *pflag.FlagSet, o *runOptions)
	// file sets o from the scenario file's value, when the file has one,
	// and says whether it had.
	file func(s *scenario.File, o *runOptions) bool
	// complete, when set, completes the flag's value; other flags that
	// take a value complete nothing (not file names).
	complete cobra.CompletionFunc
}

// settingGroup is a titled group of run's settings, shown together in
// --help.
type settingGroup struct {
	title string
	rows  []setting
}

// put sets *dst to the file's number or duration v, when the file has it.
func put[S, D interface {
	~int | ~int64 | ~uint32 | ~float64
}](v *S, dst *D) bool {
	if v != nil {
		*dst = D(*v)
	}
	return v != nil
}

// putAs sets *dst to the file's v, when the file has it.
func putAs[T any](v *T, dst *T) bool {
	if v != nil {
		*dst = *v
	}
	return v != nil
}

// putList sets *dst to the file's list v, when the file has it.
func putList[T any](v []T, dst *[]T) bool {
	if v != nil {
		*dst = v
	}
	return v != nil
}

// joined returns a file's map as the flag's repeated "key<sep>value"
// values, sorted by key; ok is whether the file has the map.
func joined(m map[string]string, sep string, dst *[]string) bool {
	if m == nil {
		return false
	}
	*dst = nil
	for _, k := range slices.Sorted(maps.Keys(m)) {
		*dst = append(*dst, k+sep+m[k])
	}
	return true
}

// runSettings is run's flag ⇄ path table, in the order of --help: groups in
// the order shown, what most runs set first.
var runSettings = []settingGroup{
	{"Experiment: faults and schedule", []setting{
		{flag: "fault", complete: completeFaults, bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringArrayVar(&o.faults, "fault", nil, "fault for the fault phase: a kind or a spec KIND[:ARG][,key=value...] (repeatable)")
		}},
		{flag: "phases", complete: completeValues("5s,15s,10s\tbaseline,fault,recovery"), bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.phases, "phases", "5s,15s,10s", "baseline,fault,recovery durations (whole seconds)")
		}},
		{flag: "scenario", complete: cobra.FixedCompletions([]string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt), bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.ci.scenario, "scenario", "", "read the experiment from this YAML scenario file; flags override it")
		}},
		{flag: "dry-run", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.BoolVar(&o.ci.dryRun, "dry-run", false, "check the flags, scenario and thresholds, print the plan and exit without running")
		}},
		{flag: "seed", path: "seed", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.Int64Var(&o.cfg.Seed, "seed", 0, "seed for every random choice (0: pick one and print it)")
		}, file: func(s *scenario.File, o *runOptions) bool { return put(s.Seed, &o.cfg.Seed) }},
		{flag: "trials", path: "trials", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.IntVar(&o.cfg.Trials, "trials", o.cfg.Trials, "run each arm this many times, interleaved A B B A …; figures become medians with their range, and the verdict needs every trial to agree")
		}, file: func(s *scenario.File, o *runOptions) bool { return put(s.Trials, &o.cfg.Trials) }},
		{flag: "arm-mode", path: "arm_mode", complete: completeValues("sequential\tone arm after the other (the default)", "concurrent\tall arms at once, on one clock"), bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.cfg.ArmMode, "arm-mode", o.cfg.ArmMode, "how a trial's arms run: sequential, one after the other, or concurrent, at once on one clock, each with its own gateway, upstream and load runner (about half the time; not with --target or tracing)")
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.ArmMode, &o.cfg.ArmMode) }},
	}},
	{"Load", []setting{
		{flag: "rate", path: "load.rate", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.Float64Var(&o.cfg.Rate, "rate", o.cfg.Rate, "offered load in requests per second (constant, open model)")
		}, file: func(s *scenario.File, o *runOptions) bool { return put(s.Load.Rate, &o.cfg.Rate) }},
		{flag: "collateral-share", path: "load.collateral_share", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.Float64Var(&o.cfg.CollateralShare, "collateral-share", o.cfg.CollateralShare, "fraction of requests sent to /local, in [0,1)")
		}, file: func(s *scenario.File, o *runOptions) bool { return put(s.Load.CollateralShare, &o.cfg.CollateralShare) }},
		{flag: "client-timeout", path: "load.client_timeout", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.DurationVar(&o.cfg.ClientTimeout, "client-timeout", o.cfg.ClientTimeout, "load runner timeout per request; with --target the default is "+harness.TargetClientTimeout.String()+", past a service's own 1, 3, 5 or 10 s timeout, so its timeout answer arrives instead of counting as cbload's client timeout")
		}, file: func(s *scenario.File, o *runOptions) bool { return put(s.Load.ClientTimeout, &o.cfg.ClientTimeout) }},
	}},
	{"Thresholds", []setting{
		{flag: "threshold", path: "thresholds", complete: completeThreshold, bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringArrayVar(&o.ci.thresholds, "threshold", nil, "check a report value, e.g. 'breaker.fault.collateral.success_ratio >= 99%' (repeatable; exit 99 when one fails)")
		}, file: func(s *scenario.File, o *runOptions) bool { return putList(s.Thresholds, &o.ci.fileThresholds) }},
		{flag: "abort-on-fail", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.BoolVar(&o.ci.abortOnFail, "abort-on-fail", false, "stop the run as soon as a threshold has failed and can no longer pass (every threshold; in a scenario, abort_on_fail per threshold); exit 99")
		}},
	}},
	{"Output", []setting{
		{flag: "out", path: "output.dir", complete: cobra.FixedCompletions(nil, cobra.ShellCompDirectiveFilterDirs), bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.out, "out", "", "output folder (default ./cbload-out/<time>-seed<seed>)")
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.Output.Dir, &o.out) }},
		{flag: "force", path: "output.force", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.BoolVar(&o.force, "force", false, "overwrite an existing report in --out")
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.Output.Force, &o.force) }},
		{flag: "progress", path: "output.progress", complete: completeValues("auto\tlive lines when stderr is a terminal", "always", "never"), bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.progress, "progress", "auto", "live progress on stderr: auto (when a terminal), always, never")
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.Output.Progress, &o.progress) }},
		{flag: "junit", path: "output.junit", complete: cobra.FixedCompletions([]string{"xml"}, cobra.ShellCompDirectiveFilterFileExt), bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.ci.junit, "junit", "", "write the threshold and verdict results as JUnit XML to this file")
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.Output.JUnit, &o.ci.junit) }},
		{flag: "results", path: "output.results", complete: cobra.FixedCompletions(nil, cobra.ShellCompDirectiveDefault), bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.results, "results", "", fmt.Sprintf("stream every request's result to this file as it completes, in vegeta's JSON results encoding (vegeta report/plot read it); at most %d GiB", harness.MaxResultsFile>>30))
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.Output.Results, &o.results) }},
		{flag: "summary-template", path: "output.summary_template", complete: cobra.FixedCompletions(nil, cobra.ShellCompDirectiveDefault), bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.summaryTemplate, "summary-template", "", "also render this Go text/template over the report into summary.txt in --out (as 'cbload report --template' does)")
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.Output.SummaryTemplate, &o.summaryTemplate) }},
		{flag: "no-step-summary", path: "output.step_summary", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.BoolVar(&o.ci.noStepSummary, "no-step-summary", false, "do not append the Markdown report to $"+stepSummaryEnv)
		}, file: func(s *scenario.File, o *runOptions) bool {
			if v := s.Output.StepSummary; v != nil {
				o.ci.noStepSummary = !*v
			}
			return s.Output.StepSummary != nil
		}},
	}},
	{"Your own service (targets)", []setting{
		{flag: "target", path: "targets", complete: completeValues("breaker=http://127.0.0.1:", "no-breaker=http://127.0.0.1:"), bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringArrayVar(&o.ci.targets, "target", nil, "test your own service: NAME=URL of an endpoint that calls the upstream (repeatable; loopback only)")
		}, file: func(s *scenario.File, o *runOptions) bool { return putList(s.Targets, &o.ci.fileTargets) }},
		{flag: "upstream-addr", path: "upstream.addr", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.ci.upstreamAddr, "upstream-addr", "", "with --target: loopback host:port where the upstream listens and your service calls it")
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.Upstream.Addr, &o.ci.upstreamAddr) }},
		{flag: "upstream", path: "upstreams", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringArrayVar(&o.req.upstreams, "upstream", nil, "with --target: a named dependency NAME=ADDR your service calls, each its own upstream; faults for it are NAME=SPEC (repeatable, instead of --upstream-addr)")
		}, file: func(s *scenario.File, o *runOptions) bool { return joined(s.Upstreams, "=", &o.req.upstreams) }},
		{flag: "upstream-external", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.BoolVar(&o.shard.upstreamExternal, "upstream-external", false, "with --target: start no upstream; another process runs the one your service calls, on the run's schedule")
		}},
		{flag: "collateral", path: "collateral", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.ci.collateral, "collateral", "", "with --target: an endpoint that does not call the upstream, as a URL or a /path on each target")
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.Collateral, &o.ci.collateral) }},
		{flag: "breaker-state-url", path: "breaker_state_url", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.ci.breakerStateURL, "breaker-state-url", "", "with --target: URL or /path returning the breaker state as JSON, polled while running")
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.BreakerStateURL, &o.ci.breakerStateURL) }},
		{flag: "breaker-state-metric", path: "breaker_state_metric", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.ci.stateMetric, "breaker-state-metric", "", "with --breaker-state-url: the page is Prometheus text; the series holding the state, like resilience4j_circuitbreaker_state{name=\"backend\"} or app_http_circuit_breaker_state{service=\"payments\"}")
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.BreakerStateMetric, &o.ci.stateMetric) }},
		{flag: "breaker-state-map", path: "breaker_state_map", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.ci.stateMap, "breaker-state-map", "", "with --breaker-state-metric: label:NAME (the state is in label NAME, its series at 1: resilience4j) or VALUE=STATE pairs (default "+harness.DefaultStateMap+")")
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.BreakerStateMap, &o.ci.stateMap) }},
		{flag: "allow-remote", path: "allow_remote", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.req.allow, "allow-remote", "", "CIDR ranges besides 127.0.0.1/::1 that targets, state URLs and --upstream-addr (with --target) and --metrics-addr may be in, like 10.0.0.0/8 (never by default)")
		}, file: func(s *scenario.File, o *runOptions) bool {
			if s.AllowRemote != nil {
				o.req.allow = strings.Join(s.AllowRemote, ",")
			}
			return s.AllowRemote != nil
		}},
	}},
	{"Requests to your service", []setting{
		{flag: "method", path: "request.method", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.req.method, "method", http.MethodGet, "with --target: HTTP method of the api request")
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.Request.Method, &o.req.method) }},
		{flag: "header", path: "request.headers", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringArrayVar(&o.req.headers, "header", nil, "with --target: header 'Name: value' on every request (repeatable; use --header-env for secrets)")
		}, file: func(s *scenario.File, o *runOptions) bool { return joined(s.Request.Headers, ": ", &o.req.headers) }},
		{flag: "header-env", path: "request.header_env", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringArrayVar(&o.req.headerEnv, "header-env", nil, "with --target: header Name=ENV_VAR whose value is read from $ENV_VAR, never printed (repeatable)")
		}, file: func(s *scenario.File, o *runOptions) bool { return joined(s.Request.HeaderEnv, "=", &o.req.headerEnv) }},
		{flag: "body", path: "request.body", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.req.body, "body", "", "with --target: body of the api request")
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.Request.Body, &o.req.body) }},
		{flag: "body-file", path: "request.body_file", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.req.bodyFile, "body-file", "", "with --target: file holding the body of the api request")
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.Request.BodyFile, &o.req.bodyFile) }},
		{flag: "targets", path: "request.targets_file", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.req.targets, "targets", "", "with --target NAME=ORIGIN: request file in vegeta's targets format (http or JSON), sent to each target")
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.Request.TargetsFile, &o.req.targets) }},
		{flag: "expect", path: "expect", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringArrayVar(&o.req.expect, "expect", nil, "with --target: check an answer must meet to count as ok: "+harness.ExpectForms+" (repeatable)")
		}, file: func(s *scenario.File, o *runOptions) bool { return putList(s.Expect, &o.req.expect) }},
		{flag: "insecure", path: "tls.insecure", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.BoolVar(&o.req.insecure, "insecure", false, "with --target: do not verify HTTPS targets' certificates")
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.TLS.Insecure, &o.req.insecure) }},
		{flag: "ca-cert", path: "tls.ca_cert", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.req.caCert, "ca-cert", "", "with --target: PEM file of the CA that signed the HTTPS targets' certificates")
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.TLS.CACert, &o.req.caCert) }},
		{flag: "upstream-tls", path: "upstream.tls_dir", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.req.upstreamTL, "upstream-tls", "", "with --target: serve the upstream over HTTPS with the certificate kept in this folder (created on first use)")
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.Upstream.TLSDir, &o.req.upstreamTL) }},
		{flag: "upstream-grpc", path: "upstream.grpc", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.BoolVar(&o.req.upstreamGR, "upstream-grpc", false, "with --target: the upstreams serve gRPC, answering any method; faults in gRPC terms ("+strings.Join(faultserver.GRPCKinds(), ", ")+")")
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.Upstream.GRPC, &o.req.upstreamGR) }},
	}},
	{"Beyond one machine (shards)", []setting{
		{flag: "shard", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.shard.shard, "shard", "", "run as shard I of N (I/N, 0 ≤ I < N): send rate/N, interleaved with the other shards")
		}},
		{flag: "start-at", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.shard.startAt, "start-at", "", "absolute time the first arm starts (RFC 3339, like 2026-12-01T12:00:00Z); the run waits for it")
		}},
		{flag: "run-id", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.shard.runID, "run-id", "", "name of the run in the report (default: from the start time and the seed)")
		}},
	}},
	{"Gateway", []setting{
		{flag: "gateway-workers", path: "gateway.workers", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.IntVar(&o.cfg.Gateway.Workers, "gateway-workers", o.cfg.Gateway.Workers, "gateway worker pool size, shared by /api and /local")
		}, file: func(s *scenario.File, o *runOptions) bool { return put(s.Gateway.Workers, &o.cfg.Gateway.Workers) }},
		{flag: "queue-timeout", path: "gateway.queue_timeout", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.DurationVar(&o.cfg.Gateway.QueueTimeout, "queue-timeout", o.cfg.Gateway.QueueTimeout, "how long a request waits for a worker before 503 saturated")
		}, file: func(s *scenario.File, o *runOptions) bool {
			return put(s.Gateway.QueueTimeout, &o.cfg.Gateway.QueueTimeout)
		}},
		{flag: "call-timeout", path: "gateway.call_timeout", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.DurationVar(&o.cfg.Gateway.CallTimeout, "call-timeout", o.cfg.Gateway.CallTimeout, "deadline of each upstream call, body included")
		}, file: func(s *scenario.File, o *runOptions) bool {
			return put(s.Gateway.CallTimeout, &o.cfg.Gateway.CallTimeout)
		}},
		{flag: "local-work", path: "gateway.local_work", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.DurationVar(&o.cfg.Gateway.LocalWork, "local-work", o.cfg.Gateway.LocalWork, "time /local holds its worker")
		}, file: func(s *scenario.File, o *runOptions) bool { return put(s.Gateway.LocalWork, &o.cfg.Gateway.LocalWork) }},
	}},
	{"Breaker", []setting{
		{flag: "arms", path: "arms", complete: completeList(harness.DefaultConfig().Arms...), bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringSliceVar(&o.arms, "arms", o.cfg.Arms, "arms to run, in order: "+strings.Join(policy.Arms(), ", "))
		}, file: func(s *scenario.File, o *runOptions) bool {
			if s.Arms != nil {
				o.arms, o.ci.armsFlag = s.Arms, true
			}
			return s.Arms != nil
		}},
		{flag: "breaker-timeout", path: "breaker.timeout", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.DurationVar(&o.cfg.Breaker.Timeout, "breaker-timeout", o.cfg.Breaker.Timeout, "how long the breaker stays open before half-open")
		}, file: func(s *scenario.File, o *runOptions) bool { return put(s.Breaker.Timeout, &o.cfg.Breaker.Timeout) }},
		{flag: "breaker-max-requests", path: "breaker.max_requests", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.Uint32Var(&o.cfg.Breaker.MaxRequests, "breaker-max-requests", o.cfg.Breaker.MaxRequests, "probes admitted while half-open; that many successes close it")
		}, file: func(s *scenario.File, o *runOptions) bool {
			return put(s.Breaker.MaxRequests, &o.cfg.Breaker.MaxRequests)
		}},
		{flag: "breaker-interval", path: "breaker.interval", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.DurationVar(&o.cfg.Breaker.Interval, "breaker-interval", o.cfg.Breaker.Interval, "rolling window for counts while closed (0: until a state change)")
		}, file: func(s *scenario.File, o *runOptions) bool { return put(s.Breaker.Interval, &o.cfg.Breaker.Interval) }},
		{flag: "breaker-bucket-period", path: "breaker.bucket_period", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.DurationVar(&o.cfg.Breaker.BucketPeriod, "breaker-bucket-period", o.cfg.Breaker.BucketPeriod, "granularity of the rolling window")
		}, file: func(s *scenario.File, o *runOptions) bool {
			return put(s.Breaker.BucketPeriod, &o.cfg.Breaker.BucketPeriod)
		}},
		{flag: "breaker-consecutive-failures", path: "breaker.consecutive_failures", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.Uint32Var(&o.cfg.Breaker.ConsecutiveFailures, "breaker-consecutive-failures", o.cfg.Breaker.ConsecutiveFailures, "trip after this many failures in a row (0: off)")
		}, file: func(s *scenario.File, o *runOptions) bool {
			return put(s.Breaker.ConsecutiveFailures, &o.cfg.Breaker.ConsecutiveFailures)
		}},
		{flag: "breaker-failure-ratio", path: "breaker.failure_ratio", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.Float64Var(&o.cfg.Breaker.FailureRatio, "breaker-failure-ratio", o.cfg.Breaker.FailureRatio, "trip when this failure ratio is reached in the window (0: off)")
		}, file: func(s *scenario.File, o *runOptions) bool {
			return put(s.Breaker.FailureRatio, &o.cfg.Breaker.FailureRatio)
		}},
		{flag: "breaker-min-requests", path: "breaker.min_requests", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.Uint32Var(&o.cfg.Breaker.MinRequests, "breaker-min-requests", o.cfg.Breaker.MinRequests, "completed calls needed before the ratio rule applies")
		}, file: func(s *scenario.File, o *runOptions) bool {
			return put(s.Breaker.MinRequests, &o.cfg.Breaker.MinRequests)
		}},
	}},
	{"Retries and tiers", []setting{
		{flag: "retries", path: "gateway.retries", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.IntVar(&o.cfg.Gateway.Retries, "retries", o.cfg.Gateway.Retries, fmt.Sprintf("extra attempts per /api request after a failure the breaker would count, at every tier (0–%d)", harness.MaxRetries))
		}, file: func(s *scenario.File, o *runOptions) bool { return put(s.Gateway.Retries, &o.cfg.Gateway.Retries) }},
		{flag: "retry-backoff", path: "gateway.retry_backoff", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.DurationVar(&o.cfg.Gateway.RetryBackoff, "retry-backoff", o.cfg.Gateway.RetryBackoff, "base of the full-jitter backoff: retry n waits up to base·2^(n−1) (0: retry at once)")
		}, file: func(s *scenario.File, o *runOptions) bool {
			return put(s.Gateway.RetryBackoff, &o.cfg.Gateway.RetryBackoff)
		}},
		{flag: "tiers", path: "gateway.tiers", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.IntVar(&o.cfg.Tiers, "tiers", o.cfg.Tiers, fmt.Sprintf("gateways chained before the upstream, each with its own pool, timeouts, retries and policy (1–%d)", harness.MaxTiers))
		}, file: func(s *scenario.File, o *runOptions) bool { return put(s.Gateway.Tiers, &o.cfg.Tiers) }},
	}},
	{"Other policies (arms retry-budget, throttle)", []setting{
		{flag: "retry-budget", path: "retry_budget.ratio", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.retryBudget, "retry-budget", reports.Percent(o.cfg.RetryBudget.Ratio), "retry-budget arm: retries at most this share of requests over the window, e.g. 10% or 0.1")
		}, file: func(s *scenario.File, o *runOptions) bool {
			if v := s.RetryBudget.Ratio; v != nil {
				o.retryBudget = strconv.FormatFloat(float64(*v), 'g', -1, 64)
			}
			return s.RetryBudget.Ratio != nil
		}},
		{flag: "retry-budget-window", path: "retry_budget.window", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.DurationVar(&o.cfg.RetryBudget.Window, "retry-budget-window", o.cfg.RetryBudget.Window, "retry-budget arm: rolling window of the budget")
		}, file: func(s *scenario.File, o *runOptions) bool {
			return put(s.RetryBudget.Window, &o.cfg.RetryBudget.Window)
		}},
		{flag: "throttle-k", path: "throttle.k", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.Float64Var(&o.cfg.Throttle.K, "throttle-k", o.cfg.Throttle.K, "throttle arm: reject locally once requests exceed K × accepts over the window")
		}, file: func(s *scenario.File, o *runOptions) bool { return put(s.Throttle.K, &o.cfg.Throttle.K) }},
		{flag: "throttle-window", path: "throttle.window", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.DurationVar(&o.cfg.Throttle.Window, "throttle-window", o.cfg.Throttle.Window, "throttle arm: rolling window of requests and accepts")
		}, file: func(s *scenario.File, o *runOptions) bool { return put(s.Throttle.Window, &o.cfg.Throttle.Window) }},
	}},
	{"Upstream (faults apply to it)", []setting{
		{flag: "service-time", path: "upstream.service_time", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.DurationVar(&o.cfg.Upstream.ServiceTime, "service-time", o.cfg.Upstream.ServiceTime, "healthy upstream service time")
		}, file: func(s *scenario.File, o *runOptions) bool {
			return put(s.Upstream.ServiceTime, &o.cfg.Upstream.ServiceTime)
		}},
		{flag: "jitter", path: "upstream.jitter", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.DurationVar(&o.cfg.Upstream.Jitter, "jitter", o.cfg.Upstream.Jitter, "healthy upstream jitter")
		}, file: func(s *scenario.File, o *runOptions) bool { return put(s.Upstream.Jitter, &o.cfg.Upstream.Jitter) }},
		{flag: "upstream-concurrency", path: "upstream.concurrency", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.IntVar(&o.cfg.Upstream.Concurrency, "upstream-concurrency", o.cfg.Upstream.Concurrency, "upstream workers: finite capacity, each request holding one for its service time (0: unbounded)")
		}, file: func(s *scenario.File, o *runOptions) bool {
			return put(s.Upstream.Concurrency, &o.cfg.Upstream.Concurrency)
		}},
		{flag: "upstream-queue", path: "upstream.queue", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.IntVar(&o.cfg.Upstream.Queue, "upstream-queue", o.cfg.Upstream.Queue, "requests that wait for an upstream worker; beyond them 503 at once (needs --upstream-concurrency)")
		}, file: func(s *scenario.File, o *runOptions) bool { return put(s.Upstream.Queue, &o.cfg.Upstream.Queue) }},
		{flag: "upstream-honor-cancel", path: "upstream.honor_cancel", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.BoolVar(&o.cfg.Upstream.HonorCancel, "upstream-honor-cancel", o.cfg.Upstream.HonorCancel, "drop upstream work whose caller gave up (default: do it anyway, for nobody)")
		}, file: func(s *scenario.File, o *runOptions) bool {
			return putAs(s.Upstream.HonorCancel, &o.cfg.Upstream.HonorCancel)
		}},
	}},
	{"Tracing and metrics", []setting{
		{flag: "otlp-endpoint", path: "tracing.otlp_endpoint", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.cfg.Tracing.Endpoint, "otlp-endpoint", "", "export traces to this OTLP collector, e.g. http://127.0.0.1:4318 (default: OTEL_EXPORTER_OTLP_ENDPOINT; none: no traces)")
		}, file: func(s *scenario.File, o *runOptions) bool {
			return putAs(s.Tracing.OTLPEndpoint, &o.cfg.Tracing.Endpoint)
		}},
		{flag: "otlp-protocol", path: "tracing.otlp_protocol", complete: completeValues("grpc", "http/protobuf"), bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.cfg.Tracing.Protocol, "otlp-protocol", "", "OTLP protocol: grpc or http/protobuf (default: OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf)")
		}, file: func(s *scenario.File, o *runOptions) bool {
			return putAs(s.Tracing.OTLPProtocol, &o.cfg.Tracing.Protocol)
		}},
		{flag: "trace-sample", path: "tracing.sample", complete: completeValues("auto\tevery request up to 20,000 per run", "1", "0.1", "0.01", "0"), bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.traceSample, "trace-sample", "auto", "fraction of requests traced, in [0,1], or auto")
		}, file: func(s *scenario.File, o *runOptions) bool { return putAs(s.Tracing.Sample, &o.traceSample) }},
		{flag: "jaeger-url", path: "tracing.jaeger_url", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.cfg.Tracing.JaegerURL, "jaeger-url", o.cfg.Tracing.JaegerURL, "Jaeger UI base URL for the report's exemplar trace links")
		}, file: func(s *scenario.File, o *runOptions) bool {
			return putAs(s.Tracing.JaegerURL, &o.cfg.Tracing.JaegerURL)
		}},
		{flag: "metrics-addr", bind: func(f *pflag.FlagSet, o *runOptions) {
			f.StringVar(&o.metricsAddr, "metrics-addr", "", metricsFlagHelp)
		}},
	}},
}

// bindRunSettings declares run's flags from the table, bound to opts, and
// completes their values.
func bindRunSettings(cmd *cobra.Command, opts *runOptions) {
	for _, g := range runSettings {
		for _, s := range g.rows {
			s.bind(cmd.Flags(), opts)
			if s.complete != nil {
				mustComplete(cmd, s.flag, s.complete)
			}
		}
	}
	noFiles(cmd)
}

// settingGroups returns the help groups of a table, then Help.
func settingGroups(table []settingGroup) []flagGroup {
	var out []flagGroup
	for _, g := range table {
		fg := flagGroup{title: g.title}
		for _, s := range g.rows {
			fg.flags = append(fg.flags, s.flag)
		}
		out = append(out, fg)
	}
	return append(out, flagGroup{"Help", []string{"help"}})
}

// overlay lays the scenario file s under the flags of cmd: the value of
// every setting the file has and no flag gave is applied to opts, and
// where it came from remembered by flag (opts.ci.fileFields), for errors
// found later.
func overlay(cmd *cobra.Command, s *scenario.File, opts *runOptions) {
	opts.ci.fileFields = map[string]fileField{}
	for _, g := range runSettings {
		for _, st := range g.rows {
			if st.file == nil || cmd.Flags().Changed(st.flag) {
				continue
			}
			if st.file(s, opts) {
				opts.ci.fileFields[st.flag] = fileField{path: st.path, line: s.Line(st.path)}
			}
		}
	}
}
