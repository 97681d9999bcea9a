package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/internal/printable"
	"github.com/cbload/cbload/policy"
	"github.com/cbload/cbload/reports"
	"github.com/cbload/cbload/scenario"
)

// runOptions holds the flags of `cbload run`.
type runOptions struct {
	cfg    harness.Config
	phases string
	faults []string
	arms   []string
	// retryBudget is --retry-budget: a share like 10% or 0.1.
	retryBudget string
	rateFlag    bool // --rate was given
	timeoutFlag bool // --client-timeout was given
	out         string
	force       bool
	progress    string
	// results is --results: a file for every raw result, vegeta's JSON.
	results string
	// summaryTemplate is --summary-template: a text/template rendered over
	// the report into summary.txt; summary is it parsed.
	summaryTemplate string
	summary         *reports.SummaryTemplate
	// traceSample is --trace-sample: "auto" or a ratio in [0,1].
	traceSample string
	// metricsAddr is --metrics-addr: where to serve live metrics.
	metricsAddr string
	repro       string // the command line that reruns this experiment, without --seed
	ci          ciOptions
	shard       shardOptions
	req         requestOptions
}

func newRunCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := &runOptions{cfg: harness.DefaultConfig()}
	d := &opts.cfg
	cmd := &cobra.Command{
		Use:   "run --fault KIND|SPEC [flags]",
		Short: "Run the A/B experiment: the same fault with and without a circuit breaker",
		Long: `Run starts, in-process on loopback, a fault-injecting upstream and a gateway
with a bounded worker pool whose /api calls the upstream (through a circuit
breaker in the "breaker" arm) and whose /local never does. It drives a
constant-rate load through baseline → fault → recovery, once per arm, and
writes report.json, report.md and report.html.

The defaults are sized for a 2-core machine so that a latency fault saturates
the gateway without the breaker: 200 req/s, 32 workers, 500ms call timeout.
The breaker opens after 5 consecutive failures, or when ≥ 50% of at least
20 calls in its 10s window failed; it stays open 2s, then admits 3 probes;
3 successes close it. With --fault=latency (1s ≫ the 500ms call timeout)
that gives a clean open → half-open → closed cycle.

Measurements: every outcome and latency counts in the second and phase the
request completed in (sent and scheduled counts by send time), so "during the
fault" figures never credit the fault with answers given after it ended. Time
to recover runs from the end of the fault to the first full second in which
/api succeeds ≥ 99% with the breaker closed throughout (100 ms resolution).

Trials: --trials N runs each arm N times, interleaved (A B, B A, A B …) so
drift of the machine lands on both. Every headline figure is then the median
over the trials with its min–max; thresholds on <arm>.figures.X read the
median and <arm>.worst.X the worst trial; the verdict is given only when every
trial agrees, else it is inconclusive ("trials disagree") with the split.

Validity: cbload checks the experiment itself, per arm — the offered rate held
within 2% every second, send lag p99 ≤ 100ms, no process stall (a watchdog gap
over 250ms), no file descriptor or port exhaustion, a healthy baseline (/api
and /local ≥ 99%) and, with --target, the upstream reached in the baseline. A
failed check makes the verdict inconclusive, names the check first in every
report and exits 4.

Fault kinds (a bare kind takes the default argument shown):
` + faultKindsHelp() + `
Tracing: with --otlp-endpoint (or the standard OTEL_EXPORTER_OTLP_ENDPOINT,
OTEL_EXPORTER_OTLP_PROTOCOL=grpc|http/protobuf, ...) the load runner
(cbload-loadgen), the gateway (cbload-gateway) and the upstream
(cbload-upstream) export OpenTelemetry traces; one request is one trace across
all three. --trace-sample sets the fraction of requests traced; the default,
auto, traces every request of a run offering up to 20,000 (the default run
offers 12,000) and proportionally fewer beyond, unless OTEL_TRACES_SAMPLER
says otherwise. Breaker state changes are always traced. The report lists
exemplar traces per arm and phase, linked to --jaeger-url.

` + ciHelp + "\n\n" + requestHelp + "\n" + shardHelp,
		Example: `  cbload run --fault=latency
  cbload run --fault=hang --phases 3s,10s,5s
  cbload run --fault 'error:503,rate=0.3' --fault 'latency:300ms,rate=0.5'
  cbload run --fault=latency --arms breaker --rate 100 --out ./out --force
  cbload run --scenario examples/flapping.yaml --junit junit.xml
  cbload run --fault=latency --threshold 'breaker.fault.collateral.success_ratio >= 99%'
  cbload run --upstream-addr 127.0.0.1:9090 --fault=hang --collateral /local \
      --target breaker=http://127.0.0.1:8081/api --target no-breaker=http://127.0.0.1:8082/api`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("run takes no arguments, got %q; faults go in --fault", args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.repro = reproCommand(cmd)
			opts.rateFlag = cmd.Flags().Changed("rate")
			opts.timeoutFlag = cmd.Flags().Changed("client-timeout")
			if err := applyScenario(cmd, opts); err != nil {
				return err
			}
			return opts.ci.inFile(runRun(cmd.Context(), opts, stdout, stderr))
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.phases, "phases", "5s,15s,10s", "baseline,fault,recovery durations (whole seconds)")
	f.StringArrayVar(&opts.faults, "fault", nil, "fault for the fault phase: a kind or a spec KIND[:ARG][,key=value...] (repeatable)")
	f.StringSliceVar(&opts.arms, "arms", d.Arms, "arms to run, in order: "+strings.Join(policy.Arms(), ", "))
	f.Float64Var(&d.Rate, "rate", d.Rate, "offered load in requests per second (constant, open model)")
	f.Float64Var(&d.CollateralShare, "collateral-share", d.CollateralShare, "fraction of requests sent to /local, in [0,1)")
	f.DurationVar(&d.ClientTimeout, "client-timeout", d.ClientTimeout, "load runner timeout per request; with --target the default is "+harness.TargetClientTimeout.String()+", past a service's own 1, 3, 5 or 10 s timeout, so its timeout answer arrives instead of counting as cbload's client timeout")
	f.IntVar(&d.Gateway.Workers, "gateway-workers", d.Gateway.Workers, "gateway worker pool size, shared by /api and /local")
	f.DurationVar(&d.Gateway.QueueTimeout, "queue-timeout", d.Gateway.QueueTimeout, "how long a request waits for a worker before 503 saturated")
	f.DurationVar(&d.Gateway.CallTimeout, "call-timeout", d.Gateway.CallTimeout, "deadline of each upstream call, body included")
	f.DurationVar(&d.Gateway.LocalWork, "local-work", d.Gateway.LocalWork, "time /local holds its worker")
	f.IntVar(&d.Tiers, "tiers", d.Tiers, fmt.Sprintf("gateways chained before the upstream, each with its own pool, timeouts, retries and policy (1–%d)", harness.MaxTiers))
	f.IntVar(&d.Gateway.Retries, "retries", d.Gateway.Retries, fmt.Sprintf("extra attempts per /api request after a failure the breaker would count, at every tier (0–%d)", harness.MaxRetries))
	f.DurationVar(&d.Gateway.RetryBackoff, "retry-backoff", d.Gateway.RetryBackoff, "base of the full-jitter backoff: retry n waits up to base·2^(n−1) (0: retry at once)")
	f.StringVar(&opts.retryBudget, "retry-budget", reports.Percent(d.RetryBudget.Ratio), "retry-budget arm: retries at most this share of requests over the window, e.g. 10% or 0.1")
	f.DurationVar(&d.RetryBudget.Window, "retry-budget-window", d.RetryBudget.Window, "retry-budget arm: rolling window of the budget")
	f.Float64Var(&d.Throttle.K, "throttle-k", d.Throttle.K, "throttle arm: reject locally once requests exceed K × accepts over the window")
	f.DurationVar(&d.Throttle.Window, "throttle-window", d.Throttle.Window, "throttle arm: rolling window of requests and accepts")
	f.DurationVar(&d.Breaker.Timeout, "breaker-timeout", d.Breaker.Timeout, "how long the breaker stays open before half-open")
	f.Uint32Var(&d.Breaker.MaxRequests, "breaker-max-requests", d.Breaker.MaxRequests, "probes admitted while half-open; that many successes close it")
	f.DurationVar(&d.Breaker.Interval, "breaker-interval", d.Breaker.Interval, "rolling window for counts while closed (0: until a state change)")
	f.DurationVar(&d.Breaker.BucketPeriod, "breaker-bucket-period", d.Breaker.BucketPeriod, "granularity of the rolling window")
	f.Uint32Var(&d.Breaker.ConsecutiveFailures, "breaker-consecutive-failures", d.Breaker.ConsecutiveFailures, "trip after this many failures in a row (0: off)")
	f.Float64Var(&d.Breaker.FailureRatio, "breaker-failure-ratio", d.Breaker.FailureRatio, "trip when this failure ratio is reached in the window (0: off)")
	f.Uint32Var(&d.Breaker.MinRequests, "breaker-min-requests", d.Breaker.MinRequests, "completed calls needed before the ratio rule applies")
	f.DurationVar(&d.Upstream.ServiceTime, "service-time", d.Upstream.ServiceTime, "healthy upstream service time")
	f.DurationVar(&d.Upstream.Jitter, "jitter", d.Upstream.Jitter, "healthy upstream jitter")
	f.IntVar(&d.Upstream.Concurrency, "upstream-concurrency", d.Upstream.Concurrency, "upstream workers: finite capacity, each request holding one for its service time (0: unbounded)")
	f.IntVar(&d.Upstream.Queue, "upstream-queue", d.Upstream.Queue, "requests that wait for an upstream worker; beyond them 503 at once (needs --upstream-concurrency)")
	f.BoolVar(&d.Upstream.HonorCancel, "upstream-honor-cancel", d.Upstream.HonorCancel, "drop upstream work whose caller gave up (default: do it anyway, for nobody)")
	f.Int64Var(&d.Seed, "seed", 0, "seed for every random choice (0: pick one and print it)")
	f.IntVar(&d.Trials, "trials", d.Trials, "run each arm this many times, interleaved A B B A …; figures become medians with their range, and the verdict needs every trial to agree")
	f.StringVar(&d.ArmMode, "arm-mode", d.ArmMode, "how a trial's arms run: sequential, one after the other, or concurrent, at once on one clock, each with its own gateway, upstream and load runner (about half the time; not with --target or tracing)")
	f.StringVar(&opts.out, "out", "", "output folder (default ./cbload-out/<time>-seed<seed>)")
	f.BoolVar(&opts.force, "force", false, "overwrite an existing report in --out")
	f.StringVar(&opts.results, "results", "", fmt.Sprintf("stream every request's result to this file as it completes, in vegeta's JSON results encoding (vegeta report/plot read it); at most %d GiB", harness.MaxResultsFile>>30))
	f.StringVar(&opts.summaryTemplate, "summary-template", "", "also render this Go text/template over the report into summary.txt in --out (as 'cbload report --template' does)")
	f.StringVar(&opts.progress, "progress", "auto", "live progress on stderr: auto (when a terminal), always, never")
	f.StringVar(&d.Tracing.Endpoint, "otlp-endpoint", "", "export traces to this OTLP collector, e.g. http://127.0.0.1:4318 (default: OTEL_EXPORTER_OTLP_ENDPOINT; none: no traces)")
	f.StringVar(&d.Tracing.Protocol, "otlp-protocol", "", "OTLP protocol: grpc or http/protobuf (default: OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf)")
	f.StringVar(&opts.traceSample, "trace-sample", "auto", "fraction of requests traced, in [0,1], or auto")
	f.StringVar(&opts.metricsAddr, "metrics-addr", "", metricsFlagHelp)
	f.StringVar(&d.Tracing.JaegerURL, "jaeger-url", d.Tracing.JaegerURL, "Jaeger UI base URL for the report's exemplar trace links")
	addCIFlags(cmd, &opts.ci)
	addShardFlags(f, &opts.shard)
	addRequestFlags(cmd, &opts.req)
	useGroupedHelp(cmd)
	registerRunCompletions(cmd)
	return cmd
}

