package main

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

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
// one place a run setting is declared besides its field: it declares the
// flags (bound to the fields they fill), groups them in --help, completes
// their values, declares the scenario file's settings (scenarioFields),
// lays the file under the flags (a flag given wins) and says where a value
// came from when it is refused — the flag, or the file's path and line
// (see inFile). A new run setting is a field of the config its package
// owns (harness.Config: its default in DefaultConfig, its limit in
// Validate) or of runOptions (its default in newRunOptions), and a row
// here: the field's type gives the flag's and the file value's.
type setting struct {
	flag string
	// path is the setting's path in a scenario file; "" for a flag a file
	// cannot set.
	path string
	// to returns the field of o the flag fills and, unless file says
	// otherwise, the file's value too. Its type gives the flag's (see
	// bind) and the value's rules in the file (see scenario.Field); its
	// value when the flag is declared is the flag's default.
	to    func(o *runOptions) any
	usage string
	// complete, when set, completes the flag's value; other flags that
	// take a value complete nothing (not file names).
	complete cobra.CompletionFunc
	// file, when set, reads the file's value where its form is not the
	// flag's.
	file *fileForm
}

// fileForm reads a setting whose form in a scenario file is not its
// flag's, like a mapping for a repeated NAME=VALUE flag.
type fileForm struct {
	// typ is the value's type in the file; nil for a section the scenario
	// package reads itself.
	typ reflect.Type
	// read sets o from the file's value at path, when the file has one,
	// and says whether it had.
	read func(s *scenario.File, path string, o *runOptions) (bool, error)
}

// as reads the file's value as a T and sets o from it with set.
func as[T any](set func(o *runOptions, v T)) *fileForm {
	return &fileForm{typ: reflect.TypeFor[T](), read: func(s *scenario.File, path string, o *runOptions) (bool, error) {
		var v T
		found, err := s.Value(path, &v)
		if found {
			set(o, v)
		}
		return found, err
	}}
}

// section reads a section the scenario package decodes itself (thresholds,
// targets): read sets o from s and says whether the file had the section.
func section(read func(s *scenario.File, o *runOptions) bool) *fileForm {
	return &fileForm{read: func(s *scenario.File, _ string, o *runOptions) (bool, error) { return read(s, o), nil }}
}

// commaList is the field of a flag that takes a comma-separated list
// (pflag's StringSlice); a []string field's flag is repeated instead
// (StringArray).
type commaList []string

// shareValue is the flag of a scenario.Share field, read as a file's
// share is (scenario.ParseShare): a percentage like 10% or a fraction like
// 0.1; its range is Validate's to check. It is a string to pflag, so that
// --help shows its default as one ("10%").
type shareValue scenario.Share

func (v *shareValue) String() string { return reports.Percent(float64(*v)) }
func (v *shareValue) Type() string   { return "string" }
func (v *shareValue) Set(s string) error {
	f, err := scenario.ParseShare(s)
	if err != nil {
		return errors.New("want a share of requests like 10% or 0.1")
	}
	*v = shareValue(f)
	return nil
}

// settingGroup is a titled group of run's settings, shown together in
// --help.
type settingGroup struct {
	title string
	rows  []setting
}

// joined returns a file's map as the flag's repeated "key<sep>value"
// values, sorted by key.
func joined(m map[string]string, sep string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+sep+m[k])
	}
	return out
}

// newRunOptions returns run's options before the flags are parsed: the
// defaults the flags show.
func newRunOptions() *runOptions {
	cfg := harness.DefaultConfig()
	return &runOptions{cfg: cfg, phases: "5s,15s,10s", arms: cfg.Arms,
		progress: "auto", traceSample: "auto", req: requestOptions{method: http.MethodGet}}
}

