package reports

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/tsenart/vegeta/v12/lib/plot"
)

// The charts use uPlot as shipped inside vegeta's lib/plot package (already
// a dependency for the load runner): a maintained, small (50 KB) canvas
// charting library that can be inlined whole, so the page needs no network.

//go:embed templates/report.html.tmpl
var htmlTemplateText string

var htmlTemplate = template.Must(template.New("report.html").Funcs(template.FuncMap{
	"pct":           Percent,
	"ms":            Millis,
	"count":         count,
	"num":           num,
	"secs":          secs,
	"ratio":         ratio,
	"outcomes":      outcomeText,
	"symptoms":      SymptomRows,
	"symptomNotes":  SymptomNotes,
	"join":          strings.Join,
	"details":       htmlDetails,
	"maxErrorTexts": func() int { return MaxErrorTexts },
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"f2":  func(v float64) string { return fmt.Sprintf("%.2f", v) },
	"inc": func(i int) int { return i + 1 },
	// wraps says a key figure's value is words that may need more than a
	// line: the breaker state of a user's service that cannot be seen.
	"wraps": func(v string) bool { return strings.HasPrefix(v, "unknown") },
}).Parse(htmlTemplateText))

// uplotAssets reads uPlot's script and stylesheet from vegeta's embedded
// assets once per process.
var uplotAssets = sync.OnceValues(func() ([2]string, error) {
	var out [2]string
	for i, name := range []string{"uPlot.min.js", "uPlot.min.css"} {
		f, err := plot.Assets.Open(name)
		if err != nil {
			return out, fmt.Errorf("open chart asset %s: %w", name, err)
		}
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			return out, fmt.Errorf("read chart asset %s: %w", name, err)
		}
		out[i] = string(b)
	}
	if strings.Contains(strings.ToLower(out[0]), "</script") {
		return out, fmt.Errorf("chart asset uPlot.min.js cannot be inlined: it contains </script")
	}
	return out, nil
})

// WriteHTML writes r as one self-contained HTML page: the verdict, the key
// figures of both arms side by side, six time-series charts on a shared time
// axis with the fault shaded and the breaker state drawn under each, and the
// tables behind them. The page loads nothing from the network (its content
// security policy forbids it), so it can be mailed or attached to a ticket.
func WriteHTML(w io.Writer, r *Report) error {
	assets, err := uplotAssets()
	if err != nil {
		return err
	}
	v := newHTMLView(r)
	v.UPlotJS = template.JS(assets[0])
	v.UPlotCSS = template.CSS(assets[1])
	var b bytes.Buffer
	if err := htmlTemplate.Execute(&b, v); err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	_, err = w.Write(b.Bytes())
	return err
}

// htmlView is what the template shows; everything in it is taken from the
// report or formatted from it.
type htmlView struct {
	R *Report
	// T are the words for the system under test.
	T           Terms
	Headline    string
	Tone        string // good, bad, neutral or warn: the headline's colour
	PartialNote string
	// ValidityNote names the first failed validity check, or is empty.
	ValidityNote    string
	Validity        []validityRow
	AttributionText string
	Fault           string
	PhasesText      string
	// FiguresHeading heads the key figures (median of N trials, when so).
	FiguresHeading string
	Arms           []armView
	Groups         []figureGroupView
	Phases         []phaseView
	// PhaseColumns head the per-phase table's catalogue columns, each
	// row's Values in the same order; PhaseSpan is the table's width in
	// columns, PhaseSpanData the width after the arm's.
	PhaseColumns             []string
	PhaseSpan, PhaseSpanData int
	Config                   [][2]string
	// InflightNote explains the in-flight chart's reference lines.
	InflightNote string
	// QueueNote says why the upstream queue chart is not drawn (no arm
	// measured the queue), or is empty; QueueCaption describes the chart
	// when it is: the upstream's capacity and each phase's peak.
	QueueNote    string
	QueueCaption string
	// UpstreamNote says why the charts of requests reaching the upstream
	// and attempts per request are not drawn — another process ran the
	// upstream and cbload counted nothing there — or is empty.
	UpstreamNote string
	// ExemplarLinks is false when no span reached the collector: the trace
	// IDs are then shown without links, and ExemplarNote says why.
	ExemplarLinks bool
	ExemplarNote  string
	Data          chartData
	UPlotJS       template.JS
	UPlotCSS      template.CSS
}