// stormRate is the default rate of a chain of tiers that retry: the default
// divided by (1 + retries)^(tiers − 1), so that when every attempt fails the
// bottom tier is asked for no more than one tier is at the default rate.
// Without that a 3 × 3 retry storm at 200 req/s would need ~13k requests/s
// across the tiers, more than a 2-core machine serves, and the pools'
// saturation — not the retries — would set what reaches the upstream. why
// is empty when the default rate stands.
func stormRate(cfg harness.Config) (rate float64, why string) {
	if cfg.Tiers <= 1 || cfg.Gateway.Retries == 0 {
		return cfg.Rate, ""
	}
	div := math.Pow(float64(1+cfg.Gateway.Retries), float64(cfg.Tiers-1))
	rate = cfg.Rate / div
	return rate, fmt.Sprintf("--rate defaults to %g req/s with %d tiers × %d retries (%g / %g), so a retry storm fits on this machine; set --rate to override",
		rate, cfg.Tiers, cfg.Gateway.Retries, cfg.Rate, div)
}

func faultKindsHelp() string {
	var b strings.Builder
	for _, k := range faultserver.Kinds() {
		name := k.Name
		if k.DefaultArg != "" {
			name += ":" + k.DefaultArg
		}
		fmt.Fprintf(&b, "  %-18s %s\n", name, k.Description)
	}
	return b.String()
}

