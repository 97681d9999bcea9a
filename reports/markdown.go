package reports

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
)

// maxMarkdownTransitions bounds the transition list so a flapping breaker
// cannot push the summary past GitHub's 64 KiB step-summary limit.
const maxMarkdownTransitions = 40

// WriteMarkdown writes r as GitHub-flavoured Markdown for a CI job summary
// or a pull-request comment: the verdict on the first line, the A/B key
// figures, a mermaid chart of /local success over time, the per-phase
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
	arms := ""
	if r.Config.ArmMode == "concurrent" {
		arms = " · arms concurrent"
	}
	fmt.Fprintf(&b, "Fault `%s` · phases %s · %s req/s%s · seed `%d`\n\n",
		mdCode(faultText(r)), mdEscape(phasesText(r)), num(r.Config.Rate), arms, r.Seed)

	if len(r.Arms) > 0 {
		b.WriteString("### Key figures\n\n")
		fmt.Fprintf(&b, "| %s |", mdEscape(figuresHeading(r)))
		for _, a := range r.Arms {
			fmt.Fprintf(&b, " %s |", mdEscape(a.Name))
		}
		b.WriteString("\n|---|")
		for range r.Arms {
			b.WriteString("--:|")
		}
		b.WriteString("\n")
		for _, g := range reportFigureGroups(r) {
			fmt.Fprintf(&b, "| **%s** |%s\n", g.title, strings.Repeat(" |", len(r.Arms)))
			for _, kf := range g.figures {
				fmt.Fprintf(&b, "| %s |", mdEscape(kf.label))
				for i := range r.Arms {
					fmt.Fprintf(&b, " %s |", figureValue(r, kf.keyFigure, &r.Arms[i]))
				}
				b.WriteString("\n")
			}
		}
		b.WriteString("\n")
		writeMarkdownValidity(&b, r)
		writeMermaid(&b, r)
		writeMarkdownPhases(&b, r)
		writeMarkdownQueue(&b, r)
		writeMarkdownSymptoms(&b, r)
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
		fmt.Fprintf(&b, "Reproduce:\n\n```sh\n%s\n```\n\n", fenceText(r.Command))
	}
	fmt.Fprintf(&b, "<sub>cbload %s · %s · run %s</sub>\n",
		mdEscape(r.CbloadVersion), r.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC"), mdEscape(r.RunID))
	_, err := w.Write(b.Bytes())
	return err
}

// maxChartPoints bounds the mermaid chart: one x label per second of a
// 3-minute run (180) is an unreadable smear, and 600 of them for 10 minutes
// bloat the summary.
const maxChartPoints = 60