type armView struct {
	Name  string
	Color string
	Arm   *Arm
	// BreakerText says where a user's service's breaker states come from.
	BreakerText string
	// Transitions are every tier's, by time; Tiers is set when lower tiers
	// changed state too, and TierOpens then counts the opens per tier.
	Transitions []tierTransition
	Tiers       bool
	TierOpens   string
}

// figureGroupView is a set of key figures that apply to the same stretch
// of the run.
type figureGroupView struct {
	ID, Title string
	Figures   []figureView
}

type figureView struct {
	Label, Hint string
	Values      []string
	// Lead marks the lead figure, collateral success; Bars holds each
	// arm's value of it as a CSS width, so the gap between the arms shows
	// at a glance.
	Lead bool
	Bars []string
}

type phaseView struct {
	Phase Phase
	Rows  []phaseRow
}

type phaseRow struct {
	Arm     armView
	Summary *PhaseSummary
	Values  []string
}

// chartData is embedded in the page as JSON for the chart script.
type chartData struct {
	XMax   float64      `json:"x_max"`
	Phases []chartPhase `json:"phases"`
	// Focus is the second the legends show before any hover.
	Focus chartFocus `json:"focus"`
	// Refs are the in-flight chart's reference lines.
	Refs []chartRef `json:"refs"`
	// Upstream is set when cbload counted what reached the upstream (not
	// so when another process ran it).
	Upstream bool `json:"upstream"`
	// Queue is set when an arm measured the upstream's queue, whose
	// length limit is QueueMax.
	Queue    bool           `json:"queue"`
	QueueMax int            `json:"queue_max"`
	Arms     []chartArm     `json:"arms"`
	Outcomes []chartOutcome `json:"outcomes"`
	// API and Collateral name the endpoints in chart labels: /api and
	// /local, or a user's service's paths; Inflight names the in-flight
	// chart (Terms).
	API        string `json:"api"`
	Collateral string `json:"collateral"`
	Inflight   string `json:"inflight"`
}

// chartFocus is the second whose values the chart legends show until the
// reader hovers another one, so that a screenshot or a printout of the page
// carries numbers rather than dashes.
type chartFocus struct {
	T   int    `json:"t"`   // the second from T to T+1
	Why string `json:"why"` // what makes this second worth showing
}

// chartRef is a horizontal reference line, labelled with what it is.
type chartRef struct {
	Label string  `json:"label"`
	Value float64 `json:"value"`
}

type chartPhase struct {
	Name   string  `json:"name"`
	Start  float64 `json:"start"`
	End    float64 `json:"end"`
	Faults string  `json:"faults"`
}

type chartOutcome struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Color string `json:"color"`
}

// chartArm is one arm's per-second series. X is the middle of each
// one-second bucket; a nil latency or ratio means no request in that second.
type chartArm struct {
	Name    string `json:"name"`
	Color   string `json:"color"`
	Breaker bool   `json:"breaker"`
	// Band names the arm's breaker-state band (BreakerBand).
	Band       string     `json:"band"`
	X          []float64  `json:"x"`
	Phase      []string   `json:"phase"`
	State      []string   `json:"state"`
	Segments   []segment  `json:"segments"`
	APIOffered []int64    `json:"api_offered"`
	APIOK      []int64    `json:"api_ok"`
	APIP50     []*float64 `json:"api_p50"`
	APIP99     []*float64 `json:"api_p99"`
	LocalOK    []*float64 `json:"local_ok_pct"`
	LocalP99   []*float64 `json:"local_p99"`
	Inflight   []int64    `json:"inflight"`
	Upstream   []int64    `json:"upstream"`
	// Completed is the upstream's completed work per second (throughput).
	Completed []int64 `json:"upstream_completed"`
	// QueueMeasured says whether this arm measured the upstream's queue:
	// its peak and end-of-second length per second, absent otherwise.
	QueueMeasured bool               `json:"queue_measured"`
	QueuePeak     []int64            `json:"upstream_queue_peak,omitempty"`
	QueueLen      []int64            `json:"upstream_queue_len,omitempty"`
	Outcomes      map[string][]int64 `json:"outcomes"`
}

