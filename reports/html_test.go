package reports_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cbload/cbload/reports"
)

// pageData is the part of the chart data embedded in the HTML page that
// these tests read.
type pageData struct {
	Focus struct {
		T   int    `json:"t"`
		Why string `json:"why"`
	} `json:"focus"`
	Refs []struct {
		Label string  `json:"label"`
		Value float64 `json:"value"`
	} `json:"refs"`
	Upstream bool `json:"upstream"`
}

func chartData(t *testing.T, html string) pageData {
	t.Helper()
	m := regexp.MustCompile(`(?s)<script type="application/json" id="cbload-data">(.*?)</script>`).FindStringSubmatch(html)
	if m == nil {
		t.Fatal("HTML has no chart data")
	}
	var d pageData
	if err := json.Unmarshal([]byte(m[1]), &d); err != nil {
		t.Fatalf("chart data: %v", err)
	}
	return d
}

// TestHTMLInflightReference checks the in-flight chart's reference lines:
// at the defaults /api needs λ(/api) × call timeout = 160 × 0.5 s = 80
// workers, more than the 32 in the pool, so the no-breaker plateau is
// pool + λ × queue timeout = 32 + 200 × 1 s = 232; with a short call timeout
// the pool does not fill and λ(/api) × call timeout is the line that
// applies; a user's own service gets none.
func TestHTMLInflightReference(t *testing.T) {
	type ref struct {
		label string
		value float64
	}
	for _, c := range []struct {
		name    string
		edit    func(*reports.Config)
		want    []ref
		caption string
	}{
		{"defaults", func(*reports.Config) {},
			[]ref{{"worker pool (32)", 32}, {"pool + λ × queue timeout", 232}},
			"pool + λ × queue timeout = 32 + 200 req/s × 1s = 232"},
		{"pool never fills", func(c *reports.Config) { c.CallTimeout = reports.Duration(100 * time.Millisecond) },
			[]ref{{"worker pool (32)", 32}, {"λ(/api) × call timeout", 16}},
			"λ(/api) × call timeout = 160 req/s × 100ms = 16, within the 32 workers"},
		{"own service", func(c *reports.Config) { c.Targets = []reports.Target{{Name: "api", URL: "http://127.0.0.1:8080/"}} },
			nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := sample(t)
			c.edit(&r.Config)
			html := render(t, reports.WriteHTML, r)
			d := chartData(t, html)
			var got []ref
			for _, r := range d.Refs {
				got = append(got, ref{r.Label, r.Value})
			}
			if len(got) != len(c.want) {
				t.Fatalf("in-flight reference lines = %v; want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("in-flight reference line %d = %v; want %v", i, got[i], c.want[i])
				}
			}
			if c.caption != "" && !strings.Contains(strings.ReplaceAll(html, "&#43;", "+"), c.caption) {
				t.Errorf("in-flight caption lacks %q", c.caption)
			}
			if strings.Contains(html, "λ × call timeout = ") {
				t.Error("HTML still names the unexplained λ × call timeout line")
			}
		})
	}
}

// TestHTMLFocusSecond checks the second the legends show before any hover:
// the fault's worst second for /local, or for /api when /local stayed
// healthy, never a second outside the fault.
func TestHTMLFocusSecond(t *testing.T) {
	r := sample(t)
	for i := range r.Arms {
		for k := range r.Arms[i].Series {
			s := &r.Arms[i].Series[k]
			s.Collateral.Outcomes = reports.Outcomes{OK: s.Collateral.Requests}
			s.API.Outcomes = reports.Outcomes{OK: s.API.Requests}
		}
	}
	// Outside the fault (3–11 s): must be ignored.
	r.Arms[1].Series[13].Collateral.Outcomes = reports.Outcomes{Saturated: r.Arms[1].Series[13].Collateral.Requests}
	r.Arms[0].Series[5].API.Outcomes = reports.Outcomes{OK: 1, Rejected: r.Arms[0].Series[5].API.Requests - 1}
	d := chartData(t, render(t, reports.WriteHTML, r))
	if d.Focus.T != 5 || !strings.Contains(d.Focus.Why, "worst second for /api (breaker: ") {
		t.Errorf("with /local healthy during the fault, focus = %d (%s); want 5, /api's worst", d.Focus.T, d.Focus.Why)
	}
	s := &r.Arms[1].Series[8]
	s.Collateral.Outcomes = reports.Outcomes{OK: s.Collateral.Requests / 4, Saturated: s.Collateral.Requests - s.Collateral.Requests/4}
	html := render(t, reports.WriteHTML, r)
	d = chartData(t, html)
	if d.Focus.T != 8 || !strings.Contains(d.Focus.Why, "the fault's worst second for /local (no-breaker: ") {
		t.Errorf("focus = %d (%s); want 8, the fault's worst second for /local", d.Focus.T, d.Focus.Why)
	}
	if !strings.Contains(html, "Legends show second 8–9 s, the fault") {
		t.Error("the page does not say once which second the legends show")
	}
	text := regexp.MustCompile(`(?s)<script.*?</script>`).ReplaceAllString(html, "")
	if n := strings.Count(text, "hover"); n != 1 {
		t.Errorf("the page mentions hovering %d times; want once", n)
	}
}