// parsePhases turns "5s,15s,10s" into baseline, fault and recovery phases;
// the faults of faults apply in the middle one.
func parsePhases(s string, faults harness.Phase) ([]harness.Phase, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return nil, usagef("--phases %q: want three durations baseline,fault,recovery like 5s,15s,10s", s)
	}
	names := []string{"baseline", "fault", "recovery"}
	var phases []harness.Phase
	for i, p := range parts {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil {
			return nil, usagef("--phases: %s duration %q: want a duration like 5s", names[i], p)
		}
		ph := harness.Phase{Name: names[i], Duration: d}
		if i == 1 {
			ph.Faults, ph.UpstreamFaults = faults.Faults, faults.UpstreamFaults
		}
		phases = append(phases, ph)
	}
	return phases, nil
}

func runRun(ctx context.Context, opts *runOptions, stdout, stderr io.Writer) error {
	cfg := opts.cfg
	if err := checkFlagCounts(opts); err != nil {
		return err
	}
	if err := checkEnv(ctx, !opts.ci.noStepSummary); err != nil {
		return err
	}
	phases, err := schedule(opts)
	if err != nil {
		return err
	}
	if err := checkSchedule(opts, phases); err != nil {
		return err
	}
	cfg.Phases = phases
	cfg.Arms = opts.arms
	if err := applyShard(&cfg, &opts.shard, cfg.Seed != 0); err != nil {
		return err
	}
	allow, err := opts.req.parseAllow()
	if err != nil {
		return err
	}
	opts.ci.allow = allow
	if err := checkMetricsAddr(opts.metricsAddr, allow); err != nil {
		return err
	}
	if _, inFile := opts.ci.fileFields["rate"]; !opts.rateFlag && !inFile {
		// Out-of-range tiers or retries are named by Validate, not here.
		if r, why := stormRate(cfg); why != "" && cfg.Tiers <= harness.MaxTiers && cfg.Gateway.Retries <= harness.MaxRetries {
			if r < harness.MinRate {
				// One line that says what to change, not the note and then
				// the rate's own error.
				return usagef("--tiers %d, --retries %d: the default rate for them is %.3g req/s (%g / (1+%d)^%d, so a retry storm fits on this machine), below the %d req/s cbload paces; give --rate (%d to %d), or fewer tiers or retries",
					cfg.Tiers, cfg.Gateway.Retries, r, cfg.Rate, cfg.Gateway.Retries, cfg.Tiers-1, harness.MinRate, harness.MinRate, harness.MaxRate)
			}
			cfg.Rate = r
			fmt.Fprintln(stderr, "cbload: "+why)
		}
	}
	share, err := scenario.ParseShare(opts.retryBudget)
	if err != nil {
		return usagef("--retry-budget %q: want a share of requests like 10%% or 0.1", opts.retryBudget)
	}
	cfg.RetryBudget.Ratio = share
	if err := applyCI(&cfg, opts); err != nil {
		return err
	}
	// A user's service answers its own timeouts (commonly 1, 3 or 5 s)
	// in its own time: the load runner waits past the longest of them.
	if _, inFile := opts.ci.fileFields["client-timeout"]; len(cfg.Targets) > 0 && !opts.timeoutFlag && !inFile {
		cfg.ClientTimeout = harness.TargetClientTimeout
	}
	reqAllow := allow
	if len(cfg.Targets) == 0 && opts.metricsAddr != "" {
		reqAllow = nil // --allow-remote is then for --metrics-addr
	}
	if err := applyRequests(ctx, &cfg, &opts.req, reqAllow); err != nil {
		return err
	}
	switch opts.progress {
	case "auto", "always", "never":
	default:
		return usagef("--progress %q: want auto, always or never", opts.progress)
	}
	if opts.traceSample != "auto" {
		v, err := strconv.ParseFloat(opts.traceSample, 64)
		if err != nil || !(v >= 0 && v <= 1) {
			return usagef("--trace-sample %q: want a fraction in [0,1] like 0.1, or auto", opts.traceSample)
		}
		cfg.Tracing.SampleRatio = &v
	}
	// The harness checks these only when there is an endpoint to export
	// to; a typo in a flag given on purpose is still a mistake.
	switch p := cfg.Tracing.Protocol; p {
	case "", "grpc", "http/protobuf":
	default:
		return usagef("--otlp-protocol %q: want grpc or http/protobuf", p)
	}
	if u, err := url.Parse(cfg.Tracing.JaegerURL); cfg.Tracing.JaegerURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || checkPort(cfg.Tracing.JaegerURL) != nil) {
		return usagef("--jaeger-url %q: want an http:// or https:// URL like %s, with a port from 1 to 65535 if any", cfg.Tracing.JaegerURL, harness.DefaultJaegerURL)
	}
	if e := cfg.Tracing.Endpoint; e != "" {
		// host:port means http://, as the harness reads it.
		if !strings.Contains(e, "://") {
			e = "http://" + e
		}
		if err := checkEndpointURL(e); err != nil {
			return usagef("--otlp-endpoint %q: %v, or host:port", cfg.Tracing.Endpoint, err)
		}
	}
	cfg.Tracing.Version = version
	if err := cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	// Before any other output: a run that would not start says nothing else.
	if opts.out != "" {
		if err := outHoldsReport(opts.out, opts.force); err != nil {
			return err
		}
		if err := checkOutputDir("--out", opts.out, append(reportFileNames, "summary.txt"), runInputs(opts)); err != nil {
			return err
		}
	}
	if opts.summaryTemplate != "" {
		if opts.summary, err = readSummaryTemplate(ctx, opts.summaryTemplate, "--summary-template"); err != nil {
			return err
		}
		if err := checkSummaryFields(ctx, opts.summary, opts.summaryTemplate, &cfg); err != nil {
			return err
		}
	}
	if opts.results != "" {
		if err := checkOutputFile("--results", opts.results, "results.json", runOutputs(opts, "--results"), opts.force); err != nil {
			return err
		}
		if err := checkWritable(opts.results); err != nil {
			return withCode(exitCouldNotRun, fmt.Errorf("--results %s: %w", opts.results, err))
		}
	}
	picked := cfg.Seed == 0
	if picked {
		cfg.Seed = randomSeed()
	}
	if opts.ci.dryRun {
		return dryRun(ctx, stdout, &cfg, opts, picked)
	}
	fmt.Fprintf(stderr, "cbload: seed %d\n", cfg.Seed)
	if line := shardLine(&cfg); line != "" {
		fmt.Fprintf(stderr, "cbload: %s\n", line)
	}
	if !cfg.Tracing.Exporting() {
		fmt.Fprintln(stderr, "cbload: tracing off: no OTLP endpoint (set --otlp-endpoint or OTEL_EXPORTER_OTLP_ENDPOINT to export traces)")
	}

	if opts.metricsAddr != "" {
		cfg.Metrics = harness.NewMetrics()
		ms, err := startMetricsServer(opts.metricsAddr, cfg.Metrics.Handler())
		if err != nil {
			return err
		}
		defer ms.close()
		fmt.Fprintf(stderr, "cbload: metrics at %s\n", ms.url)
	}

	dir := opts.out
	if dir == "" {
		dir = filepath.Join("cbload-out", time.Now().Format("20060102-150405")+fmt.Sprintf("-seed%d", cfg.Seed))
	}
	_, statErr := os.Stat(dir)
	release, err := prepareOut(dir, opts.force)
	if err != nil {
		return err
	}
	defer release()
	if opts.results != "" {
		// checkWritable removed the folders it made for its probe.
		err := os.MkdirAll(filepath.Dir(opts.results), 0o755)
		if err == nil {
			cfg.Results, err = harness.CreateResultsFile(ctx, opts.results, harness.MaxResultsFile)
		}
		if err != nil {
			if statErr != nil {
				os.Remove(dir)
			}
			if ctx.Err() != nil {
				return errInterrupted // a signal while a FIFO waited for its reader
			}
			return withCode(exitCouldNotRun, fmt.Errorf("--results %s: %w", opts.results, unwrapWrite(err)))
		}
	}
	progress := newProgressPrinter(opts.progress, stderr, cfg.Terms())
	if progress != nil {
		if cfg.ArmMode == harness.ArmsConcurrent {
			progress.together = len(cfg.Arms)
		}
		cfg.Progress = progress.show
	}

	rep, runErr := harness.Run(ctx, cfg)
	// The load has stopped: what follows writes what was measured, after
	// a signal too.
	holdWatchdog(resultsWriteGrace)
	progress.done()
	var resultsSum *reports.ResultsFile
	var resultsErr error
	if cfg.Results != nil {
		resultsSum, resultsErr = cfg.Results.Close()
		if resultsSum.Written == 0 && (rep == nil || len(rep.Arms) == 0) {
			os.Remove(resultsSum.Path) // no load was sent: leave nothing behind
		}
	}
	var setup *harness.SetupError
	if errors.As(runErr, &setup) && (rep == nil || len(rep.Arms) == 0) {
		if statErr != nil {
			os.Remove(dir) // created above, and still empty: leave nothing behind
		}
		if ctx.Err() != nil {
			return errInterrupted // a signal during setup or the target probe
		}
		return withCode(exitCouldNotRun, runErr)
	}
	if rep == nil {
		if ctx.Err() != nil {
			return errInterrupted
		}
		return runErr
	}
	if errors.Is(runErr, context.Canceled) && len(rep.Arms) == 0 {
		if statErr != nil {
			os.Remove(dir) // created above, and still empty: leave nothing behind
		}
		fmt.Fprintln(stderr, "cbload: interrupted before the start time; no load was sent and no report written")
		return withCode(exitInterrupted, errSilent)
	}
	rep.CbloadVersion = version
	rep.Results = resultsSum
	if t := rep.Tracing; t != nil && t.Enabled {
		fmt.Fprintf(stderr, "cbload: traces: %d spans exported to %s, %d dropped, %d failed\n", t.SpansExported, t.Endpoint, t.SpansDropped, t.SpansFailed)
		if t.LastError != "" {
			fmt.Fprintf(stderr, "cbload: traces: last export error: %s\n", printable.String(t.LastError, maxLibraryText))
		}
	}
	rep.Command = opts.repro + fmt.Sprintf(" --seed=%d", cfg.Seed)
	var abort *harness.AbortError
	if !errors.As(runErr, &abort) {
		abort = nil
	}
	evaluateThresholds(opts, rep, abort)
	// Load was sent: the summary comes first, so the measured results reach
	// the user even when no file can be written.
	_ = reports.WriteTerminal(stdout, rep) // stdout errors are ignored, as every line before it
	paths, writeErrs := writeReports(ctx, dir, rep, stderr)
	if cfg.UpstreamTLSDir != "" {
		// After a signal too, like the partial report: the file is a
		// regular one (the run loaded it), which cannot block.
		ca, err := copyUpstreamCA(context.WithoutCancel(ctx), cfg.UpstreamTLSDir, dir)
		if err != nil {
			writeErrs = append(writeErrs, fmt.Errorf("could not copy the upstream's CA: %w", err))
		} else {
			paths = append(paths, ca)
		}
	}
	for _, p := range paths {
		fmt.Fprintf(stdout, "report: %s\n", p)
	}
	if s := resultsSum; s != nil {
		fmt.Fprintf(stdout, "results: %s (%d results, vegeta JSON)\n", s.Path, s.Written)
		if s.Dropped > 0 && s.Error == "" {
			fmt.Fprintf(stderr, "cbload: --results %s: reached its limit of %d GiB; the last %d results were not written\n", s.Path, s.LimitBytes>>30, s.Dropped)
		}
	}
	if resultsErr != nil {
		writeErrs = append(writeErrs, fmt.Errorf("could not write all results: %w", resultsErr))
	}
	if opts.summary != nil {
		p, err := writeSummaryFile(ctx, dir, opts.summary, opts.summaryTemplate, rep)
		if err != nil {
			writeErrs = append(writeErrs, err)
		} else {
			fmt.Fprintf(stdout, "summary: %s\n", p)
		}
	}
	ciErrs, thresholdErr := finishCI(ctx, stdout, opts, rep)
	writeErrs = append(writeErrs, ciErrs...)
	for _, e := range writeErrs {
		fmt.Fprintf(stderr, "cbload: %v\n", e)
	}
	switch {
	case errors.Is(runErr, context.Canceled):
		what := "the partial report was written"
		if len(writeErrs) > 0 {
			what = "the partial report could not all be written"
		}
		fmt.Fprintf(stderr, "cbload: interrupted; %s\n", what)
		return withCode(exitInterrupted, errSilent)
	case len(writeErrs) > 0:
		return withCode(exitNotWritten, fmt.Errorf("load ran and the summary above is complete, but %d result file(s) could not be written", len(writeErrs)))
	case runErr != nil && abort == nil:
		return withCode(exitCouldNotRun, runErr)
	case len(rep.Validity.Failed()) > 0:
		c := rep.Validity.Failed()[0]
		fmt.Fprintf(stderr, "cbload: the experiment was not valid (%s failed for the %s arm); the verdict is inconclusive\n", c.Name, c.Arm)
		return withCode(exitNotValid, errSilent)
	case abort != nil:
		fmt.Fprintf(stderr, "cbload: %s; the partial report was written\n", abort.Reason)
		return withCode(exitThreshold, errSilent)
	default:
		return thresholdErr
	}
}