// writeMermaid draws /local success for every arm as a mermaid xychart,
// which GitHub renders. A long run is downsampled to at most maxChartPoints
// windows of equal width, each showing the lowest per-second success in it,
// so a dip is never averaged away. Every fault window is a shaded bar behind
// the lines. xychart has no legend, so the colours are fixed and named in
// the title and in the sentence under the chart.
func writeMermaid(b *bytes.Buffer, r *Report) {
	_, coll, hasColl := Endpoints(r)
	if !hasColl {
		return // nothing to draw: the service has no collateral endpoint
	}
	n := 0
	for _, a := range r.Arms {
		n = max(n, len(a.Series))
	}
	if n == 0 {
		return
	}
	width := (n + maxChartPoints - 1) / maxChartPoints // seconds per point
	points := (n + width - 1) / width
	var faults []Phase
	for _, p := range r.Phases {
		if len(p.Faults) > 0 {
			faults = append(faults, p)
		}
	}
	var colors, names []string
	if len(faults) > 0 {
		colors = append(colors, "#fecaca") // the fault bars, drawn first
	}
	for i, a := range r.Arms {
		c := armColor(r, i)
		colors = append(colors, c.hex)
		names = append(names, c.name+" = "+mermaidText(a.Name))
	}
	if len(faults) > 0 {
		names = append(names, "shaded = fault")
	}
	fmt.Fprintf(b, "### %s success over time\n\n", mdEscape(coll))
	writeMermaidHead(b, colors, fmt.Sprintf("%s success %% (%s)", mermaidText(coll), strings.Join(names, ", ")), "lowest", width, points)
	b.WriteString("    y-axis \"success %\" 0 --> 100\n")
	if len(faults) > 0 {
		b.WriteString("    bar [")
		for k := range points {
			if k > 0 {
				b.WriteString(", ")
			}
			v := "0"
			if inFault(faults, float64(k*width), float64(min((k+1)*width, n))) {
				v = "100"
			}
			b.WriteString(v)
		}
		b.WriteString("]\n")
	}
	for _, a := range r.Arms {
		b.WriteString("    line [")
		prev := 100.0
		for k := 0; k*width < len(a.Series); k++ {
			if k > 0 {
				b.WriteString(", ")
			}
			// A window without /local requests has no ratio; the chart
			// cannot show a gap, so it repeats the previous value.
			v, seen := 100.0, false
			for _, s := range a.Series[k*width : min((k+1)*width, len(a.Series))] {
				if c := s.Collateral; c.Requests > 0 {
					v, seen = min(v, 100*float64(c.Outcomes.OK)/float64(c.Requests)), true
				}
			}
			if !seen {
				v = prev
			}
			prev = v
			b.WriteString(strconv.FormatFloat(v, 'f', 1, 64))
		}
		b.WriteString("]\n")
	}
	b.WriteString("```\n\n")
	if width > 1 {
		fmt.Fprintf(b, "Downsampled: each point is the lowest %s success of one %d-second window (%d s in %d points).", mdEscape(coll), width, n, points)
	} else {
		b.WriteString("Each point is one second.")
	}
	if len(faults) > 0 {
		var spans []string
		for _, p := range faults {
			spans = append(spans, fmt.Sprintf("%s %s–%s s", mdEscape(p.Name), num(p.StartS), num(p.EndS)))
		}
		fmt.Fprintf(b, " Shaded bars mark the fault phases: %s.", strings.Join(spans, ", "))
	}
	b.WriteString("\n\n")
}

// inFault reports whether the stretch [from, to) seconds overlaps a fault.
func inFault(faults []Phase, from, to float64) bool {
	for _, p := range faults {
		if p.StartS < to && p.EndS > from {
			return true
		}
	}
	return false
}

