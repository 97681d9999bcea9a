package main

import (
	"fmt"
	"strings"
	"time"

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

// maxEchoed is how many characters of a value a message quotes back.
const maxEchoed = printable.MaxEcho

// clipInput shortens a value quoted in a message (printable.Echo).
func clipInput(s string) string { return printable.Echo(s) }

// roughSpan says how far t is from now for a message: a duration up to a
// few days, beyond that in days or years (a time.Duration saturates at
// about 292 years, which would print as 2562047h47m16s).
func roughSpan(now, t time.Time) string {
	a, b := now, t
	if b.Before(a) {
		a, b = b, a
	}
	switch years := b.Year() - a.Year(); {
	case years > 2:
		return fmt.Sprintf("about %d years", years)
	case b.Sub(a) > 72*time.Hour:
		return fmt.Sprintf("about %d days", int(b.Sub(a).Hours()/24))
	}
	return b.Sub(a).Round(time.Second).String()
}

// clipQuoted cuts every quoted value in msg ("…", as %q writes it) longer
// than maxEchoed characters to its first maxEchoed and "…": an error names
// the 5000-character value it refuses, whichever package or library wrote
// the message (pflag quotes a flag's value whole), and does not echo it.
func clipQuoted(msg string) string {
	if len(msg) <= maxEchoed {
		return msg
	}
	var b strings.Builder
	for {
		start := strings.IndexByte(msg, '"')
		if start < 0 {
			break
		}
		end := start + 1
		for end < len(msg) && msg[end] != '"' {
			if msg[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(msg) {
			break // no closing quote: not a quoted value
		}
		b.WriteString(msg[:start+1])
		inner := msg[start+1 : end]
		if cut := clipInput(inner); cut != inner {
			inner = trimEscape(strings.TrimSuffix(cut, "…")) + "…"
		}
		b.WriteString(inner)
		b.WriteByte('"')
		msg = msg[end+1:]
	}
	b.WriteString(msg)
	return b.String()
}

// trimEscape drops an escape sequence (as %q writes them: \", \n, \x1b,
// \u00e9, \U0001f600, \000) that the end of s cut short.
func trimEscape(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		n := 2
		if i+1 < len(s) {
			switch s[i+1] {
			case 'x':
				n = 4
			case 'u':
				n = 6
			case 'U':
				n = 10
			case '0', '1', '2', '3', '4', '5', '6', '7':
				n = 4
			}
		}
		if i+n > len(s) {
			return s[:i]
		}
		i += n - 1
	}
	return s
}