// writeReports writes report.json, report.md and report.html into dir, each
// on its own, in that order: when the disk fills, what fits is written,
// JSON first, and each file that could not be written has its error. A
// report too large for cbload to read back loses its raw per-second data
// first (reports.FitJSON), which it says on stderr.
func writeReports(ctx context.Context, dir string, rep *reports.Report, stderr io.Writer) ([]string, []error) {
	var paths []string
	var errs []error
	if n, err := reports.FitJSON(rep); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		fmt.Fprintf(stderr, "cbload: report.json would be %.1f MiB with every second's histograms, over the %d MiB cbload reads back: they are left out (the figures stay; the report cannot be merged), as its notes say\n", float64(n)/(1<<20), reports.MaxJSONSize>>20)
	}
	for _, f := range reports.Formats {
		p, err := reports.WriteAll(ctx, dir, rep, []string{f})
		paths = append(paths, p...)
		if err != nil {
			errs = append(errs, fmt.Errorf("could not write %s: %w", filepath.Join(dir, "report."+f), unwrapWrite(err)))
		}
	}
	return paths, errs
}

// unwrapWrite drops the "write PATH:" that outfile.Write puts in front of
// an error, for a message that names the path once.
func unwrapWrite(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func kindNames() []string {
	var out []string
	for _, k := range faultserver.Kinds() {
		out = append(out, k.Name)
	}
	return out
}

func randomSeed() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	s := int64(binary.LittleEndian.Uint64(b[:]) >> 2)
	if s == 0 {
		s = 1
	}
	return s
}

