package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/harness"
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
		return nil, flagErrorf("--fault", ": required; give a kind (%s) or a spec like latency:2s, or a --scenario file", faultserver.KindNames())
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
	note := ""
	if picked {
		note = fmt.Sprintf(" (picked at random, as a run without --seed picks its own; add --seed=%d to run with this one)", cfg.Seed)
	}
	cfg.WritePlan(w, note)
	if opts.metricsAddr != "" {
		fmt.Fprintf(w, "metrics: Prometheus at http://%s/metrics while it runs\n", opts.metricsAddr)
	}
	if endpoint, proto := cfg.Tracing.MetricsTarget(); endpoint != "" {
		fmt.Fprintf(w, "metrics: OTLP to %s (%s), every %v and at the end\n", endpoint, proto, harness.MetricsInterval())
	}
	opts.ci.th.WritePlan(w)
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
