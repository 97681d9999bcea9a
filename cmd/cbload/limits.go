package main

import (
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

// clipInput shortens a value quoted in a message (printable.Echo).
func clipInput(s string) string { return printable.Echo(s) }