// segment is a stretch of time in one breaker state.
type segment struct {
	From  float64 `json:"from"`
	To    float64 `json:"to"`
	State string  `json:"state"`
}

type color struct{ hex, name string }

// armColor gives each arm the colour it has everywhere in a report: blue
// with the breaker, orange without (a pair that colour-blind readers can
// tell apart), then other hues for a user's own targets.
func armColor(r *Report, i int) color {
	switch r.Arms[i].Name {
	case ArmBreaker:
		return color{"#2563eb", "blue"}
	case ArmNoBreaker:
		return color{"#ea580c", "orange"}
	}
	others := []color{{"#0d9488", "teal"}, {"#9333ea", "purple"}, {"#be185d", "pink"}, {"#4d7c0f", "olive"}}
	return others[i%len(others)]
}

func tone(r *Report) string {
	if r.Partial || len(r.Validity.Failed()) > 0 {
		return "warn"
	}
	return verdictOutcome(r.Verdict.Outcome).Tone
}

func newHTMLView(r *Report) *htmlView {
	v := &htmlView{
		R:               r,
		T:               TermsOf(r.Config),
		Headline:        headline(r),
		Tone:            tone(r),
		PartialNote:     partialNote(r),
		ValidityNote:    validityNote(r),
		Validity:        validityRows(r),
		AttributionText: attributionText(r),
		Fault:           faultText(r),
		PhasesText:      phasesText(r),
		FiguresHeading:  figuresHeading(r),
	}
	for i := range r.Arms {
		a := &r.Arms[i]
		av := armView{Name: a.Name, Color: armColor(r, i).hex, Arm: a, BreakerText: BreakerText(r, a), Transitions: tierTransitions(a), Tiers: len(a.LowerTierTransitions) > 0}
		if av.Tiers {
			av.TierOpens = "opens: " + tierOpensText(a)
		}
		v.Arms = append(v.Arms, av)
	}
	for _, kg := range reportFigureGroups(r) {
		gv := figureGroupView{ID: kg.id, Title: kg.title}
		for _, kf := range kg.figures {
			f := figureView{Label: kf.label, Hint: kf.hint, Lead: kf.lead}
			for i := range r.Arms {
				f.Values = append(f.Values, figureValue(r, kf.keyFigure, &r.Arms[i]))
				if kf.lead {
					f.Bars = append(f.Bars, fmt.Sprintf("%.1f%%", 100*math.Max(0, math.Min(1, r.Arms[i].Figures.CollateralSuccessDuringFault))))
				}
			}
			gv.Figures = append(gv.Figures, f)
		}
		v.Groups = append(v.Groups, gv)
	}
	for _, c := range phaseColumns() {
		_, short := c.Column(TermsOf(r.Config))
		v.PhaseColumns = append(v.PhaseColumns, short)
	}
	// The arm, /api's 4 columns, the collateral's 3, these, the outcomes.
	v.PhaseSpanData = 4 + len(v.PhaseColumns) + 1
	if TermsOf(r.Config).HasCollateral {
		v.PhaseSpanData += 3
	}
	v.PhaseSpan = v.PhaseSpanData + 1
	for _, p := range r.Phases {
		pv := phaseView{Phase: p}
		for _, a := range v.Arms {
			row := phaseRow{Arm: a}
			if s, ok := a.Arm.Summary[p.Name]; ok {
				row.Summary = &s
				for _, c := range phaseColumns() {
					row.Values = append(row.Values, c.text(r, &s))
				}
			}
			pv.Rows = append(pv.Rows, row)
		}
		v.Phases = append(v.Phases, pv)
	}
	v.ExemplarLinks, v.ExemplarNote = exemplarLinks(r)
	v.Config = configRows(r)
	v.Data = newChartData(r)
	v.Data.Refs, v.InflightNote = inflightRefs(r.Config)
	if v.Data.Upstream = !r.Config.Upstream.External; !v.Data.Upstream {
		v.UpstreamNote = "Unknown: the upstream was run by another process (--upstream-external), so cbload did not count the requests that reached it, nor the attempts per " + v.T.API + " request; that process's own counts (cbload serve's /stats) have them."
	}
	if measured, why := UpstreamQueue(r); measured {
		v.Data.Queue, v.Data.QueueMax = true, r.Config.Upstream.Queue
		v.QueueCaption = "The upstream has " + queueLimitText(r.Config) + "."
		if peaks := queuePeaksText(r); len(peaks) > 0 {
			v.QueueCaption += " Peak per phase — " + strings.Join(peaks, "; ") + "."
		}
	} else {
		v.QueueNote = why
	}
	return v
}