// runSettings is run's flag ⇄ path table, in the order of --help: groups in
// the order shown, what most runs set first.
var runSettings = []settingGroup{
	{"Experiment: faults and schedule", []setting{
		{flag: "fault", to: func(o *runOptions) any { return &o.faults },
			usage:    "fault for the fault phase: a kind or a spec KIND[:ARG][,key=value...] (repeatable)",
			complete: completeFaults},
		{flag: "phases", to: func(o *runOptions) any { return &o.phases },
			usage:    "baseline,fault,recovery durations (whole seconds)",
			complete: completeValues("5s,15s,10s\tbaseline,fault,recovery")},
		{flag: "scenario", to: func(o *runOptions) any { return &o.ci.scenario },
			usage:    "read the experiment from this YAML scenario file; flags override it",
			complete: cobra.FixedCompletions([]string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt)},
		{flag: "dry-run", to: func(o *runOptions) any { return &o.ci.dryRun },
			usage: "check the flags, scenario and thresholds, print the plan and exit without running"},
		{flag: "seed", path: "seed", to: func(o *runOptions) any { return &o.cfg.Seed },
			usage: "seed for every random choice (0: pick one and print it)"},
		{flag: "trials", path: "trials", to: func(o *runOptions) any { return &o.cfg.Trials },
			usage: "run each arm this many times, interleaved A B B A …; figures become medians with their range, and the verdict needs every trial to agree"},
		{flag: "arm-mode", path: "arm_mode", to: func(o *runOptions) any { return &o.cfg.ArmMode },
			usage:    "how a trial's arms run: sequential, one after the other, or concurrent, at once on one clock, each with its own gateway, upstream and load runner (about half the time; not with --target or tracing)",
			complete: completeValues("sequential\tone arm after the other (the default)", "concurrent\tall arms at once, on one clock")},
	}},
	{"Load", []setting{
		{flag: "rate", path: "load.rate", to: func(o *runOptions) any { return &o.cfg.Rate },
			usage: "offered load in requests per second (constant, open model)"},
		{flag: "collateral-share", path: "load.collateral_share", to: func(o *runOptions) any { return &o.cfg.CollateralShare },
			usage: "fraction of requests sent to /local, in [0,1)"},
		{flag: "client-timeout", path: "load.client_timeout", to: func(o *runOptions) any { return &o.cfg.ClientTimeout },
			usage: "load runner timeout per request; with --target the default is " + harness.TargetClientTimeout.String() + ", past a service's own 1, 3, 5 or 10 s timeout, so its timeout answer arrives instead of counting as cbload's client timeout"},
	}},
	{"Thresholds", []setting{
		{flag: "threshold", path: "thresholds", to: func(o *runOptions) any { return &o.ci.thresholds },
			usage:    "check a report value, e.g. 'breaker.fault.collateral.success_ratio >= 99%' (repeatable; exit 99 when one fails)",
			complete: completeThreshold,
			file: section(func(s *scenario.File, o *runOptions) bool {
				o.ci.fileThresholds = s.Thresholds
				return s.Thresholds != nil
			})},
		{flag: "abort-on-fail", to: func(o *runOptions) any { return &o.ci.abortOnFail },
			usage: "stop the run as soon as a threshold has failed and can no longer pass (every threshold; in a scenario, abort_on_fail per threshold); exit 99"},
	}},
	{"Output", []setting{
		{flag: "out", path: "output.dir", to: func(o *runOptions) any { return &o.out },
			usage:    "output folder (default ./cbload-out/<time>-seed<seed>)",
			complete: cobra.FixedCompletions(nil, cobra.ShellCompDirectiveFilterDirs)},
		{flag: "force", path: "output.force", to: func(o *runOptions) any { return &o.force },
			usage: "overwrite an existing report in --out"},
		{flag: "progress", path: "output.progress", to: func(o *runOptions) any { return &o.progress },
			usage:    "live progress on stderr: auto (when a terminal), always, never",
			complete: completeValues("auto\tlive lines when stderr is a terminal", "always", "never")},
		{flag: "junit", path: "output.junit", to: func(o *runOptions) any { return &o.ci.junit },
			usage:    "write the threshold and verdict results as JUnit XML to this file",
			complete: cobra.FixedCompletions([]string{"xml"}, cobra.ShellCompDirectiveFilterFileExt)},
		{flag: "results", path: "output.results", to: func(o *runOptions) any { return &o.results },
			usage:    fmt.Sprintf("stream every request's result to this file as it completes, in vegeta's JSON results encoding (vegeta report/plot read it); at most %d GiB", harness.MaxResultsFile>>30),
			complete: cobra.FixedCompletions(nil, cobra.ShellCompDirectiveDefault)},
		{flag: "summary-template", path: "output.summary_template", to: func(o *runOptions) any { return &o.summaryTemplate },
			usage:    "also render this Go text/template over the report into summary.txt in --out (as 'cbload report --template' does)",
			complete: cobra.FixedCompletions(nil, cobra.ShellCompDirectiveDefault)},
		{flag: "no-step-summary", path: "output.step_summary", to: func(o *runOptions) any { return &o.ci.noStepSummary },
			usage: "do not append the Markdown report to $" + stepSummaryEnv,
			file:  as(func(o *runOptions, v bool) { o.ci.noStepSummary = !v })},
	}},
	{"Your own service (targets)", []setting{
		{flag: "target", path: "targets", to: func(o *runOptions) any { return &o.ci.targets },
			usage:    "test your own service: NAME=URL of an endpoint that calls the upstream (repeatable; loopback only)",
			complete: completeValues("breaker=http://127.0.0.1:", "no-breaker=http://127.0.0.1:"),
			file:     section(func(s *scenario.File, o *runOptions) bool { o.ci.fileTargets = s.Targets; return s.Targets != nil })},
		{flag: "upstream-addr", path: "upstream.addr", to: func(o *runOptions) any { return &o.ci.upstreamAddr },
			usage: "with --target: loopback host:port where the upstream listens and your service calls it"},
		{flag: "upstream", path: "upstreams", to: func(o *runOptions) any { return &o.req.upstreams },
			usage: "with --target: a named dependency NAME=ADDR your service calls, each its own upstream; faults for it are NAME=SPEC (repeatable, instead of --upstream-addr)",
			file:  as(func(o *runOptions, v map[string]string) { o.req.upstreams = joined(v, "=") })},
		{flag: "upstream-external", to: func(o *runOptions) any { return &o.shard.upstreamExternal },
			usage: "with --target: start no upstream; another process runs the one your service calls, on the run's schedule"},
		{flag: "collateral", path: "collateral", to: func(o *runOptions) any { return &o.ci.collateral },
			usage: "with --target: an endpoint that does not call the upstream, as a URL or a /path on each target"},
		{flag: "breaker-state-url", path: "breaker_state_url", to: func(o *runOptions) any { return &o.ci.breakerStateURL },
			usage: "with --target: URL or /path returning the breaker state as JSON, polled while running"},
		{flag: "breaker-state-metric", path: "breaker_state_metric", to: func(o *runOptions) any { return &o.ci.stateMetric },
			usage: "with --breaker-state-url: the page is Prometheus text; the series holding the state, like resilience4j_circuitbreaker_state{name=\"backend\"} or app_http_circuit_breaker_state{service=\"payments\"}"},
		{flag: "breaker-state-map", path: "breaker_state_map", to: func(o *runOptions) any { return &o.ci.stateMap },
			usage: "with --breaker-state-metric: label:NAME (the state is in label NAME, its series at 1: resilience4j) or VALUE=STATE pairs (default " + harness.DefaultStateMap + ")"},
		{flag: "allow-remote", path: "allow_remote", to: func(o *runOptions) any { return &o.req.allow },
			usage: "CIDR ranges besides 127.0.0.1/::1 that targets, state URLs and --upstream-addr (with --target) and --metrics-addr may be in, like 10.0.0.0/8 (never by default)",
			file:  as(func(o *runOptions, v []string) { o.req.allow = strings.Join(v, ",") })},
	}},
	{"Requests to your service", []setting{
		{flag: "method", path: "request.method", to: func(o *runOptions) any { return &o.req.method },
			usage: "with --target: HTTP method of the api request"},
		{flag: "header", path: "request.headers", to: func(o *runOptions) any { return &o.req.headers },
			usage: "with --target: header 'Name: value' on every request (repeatable; use --header-env for secrets)",
			file:  as(func(o *runOptions, v map[string]string) { o.req.headers = joined(v, ": ") })},
		{flag: "header-env", path: "request.header_env", to: func(o *runOptions) any { return &o.req.headerEnv },
			usage: "with --target: header Name=ENV_VAR whose value is read from $ENV_VAR, never printed (repeatable)",
			file:  as(func(o *runOptions, v map[string]string) { o.req.headerEnv = joined(v, "=") })},
		{flag: "body", path: "request.body", to: func(o *runOptions) any { return &o.req.body },
			usage: "with --target: body of the api request"},
		{flag: "body-file", path: "request.body_file", to: func(o *runOptions) any { return &o.req.bodyFile },
			usage: "with --target: file holding the body of the api request"},
		{flag: "targets", path: "request.targets_file", to: func(o *runOptions) any { return &o.req.targets },
			usage: "with --target NAME=ORIGIN: request file in vegeta's targets format (http or JSON), sent to each target"},
		{flag: "expect", path: "expect", to: func(o *runOptions) any { return &o.req.expect },
			usage: "with --target: check an answer must meet to count as ok: " + harness.ExpectForms + " (repeatable)"},
		{flag: "insecure", path: "tls.insecure", to: func(o *runOptions) any { return &o.req.insecure },
			usage: "with --target: do not verify HTTPS targets' certificates"},
		{flag: "ca-cert", path: "tls.ca_cert", to: func(o *runOptions) any { return &o.req.caCert },
			usage: "with --target: PEM file of the CA that signed the HTTPS targets' certificates"},
		{flag: "upstream-tls", path: "upstream.tls_dir", to: func(o *runOptions) any { return &o.req.upstreamTL },
			usage: "with --target: serve the upstream over HTTPS with the certificate kept in this folder (created on first use)"},
		{flag: "upstream-grpc", path: "upstream.grpc", to: func(o *runOptions) any { return &o.req.upstreamGR },
			usage: "with --target: the upstreams serve gRPC, answering any method; faults in gRPC terms (" + strings.Join(faultserver.GRPCKinds(), ", ") + ")"},
	}},
	{"Beyond one machine (shards)", []setting{
		{flag: "shard", to: func(o *runOptions) any { return &o.shard.shard },
			usage: "run as shard I of N (I/N, 0 ≤ I < N): send rate/N, interleaved with the other shards"},
		{flag: "start-at", to: func(o *runOptions) any { return &o.shard.startAt },
			usage: "absolute time the first arm starts (RFC 3339, like 2026-12-01T12:00:00Z); the run waits for it"},
		{flag: "run-id", to: func(o *runOptions) any { return &o.shard.runID },
			usage: "name of the run in the report (default: from the start time and the seed)"},
	}},
	{"Gateway", []setting{
		{flag: "gateway-workers", path: "gateway.workers", to: func(o *runOptions) any { return &o.cfg.Gateway.Workers },
			usage: "gateway worker pool size, shared by /api and /local"},
		{flag: "queue-timeout", path: "gateway.queue_timeout", to: func(o *runOptions) any { return &o.cfg.Gateway.QueueTimeout },
			usage: "how long a request waits for a worker before 503 saturated"},
		{flag: "call-timeout", path: "gateway.call_timeout", to: func(o *runOptions) any { return &o.cfg.Gateway.CallTimeout },
			usage: "deadline of each upstream call, body included"},
		{flag: "local-work", path: "gateway.local_work", to: func(o *runOptions) any { return &o.cfg.Gateway.LocalWork },
			usage: "time /local holds its worker"},
	}},
	{"Breaker", []setting{
		{flag: "arms", path: "arms", to: func(o *runOptions) any { return &o.arms },
			usage:    "arms to run, in order: " + strings.Join(policy.Arms(), ", "),
			complete: completeList(harness.DefaultConfig().Arms...),
			file:     as(func(o *runOptions, v []string) { o.arms, o.ci.armsFlag = v, true })},
		{flag: "breaker-timeout", path: "breaker.timeout", to: func(o *runOptions) any { return &o.cfg.Breaker.Timeout },
			usage: "how long the breaker stays open before half-open"},
		{flag: "breaker-max-requests", path: "breaker.max_requests", to: func(o *runOptions) any { return &o.cfg.Breaker.MaxRequests },
			usage: "probes admitted while half-open; that many successes close it"},
		{flag: "breaker-interval", path: "breaker.interval", to: func(o *runOptions) any { return &o.cfg.Breaker.Interval },
			usage: "rolling window for counts while closed (0: until a state change)"},
		{flag: "breaker-bucket-period", path: "breaker.bucket_period", to: func(o *runOptions) any { return &o.cfg.Breaker.BucketPeriod },
			usage: "granularity of the rolling window"},
		{flag: "breaker-consecutive-failures", path: "breaker.consecutive_failures", to: func(o *runOptions) any { return &o.cfg.Breaker.ConsecutiveFailures },
			usage: "trip after this many failures in a row (0: off)"},
		{flag: "breaker-failure-ratio", path: "breaker.failure_ratio", to: func(o *runOptions) any { return &o.cfg.Breaker.FailureRatio },
			usage: "trip when this failure ratio is reached in the window (0: off)"},
		{flag: "breaker-min-requests", path: "breaker.min_requests", to: func(o *runOptions) any { return &o.cfg.Breaker.MinRequests },
			usage: "completed calls needed before the ratio rule applies"},
	}},
	{"Retries and tiers", []setting{
		{flag: "retries", path: "gateway.retries", to: func(o *runOptions) any { return &o.cfg.Gateway.Retries },
			usage: fmt.Sprintf("extra attempts per /api request after a failure the breaker would count, at every tier (0–%d)", harness.MaxRetries)},
		{flag: "retry-backoff", path: "gateway.retry_backoff", to: func(o *runOptions) any { return &o.cfg.Gateway.RetryBackoff },
			usage: "base of the full-jitter backoff: retry n waits up to base·2^(n−1) (0: retry at once)"},
		{flag: "tiers", path: "gateway.tiers", to: func(o *runOptions) any { return &o.cfg.Tiers },
			usage: fmt.Sprintf("gateways chained before the upstream, each with its own pool, timeouts, retries and policy (1–%d)", harness.MaxTiers)},
	}},
	{"Other policies (arms retry-budget, throttle)", []setting{
		{flag: "retry-budget", path: "retry_budget.ratio", to: func(o *runOptions) any { return (*scenario.Share)(&o.cfg.RetryBudget.Ratio) },
			usage: "retry-budget arm: retries at most this share of requests over the window, e.g. 10% or 0.1"},
		{flag: "retry-budget-window", path: "retry_budget.window", to: func(o *runOptions) any { return &o.cfg.RetryBudget.Window },
			usage: "retry-budget arm: rolling window of the budget"},
		{flag: "throttle-k", path: "throttle.k", to: func(o *runOptions) any { return &o.cfg.Throttle.K },
			usage: "throttle arm: reject locally once requests exceed K × accepts over the window"},
		{flag: "throttle-window", path: "throttle.window", to: func(o *runOptions) any { return &o.cfg.Throttle.Window },
			usage: "throttle arm: rolling window of requests and accepts"},
	}},
	{"Upstream (faults apply to it)", []setting{
		{flag: "service-time", path: "upstream.service_time", to: func(o *runOptions) any { return &o.cfg.Upstream.ServiceTime },
			usage: "healthy upstream service time"},
		{flag: "jitter", path: "upstream.jitter", to: func(o *runOptions) any { return &o.cfg.Upstream.Jitter },
			usage: "healthy upstream jitter"},
		{flag: "upstream-concurrency", path: "upstream.concurrency", to: func(o *runOptions) any { return &o.cfg.Upstream.Concurrency },
			usage: "upstream workers: finite capacity, each request holding one for its service time (0: unbounded)"},
		{flag: "upstream-queue", path: "upstream.queue", to: func(o *runOptions) any { return &o.cfg.Upstream.Queue },
			usage: "requests that wait for an upstream worker; beyond them 503 at once (needs --upstream-concurrency)"},
		{flag: "upstream-honor-cancel", path: "upstream.honor_cancel", to: func(o *runOptions) any { return &o.cfg.Upstream.HonorCancel },
			usage: "drop upstream work whose caller gave up (default: do it anyway, for nobody)"},
	}},
	{"Tracing and metrics", []setting{
		{flag: "otlp-endpoint", path: "tracing.otlp_endpoint", to: func(o *runOptions) any { return &o.cfg.Tracing.Endpoint },
			usage: "export traces to this OTLP collector, e.g. http://127.0.0.1:4318 (default: OTEL_EXPORTER_OTLP_ENDPOINT; none: no traces)"},
		{flag: "otlp-protocol", path: "tracing.otlp_protocol", to: func(o *runOptions) any { return &o.cfg.Tracing.Protocol },
			usage:    "OTLP protocol: grpc or http/protobuf (default: OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf)",
			complete: completeValues("grpc", "http/protobuf")},
		{flag: "trace-sample", path: "tracing.sample", to: func(o *runOptions) any { return &o.traceSample },
			usage:    "fraction of requests traced, in [0,1], or auto",
			complete: completeValues("auto\tevery request up to 20,000 per run", "1", "0.1", "0.01", "0")},
		{flag: "jaeger-url", path: "tracing.jaeger_url", to: func(o *runOptions) any { return &o.cfg.Tracing.JaegerURL },
			usage: "Jaeger UI base URL for the report's exemplar trace links"},
		{flag: "metrics-addr", to: func(o *runOptions) any { return &o.metricsAddr },
			usage: metricsFlagHelp},
	}},
}

