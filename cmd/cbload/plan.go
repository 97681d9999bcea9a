package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/reports"
)

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
			return nil, flagErrorf("--fault", ": %v", err)
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
				return nil, flagErrorf("--fault", ": scenario %s has no phase with faults to replace; give --phases too for a baseline,fault,recovery schedule", ci.scenarioName)
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
		return nil, flagErrorf("--fault", ": required; give a kind (%s) or a spec like latency:2s, or a --scenario file", strings.Join(kindNames(), ", "))
	}
	return parsePhases(opts.phases, faults)
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
