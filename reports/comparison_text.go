package reports

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteComparisonText writes c for a terminal or a CI log: the two runs, the
// notes, one table per arm (phase, value, base, new, change), then the run's
// own values and one line per rule.
func WriteComparisonText(w io.Writer, c *Comparison) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "cbload compare: %s\n", comparisonHeadline(c))
	fmt.Fprintf(bw, "base: %s (run %s, %s)\n", c.Base.Label, c.Base.RunID, runNote(c.Base))
	fmt.Fprintf(bw, "new:  %s (run %s, %s)\n", c.New.Label, c.New.RunID, runNote(c.New))
	for _, s := range c.Invalid {
		fmt.Fprintf(bw, "NOT VALID: %s\n", s.String())
	}
	for _, n := range c.Notes {
		fmt.Fprintf(bw, "note: %s\n", n)
	}
	for _, g := range comparisonGroups(c) {
		fmt.Fprintf(bw, "\n%s\n", g.title)
		width := len("value")
		for _, row := range g.rows {
			width = max(width, len(rowLabel(row)))
		}
		fmt.Fprintf(bw, "  %-*s  %14s  %14s  %s\n", width, "value", "base", "new", "change")
		for _, row := range g.rows {
			fmt.Fprintf(bw, "  %-*s  %14s  %14s  %s\n", width, rowLabel(row), shown(row.Base), shown(row.New), row.ChangeText())
		}
	}
	if len(c.Rules) > 0 {
		fmt.Fprintln(bw, "\nrules (--fail-on):")
		for _, r := range c.Rules {
			mark := "ok  "
			if r.Failed {
				mark = "FAIL"
			}
			fmt.Fprintf(bw, "  %s  %s  (%s → %s) %s\n", mark, r.Rule, shown(r.Row.Base), shown(r.Row.New), r.Message)
		}
	}
	return bw.Flush()
}

// comparisonHeadline is the first line of every format.
func comparisonHeadline(c *Comparison) string {
	var s string
	switch failed := len(c.Failed()); {
	case len(c.Rules) == 0:
		s = "no --fail-on rules; changes listed below"
	case failed == 0:
		s = fmt.Sprintf("all %d rules hold", len(c.Rules))
	default:
		s = fmt.Sprintf("%d of %d rules failed: %s", failed, len(c.Rules), c.Failed()[0].Rule)
	}
	if len(c.Invalid) > 0 {
		s = "not valid (the " + c.Invalid[0].Report + " run failed " + c.Invalid[0].Name + ") · " + s
	}
	return s
}

func runNote(r ComparedRun) string {
	parts := []string{"verdict " + nonEmpty(r.Outcome, "none")}
	if r.UpgradedFrom != "" {
		parts = append(parts, "upgraded from "+r.UpgradedFrom)
	}
	if r.Partial {
		parts = append(parts, "partial")
	}
	return strings.Join(parts, ", ")
}

func nonEmpty(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// rowLabel is a row's name within its group: "fault.api.success_ratio",
// "figures.time_to_open_s", "verdict.outcome".
func rowLabel(row ComparisonRow) string {
	if row.Phase != "" {
		return row.Phase + "." + row.Name
	}
	return row.Name
}

type comparisonGroup struct {
	title string
	rows  []ComparisonRow
}

// comparisonGroups splits the rows by arm, in the order compared, with the
// run's own values (verdict, validity) last.
func comparisonGroups(c *Comparison) []comparisonGroup {
	var out []comparisonGroup
	for _, a := range c.Arms {
		g := comparisonGroup{title: "arm " + a}
		for _, row := range c.Rows {
			if row.Arm == a {
				g.rows = append(g.rows, row)
			}
		}
		if len(g.rows) > 0 {
			out = append(out, g)
		}
	}
	g := comparisonGroup{title: "run"}
	for _, row := range c.Rows {
		if row.Arm == "" {
			g.rows = append(g.rows, row)
		}
	}
	if len(g.rows) > 0 {
		out = append(out, g)
	}
	return out
}
