package reports_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

// queueSample is the sample as if its upstream had 4 workers and a queue of
// 200: the no-breaker arm's queue climbs by 20 a second through the fault
// (3–11 s) to 160 and drains in recovery, the breaker arm's stays at 2 or
// below; and as if it ran 3 tiers, whose lower breakers opened too.
func queueSample(t *testing.T) *reports.Report {
	r := sample(t)
	r.Config.Upstream.Concurrency, r.Config.Upstream.Queue = 4, 200
	r.Config.Tiers = 3
	for i := range r.Arms {
		a := &r.Arms[i]
		a.UpstreamQueue = reports.QueueMeasured
		peaks := map[string]int64{}
		for j := range a.Series {
			s := &a.Series[j]
			switch {
			case a.Name == reports.ArmBreaker:
				s.UpstreamQueuePeak = int64(j % 3)
			case s.T >= 3 && s.T < 11:
				s.UpstreamQueuePeak = int64(20 * (s.T - 2))
			case s.T >= 11:
				s.UpstreamQueuePeak = max(0, 160-int64(60*(s.T-10)))
			}
			s.UpstreamQueueLen = s.UpstreamQueuePeak / 2
			peaks[s.Phase] = max(peaks[s.Phase], s.UpstreamQueuePeak)
		}
		for name, ps := range a.Summary {
			v := peaks[name]
			ps.UpstreamQueuePeak = &v
			a.Summary[name] = ps
		}
	}
	b := r.Arm(reports.ArmBreaker)
	b.LowerTierTransitions = []reports.Transition{
		{T: 3.05, From: reports.StateClosed, To: reports.StateOpen, Tier: 3},
		{T: 3.08, From: reports.StateClosed, To: reports.StateOpen, Tier: 2},
		{T: 5.05, From: reports.StateOpen, To: reports.StateHalfOpen, Tier: 3},
	}
	return r
}

// The Markdown draws the measured queue as a second mermaid chart, one
// line per arm with each second's peak, and gives each phase's peak; when
// the queue was not measured it says why in one sentence and draws nothing.
func TestMarkdownUpstreamQueue(t *testing.T) {
	r := queueSample(t)
	md := render(t, reports.WriteMarkdown, r)
	i := strings.Index(md, "### Upstream queue\n")
	if i < 0 {
		t.Fatalf("no upstream queue section in:\n%s", md)
	}
	chart := mermaidChart(t, md[i:])
	var want []float64
	for _, a := range r.Arms {
		for _, s := range a.Series {
			want = append(want, float64(s.UpstreamQueuePeak))
		}
	}
	if got := fmt.Sprint(chart["line"]); got != fmt.Sprint(want) {
		t.Errorf("queue chart lines %s; want the per-second peaks %s", got, fmt.Sprint(want))
	}
	for _, s := range []string{
		`y-axis "requests waiting" 0 --> 160`,
		"the upstream has 4 workers, a queue of 200 (beyond it, 503 at once); queued work is done even when its caller has gone.",
		"Peak per phase — breaker: baseline 2, fault 2, recovery 2; no-breaker: baseline 0, fault 160, recovery 100.",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("Markdown lacks %q", s)
		}
	}

	for _, tt := range []struct{ status, want string }{
		{reports.QueueNotModelled, "Upstream queue: Not modelled: the upstream has unlimited capacity (--upstream-concurrency 0)"},
		{reports.QueueUnknown, "Upstream queue: Unknown: the upstream is run by another process (--upstream-external)"},
		{"", "Upstream queue: Not recorded: this report was written by a cbload version"},
	} {
		r := queueSample(t)
		for i := range r.Arms {
			r.Arms[i].UpstreamQueue = tt.status
		}
		md := render(t, reports.WriteMarkdown, r)
		if !strings.Contains(md, tt.want) || strings.Contains(md, "### Upstream queue") || strings.Contains(md, "Upstream queue peak") {
			t.Errorf("queue %q: Markdown does not say %q alone, without a chart", tt.status, tt.want)
		}
	}
}

