package reports_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("updated %s", path)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s; run go test ./reports -update and review the diff", path)
	}
}

func render(t *testing.T, write func(io.Writer, *reports.Report) error, r *reports.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestMarkdownGolden(t *testing.T) {
	golden(t, "report.golden.md", []byte(render(t, reports.WriteMarkdown, sample(t))))
}

func TestHTMLGolden(t *testing.T) {
	golden(t, "report.golden.html", []byte(render(t, reports.WriteHTML, sample(t))))
}

// TestFullGolden renders the optional sections: thresholds, exemplar
// traces, tracing and notes.
func TestFullGolden(t *testing.T) {
	r := sample(t)
	r.Thresholds = []reports.ThresholdResult{
		{Expr: "breaker.fault.collateral.success_ratio >= 0.99", Value: 1, Measured: "100.0%", Pass: true},
		{Expr: "no-breaker.fault.collateral.success_ratio >= 0.99", Value: 0.529, Measured: "52.9%", Pass: false, Message: "below 99.0%"},
	}
	r.Tracing = &reports.Tracing{Enabled: true, Endpoint: "http://127.0.0.1:4318", Protocol: "http/protobuf",
		Sampler: "parentbased_traceidratio", SamplerArg: 0.05, Description: "5% of requests", SpansExported: 1234, SpansDropped: 2,
		JaegerURL: "http://127.0.0.1:16686"}
	r.Arms[0].Exemplars = []reports.Exemplar{{Phase: "fault", Kind: "first_rejection", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
		URL: "http://127.0.0.1:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736"}}
	r.Arms[1].Notes = []string{"a note about this arm"}
	golden(t, "full.golden.md", []byte(render(t, reports.WriteMarkdown, r)))
	html := render(t, reports.WriteHTML, r)
	for _, want := range []string{
		`<a href="http://127.0.0.1:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736">4bf92f3577b34da6a3ce929d0e0e4736</a>`,
		`<span class="fail">fail</span> · below 99.0%`,
		"1,234 exported, 2 dropped, 0 refused by the collector",
		"a note about this arm",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

func TestMarkdownPartialGolden(t *testing.T) {
	golden(t, "partial.golden.md", []byte(render(t, reports.WriteMarkdown, variants(t)["partial"])))
}

// TestFirstLine checks that every outcome is stated in the first line of the
// Markdown and in the headline of the HTML, the first text on the page.
func TestFirstLine(t *testing.T) {
	want := map[string]string{
		"prevented":     "Cascade prevented",
		"nothing":       "Nothing to prevent",
		"worse":         "The breaker made things worse",
		"partial":       "Partial run · cascade prevented",
		"not-prevented": "Cascade not prevented",
	}
	headline := regexp.MustCompile(`<div class="badge" id="headline">([^<]*)</div>`)
	for name, r := range variants(t) {
		t.Run(name, func(t *testing.T) {
			md := render(t, reports.WriteMarkdown, r)
			first, _, _ := strings.Cut(md, "\n")
			if !strings.Contains(first, want[name]) {
				t.Errorf("Markdown first line = %q; want it to contain %q", first, want[name])
			}
			html := render(t, reports.WriteHTML, r)
			body := html[strings.Index(html, "<body>"):]
			m := headline.FindStringSubmatch(body)
			if m == nil || strings.Index(body, m[0]) > strings.Index(body, "<h1") {
				t.Fatalf("HTML has no headline before the summary")
			}
			if got := m[1]; got != want[name] {
				t.Errorf("HTML headline = %q; want %q", got, want[name])
			}
			if !strings.Contains(html, "<title>cbload · "+want[name]) {
				t.Errorf("HTML title does not state %q", want[name])
			}
		})
	}
}

// TestMarkdownLongRuns renders synthetic 3- and 10-minute runs with a fault
// window every minute and a breaker that flaps throughout: the chart must
// keep at most 60 points, shade every fault window, keep the worst second of
// each window, and the whole file must fit a GitHub step summary (64 KiB).
func TestMarkdownLongRuns(t *testing.T) {
	for _, seconds := range []int{30, 180, 600} {
		t.Run(fmt.Sprintf("%ds", seconds), func(t *testing.T) {
			r := longRun(t, seconds)
			// One bad second in a window: the chart must show it, not an average.
			worst := seconds - 7
			a := &r.Arms[0]
			a.Series[worst].Collateral.Requests = 40
			a.Series[worst].Collateral.Outcomes = reports.Outcomes{OK: 3, Saturated: 37}

			md := render(t, reports.WriteMarkdown, r)
			if len(md) >= 64<<10 {
				t.Errorf("Markdown for a %d s run is %d bytes; want < 64 KiB", seconds, len(md))
			}
			chart := mermaidChart(t, md)
			labels := chart["x-axis"]
			if len(labels) > 60 || len(labels) == 0 {
				t.Fatalf("chart has %d x labels; want 1–60", len(labels))
			}
			width := 1
			if len(labels) > 1 {
				width = int(labels[1] - labels[0])
			}
			if got := len(labels) * width; got < seconds {
				t.Errorf("%d points of %d s cover %d s of a %d s run", len(labels), width, got, seconds)
			}
			for _, l := range chart["line"] {
				if l > 100 || l < 0 {
					t.Errorf("line value %v outside 0–100", l)
				}
			}
			if n := len(chart["line"]); n != len(r.Arms)*len(labels) {
				t.Errorf("chart has %d line values for %d arms and %d labels", n, len(r.Arms), len(labels))
			}
			if got, want := chart["line"][worst/width], 7.5; got != want {
				t.Errorf("breaker point holding second %d (3 of 40 ok) = %v; want %v, the window's lowest", worst, got, want)
			}
			bars := chart["bar"]
			if len(bars) != len(labels) {
				t.Fatalf("chart has %d fault bars for %d labels", len(bars), len(labels))
			}
			for k, v := range bars {
				from, to := float64(k*width), float64((k+1)*width)
				fault := false
				for _, p := range r.Phases {
					if len(p.Faults) > 0 && p.StartS < to && p.EndS > from {
						fault = true
					}
				}
				if want := map[bool]float64{true: 100, false: 0}[fault]; v != want {
					t.Errorf("fault bar of window %v–%v s = %v; want %v", from, to, v, want)
				}
			}
			for _, p := range r.Phases {
				if len(p.Faults) > 0 && !strings.Contains(md, fmt.Sprintf("%s %v–%v s", p.Name, p.StartS, p.EndS)) {
					t.Errorf("Markdown does not name fault window %s %v–%v s", p.Name, p.StartS, p.EndS)
				}
			}
			if downsampled := strings.Contains(md, "Downsampled: each point is the lowest /local success of one"); downsampled != (width > 1) {
				t.Errorf("Markdown says it is downsampled: %v; want %v (%d s per point)", downsampled, width > 1, width)
			}
		})
	}
}

// longRun is the sample stretched to seconds, with a 5-second fault window
// every minute and a breaker that flaps throughout.
func longRun(t *testing.T, seconds int) *reports.Report {
	r := stretch(sample(t), seconds)
	r.Phases = nil
	for start := 0; start < seconds; start += 60 {
		r.Phases = append(r.Phases,
			reports.Phase{Name: fmt.Sprintf("baseline-%d", start), StartS: float64(start), EndS: float64(start + 20)},
			reports.Phase{Name: fmt.Sprintf("fault-%d", start), StartS: float64(start + 20), EndS: float64(start + 25), Faults: []string{"latency:1s"}},
			reports.Phase{Name: fmt.Sprintf("recovery-%d", start), StartS: float64(start + 25), EndS: float64(min(start+60, seconds))})
	}
	return r
}

// mermaidChart returns the numbers of the x-axis, bar and line statements of
// the Markdown's mermaid chart, lines concatenated in order.
func mermaidChart(t *testing.T, md string) map[string][]float64 {
	t.Helper()
	m := regexp.MustCompile("(?s)```mermaid\n(.*?)```").FindStringSubmatch(md)
	if m == nil {
		t.Fatalf("no mermaid chart in:\n%s", md)
	}
	out := map[string][]float64{}
	stmt := regexp.MustCompile(`^\s*(x-axis|bar|line)\b.*\[(.*)\]\s*$`)
	for _, l := range strings.Split(m[1], "\n") {
		sm := stmt.FindStringSubmatch(l)
		if sm == nil {
			continue
		}
		for _, f := range strings.Split(sm[2], ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil {
				t.Fatalf("mermaid %s value %q: %v", sm[1], f, err)
			}
			out[sm[1]] = append(out[sm[1]], v)
		}
	}
	return out
}

// stretch repeats each arm's series and transitions to n seconds.
func stretch(r *reports.Report, n int) *reports.Report {
	for i := range r.Arms {
		a := &r.Arms[i]
		src, trs := a.Series, a.Transitions
		a.Series = nil
		for t := 0; t < n; t++ {
			s := src[t%len(src)]
			s.T = t
			a.Series = append(a.Series, s)
		}
		for k := 1; len(trs) > 0 && len(a.Transitions) < n; k++ {
			for _, tr := range trs {
				tr.T += float64(k * len(src))
				a.Transitions = append(a.Transitions, tr)
			}
		}
	}
	return r
}

func TestRenderersEscape(t *testing.T) {
	r := sample(t)
	evil := `<script>alert(1)</script> | **x** [y](javascript:alert(1))`
	r.Verdict.Summary = evil
	r.Verdict.Reasons = []string{evil}
	r.Command = evil
	r.Arms[0].Notes = []string{evil}
	r.Arms[0].Exemplars = []reports.Exemplar{{Phase: "fault", Kind: evil, TraceID: "abc", URL: "javascript:alert(1)"}}

	html := render(t, reports.WriteHTML, r)
	if strings.Contains(html, "<script>alert") {
		t.Error("HTML contains an unescaped <script> from the report")
	}
	if strings.Contains(html, `href="javascript:`) {
		t.Error("HTML links to a javascript: URL from the report")
	}
	md := render(t, reports.WriteMarkdown, r)
	// Inside a fenced code block, text is shown as it is.
	md = regexp.MustCompile("(?s)```sh\n.*?```").ReplaceAllString(md, "")
	if strings.Contains(md, "<script>") || regexp.MustCompile(`(^|[^\\])\]\(javascript:`).MatchString(md) {
		t.Errorf("Markdown passes through markup from the report:\n%s", md)
	}
}

// TestHTMLSelfContained checks the page references nothing outside itself:
// no src or stylesheet link, no url() in styles, and a content security
// policy that blocks any request a future change might add.
func TestHTMLSelfContained(t *testing.T) {
	html := render(t, reports.WriteHTML, sample(t))
	for _, bad := range []string{" src=", "<link rel=\"stylesheet\"", "url(", "@import", "http-equiv=\"refresh\""} {
		if strings.Contains(html, bad) {
			t.Errorf("HTML contains %q", bad)
		}
	}
	if !strings.Contains(html, `content="default-src 'none';`) {
		t.Error("HTML has no default-src 'none' content security policy")
	}
	if !strings.Contains(html, "uPlot") {
		t.Error("HTML does not inline uPlot")
	}
}

func TestRenderEmptyReport(t *testing.T) {
	r := &reports.Report{Schema: reports.Schema, Partial: true, PartialReason: "could not start"}
	for name, write := range map[string]func(io.Writer, *reports.Report) error{
		"json": reports.WriteJSON, "md": reports.WriteMarkdown, "html": reports.WriteHTML,
	} {
		var b bytes.Buffer
		if err := write(&b, r); err != nil {
			t.Errorf("Write %s of an empty partial report: %v", name, err)
		}
	}
}

// A report whose validity checks failed names the first failed check in its
// first line, in Markdown and in HTML, and lists the checks.
func TestInvalidReportNamesTheCheckFirst(t *testing.T) {
	r := invalidSample(t)
	first := r.Validity.Failed()[0].Name
	golden(t, "invalid.golden.md", []byte(render(t, reports.WriteMarkdown, r)))
	md := render(t, reports.WriteMarkdown, r)
	if line, _, _ := strings.Cut(md, "\n"); !strings.Contains(line, "not valid: "+strings.ReplaceAll(first, "_", `\_`)) && !strings.Contains(line, "not valid: "+first) {
		t.Errorf("Markdown first line %q does not name %s", line, first)
	}
	html := render(t, reports.WriteHTML, r)
	for _, want := range []string{`id="headline">Inconclusive · not valid: ` + first + `<`, `id="h-validity"`, `id="validity-note"`} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

// A failed cpu_not_starved check shows its limit as what it is — a p99
// that all but the worst seconds stay under — not as a limit on the
// measured value alone.
func TestCPUCheckLimit(t *testing.T) {
	r := invalidSample(t)
	r.Validity.Checks = append([]reports.ValidityCheck{{Name: reports.CheckCPU, Arm: r.Arms[0].Name, Value: 67.1, Limit: 50, Unit: "ms",
		Message: "CPU: the process's goroutines waited to run over 50 ms at p99 in 6 of 6 seconds"}}, r.Validity.Checks...)
	want := "(measured 67.1 ms; limit: ≤ 50.0 ms at p99, all but the worst seconds)"
	if md := render(t, reports.WriteMarkdown, r); !strings.Contains(md, want) {
		t.Errorf("Markdown lacks %q", want)
	}
}

// With several trials, every key figure shows the median and its range.
func TestTrialsRenderMedianAndRange(t *testing.T) {
	r := sample(t)
	b, n := r.Arms[0].Figures, r.Arms[1].Figures
	lo, hi := b, b
	lo.CollateralP99DuringFaultMS, hi.CollateralP99DuringFaultMS = b.CollateralP99DuringFaultMS-10, b.CollateralP99DuringFaultMS+20
	r.Trials = &reports.Trials{N: 3, Order: []string{"breaker#1", "no-breaker#1", "no-breaker#2", "breaker#2", "breaker#3", "no-breaker#3"},
		Outcomes: []string{"prevented", "prevented", "prevented"}, Agree: true,
		Arms: []reports.TrialArm{{Name: r.Arms[0].Name, Runs: []reports.Figures{b, lo, hi}, Median: b, Min: lo, Max: hi},
			{Name: r.Arms[1].Name, Runs: []reports.Figures{n, n, n}, Median: n, Min: n, Max: n}}}
	md := render(t, reports.WriteMarkdown, r)
	html := render(t, reports.WriteHTML, r)
	for _, out := range []string{md, html} {
		if !strings.Contains(out, "median of 3 trials") {
			t.Errorf("output does not say the figures are medians of 3 trials")
		}
		p99 := reports.Millis
		want := p99(b.CollateralP99DuringFaultMS) + " (" + p99(lo.CollateralP99DuringFaultMS) + "–" + p99(hi.CollateralP99DuringFaultMS) + ")"
		if !strings.Contains(out, want) {
			t.Errorf("output lacks the /local p99 median with its range %q", want)
		}
	}
}

// TestMermaidArmNames checks that an arm name from a report cannot end the
// chart's quoted title or add a mermaid directive.
func TestMermaidArmNames(t *testing.T) {
	r := sample(t)
	r.Arms[1].Name = "x\"]\n%%{init: {}}%%\n```"
	md := render(t, reports.WriteMarkdown, r)
	m := regexp.MustCompile("(?s)```mermaid\n(.*?)\n```").FindStringSubmatch(md)
	if m == nil {
		t.Fatalf("no mermaid chart in:\n%s", md)
	}
	lines := strings.Split(m[1], "\n")
	if n := strings.Count(m[1], "%%{"); n != 1 {
		t.Errorf("chart has %d init directives; want 1:\n%s", n, m[1])
	}
	for _, l := range lines {
		if strings.Contains(l, "title") && strings.Count(l, `"`) != 2 {
			t.Errorf("chart title %q has quotes from the arm name", l)
		}
	}
	if len(lines) != 8 {
		t.Errorf("chart has %d lines; want 8 (init, xychart, title, x, y, bar, 2 lines):\n%s", len(lines), m[1])
	}
}
