package reports

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxMarkdownTransitions bounds the transition list so a flapping breaker
// cannot push the summary past GitHub's 64 KiB step-summary limit.
const maxMarkdownTransitions = 40

// WriteMarkdown writes r as GitHub-flavoured Markdown for a CI job summary
// or a pull-request comment: the verdict on the first line, the A/B key
// figures, a mermaid chart of /local success per second, the per-phase
// totals, the breaker transitions, thresholds and exemplar traces.
func WriteMarkdown(w io.Writer, r *Report) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "## %s cbload: %s\n\n", outcomeEmoji(r), headline(r))
	if note := validityNote(r); note != "" {
		fmt.Fprintf(&b, "> **%s**\n\n", mdEscape(note))
	}
	if note := partialNote(r); note != "" {
		fmt.Fprintf(&b, "> **%s**\n\n", mdEscape(note))
	}
	if r.Verdict.Summary != "" {
		fmt.Fprintf(&b, "**%s**\n\n", mdEscape(r.Verdict.Summary))
	}
	for _, reason := range r.Verdict.Reasons {
		fmt.Fprintf(&b, "- %s\n", mdEscape(reason))
	}
	if len(r.Verdict.Reasons) > 0 {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Fault `%s` · phases %s · %s req/s · seed `%d`\n\n",
		mdCode(faultText(r)), mdEscape(phasesText(r)), num(r.Config.Rate), r.Seed)

	if len(r.Arms) > 0 {
		b.WriteString("### Key figures\n\n")
		b.WriteString("| During the fault |")
		for _, a := range r.Arms {
			fmt.Fprintf(&b, " %s |", mdEscape(a.Name))
		}
		b.WriteString("\n|---|")
		for range r.Arms {
			b.WriteString("--:|")
		}
		b.WriteString("\n")
		for _, kf := range keyFigures {
			fmt.Fprintf(&b, "| %s |", mdEscape(kf.label))
			for i := range r.Arms {
				fmt.Fprintf(&b, " %s |", kf.value(&r.Arms[i]))
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
		writeMarkdownValidity(&b, r)
		writeMermaid(&b, r)
		writeMarkdownPhases(&b, r)
		writeMarkdownDetail(&b, r)
		writeMarkdownTransitions(&b, r)
	}
	writeMarkdownThresholds(&b, r)
	writeMarkdownExemplars(&b, r)
	if tr := r.Tracing; tr != nil && tr.Enabled {
		fmt.Fprintf(&b, "Tracing: %s spans exported, %s dropped, %s refused",
			count(tr.SpansExported), count(tr.SpansDropped), count(tr.SpansFailed))
		if tr.Description != "" {
			fmt.Fprintf(&b, " · %s", mdEscape(tr.Description))
		}
		if u := safeURL(tr.JaegerURL); u != "" {
			fmt.Fprintf(&b, " · [Jaeger](%s)", u)
		}
		b.WriteString("\n\n")
	}
	notes := false
	for _, a := range r.Arms {
		for _, n := range a.Notes {
			fmt.Fprintf(&b, "> %s: %s\n", mdEscape(a.Name), mdEscape(n))
			notes = true
		}
	}
	if notes {
		b.WriteString("\n")
	}
	if r.Command != "" {
		fmt.Fprintf(&b, "Reproduce:\n\n```sh\n%s\n```\n\n", strings.ReplaceAll(r.Command, "```", "` ` `"))
	}
	fmt.Fprintf(&b, "<sub>cbload %s · %s · run %s</sub>\n",
		mdEscape(r.CbloadVersion), r.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC"), mdEscape(r.RunID))
	_, err := w.Write(b.Bytes())
	return err
}

// writeMermaid draws /local success per second for every arm as a mermaid
// xychart, which GitHub renders. xychart has no legend, so the colours are
// fixed and named in the title.
func writeMermaid(b *bytes.Buffer, r *Report) {
	n := 0
	for _, a := range r.Arms {
		n = max(n, len(a.Series))
	}
	if n == 0 {
		return
	}
	var colors, names []string
	for i, a := range r.Arms {
		c := armColor(r, i)
		colors = append(colors, c.hex)
		names = append(names, c.name+" = "+a.Name)
	}
	b.WriteString("### /local success per second\n\n")
	b.WriteString("```mermaid\n")
	fmt.Fprintf(b, "%%%%{init: {\"themeVariables\": {\"xyChart\": {\"plotColorPalette\": \"%s\"}}}}%%%%\n", strings.Join(colors, ", "))
	b.WriteString("xychart-beta\n")
	fmt.Fprintf(b, "    title \"/local success %% per second (%s)\"\n", strings.Join(names, ", "))
	label := "second"
	if fp := r.FaultPhase(); fp != nil {
		label = fmt.Sprintf("second (fault from %s s to %s s)", num(fp.StartS), num(fp.EndS))
	}
	fmt.Fprintf(b, "    x-axis \"%s\" [", label)
	for t := range n {
		if t > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(t))
	}
	b.WriteString("]\n")
	b.WriteString("    y-axis \"success %\" 0 --> 100\n")
	for _, a := range r.Arms {
		b.WriteString("    line [")
		for i, s := range a.Series {
			if i > 0 {
				b.WriteString(", ")
			}
			// A second without /local requests has no ratio; the chart
			// cannot show a gap, so it repeats the previous value.
			v := 100.0
			if s.Collateral.Requests > 0 {
				v = 100 * float64(s.Collateral.Outcomes.OK) / float64(s.Collateral.Requests)
			} else if i > 0 {
				v = lastMermaidValue(a.Series[:i])
			}
			b.WriteString(strconv.FormatFloat(v, 'f', 1, 64))
		}
		b.WriteString("]\n")
	}
	b.WriteString("```\n\n")
}

func lastMermaidValue(ss []Second) float64 {
	for i := len(ss) - 1; i >= 0; i-- {
		if c := ss[i].Collateral; c.Requests > 0 {
			return 100 * float64(c.Outcomes.OK) / float64(c.Requests)
		}
	}
	return 100
}

func writeMarkdownPhases(b *bytes.Buffer, r *Report) {
	if len(r.Phases) == 0 {
		return
	}
	b.WriteString("### Per phase\n\n")
	b.WriteString("| Phase | Arm | /api requests | /api ok | /api p99 | /local requests | /local ok | /local p99 | Upstream requests | In-flight peak |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, p := range r.Phases {
		for _, a := range r.Arms {
			s, ok := a.Summary[p.Name]
			if !ok {
				fmt.Fprintf(b, "| %s | %s | — | — | — | — | — | — | — | — |\n", mdEscape(p.Name), mdEscape(a.Name))
				continue
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				mdEscape(p.Name), mdEscape(a.Name),
				count(s.API.Requests), ratio(s.API.OK, s.API.Requests), ms(s.API.LatencyMS.P99),
				count(s.Collateral.Requests), ratio(s.Collateral.OK, s.Collateral.Requests), ms(s.Collateral.LatencyMS.P99),
				count(s.UpstreamRequests), count(s.InflightPeak))
		}
	}
	b.WriteString("\n")
}

// writeMarkdownValidity lists the validity checks, failed ones first.
func writeMarkdownValidity(b *bytes.Buffer, r *Report) {
	rows := validityRows(r)
	if r.Validity == nil {
		b.WriteString("### Validity\n\nNot checked: this report was upgraded from " + mdEscape(r.UpgradedFrom) + ", which had no validity checks.\n\n")
		return
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("### Validity\n\n| Check | Arm | Measured | Limit | Result |\n|---|---|--:|---|---|\n")
	for _, c := range rows {
		res := "✅ pass"
		if !c.Pass {
			res = "❌ fail: " + mdEscape(c.Message)
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s |\n", mdCode(c.Name), mdEscape(c.Arm), mdEscape(c.Measured), mdEscape(c.Limit), res)
	}
	b.WriteString("\n" + mdEscape(attributionText(r)) + "\n\n")
}

func writeMarkdownTransitions(b *bytes.Buffer, r *Report) {
	any := false
	for _, a := range r.Arms {
		if len(a.Transitions) > 0 {
			any = true
		}
	}
	if !any {
		return
	}
	b.WriteString("### Breaker transitions\n\n")
	for _, a := range r.Arms {
		if len(a.Transitions) == 0 {
			continue
		}
		fmt.Fprintf(b, "**%s** (%d opens):", mdEscape(a.Name), a.Figures.Opens)
		for i, t := range a.Transitions {
			if i == maxMarkdownTransitions {
				fmt.Fprintf(b, " … and %d more", len(a.Transitions)-i)
				break
			}
			sep := ","
			if i == 0 {
				sep = ""
			}
			fmt.Fprintf(b, "%s %s s %s → %s", sep, strconv.FormatFloat(t.T, 'f', 2, 64), t.From, t.To)
		}
		b.WriteString("\n\n")
	}
}

func writeMarkdownThresholds(b *bytes.Buffer, r *Report) {
	if len(r.Thresholds) == 0 {
		return
	}
	b.WriteString("### Thresholds\n\n| Check | Measured | Result |\n|---|--:|---|\n")
	for _, t := range r.Thresholds {
		res := "✅ pass"
		if !t.Pass {
			res = "❌ fail"
		}
		if t.Message != "" {
			res += ": " + mdEscape(t.Message)
		}
		fmt.Fprintf(b, "| `%s` | %s | %s |\n", mdCode(t.Expr), mdEscape(t.Measured), res)
	}
	b.WriteString("\n")
}

func writeMarkdownExemplars(b *bytes.Buffer, r *Report) {
	var lines []string
	for _, a := range r.Arms {
		for _, e := range a.Exemplars {
			what := fmt.Sprintf("%s, %s, %s", a.Name, e.Phase, e.Kind)
			id := "`" + mdCode(e.TraceID) + "`"
			if u := safeURL(e.URL); u != "" {
				id = fmt.Sprintf("[%s](%s)", mdCode(e.TraceID), u)
			}
			lines = append(lines, fmt.Sprintf("- %s: %s", mdEscape(what), id))
		}
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("### Exemplar traces\n\n")
	b.WriteString(strings.Join(lines, "\n"))
	b.WriteString("\n\n")
}

// mdEscape keeps text from a report from being read as Markdown or HTML
// structure inside a table cell or a paragraph.
var mdReplacer = strings.NewReplacer(
	`\`, `\\`, "|", `\|`, "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`,
	"`", "\\`", "[", `\[`, "]", `\]`, "\n", " ", "\r", " ",
)

func mdEscape(s string) string { return mdReplacer.Replace(s) }

// mdCode makes s safe inside a single-backtick code span.
func mdCode(s string) string {
	return strings.NewReplacer("`", "'", "\n", " ", "|", `\|`).Replace(s)
}

// safeURL returns u if it is an http(s) URL that cannot break out of a
// Markdown link, or "".
func safeURL(u string) string {
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return ""
	}
	if strings.ContainsAny(u, " ()<>\n\r\"'`") {
		return ""
	}
	return u
}