// The HTML draws the queue chart from the per-second peaks and lengths when
// measured; otherwise the card says why, and there is no chart to draw.
func TestHTMLUpstreamQueue(t *testing.T) {
	r := queueSample(t)
	html := render(t, reports.WriteHTML, r)
	var d struct {
		Queue    bool `json:"queue"`
		QueueMax int  `json:"queue_max"`
		Arms     []struct {
			Name     string  `json:"name"`
			Measured bool    `json:"queue_measured"`
			Peak     []int64 `json:"upstream_queue_peak"`
			Len      []int64 `json:"upstream_queue_len"`
		} `json:"arms"`
	}
	m := regexp.MustCompile(`(?s)<script type="application/json" id="cbload-data">(.*?)</script>`).FindStringSubmatch(html)
	if m == nil {
		t.Fatal("HTML has no chart data")
	}
	if err := json.Unmarshal([]byte(m[1]), &d); err != nil {
		t.Fatal(err)
	}
	if !d.Queue || d.QueueMax != 200 || len(d.Arms) != 2 {
		t.Fatalf("chart data: queue %v, limit %d, %d arms; want measured, 200, 2", d.Queue, d.QueueMax, len(d.Arms))
	}
	for k, a := range d.Arms {
		src := r.Arms[k]
		for j, s := range src.Series {
			if !a.Measured || a.Peak[j] != s.UpstreamQueuePeak || a.Len[j] != s.UpstreamQueueLen {
				t.Fatalf("%s second %d: chart queue %v %d/%d; want measured %d/%d", a.Name, s.T, a.Measured, a.Peak[j], a.Len[j], s.UpstreamQueuePeak, s.UpstreamQueueLen)
			}
		}
	}
	if !strings.Contains(html, `id="chart-queue"`) || !strings.Contains(html, "Peak per phase — breaker: baseline 2, fault 2, recovery 2; no-breaker: baseline 0, fault 160, recovery 100.") {
		t.Error("HTML has no queue chart card with the peaks per phase")
	}

	for i := range r.Arms {
		r.Arms[i].UpstreamQueue = reports.QueueUnknown
	}
	html = render(t, reports.WriteHTML, r)
	if strings.Contains(html, `id="chart-queue"`) || !strings.Contains(html, `id="chart-queue-none"`) ||
		!strings.Contains(html, "Unknown: the upstream is run by another process (--upstream-external), whose queue this run cannot see.") {
		t.Error("HTML of an unseen queue draws a chart, or does not say it is unknown")
	}
	if strings.Contains(html, `"queue":true`) {
		t.Error("chart data of an unseen queue says queue: true")
	}
}

// With lower tiers the transitions name their tier, tier 1's included, by
// time, and the opens are counted per tier.
func TestRenderLowerTierTransitions(t *testing.T) {
	r := queueSample(t)
	md := render(t, reports.WriteMarkdown, r)
	b := r.Arm(reports.ArmBreaker)
	first := b.Transitions[0]
	for _, s := range []string{
		fmt.Sprintf("**breaker** (opens: tier 1: %d, tier 2: 1, tier 3: 1)", b.Figures.Opens),
		"3.05 s tier 3 closed → open, 3.08 s tier 2 closed → open",
		"5.05 s tier 3 open → half-open",
		fmt.Sprintf("%.2f s tier 1 %s → %s", first.T, first.From, first.To),
		"Tier 1 is the gateway the load runner calls",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("Markdown transitions lack %q", s)
		}
	}
	html := render(t, reports.WriteHTML, r)
	if !strings.Contains(html, "<th>Tier</th>") || !strings.Contains(html, "<tr><td>3.08 s</td><td>2</td><td class=\"text\">closed</td><td class=\"text\">open</td></tr>") {
		t.Error("HTML transitions table has no tier column, or lacks tier 2's open at 3.08 s")
	}
	// One tier: no tier column.
	if html := render(t, reports.WriteHTML, sample(t)); strings.Contains(html, "<th>Tier</th>") {
		t.Error("HTML of a one-tier run has a tier column")
	}
}

// The queue and tier fields are in the v2 schema.
func TestQueueSampleMatchesSchema(t *testing.T) {
	validateReport(t, queueSample(t))
}
