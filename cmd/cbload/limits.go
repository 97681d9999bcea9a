package main

import (
	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/internal/printable"
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
		{headerFlags(&opts.req), len(opts.req.headers) + len(opts.req.headerEnv), scenario.MaxHeaders, "headers (--header and --header-env together)"},
		{"expect", len(opts.req.expect), scenario.MaxExpect, "checks"},
	} {
		if c.n > c.limit {
			return flagErrorf("--"+c.flag, ": given %d times; the limit is %d %s", c.n, c.limit, c.what)
		}
	}
	return nil
}

// headerFlags names the header flags given, for a message about their count.
func headerFlags(o *requestOptions) string {
	switch {
	case len(o.headers) == 0:
		return "header-env"
	case len(o.headerEnv) == 0:
		return "header"
	}
	return "header, --header-env"
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
			return flagErrorf("--phases", " %q: the schedule is longer than the limit of %v per arm", opts.phases, scenario.MaxDuration)
		}
		total += max(int64(p.Duration), 0)
	}
	return nil
}

// clipInput shortens a value quoted in a message (printable.Echo).
func clipInput(s string) string { return printable.Echo(s) }
