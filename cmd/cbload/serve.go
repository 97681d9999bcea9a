package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/harness"
)

// controlTokenEnv names the environment variable that supplies the control
// API token when --control-token is not given, so it stays out of ps output.
const controlTokenEnv = "CBLOAD_CONTROL_TOKEN"

// serveOptions holds the flags of `cbload serve`.
type serveOptions struct {
	timed        scheduleOptions // the schedule flags, in serve_schedule.go
	allowRemote  string          // --allow-remote, as for cbload run
	addr         string
	controlAddr  string
	controlToken string
	faults       []string
	seed         int64
	serviceTime  time.Duration
	jitter       time.Duration
	proxyTo      string
	grpc         bool
	controlHosts []string
	metricsAddr  string
	otlpEndpoint string
	otlpProtocol string

	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	idleTimeout       time.Duration
	stallTimeout      time.Duration
	maxConns          int
	controlMaxConns   int

	concurrency int
	queue       int
	honorCancel bool
}

func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Run the fault-injecting upstream standalone",
		Long: fillHelp(serveLong, "<<grpcKinds>>", strings.Join(faultserver.GRPCKinds(), ", "), "<<faultKinds>>", faultserver.KindsHelp(),
			"<<controlTokenEnv>>", controlTokenEnv, "<<limits>>", serveLimitsHelp()),
		Example: serveExample,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("serve takes no arguments, got %q", args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("control-token") {
				// Checked here, where the variable is known to be the source,
				// and untrimmed: a blank token is refused, not skipped.
				v := os.Getenv(controlTokenEnv)
				if err := faultserver.CheckToken(v); err != nil {
					return usagef("$%s %s: %v", controlTokenEnv, harness.QuoteEnvValue(controlTokenEnv, v), err)
				}
				opts.controlToken = v
			}
			return runServe(cmd.Context(), opts, stdout, stderr)
		},
	}
	addScheduleFlags(cmd, &opts.timed)
	f := cmd.Flags()
	f.StringVar(&opts.addr, "addr", "127.0.0.1:8081", "data listener address")
	f.StringVar(&opts.controlAddr, "control-addr", "127.0.0.1:8474", `control API address ("" for none)`)
	f.StringVar(&opts.controlToken, "control-token", "", "bearer token the control API requires (default $"+controlTokenEnv+")")
	f.StringArrayVar(&opts.faults, "fault", nil, "fault active from the start, or with --phases in the fault phase: KIND[:ARG][,key=value...] (repeatable)")
	f.Int64Var(&opts.seed, "seed", 0, "seed for every random choice (0: pick one and print it)")
	f.DurationVar(&opts.serviceTime, "service-time", faultserver.DefaultServiceTime, "healthy service time")
	f.DurationVar(&opts.jitter, "jitter", time.Millisecond, "healthy jitter, spread uniformly around the service time")
	f.StringVar(&opts.proxyTo, "proxy-to", "", "forward to this upstream base URL instead of answering synthetically (grpc://host:port: a gRPC backend, implies --grpc)")
	f.BoolVar(&opts.grpc, "grpc", false, "serve gRPC (plain HTTP/2) instead of HTTP: any method answered with an empty message; faults "+strings.Join(faultserver.GRPCKinds(), ", "))
	f.StringVar(&opts.allowRemote, "allow-remote", "", "CIDR ranges besides 127.0.0.1/::1 that --addr, --control-addr, --metrics-addr and --proxy-to may be in, like 172.17.0.0/16 (never by default)")
	f.IntVar(&opts.concurrency, "upstream-concurrency", 0, "workers of the synthetic upstream; each request holds one for its service time (0: unbounded)")
	f.IntVar(&opts.queue, "upstream-queue", 0, "requests that wait for a worker; beyond them, 503 at once (needs --upstream-concurrency)")
	f.BoolVar(&opts.honorCancel, "upstream-honor-cancel", false, "drop queued and running work whose caller gave up (default: do it anyway, for nobody)")
	f.StringVar(&opts.metricsAddr, "metrics-addr", "", metricsFlagHelp)
	f.StringVar(&opts.otlpEndpoint, "otlp-endpoint", "", "export the upstream's counters as OTLP metrics to this collector, e.g. http://127.0.0.1:4318 (default: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT; none: no export)")
	f.StringVar(&opts.otlpProtocol, "otlp-protocol", "", "OTLP protocol: grpc or http/protobuf (default: OTEL_EXPORTER_OTLP_METRICS_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf)")
	f.StringArrayVar(&opts.controlHosts, "control-host", nil, "extra Host name the token-less control API answers (repeatable)")
	f.DurationVar(&opts.readHeaderTimeout, "read-header-timeout", faultserver.DefaultReadHeaderTimeout, "close a connection whose request headers take longer (both listeners)")
	f.DurationVar(&opts.readTimeout, "read-timeout", faultserver.DefaultReadTimeout, "close a connection whose whole request, body included, takes longer (faults that hold requests are not cut)")
	f.DurationVar(&opts.idleTimeout, "idle-timeout", faultserver.DefaultIdleTimeout, "close a keep-alive connection idle this long")
	f.DurationVar(&opts.stallTimeout, "stall-timeout", faultserver.DefaultStallTimeout, "close a data connection whose client has taken none of its response this long (slowbody is not cut)")
	f.IntVar(&opts.maxConns, "max-conns", faultserver.DefaultMaxConns, "open data connections at most; more are closed at once")
	f.IntVar(&opts.controlMaxConns, "control-max-conns", faultserver.DefaultControlMaxConns, "open control connections at most; more are closed at once")
	useGroupedHelp(cmd)
	registerServeCompletions(cmd)
	return cmd
}

