package main

import (
	"fmt"
	"slices"

	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/internal/outfile"
	"github.com/cbload/cbload/reports"
)

// applyThresholds parses the thresholds and checks them against the run's
// arms (the targets, when there are) and phases; with an abort_on_fail
// one, it sets the run's checkpoint hook. It runs after applyTargets.
func applyThresholds(cfg *harness.Config, opts *runOptions) error {
	ci := &opts.ci
	arms, phases := cfg.ArmNames(), cfg.PhaseNames()
	ci.th = harness.Thresholds{Arms: arms, Phases: phases}
	add := func(where, expr string, abort bool) error {
		th, err := reports.ParseThresholdFor(expr, arms, phases)
		if err != nil {
			return usagef("%s%v", where, err)
		}
		ci.th.Checks = append(ci.th.Checks, th)
		ci.th.Abort = append(ci.th.Abort, abort || ci.abortOnFail)
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
	if ci.abortOnFail && len(ci.th.Checks) == 0 {
		return flagErrorf("--abort-on-fail", ": no threshold to abort on; give --threshold 'EXPR' (or thresholds: in the scenario)")
	}
	if slices.Contains(ci.th.Abort, true) {
		if cfg.Shard.Sharded() {
			return flagErrorf("--abort-on-fail", ": not with --shard; a shard sees only its share of the load and cannot stop the others (check the thresholds with cbload merge)")
		}
		cfg.OnCheckpoint = ci.th.OnCheckpoint
	}
	if ci.junit != "" {
		if err := checkOutputFile("--junit", ci.junit, "junit.xml", runOutputs(opts, "--junit"), opts.force); err != nil {
			return err
		}
		if err := outfile.CheckCreatable(ci.junit); err != nil {
			return withCode(exitCouldNotRun, fmt.Errorf("--junit %s: %w", ci.junit, err))
		}
	}
	return nil
}
