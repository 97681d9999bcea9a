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
	ci.checks, ci.abort, ci.arms, ci.phases = nil, nil, arms, phases
	add := func(where, expr string, abort bool) error {
		th, err := reports.ParseThreshold(expr)
		if err == nil {
			err = th.Check(arms, phases)
		}
		if err != nil {
			return usagef("%s%v", where, err)
		}
		ci.checks = append(ci.checks, th)
		ci.abort = append(ci.abort, abort || ci.abortOnFail)
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
	if ci.abortOnFail && len(ci.checks) == 0 {
		return flagErrorf("--abort-on-fail", ": no threshold to abort on; give --threshold 'EXPR' (or thresholds: in the scenario)")
	}
	if slices.Contains(ci.abort, true) {
		if cfg.Shard.Sharded() {
			return flagErrorf("--abort-on-fail", ": not with --shard; a shard sees only its share of the load and cannot stop the others (check the thresholds with cbload merge)")
		}
		cfg.OnCheckpoint = ci.abortCheck
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

// abortCheck is the run's OnCheckpoint with an abort_on_fail threshold:
// it stops the run, naming the first such threshold whose every input has
// settled and that fails over them, so that no later measurement could
// make it pass.
func (ci *ciOptions) abortCheck(r *reports.Report, at harness.Checkpoint) string {
	for i, t := range ci.checks {
		if !ci.abort[i] || !t.Settled(ci.arms, ci.phases, at.ArmDone, at.PhaseDone) {
			continue
		}
		if !t.Evaluate(r).Pass {
			return fmt.Sprintf("aborted: threshold %s failed and could no longer pass, %s", t, at)
		}
	}
	return ""
}

// evaluateThresholds fills the report's threshold results. After an
// abort, each result says whether it stopped the run or was judged before
// all of its inputs were measured.
func evaluateThresholds(ci *ciOptions, r *reports.Report, abort *harness.AbortError) {
	if len(ci.checks) == 0 {
		return
	}
	r.Thresholds, _ = reports.EvaluateThresholds(ci.checks, r)
	if abort == nil {
		return
	}
	stopped := false
	for i, t := range ci.checks {
		res := &r.Thresholds[i]
		switch {
		case !t.Settled(ci.arms, ci.phases, abort.At.ArmDone, abort.At.PhaseDone):
			res.Message += "; not final: the run was aborted before all of its inputs were measured"
		case ci.abort[i] && !res.Pass && !stopped:
			res.Message += "; aborted the run " + abort.At.String()
			stopped = true
		}
	}
}