// serveLimitsHelp lists the limits of serve and its fault specs for --help.
func serveLimitsHelp() string {
	return fmt.Sprintf(`Limits (beyond them: exit 2, or 400 from the control API):
  durations in a spec (latency, jitter, hang, retry-after), --service-time, --jitter, timeouts  %v
  slowbody size= and bandwidth  %s (bodies are streamed);  slowdown factor  %dx
  --upstream-concurrency  %d;  --upstream-queue  %d
  active faults  %d;  one spec  %d bytes;  control request body  %d bytes (413 beyond)
  a request body kept while a fault holds it (--proxy-to)  %d bytes, %d in all
  --max-conns, --control-max-conns  %d`,
		"1h", "1GiB", faultserver.MaxSlowdown, faultserver.MaxConcurrency, faultserver.MaxQueue, faultserver.MaxFaults, faultserver.MaxSpecLen, faultserver.MaxControlBody,
		faultserver.MaxHeldBody, faultserver.MaxHeldBodies, faultserver.MaxConnsLimit)
}

// settings returns serve's flags' values, for the harness to check.
func (o *serveOptions) settings() *harness.ServeSettings {
	return &harness.ServeSettings{
		Addr: o.addr, ControlAddr: o.controlAddr, ControlToken: o.controlToken, ControlHosts: o.controlHosts, AllowRemote: o.allowRemote,
		ServiceTime: o.serviceTime, Jitter: o.jitter, ProxyTo: o.proxyTo, GRPC: o.grpc,
		MetricsAddr: o.metricsAddr, OTLPEndpoint: o.otlpEndpoint, OTLPProtocol: o.otlpProtocol,
		ReadHeaderTimeout: o.readHeaderTimeout, ReadTimeout: o.readTimeout, IdleTimeout: o.idleTimeout, StallTimeout: o.stallTimeout,
		MaxConns: o.maxConns, ControlMaxConns: o.controlMaxConns, Concurrency: o.concurrency, Queue: o.queue, HonorCancel: o.honorCancel,
	}
}

// runServe runs the upstream, and its schedule if one was given, until ctx
// is canceled (or the schedule ends, with --exit-after-schedule), then
// closes it.
func runServe(ctx context.Context, opts *serveOptions, stdout, stderr io.Writer) error {
	faults, err := faultserver.ParseSpecs(opts.faults)
	if err != nil {
		return usagef("--fault: %v", err)
	}
	plan, err := opts.timed.load(opts, time.Now(), stderr)
	if err != nil {
		return err
	}
	if plan != nil {
		faults = nil // they are the schedule's
	}
	seed, random := opts.seed, false
	if seed == 0 {
		seed, random = randomSeed(), true
	}
	cfg, err := opts.settings().Config(seed, faults)
	if err != nil {
		return opts.timed.inFile(asUsage(err))
	}
	if err := checkMetricsEnv(ctx); err != nil {
		return err
	}
	if plan != nil {
		if err := plan.CheckFaults(cfg); err != nil {
			return asUsage(err)
		}
	}
	s, err := faultserver.New(cfg)
	if err != nil {
		return withCode(exitCouldNotRun, fmt.Errorf("start upstream: %w", err))
	}
	defer s.Close()
	var ms *harness.MetricsServer
	if opts.metricsAddr != "" {
		if ms, err = startMetricsServer(opts.metricsAddr, harness.UpstreamMetrics(s.Stats)); err != nil {
			return err
		}
		defer ms.Close()
	}
	otlp := harness.TracingConfig{Endpoint: opts.otlpEndpoint, Protocol: opts.otlpProtocol, Version: version}
	ux, err := harness.ExportUpstreamMetrics(ctx, otlp, s.Stats)
	if err != nil {
		return withCode(exitCouldNotRun, fmt.Errorf("start OTLP metrics export: %w", err))
	}
	// After the upstream's own Close below, so the final export has its
	// final counts.
	defer func() { ux.Close(ctx.Err() != nil) }()

	if random {
		fmt.Fprintf(stdout, "cbload serve: seed %d (random; pass --seed %d to repeat)\n", seed, seed)
	} else {
		fmt.Fprintf(stdout, "cbload serve: seed %d\n", seed)
	}
	fmt.Fprintf(stdout, "  upstream  %s  (%s)\n", s.URL(), harness.DescribeUpstream(&cfg))
	if c := s.ControlURL(); c != "" {
		auth := ""
		if opts.controlToken != "" {
			auth = ", bearer token required"
		}
		fmt.Fprintf(stdout, "  control   %s  (GET/PUT/DELETE /faults, GET /stats%s)\n", c, auth)
	}
	if ms != nil {
		fmt.Fprintf(stdout, "  metrics   %s  (Prometheus: requests, injected faults, in flight, queue)\n", ms.URL)
	}
	if ux != nil {
		endpoint, proto := otlp.MetricsTarget()
		fmt.Fprintf(stdout, "  otlp      %s  (the same counters as OTLP metrics over %s, every %v)\n", endpoint, proto, harness.MetricsInterval())
	}
	names := make([]string, len(faults))
	for i, f := range faults {
		names[i] = f.String()
	}
	if len(names) == 0 {
		names = []string{"none (healthy)"}
	}
	fmt.Fprintf(stdout, "  faults    %s\n", strings.Join(names, "  "))

	waitErr := serveSchedule(ctx, plan, s, stdout)
	fmt.Fprintln(stderr, "cbload serve: shutting down")
	if err := s.Close(); err != nil {
		return fmt.Errorf("close upstream: %w", err)
	}
	return waitErr
}
