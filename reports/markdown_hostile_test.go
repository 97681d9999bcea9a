package reports_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

// hostile is text a shared report.json might carry to attack whoever reads
// its Markdown: raw HTML, a closing code fence, a mermaid quote and line
// break, table bars, links, entities and control characters.
var hostile = []string{
	"<script>alert(1)</script>",
	`<img src=x onerror="alert(1)">`,
	"x\n```\n<script>alert(2)</script>\n```",
	"a\"]\n    line [1]\n```\n<b>",
	"|||a|b|\r\n",
	"[click](javascript:alert(1))",
	"&lt;script&gt;&#60;img&#62;",
	"~~~\n<iframe>",
	"````<details open>",
	"\u2028<svg onload=alert(1)>\x00",
}

// hostileReport puts hostile text in every string of the report.
func hostileReport(t *testing.T, h string) *reports.Report {
	r := sample(t)
	r.CbloadVersion, r.RunID, r.PartialReason, r.Partial = h, h, h, true
	r.Command = "cbload run --fault " + h
	for i := range r.Phases {
		r.Phases[i].Faults = append(r.Phases[i].Faults, h)
	}
	r.Phases = append(r.Phases, reports.Phase{Name: h, StartS: 30, EndS: 31, Faults: []string{h}})
	for i := range r.Arms {
		a := &r.Arms[i]
		a.Name = h + a.Name
		a.Notes = []string{h}
		a.Transitions = append(a.Transitions, reports.Transition{T: 1, From: h, To: h})
		a.Exemplars = []reports.Exemplar{{Phase: h, Kind: h, TraceID: h, URL: "http://127.0.0.1/" + h}}
		if a.Summary != nil {
			a.Summary[h] = reports.PhaseSummary{}
		}
	}
	r.Verdict.Summary, r.Verdict.Reasons = h, []string{h}
	r.Thresholds = []reports.ThresholdResult{{Expr: h, Measured: h, Message: h}}
	r.Tracing = &reports.Tracing{Enabled: true, Description: h, JaegerURL: "http://x/" + h}
	return r
}

var (
	codeSpan = regexp.MustCompile("`[^`]*`")
	linkRE   = regexp.MustCompile(`(?:^|[^\\])\]\(([^)]*)\)`)
	cellBar  = regexp.MustCompile(`(^|[^\\])\|`)
	safeLink = regexp.MustCompile(`^https?://[^()\s<>"'\x60\[\]|\\]*$`)
)

var mermaidLine = regexp.MustCompile(`^(%%\{init: \{"themeVariables": \{"xyChart": \{"plotColorPalette": "[#0-9a-fA-F, ]*"\}\}\}\}%%|xychart-beta|    title "[^"\x60]*"|    x-axis "[^"\x60]*" \[[0-9, ]*\]|    y-axis "success %" 0 --> 100|    bar \[[0-9, ]*\]|    line \[[0-9., ]*\])$`)

// TestMarkdownHostileReport renders reports whose every string is hostile
// and checks the Markdown holds no HTML outside code, keeps its fences and
// the mermaid block as cbload wrote them, and keeps each table row's cells.
func TestMarkdownHostileReport(t *testing.T) {
	for _, h := range hostile {
		md := render(t, reports.WriteMarkdown, hostileReport(t, h))
		for _, p := range markdownProblems(md) {
			t.Errorf("hostile %q: %s", h, p)
		}
		if !strings.Contains(md, "```mermaid") || !strings.Contains(md, "```sh") {
			t.Errorf("hostile %q: the mermaid chart or the reproduce block is missing", h)
		}
	}
}

// markdownProblems lists what in md is not structure cbload writes: raw
// HTML outside code, fences other than the mermaid and reproduce blocks,
// foreign mermaid lines and links, table rows with extra cells.
func markdownProblems(md string) []string {
	var out []string
	var fences []string
	in := ""
	cols := 0
	lines := strings.Split(md, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "```") || strings.HasPrefix(l, "~~~") {
			fences = append(fences, l)
			if in == "" {
				in = l
			} else {
				in = ""
			}
			continue
		}
		switch {
		case in == "```mermaid":
			if !mermaidLine.MatchString(l) {
				out = append(out, fmt.Sprintf("mermaid line %d %q is not one cbload writes", i+1, l))
			}
		case in != "":
			// Inside the reproduce block, text is code.
		default:
			// Code spans show HTML as text; cbload's own markup is the
			// footer's <sub> and the notes' blockquote.
			text := codeSpan.ReplaceAllString(strings.ReplaceAll(l, "\\`", "\\'"), "code")
			text = strings.TrimSuffix(strings.TrimPrefix(text, "<sub>"), "</sub>")
			text = strings.TrimPrefix(text, "> ")
			if strings.ContainsAny(text, "<>") {
				out = append(out, fmt.Sprintf("line %d holds raw HTML: %q", i+1, l))
			}
			for _, m := range linkRE.FindAllStringSubmatch(text, -1) {
				if !safeLink.MatchString(m[1]) {
					out = append(out, fmt.Sprintf("line %d holds a link cbload did not make: %q", i+1, l))
				}
			}
			if strings.HasPrefix(l, "|") {
				// A table's first row is its header, cbload's own text.
				n := len(cellBar.FindAllString(l, -1))
				if i == 0 || !strings.HasPrefix(lines[i-1], "|") {
					cols = n
				} else if n != cols {
					out = append(out, fmt.Sprintf("table row %d has %d cell bars; its header has %d: %q", i+1, n, cols, l))
				}
			}
		}
	}
	for _, f := range fences {
		if f != "```mermaid" && f != "```sh" && f != "```" {
			out = append(out, fmt.Sprintf("fence %q is not one cbload writes", f))
		}
	}
	if len(fences)%2 != 0 {
		out = append(out, fmt.Sprintf("fences %q do not pair up", fences))
	}
	return out
}