// inflightRefs returns the reference lines of the in-flight chart and a
// sentence explaining them: the worker pool, and what in-flight settles at
// when a fault makes every /api call wait out the call timeout. If /api then
// needs more workers than the pool has (λ(/api) × call timeout > pool), the
// pool fills and every other request reaching the gateway waits up to the
// queue timeout: in-flight plateaus near pool + λ × queue timeout, λ being
// all requests reaching the gateway. Otherwise it settles at λ(/api) × call
// timeout. A user's own service has no gateway pool cbload knows of, so it
// gets no lines.
func inflightRefs(c Config) ([]chartRef, string) {
	if c.GatewayWorkers <= 0 || len(c.Targets) > 0 {
		return nil, ""
	}
	round := func(v float64) float64 { return math.Round(v*10) / 10 }
	pool := float64(c.GatewayWorkers)
	rate, apiRate := c.Rate, c.Rate*(1-c.CollateralShare)
	callT, queueT := time.Duration(c.CallTimeout), time.Duration(c.QueueTimeout)
	need := round(apiRate * callT.Seconds())
	refs := []chartRef{{Label: fmt.Sprintf("worker pool (%d)", c.GatewayWorkers), Value: pool}}
	if need <= pool {
		refs = append(refs, chartRef{Label: "λ(/api) × call timeout", Value: need})
		return refs, fmt.Sprintf("When every /api call waits out the call timeout, in-flight settles near λ(/api) × call timeout = %s req/s × %s = %s, within the %d workers: the pool does not fill.",
			num(round(apiRate)), callT, num(need), c.GatewayWorkers)
	}
	plateau := round(pool + rate*queueT.Seconds())
	refs = append(refs, chartRef{Label: "pool + λ × queue timeout", Value: plateau})
	return refs, fmt.Sprintf("When every /api call waits out the call timeout, /api needs λ(/api) × call timeout = %s req/s × %s = %s workers, more than the %d in the pool: the pool fills, every other request waits up to the queue timeout, and in-flight plateaus near pool + λ × queue timeout = %d + %s req/s × %s = %s (λ: all requests reaching the gateway).",
		num(round(apiRate)), callT, num(need), c.GatewayWorkers, c.GatewayWorkers, num(round(rate)), queueT, num(plateau))
}