// prepareOut creates the output folder, refusing to overwrite an existing
// report unless forced, takes its lock (lockOut) and checks it is writable
// before any load is sent. The caller must call release when it has
// written its files.
func prepareOut(dir string, force bool) (release func(), err error) {
	if err := outHoldsReport(dir, force); err != nil {
		return nil, err
	}
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, withCode(exitCouldNotRun, fmt.Errorf("--out %s: %w", dir, err))
	}
	release, err = lockOut(dir)
	if err == nil {
		// Again under the lock: a run that finished meanwhile wrote one.
		if err = outHoldsReport(dir, force); err != nil {
			release()
		}
	}
	if err != nil {
		return nil, err
	}
	if err = probeDir(dir, reportReserve); err != nil {
		release()
		if statErr != nil {
			os.Remove(dir) // created here, and empty: leave nothing behind
		}
		return nil, withCode(exitCouldNotRun, fmt.Errorf("--out %s: %w", dir, err))
	}
	return release, nil
}

// outHoldsReport refuses a folder that holds a report.json already, unless
// forced.
func outHoldsReport(dir string, force bool) error {
	if _, err := os.Stat(filepath.Join(dir, "report.json")); err == nil && !force {
		return usagef("--out %s: already holds a report; pass --force to overwrite it or choose another folder", dir)
	}
	return nil
}