// bind declares the row's flag on f, bound to its field in o, with the
// field's value as the default; the field's type gives the flag's.
func (st setting) bind(f *pflag.FlagSet, o *runOptions) {
	switch p := st.to(o).(type) {
	case *string:
		f.StringVar(p, st.flag, *p, st.usage)
	case *bool:
		f.BoolVar(p, st.flag, *p, st.usage)
	case *int:
		f.IntVar(p, st.flag, *p, st.usage)
	case *int64:
		f.Int64Var(p, st.flag, *p, st.usage)
	case *uint32:
		f.Uint32Var(p, st.flag, *p, st.usage)
	case *float64:
		f.Float64Var(p, st.flag, *p, st.usage)
	case *time.Duration:
		f.DurationVar(p, st.flag, *p, st.usage)
	case *[]string:
		f.StringArrayVar(p, st.flag, *p, st.usage)
	case *commaList:
		f.StringSliceVar((*[]string)(p), st.flag, *p, st.usage)
	case *scenario.Share:
		f.Var((*shareValue)(p), st.flag, st.usage)
	default:
		panic(fmt.Sprintf("--%s: no flag for a %T", st.flag, p))
	}
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

// scenarioFields returns the settings a scenario file holds besides the
// sections the scenario package reads itself: each row's path and the type
// of its value in the file.
func scenarioFields() []scenario.Field {
	var out []scenario.Field
	var o runOptions
	for _, g := range runSettings {
		for _, st := range g.rows {
			switch {
			case st.path == "":
			case st.file == nil:
				out = append(out, scenario.Field{Path: st.path, Type: reflect.TypeOf(st.to(&o)).Elem()})
			case st.file.typ != nil:
				out = append(out, scenario.Field{Path: st.path, Type: st.file.typ})
			}
		}
	}
	return out
}

// overlay lays the scenario file s under the flags of cmd: the value of
// every setting the file has and no flag gave is applied to opts, and
// where it came from remembered by flag (opts.ci.fileFields), for errors
// found later.
func overlay(cmd *cobra.Command, s *scenario.File, opts *runOptions) error {
	opts.ci.fileFields = map[string]fileField{}
	for _, g := range runSettings {
		for _, st := range g.rows {
			if st.path == "" || cmd.Flags().Changed(st.flag) {
				continue
			}
			read := func(s *scenario.File, path string, o *runOptions) (bool, error) { return s.Value(path, st.to(o)) }
			if st.file != nil {
				read = st.file.read
			}
			found, err := read(s, st.path, opts)
			if err != nil {
				return fmt.Errorf("--%s: %w", st.flag, err)
			}
			if found {
				opts.ci.fileFields[st.flag] = fileField{path: st.path, line: s.Line(st.path)}
			}
		}
	}
	return nil
}