// focusSecond picks the second the legends show before any hover: the
// fault's worst second for the collateral endpoint (the cascade evidence),
// else for the api endpoint, else the middle of the fault. Without a fault
// phase the whole run is searched the same way.
func focusSecond(r *Report) chartFocus {
	var faults []Phase
	for _, p := range r.Phases {
		if len(p.Faults) > 0 {
			faults = append(faults, p)
		}
	}
	where := "the fault's"
	if len(faults) == 0 {
		where = "the run's"
	}
	t := TermsOf(r.Config)
	for _, ep := range []struct {
		name string
		get  func(Second) Bucket
	}{{t.Collateral, func(s Second) Bucket { return s.Collateral }}, {t.API, func(s Second) Bucket { return s.API }}} {
		best, worst, arm := -1, 1.0, ""
		for _, a := range r.Arms {
			for _, s := range a.Series {
				b := ep.get(s)
				if b.Requests == 0 || (len(faults) > 0 && !inFault(faults, float64(s.T), float64(s.T+1))) {
					continue
				}
				if v := float64(b.Outcomes.OK) / float64(b.Requests); v < worst {
					best, worst, arm = s.T, v, a.Name
				}
			}
		}
		if best >= 0 {
			return chartFocus{T: best, Why: fmt.Sprintf("%s worst second for %s (%s: %s ok)", where, ep.name, arm, Percent(worst))}
		}
	}
	if len(faults) > 0 {
		return chartFocus{T: int((faults[0].StartS + faults[0].EndS) / 2), Why: "the middle of the fault"}
	}
	n := 0
	for _, a := range r.Arms {
		n = max(n, len(a.Series))
	}
	return chartFocus{T: n / 2, Why: "the middle of the run"}
}

func configRows(r *Report) [][2]string {
	c := r.Config
	if len(c.Targets) > 0 {
		return targetConfigRows(r)
	}
	b := c.Breaker
	rows := [][2]string{
		{"Fault", faultText(r)},
		{"Phases", phasesText(r)},
		{"Offered load", num(c.Rate) + " req/s, constant (open model)"},
		{"Share sent to /local", Percent(c.CollateralShare)},
		{"Client timeout", c.ClientTimeout.String()},
		{"Gateway workers", fmt.Sprint(c.GatewayWorkers)},
		{"Queue timeout", c.QueueTimeout.String()},
		{"Call timeout", c.CallTimeout.String()},
		{"/local work", c.LocalWork.String()},
		{"Breaker open timeout", b.Timeout.String()},
		{"Half-open probes", fmt.Sprint(b.MaxRequests)},
		{"Window", fmt.Sprintf("%s in %s buckets", b.Interval, b.BucketPeriod)},
		{"Trip policy", tripPolicy(b)},
		{"Upstream service time", fmt.Sprintf("%s ± %s", c.Upstream.ServiceTime, c.Upstream.Jitter)},
		{"Arms", strings.Join(c.Arms, ", ") + armModeText(c)},
	}
	for _, t := range c.Targets {
		rows = append(rows, [2]string{"Target " + t.Name, t.URL})
	}
	return rows
}

// armModeText says, for a run whose arms ran at once, how; "" for arms
// one after the other, the default.
func armModeText(c Config) string {
	if c.ArmMode != "concurrent" {
		return ""
	}
	return " (concurrent: all at once on one clock, each with its own gateway and upstream)"
}

func tripPolicy(b Breaker) string {
	var parts []string
	if b.ConsecutiveFailures > 0 {
		parts = append(parts, fmt.Sprintf("%d consecutive failures", b.ConsecutiveFailures))
	}
	if b.FailureRatio > 0 {
		parts = append(parts, fmt.Sprintf("failure ratio ≥ %s over ≥ %d calls", Percent(b.FailureRatio), b.MinRequests))
	}
	if len(parts) == 0 {
		return "never trips"
	}
	return strings.Join(parts, ", or ")
}