// probeDir checks that reserve bytes can be written into dir, by writing
// and removing a probe file: an unwritable folder or a full disk is found
// before any load is sent, not when the results are due.
func probeDir(dir string, reserve int) error {
	probe, err := os.CreateTemp(dir, ".cbload-write-check-*")
	if err != nil {
		return fmt.Errorf("not writable: %w", err)
	}
	defer os.Remove(probe.Name())
	_, err = probe.Write(make([]byte, reserve))
	if err == nil {
		err = probe.Sync()
	}
	if cerr := probe.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cannot write %d KiB: %w", reserve>>10, err)
	}
	return nil
}

// resultsWriteGrace is how long writing a run's results may hold off the
// exit after a signal: the largest report the limits allow (about 160
// MiB) is written in a few seconds.
const resultsWriteGrace = 15 * time.Second

// reportReserve is how much free space prepareOut insists on: a ten-minute
// run's three reports take about 2 MiB.
const reportReserve = 8 << 20

// reproCommand returns the command line that reruns cmd as the user gave
// it, without the flags that only say where output goes and with the
// userinfo of every URL and the values of credential headers redacted; the
// caller appends the seed actually used.
func reproCommand(cmd *cobra.Command) string {
	parts := []string{"cbload", cmd.Name()}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "seed", "out", "force", "progress":
			return
		}
		value := f.Value.String()
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			if f.Value.Type() == "stringArray" {
				for _, v := range sv.GetSlice() {
					if f.Name == "header" {
						v = redactHeader(v)
					}
					parts = append(parts, "--"+f.Name, shellQuote(harness.RedactText(v)))
				}
				return
			}
			value = strings.Join(sv.GetSlice(), ",")
		}
		if f.Name == "otlp-endpoint" {
			value = harness.RedactURL(value) // may be host:port, no scheme
		}
		parts = append(parts, "--"+f.Name+"="+shellQuote(harness.RedactText(value)))
	})
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_=.,:/%+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressLine describes the second that just ended: its phase and span,
// requests sent against the schedule, api and collateral success of the
// answers that arrived in it (named in t's terms; no collateral without a
// collateral endpoint), in-flight requests and the breaker state.
func progressLine(p harness.Progress, t reports.Terms) string {
	state := p.State
	if state == "" || state == reports.StateNone {
		state = "-"
	}
	pct := func(v float64) string {
		if v < 0 {
			return "     —"
		}
		return fmt.Sprintf("%5.1f%%", v*100)
	}
	coll := ""
	if t.HasCollateral {
		coll = fmt.Sprintf("  %s ok %s", t.Collateral, pct(p.LocalOK))
	}
	inflight := "in-flight"
	if t.Target {
		inflight = "in flight at the load runner"
	}
	return fmt.Sprintf("[%-10s] %-9s %4s/%-4s sent %5d/%-5d  %s ok %s%s  %s %4d  breaker %s",
		p.Arm, p.Phase, fmt.Sprintf("%d–%ds", p.Second, p.Second+1), p.Total, p.Sent, p.Scheduled,
		t.API, pct(p.APIOK), coll, inflight, p.Inflight, state)
}

