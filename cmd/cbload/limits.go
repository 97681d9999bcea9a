package main

import (
	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/scenario"
)

// checkFlagCounts holds the repeatable flags to the limits a scenario file
// is held to (scenario.Max*), before any of their values is parsed.
func checkFlagCounts(opts *runOptions) error {
	for _, c := range []struct {
		flag  string
		n     int
		limit int
		what  string
	}{
		{"fault", len(opts.faults), scenario.MaxFaults, "faults in one phase"},
		{"threshold", len(opts.ci.thresholds), scenario.MaxThresholds, "thresholds"},
		{"target", len(opts.ci.targets), scenario.MaxTargets, "targets"},
	} {
		if c.n > c.limit {
			return usagef("--%s: given %d times; the limit is %d %s", c.flag, c.n, c.limit, c.what)
		}
	}
	return nil
}

// checkSchedule holds the schedule built from --phases to the length a
// scenario file is held to.
func checkSchedule(opts *runOptions, phases []harness.Phase) error {
	if opts.ci.filePhases != nil && !opts.ci.phasesFlag {
		return nil // checked with its lines when the file was read
	}
	var total int64
	for _, p := range phases {
		if int64(p.Duration) > int64(scenario.MaxDuration)-total {
			return usagef("--phases %q: the schedule is longer than the limit of %v per arm", opts.phases, scenario.MaxDuration)
		}
		total += max(int64(p.Duration), 0)
	}
	return nil
}
