package reports

import (
	"bytes"
	"fmt"
	"io"
)

// WriteComparisonMarkdown writes c as GitHub-flavoured Markdown for a
// pull-request comment or a job summary: the outcome of the rules on the
// first line, the two runs, the notes, the rules, then one table per arm.
// Everything taken from the reports is escaped.
func WriteComparisonMarkdown(w io.Writer, c *Comparison) error {
	var b bytes.Buffer
	mark := "➖"
	switch {
	case len(c.Invalid) > 0:
		mark = "⚠️"
	case len(c.Failed()) > 0:
		mark = "❌"
	case len(c.Rules) > 0:
		mark = "✅"
	}
	fmt.Fprintf(&b, "## %s cbload compare: %s\n\n", mark, mdEscape(comparisonHeadline(c)))
	b.WriteString("| | report | run | verdict |\n|---|---|---|---|\n")
	for _, x := range []struct {
		who string
		r   ComparedRun
	}{{"base", c.Base}, {"new", c.New}} {
		fmt.Fprintf(&b, "| %s | `%s` | `%s` | %s |\n", x.who, mdCode(x.r.Label), mdCode(x.r.RunID), mdEscape(runNote(x.r)))
	}
	b.WriteString("\n")
	for _, s := range c.Invalid {
		fmt.Fprintf(&b, "> **Not valid:** %s\n\n", mdEscape(s.String()))
	}
	for _, n := range c.Notes {
		fmt.Fprintf(&b, "- %s\n", mdEscape(n))
	}
	if len(c.Notes) > 0 {
		b.WriteString("\n")
	}
	if len(c.Rules) > 0 {
		b.WriteString("### Rules (`--fail-on`)\n\n| | rule | base | new | change |\n|---|---|---|---|---|\n")
		for _, r := range c.Rules {
			m := "✅"
			if r.Failed {
				m = "❌"
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s |\n", m, mdCode(r.Rule), mdEscape(shown(r.Row.Base)), mdEscape(shown(r.Row.New)), mdEscape(r.Message))
		}
		b.WriteString("\n")
	}
	for _, g := range comparisonGroups(c) {
		fmt.Fprintf(&b, "### %s\n\n| value | base | new | change |\n|---|--:|--:|--:|\n", mdEscape(g.title))
		for _, row := range g.rows {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", mdCode(rowLabel(row)), mdEscape(shown(row.Base)), mdEscape(shown(row.New)), mdEscape(row.ChangeText()))
		}
		b.WriteString("\n")
	}
	b.WriteString("Values are named by their `--threshold` paths. A change in % is relative to the base value; pp are percentage points.\n")
	_, err := w.Write(b.Bytes())
	return err
}