// TestHTMLExemplarLinks checks that trace links appear only when spans
// reached the collector, and that the page says why there are none.
func TestHTMLExemplarLinks(t *testing.T) {
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	link := `<a href="http://127.0.0.1:16686/trace/` + id + `">`
	for _, c := range []struct {
		name    string
		tracing *reports.Tracing
		linked  bool
		note    string
	}{
		{"exported", &reports.Tracing{Enabled: true, SpansExported: 40}, true, ""},
		{"partly exported", &reports.Tracing{Enabled: true, SpansExported: 40, SpansFailed: 3}, true, "Some spans were not exported (0 dropped, 3 refused)"},
		{"collector unreachable", &reports.Tracing{Enabled: true, SpansDropped: 18, LastError: "connection refused"}, false,
			"No links: no span reached the collector (18 dropped, 0 refused); last export error: connection refused."},
		{"tracing off", nil, false, "No links: tracing was off"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := sample(t)
			r.Tracing = c.tracing
			r.Arms[0].Exemplars = []reports.Exemplar{{Phase: "fault", Kind: "slowest_api", TraceID: id, URL: "http://127.0.0.1:16686/trace/" + id}}
			for format, write := range map[string]func(*testing.T) string{
				"HTML":     func(t *testing.T) string { return render(t, reports.WriteHTML, r) },
				"Markdown": func(t *testing.T) string { return render(t, reports.WriteMarkdown, r) },
			} {
				out := write(t)
				mdLink := "](http://127.0.0.1:16686/trace/" + id + ")"
				linked := strings.Contains(out, link) || strings.Contains(out, mdLink)
				if linked != c.linked {
					t.Errorf("%s links the exemplar trace: %v; want %v", format, linked, c.linked)
				}
				if !strings.Contains(out, id) {
					t.Errorf("%s does not show the trace ID", format)
				}
				if c.note != "" && !strings.Contains(out, c.note) {
					t.Errorf("%s lacks the note %q", format, c.note)
				}
			}
		})
	}
}

func TestMillis(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{
		{0, "0 ms"}, {2.454, "2.45 ms"}, {9.996, "10.0 ms"}, {259.07, "259.1 ms"},
		{999.94, "999.9 ms"}, {999.96, "1.00 s"}, {1003.52, "1.00 s"}, {12345, "12.35 s"},
	} {
		if got := reports.Millis(c.in); got != c.want {
			t.Errorf("Millis(%v) = %q; want %q", c.in, got, c.want)
		}
	}
}

// TestHTMLLoadChartNamesThroughputOnlyWhenDrawn checks the offered-load
// chart's subtitle: it mentions the dashed upstream throughput only when
// some arm measured upstream completions, which is when the line is drawn
// (never for an upstream cbload does not run).
func TestHTMLLoadChartNamesThroughputOnlyWhenDrawn(t *testing.T) {
	const dashed = "dashed: the upstream&#39;s throughput"
	r := sample(t)
	for i := range r.Arms {
		for j := range r.Arms[i].Series {
			r.Arms[i].Series[j].UpstreamCompleted = 0
		}
	}
	var without bytes.Buffer
	if err := reports.WriteHTML(&without, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(without.String(), dashed) {
		t.Error("no arm measured upstream completions, yet the load chart's subtitle names a dashed throughput line")
	}
	r.Arms[0].Series[len(r.Arms[0].Series)/2].UpstreamCompleted = 7
	var with bytes.Buffer
	if err := reports.WriteHTML(&with, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(with.String(), dashed) {
		t.Errorf("an arm measured upstream completions, but the load chart's subtitle does not say %q", dashed)
	}
}

// An upstream another process ran (--upstream-external) was not counted:
// the page draws no chart of requests reaching it or attempts per request
// — a flat zero would read as "the service never called it" — and says
// why instead.
func TestHTMLExternalUpstreamNotCharted(t *testing.T) {
	r := sample(t)
	var counted bytes.Buffer
	if err := reports.WriteHTML(&counted, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(counted.String(), `id="chart-upstream"`) || !chartData(t, counted.String()).Upstream {
		t.Fatal("a counted upstream's chart is missing")
	}
	r.Config.Upstream.External = true
	var ext bytes.Buffer
	if err := reports.WriteHTML(&ext, r); err != nil {
		t.Fatal(err)
	}
	page := ext.String()
	for _, id := range []string{`id="chart-upstream"`, `id="chart-attempts"`} {
		if strings.Contains(page, id) {
			t.Errorf("an external upstream's report draws %s", id)
		}
	}
	if chartData(t, page).Upstream {
		t.Error("chart data says the upstream was counted")
	}
	if !strings.Contains(page, `id="chart-upstream-none"`) || !strings.Contains(page, "Unknown: the upstream was run by another process (--upstream-external)") {
		t.Error("the page does not say why the upstream charts are missing")
	}
}