func writeMarkdownPhases(b *bytes.Buffer, r *Report) {
	if len(r.Phases) == 0 {
		return
	}
	b.WriteString("### Per phase\n\n")
	t := TermsOf(r.Config)
	// Columns per endpoint: there are none for a collateral endpoint a
	// user's service does not have.
	eps := []struct {
		name string
		get  func(PhaseSummary) Stats
	}{{t.API, func(s PhaseSummary) Stats { return s.API }}}
	if t.HasCollateral {
		eps = append(eps, struct {
			name string
			get  func(PhaseSummary) Stats
		}{t.Collateral, func(s PhaseSummary) Stats { return s.Collateral }})
	}
	b.WriteString("| Phase | Arm |")
	for _, ep := range eps {
		fmt.Fprintf(b, " %[1]s requests | %[1]s ok | %[1]s p99 |", mdEscape(ep.name))
	}
	cols := phaseColumns()
	for _, c := range cols {
		long, _ := c.Column(t)
		fmt.Fprintf(b, " %s |", long)
	}
	fmt.Fprintf(b, "\n|---|---|%s%s\n", strings.Repeat("--:|--:|--:|", len(eps)), strings.Repeat("--:|", len(cols)))
	for _, p := range r.Phases {
		for _, a := range r.Arms {
			fmt.Fprintf(b, "| %s | %s |", mdEscape(p.Name), mdEscape(a.Name))
			s, ok := a.Summary[p.Name]
			if !ok {
				b.WriteString(strings.Repeat(" — |", 3*len(eps)+len(cols)) + "\n")
				continue
			}
			for _, ep := range eps {
				st := ep.get(s)
				fmt.Fprintf(b, " %s | %s | %s |", count(st.Requests), ratio(st.OK, st.Requests), Millis(st.LatencyMS.P99))
			}
			for _, c := range cols {
				fmt.Fprintf(b, " %s |", c.text(r, &s))
			}
			b.WriteString("\n")
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

// writeMarkdownTransitions lists each arm's breaker transitions; with
// several tiers, every tier's, by time, each naming its tier.
func writeMarkdownTransitions(b *bytes.Buffer, r *Report) {
	any := false
	for _, a := range r.Arms {
		if len(a.Transitions)+len(a.LowerTierTransitions) > 0 {
			any = true
		}
	}
	if !any {
		return
	}
	tiers := hasLowerTiers(r)
	b.WriteString("### Breaker transitions\n\n")
	if tiers {
		b.WriteString("Tier 1 is the gateway the load runner calls; the last tier calls the upstream. The breaker figures are tier 1's.\n\n")
	}
	for _, a := range r.Arms {
		all := tierTransitions(&a)
		if len(all) == 0 {
			continue
		}
		inferred := ""
		if a.BreakerFigures == BreakerInferred {
			inferred = ", inferred from the upstream's arrivals"
		}
		if tiers {
			fmt.Fprintf(b, "**%s** (opens: %s%s):", mdEscape(a.Name), tierOpensText(&a), inferred)
		} else {
			fmt.Fprintf(b, "**%s** (%d opens%s):", mdEscape(a.Name), a.Figures.Opens, inferred)
		}
		for i, t := range all {
			if i == maxMarkdownTransitions {
				fmt.Fprintf(b, " … and %d more", len(all)-i)
				break
			}
			sep := ","
			if i == 0 {
				sep = ""
			}
			at := ""
			if tiers {
				at = fmt.Sprintf(" tier %d", t.Tier)
			}
			if t.EarliestS != nil && t.LatestS != nil {
				at += fmt.Sprintf(" (%.1f–%.1f s)", *t.EarliestS, *t.LatestS)
			}
			fmt.Fprintf(b, "%s %s s%s %s → %s", sep, strconv.FormatFloat(t.T, 'f', 2, 64), at, mdEscape(t.From), mdEscape(t.To))
		}
		b.WriteString("\n\n")
	}
}

// writeMarkdownQueue draws the upstream's queue peak per second for every
// arm that measured it, as a mermaid xychart (downsampled like the /local
// chart, each point the highest peak of its window), with each phase's
// peak; when no arm measured it, one sentence says why instead.
func writeMarkdownQueue(b *bytes.Buffer, r *Report) {
	measured, why := UpstreamQueue(r)
	if !measured {
		fmt.Fprintf(b, "Upstream queue: %s\n\n", mdEscape(why))
		return
	}
	n := 0
	var top int64 = 1
	var arms []*Arm
	var colors, names []string
	for i := range r.Arms {
		a := &r.Arms[i]
		if a.UpstreamQueue != QueueMeasured {
			continue
		}
		arms = append(arms, a)
		c := armColor(r, i)
		colors = append(colors, c.hex)
		names = append(names, c.name+" = "+mermaidText(a.Name))
		n = max(n, len(a.Series))
		for _, s := range a.Series {
			top = max(top, s.UpstreamQueuePeak)
		}
	}
	b.WriteString("### Upstream queue\n\n")
	if n > 0 {
		width := (n + maxChartPoints - 1) / maxChartPoints
		points := (n + width - 1) / width
		writeMermaidHead(b, colors, fmt.Sprintf("Upstream queue peak (%s)", strings.Join(names, ", ")), "highest", width, points)
		fmt.Fprintf(b, "    y-axis \"requests waiting\" 0 --> %d\n", top)
		for _, a := range arms {
			b.WriteString("    line [")
			for k := 0; k*width < len(a.Series); k++ {
				if k > 0 {
					b.WriteString(", ")
				}
				var v int64
				for _, s := range a.Series[k*width : min((k+1)*width, len(a.Series))] {
					v = max(v, s.UpstreamQueuePeak)
				}
				b.WriteString(strconv.FormatInt(v, 10))
			}
			b.WriteString("]\n")
		}
		b.WriteString("```\n\n")
	}
	fmt.Fprintf(b, "The most requests waiting at once for an upstream worker, per second; the upstream has %s.", mdEscape(queueLimitText(r.Config)))
	if peaks := queuePeaksText(r); len(peaks) > 0 {
		fmt.Fprintf(b, " Peak per phase — %s.", mdEscape(strings.Join(peaks, "; ")))
	}
	b.WriteString("\n\n")
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
	links, why := exemplarLinks(r)
	var lines []string
	for _, a := range r.Arms {
		for _, e := range a.Exemplars {
			what := fmt.Sprintf("%s, %s, %s", a.Name, e.Phase, e.Kind)
			id := "`" + mdCode(e.TraceID) + "`"
			if u := safeURL(e.URL); u != "" && links {
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
	if why != "" {
		fmt.Fprintf(b, "> %s\n\n", mdEscape(why))
	}
}

// mdReplacer escapes what GitHub-flavoured Markdown reads as structure:
// HTML and entities, emphasis, code, links, table cells and line breaks.
var mdReplacer = strings.NewReplacer(
	`\`, `\\`, "|", `\|`, "<", "&lt;", ">", "&gt;", "&", "&amp;", "*", `\*`, "_", `\_`,
	"`", "\\`", "[", `\[`, "]", `\]`, "~", `\~`, "\n", " ", "\r", " ",
)

// mdEscape keeps text from a report from being read as Markdown or HTML
// structure inside a table cell or a paragraph.
func mdEscape(s string) string { return mdReplacer.Replace(noControls(s)) }

// mdCode makes s safe inside a single-backtick code span, where HTML is
// not interpreted but a backtick, a line break or a table bar would end it.
func mdCode(s string) string {
	return strings.NewReplacer("`", "'", "\n", " ", "\r", " ", "|", `\|`).Replace(noControls(s))
}

// fenceText makes s safe inside a ``` fenced block: with no two backticks
// in a row left, no line of it can close the fence.
func fenceText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r != '\n' && (unicode.IsControl(r) || r == '\u2028' || r == '\u2029') {
			return ' '
		}
		return r
	}, s)
	for strings.Contains(s, "``") || strings.Contains(s, "~~~") {
		s = strings.NewReplacer("``", "` `", "~~~", "~ ~ ~").Replace(s)
	}
	return s
}

// noControls replaces control characters, and the Unicode line and
// paragraph separators, with spaces.
func noControls(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

// mermaidText keeps only letters, digits, spaces and -_.,:/()=+ of s, for a
// quoted mermaid label: a quote, a backtick, a bracket or a line break would
// end the label, the chart or the code fence around it.
func mermaidText(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == ' ' || strings.ContainsRune("-_.,:/()=+", r) {
			return r
		}
		return '?'
	}, s)
}

// safeURL returns u if it is an http(s) URL that cannot break out of a
// Markdown link, or "".
func safeURL(u string) string {
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return ""
	}
	if strings.IndexFunc(u, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune("()<>\"'`[]|\\", r)
	}) >= 0 {
		return ""
	}
	return u
}

// writeMermaidHead opens a mermaid xychart: the series colours, the title
// (already escaped for mermaid) and an x axis of points seconds, each
// point a window of width seconds whose value is the window's which
// ("lowest", "highest") when width is over 1.
func writeMermaidHead(b *bytes.Buffer, colors []string, title, which string, width, points int) {
	b.WriteString("```mermaid\n")
	fmt.Fprintf(b, "%%%%{init: {\"themeVariables\": {\"xyChart\": {\"plotColorPalette\": \"%s\"}}}}%%%%\n", strings.Join(colors, ", "))
	b.WriteString("xychart-beta\n")
	fmt.Fprintf(b, "    title \"%s\"\n", title)
	label := "second"
	if width > 1 {
		label = fmt.Sprintf("second (%s per %d s window)", which, width)
	}
	fmt.Fprintf(b, "    x-axis \"%s\" [", label)
	for k := range points {
		if k > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(k * width))
	}
	b.WriteString("]\n")
}
