package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/internal/outfile"
	"github.com/cbload/cbload/reports"
)

// runConfig builds the run's configuration from its options — the
// scenario file's values under the flags' — and checks it, once, with
// every input and output, before anything is written: a run that would
// not start says nothing else. It prints on stderr the notes of defaults
// it changed.
func runConfig(ctx context.Context, opts *runOptions, stderr io.Writer) (harness.Config, error) {
	cfg := opts.cfg
	if err := checkFlagCounts(opts); err != nil {
		return cfg, err
	}
	if err := checkEnv(ctx, !opts.ci.noStepSummary); err != nil {
		return cfg, err
	}
	phases, err := schedule(opts)
	if err != nil {
		return cfg, err
	}
	cfg.Phases = phases
	cfg.Arms = opts.arms
	if err := applyShard(&cfg, &opts.shard, cfg.Seed != 0); err != nil {
		return cfg, err
	}
	allow, err := opts.req.parseAllow()
	if err != nil {
		return cfg, err
	}
	opts.ci.allow = allow
	if err := harness.CheckMetricsAddr(opts.metricsAddr, allow); err != nil {
		return cfg, asUsage(err)
	}
	if _, inFile := opts.ci.fileFields["rate"]; !opts.rateFlag && !inFile {
		note, err := cfg.UseStormRate()
		if err != nil {
			return cfg, asUsage(err)
		}
		if note != "" {
			fmt.Fprintln(stderr, "cbload: "+note)
		}
	}
	if err := applyTargets(&cfg, opts); err != nil {
		return cfg, err
	}
	if err := applyThresholds(&cfg, opts); err != nil {
		return cfg, err
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
	if err := opts.req.settings().Apply(ctx, &cfg, reqAllow); err != nil {
		if ctx.Err() != nil {
			return cfg, errInterrupted
		}
		return cfg, asUsage(err)
	}
	switch opts.progress {
	case "auto", "always", "never":
	default:
		return cfg, flagErrorf("--progress", " %q: want auto, always or never", opts.progress)
	}
	if opts.traceSample != "auto" {
		// Its range is Validate's to check.
		v, err := strconv.ParseFloat(opts.traceSample, 64)
		if err != nil {
			return cfg, flagErrorf("--trace-sample", " %q: want a fraction in [0,1] like 0.1, or auto", opts.traceSample)
		}
		cfg.Tracing.SampleRatio = &v
	}
	cfg.Tracing.Version = version
	if err := cfg.Validate(); err != nil {
		return cfg, asUsage(err)
	}
	// Before any other output: a run that would not start says nothing else.
	if opts.out != "" {
		if err := outHoldsReport(opts.out, opts.force); err != nil {
			return cfg, err
		}
		if err := checkOutputDir("--out", opts.out, append(reports.FileNames, "summary.txt"), runInputs(opts)); err != nil {
			return cfg, err
		}
	}
	if opts.summaryTemplate != "" {
		if opts.summary, err = readSummaryTemplate(ctx, opts.summaryTemplate, "--summary-template"); err != nil {
			return cfg, err
		}
		if err := checkSummaryFields(ctx, opts.summary, opts.summaryTemplate, &cfg); err != nil {
			return cfg, err
		}
	}
	if opts.results != "" {
		if err := checkOutputFile("--results", opts.results, "results.json", runOutputs(opts, "--results"), opts.force); err != nil {
			return cfg, err
		}
		if err := outfile.CheckCreatable(opts.results); err != nil {
			return cfg, withCode(exitCouldNotRun, fmt.Errorf("--results %s: %w", opts.results, err))
		}
	}
	return cfg, nil
}

// parsePhases turns "5s,15s,10s" into baseline, fault and recovery phases;
// the faults of faults apply in the middle one.
func parsePhases(s string, faults harness.Phase) ([]harness.Phase, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return nil, flagErrorf("--phases", " %q: want three durations baseline,fault,recovery like 5s,15s,10s", s)
	}
	names := []string{"baseline", "fault", "recovery"}
	var phases []harness.Phase
	for i, p := range parts {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil {
			return nil, flagErrorf("--phases", ": %s duration %q: want a duration like 5s", names[i], p)
		}
		ph := harness.Phase{Name: names[i], Duration: d}
		if i == 1 {
			ph.Faults, ph.UpstreamFaults = faults.Faults, faults.UpstreamFaults
		}
		phases = append(phases, ph)
	}
	return phases, nil
}