// progressPrinter shows the live line. On a terminal it keeps one line per
// arm and rewrites it in place every second; elsewhere it prints a plain
// line every `every` seconds.
type progressPrinter struct {
	w       io.Writer
	inPlace bool
	every   int
	terms   reports.Terms
	// lines are the arms with a line on the terminal, the cursor on the
	// last; together is how many of the last ones may still be rewritten:
	// the arms that run at once (1, or 0, when they run one at a time).
	lines    []string
	together int
}

// newProgressPrinter returns the printer for --progress mode on w, or nil
// for never: auto rewrites a line in place on a terminal and prints a
// heartbeat every 5 s elsewhere; always prints every second.
func newProgressPrinter(mode string, w io.Writer, terms reports.Terms) *progressPrinter {
	term := isTerminal(rawWriter(w))
	switch {
	case mode == "never":
		return nil
	case term:
		// Its own control sequences must reach the terminal as they are.
		return &progressPrinter{w: rawWriter(w), inPlace: true, every: 1, terms: terms}
	case mode == "always":
		return &progressPrinter{w: w, every: 1, terms: terms}
	}
	return &progressPrinter{w: w, every: heartbeatSeconds, terms: terms}
}

// heartbeatSeconds is how often the live line is printed when stderr is not
// a terminal and --progress is auto.
const heartbeatSeconds = 5

func (p *progressPrinter) show(pr harness.Progress) {
	if p.inPlace {
		live := p.lines[max(len(p.lines)-max(p.together, 1), 0):]
		up := len(live) - 1 - slices.Index(live, pr.Arm)
		if up >= len(live) { // not among them: a line of its own below
			if len(p.lines) > 0 {
				fmt.Fprintln(p.w)
			}
			p.lines, up = append(p.lines, pr.Arm), 0
		}
		if up > 0 {
			fmt.Fprintf(p.w, "\033[%dA", up)
		}
		fmt.Fprintf(p.w, "\r\033[K%s", printable.String(progressLine(pr, p.terms), 0))
		if up > 0 {
			fmt.Fprintf(p.w, "\033[%dB", up)
		}
		return
	}
	if (pr.Second+1)%p.every == 0 {
		fmt.Fprintln(p.w, progressLine(pr, p.terms))
	}
}

// done ends the line being rewritten, if any.
func (p *progressPrinter) done() {
	if p != nil && p.inPlace && len(p.lines) > 0 {
		fmt.Fprintln(p.w)
		p.lines = nil
	}
}
