package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cbload/cbload/faultserver"
)

// controlTokenEnv names the environment variable that supplies the control
// API token when --control-token is not given, so it stays out of ps output.
const controlTokenEnv = "CBLOAD_CONTROL_TOKEN"

// serveOptions holds the flags of `cbload serve`.
type serveOptions struct {
	timed        scheduleOptions // the schedule flags, in serve_schedule.go
	addr         string
	controlAddr  string
	controlToken string
	faults       []string
	seed         int64
	serviceTime  time.Duration
	jitter       time.Duration
	proxyTo      string
}

func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Run the fault-injecting upstream standalone",
		Long: `Serve runs the fault-injecting upstream on its own, for your service or a CI
job to call. Healthy, it answers every path with 200 and a small JSON body
after the service time; with --proxy-to it forwards to a real upstream
instead. The faults given with --fault apply from the start; the control API
switches them while it runs:

  GET    /faults   the active faults
  PUT    /faults   {"faults": ["latency:200ms", "error:503,rate=0.5"]} replaces them
  DELETE /faults   back to healthy; held requests are released at once
  GET    /stats    requests, injected faults per kind, in-flight now and peak

Faulted responses carry the header X-Cbload-Fault. A spec is
KIND[:ARG][,key=value...]; every kind but refuse takes rate=P (per request)
and path=/PREFIX. Fault kinds (a bare kind takes the argument shown):
` + faultKindsHelp() + `
The control API token may also come from $` + controlTokenEnv + `.
Serve stops cleanly on SIGINT or SIGTERM.`,
		Example: `  cbload serve --fault latency:200ms --seed 7
  cbload serve --fault 'error:503,rate=0.1' --fault 'latency:300ms,rate=0.3,path=/api'
  cbload serve --proxy-to http://127.0.0.1:9000 --fault 'reset,rate=0.05'
  curl -X PUT http://127.0.0.1:8474/faults -d '{"faults": ["hang"]}'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("serve takes no arguments, got %q", args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("control-token") {
				opts.controlToken = os.Getenv(controlTokenEnv)
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
	f.StringVar(&opts.proxyTo, "proxy-to", "", "forward to this upstream base URL instead of answering synthetically")
	return cmd
}

// checkListenAddr checks that addr reads as host:port, so a typo is a usage
// error rather than a failure to listen (exit 3, which means the address is
// taken or not this machine's).
func checkListenAddr(flag, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("%s %q: want host:port like 127.0.0.1:8081", flag, addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return usagef("%s %q: port %q: want a number from 0 (any free port) to 65535", flag, addr, port)
	}
	return nil
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
	switch {
	case opts.serviceTime <= 0:
		return usagef("--service-time %v: want a positive duration like 2ms", opts.serviceTime)
	case opts.jitter < 0:
		return usagef("--jitter %v: want a duration of zero or more", opts.jitter)
	}
	if opts.proxyTo != "" {
		u, err := url.Parse(opts.proxyTo)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usagef("--proxy-to %q: want an http:// or https:// URL with a host", opts.proxyTo)
		}
	}
	if err := checkListenAddr("--addr", opts.addr); err != nil {
		return err
	}
	if opts.controlAddr != "" {
		if err := checkListenAddr("--control-addr", opts.controlAddr); err != nil {
			return err
		}
	}
	seed, random := opts.seed, false
	if seed == 0 {
		seed, random = randomSeed(), true
	}

	s, err := faultserver.New(faultserver.Config{
		Addr:         opts.addr,
		ControlAddr:  opts.controlAddr,
		ControlToken: opts.controlToken,
		Seed:         seed,
		ServiceTime:  opts.serviceTime,
		Jitter:       opts.jitter,
		ProxyTo:      opts.proxyTo,
		Faults:       faults,
	})
	if err != nil {
		return withCode(exitCouldNotRun, fmt.Errorf("start upstream: %w", err))
	}
	defer s.Close()

	if random {
		fmt.Fprintf(stdout, "cbload serve: seed %d (random; pass --seed %d to repeat)\n", seed, seed)
	} else {
		fmt.Fprintf(stdout, "cbload serve: seed %d\n", seed)
	}
	what := fmt.Sprintf("synthetic 200 JSON after %v ± %v", opts.serviceTime, opts.jitter)
	if opts.proxyTo != "" {
		what = "proxy to " + opts.proxyTo
	}
	fmt.Fprintf(stdout, "  upstream  %s  (%s)\n", s.URL(), what)
	if c := s.ControlURL(); c != "" {
		auth := ""
		if opts.controlToken != "" {
			auth = ", bearer token required"
		}
		fmt.Fprintf(stdout, "  control   %s  (GET/PUT/DELETE /faults, GET /stats%s)\n", c, auth)
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
