package reports_test

import (
	"bytes"
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

func TestMarkdownSize(t *testing.T) {
	// A default run is 30 s per arm; a 10-minute one with a flapping
	// breaker must still fit a GitHub step summary.
	for _, seconds := range []int{30, 600} {
		r := stretch(sample(t), seconds)
		md := render(t, reports.WriteMarkdown, r)
		if len(md) >= 64<<10 {
			t.Errorf("Markdown for a %d s run is %d bytes; want < 64 KiB", seconds, len(md))
		}
	}
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
		if !strings.Contains(out, "median of 3 trials (min–max)") {
			t.Errorf("output does not say the figures are medians of 3 trials")
		}
		p99 := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + " ms" }
		want := p99(b.CollateralP99DuringFaultMS) + " (" + p99(lo.CollateralP99DuringFaultMS) + "–" + p99(hi.CollateralP99DuringFaultMS) + ")"
		if !strings.Contains(out, want) {
			t.Errorf("output lacks the /local p99 median with its range %q", want)
		}
	}
}