func newChartData(r *Report) chartData {
	d := chartData{Focus: focusSecond(r)}
	t := TermsOf(r.Config)
	d.API, d.Collateral, d.Inflight = t.API, t.Collateral, t.Inflight()
	for _, p := range r.Phases {
		d.Phases = append(d.Phases, chartPhase{Name: p.Name, Start: p.StartS, End: p.EndS, Faults: strings.Join(p.Faults, ", ")})
		d.XMax = math.Max(d.XMax, p.EndS)
	}
	for _, oc := range OutcomeClasses {
		d.Outcomes = append(d.Outcomes, chartOutcome{Key: oc.Key, Label: oc.Label, Color: oc.Color})
	}
	for i := range r.Arms {
		a := &r.Arms[i]
		ca := chartArm{Name: a.Name, Color: armColor(r, i).hex, Breaker: a.Breaker, Band: BreakerBand(a), Outcomes: map[string][]int64{},
			QueueMeasured: a.UpstreamQueue == QueueMeasured}
		for _, s := range a.Series {
			ca.X = append(ca.X, float64(s.T)+0.5)
			ca.Phase = append(ca.Phase, s.Phase)
			ca.State = append(ca.State, s.State)
			ca.APIOffered = append(ca.APIOffered, s.API.Sent)
			ca.APIOK = append(ca.APIOK, s.API.Outcomes.OK)
			ca.APIP50 = append(ca.APIP50, latency(s.API, s.API.LatencyMS.P50))
			ca.APIP99 = append(ca.APIP99, latency(s.API, s.API.LatencyMS.P99))
			ca.LocalP99 = append(ca.LocalP99, latency(s.Collateral, s.Collateral.LatencyMS.P99))
			var ok *float64
			if s.Collateral.Requests > 0 {
				v := 100 * float64(s.Collateral.Outcomes.OK) / float64(s.Collateral.Requests)
				ok = &v
			}
			ca.LocalOK = append(ca.LocalOK, ok)
			ca.Inflight = append(ca.Inflight, s.InflightPeak)
			ca.Upstream = append(ca.Upstream, s.UpstreamRequests)
			ca.Completed = append(ca.Completed, s.UpstreamCompleted)
			if ca.QueueMeasured {
				ca.QueuePeak = append(ca.QueuePeak, s.UpstreamQueuePeak)
				ca.QueueLen = append(ca.QueueLen, s.UpstreamQueueLen)
			}
			all := s.API.Outcomes.Add(s.Collateral.Outcomes)
			for _, oc := range OutcomeClasses {
				ca.Outcomes[oc.Key] = append(ca.Outcomes[oc.Key], oc.Get(all))
			}
			d.XMax = math.Max(d.XMax, float64(s.T+1))
		}
		ca.Segments = segments(a)
		d.Arms = append(d.Arms, ca)
	}
	return d
}

func latency(b Bucket, v float64) *float64 {
	if b.Requests == 0 {
		return nil
	}
	return &v
}

// segments turns an arm's transitions into the stretches of time the breaker
// spent in each state, up to the end of its series.
func segments(a *Arm) []segment {
	if len(a.Series) == 0 {
		return nil
	}
	end := float64(a.Series[len(a.Series)-1].T + 1)
	if !a.Breaker || len(a.Transitions) == 0 {
		state := a.Series[0].State
		if !a.Breaker && state == "" {
			state = StateNone
		}
		return []segment{{0, end, state}}
	}
	var out []segment
	from, state := 0.0, a.Transitions[0].From
	for _, t := range a.Transitions {
		if t.T >= end {
			break // after the last second measured: nothing to draw
		}
		if t.T > from {
			out = append(out, segment{from, math.Min(t.T, end), state})
		}
		from, state = t.T, t.To
	}
	if from < end {
		out = append(out, segment{from, end, state})
	}
	return out
}

// LoadSub is the offered-load chart's subtitle: it names the dashed
// upstream throughput only when the chart draws it (some arm's upstream
// completed work that cbload measured).
func (v *htmlView) LoadSub() string {
	for _, a := range v.Data.Arms {
		for _, n := range a.Completed {
			if n > 0 {
				return "requests per second · dashed: the upstream's throughput"
			}
		}
	}
	return "requests per second"
}
