package reports

import (
	"slices"
	"strconv"
	"strings"
)

// This file is the value catalogue: every figure of an arm, every value
// of a phase and of an endpoint, and every outcome class declared once,
// with its path, words, unit, the way it gets worse, how it is attributed
// in time, its getter and, for a value derived from the raw seconds, how
// it combines (RawCount). Thresholds, compare and the reference page
// (through the path tree, paths.go), the trials' spread, Derive and merge
// (analysis), the renderers and the schema (generated from these rows by
// TestSchemaGeneratedFromCatalogue -update) read these tables; a new
// figure is its row here plus the field it is measured into. The run's
// values and the verdict outcome table are in catalogue_run.go.

// Attributions of a figure in time, as Figure.Attribution names them.
const (
	// FigureByCompletion counts a request in the second and phase it
	// completed in.
	FigureByCompletion = AttributionCompletion
	// FigureBySend counts a request in the second and phase it was sent in
	// (for the upstream's arrivals, the gateway's send).
	FigureBySend = AttributionSend
	// FigureByEvent dates a figure by an event: a breaker transition, an
	// in-flight sample, the first healthy window.
	FigureByEvent = "event"
)

// Key figure groups, as Figure.Group names them: the stretch of the run a
// figure applies to, in the order the reports show them.
const (
	GroupFault = "fault" // during the fault
	GroupEdges = "edges" // at the start and end of the fault
	GroupRun   = "run"   // over the whole run
)

// FigureGroups are the key figure groups in the order shown, with their
// headings.
var FigureGroups = []struct{ ID, Title string }{
	{GroupFault, "During the fault"},
	{GroupEdges, "At the start and end of the fault"},
	{GroupRun, "Over the whole run"},
}

// Figure is one row of the catalogue: a figure of an arm, named
// <arm>.figures.<Name> in thresholds and compare and "<Name>" in the
// report's figures object.
type Figure struct {
	// Name is the figure's path segment, and its field in the report's
	// figures object unless Field names another (a figure read from a
	// finding: after_trigger).
	Name, Field string
	// Kind is one of the Kind constants: the figure's unit.
	Kind string
	// Worse is +1 when a higher value is worse, -1 when a lower one is;
	// <arm>.worst.<Name> picks the worst trial by it.
	Worse int
	// Attribution is FigureByCompletion, FigureBySend or FigureByEvent.
	Attribution string
	// Breaker marks a figure resting on the breaker's state, which a
	// user's service may not show (Arm.BreakerFigures).
	Breaker bool
	// SpanField, when set, is the figures field holding the span an
	// inferred value lies in ([earliest, latest] seconds), shown with it.
	SpanField string
	// Get reads the figure; an errNoData error says why there is none
	// (the breaker never opened).
	Get func(f *Figures) (float64, error)
	// Set stores v, or "never" when ok is false, for the trials' spread;
	// nil when the figure is spread with others (AfterTrigger).
	Set func(f *Figures, v float64, ok bool)
	// FromPhases, when set, derives the figure from a per-phase value
	// whenever a report's figures are derived (the end of a run, a
	// merge): its phase summaries combined by the value's rule over the
	// phases (Raw.Seconds: summed, or the largest).
	FromPhases *FromPhases

	// Group, Order, Label, Hint and TargetHint place the figure in the
	// key figure tables (every renderer's): Group "" keeps it out of them.
	// Label and Hint are in the built-in gateway's words (Terms.Label
	// rewrites them); TargetHint, when set, replaces Hint for a user's
	// service.
	Group                   string
	Order                   int
	Label, Hint, TargetHint string
	// Short is the terminal summary's label, in the same words.
	Short string
	// Brief, when set, says whether the terminal summary shows the figure
	// for r (attempts per request only when something can multiply them);
	// the reports always show it.
	Brief func(r *Report) bool
	// AtUpstream marks a figure counted by the upstream: the terminal says
	// "unknown" when another process runs the upstream.
	AtUpstream bool
	// Collateral marks a figure of the collateral endpoint, not shown
	// when there is none.
	Collateral bool
	// Text formats the figure for an arm in the key figure tables.
	Text func(a *Arm) string
}

// Catalogue lists every figure of an arm, in the order of the report's
// figures object and of the threshold paths.
var Catalogue = []Figure{
	{Name: "time_to_open_s", Kind: KindSeconds, Worse: +1, Attribution: FigureByEvent, Breaker: true, SpanField: "time_to_open_span_s",
		Get:   func(f *Figures) (float64, error) { return optional(f.TimeToOpenS, "the breaker never opened") },
		Set:   func(f *Figures, v float64, ok bool) { f.TimeToOpenS = optionalValue(v, ok) },
		Group: GroupEdges, Order: 1, Label: "Time to open", Short: "time to open",
		Hint:       "from the start of the fault to the breaker's first open, from its transition log",
		TargetHint: "from the start of the fault to the service's breaker's first open: measured from its state URL, else inferred from the upstream's arrivals, else unknown",
		Text: func(a *Arm) string {
			if !a.Breaker {
				return "no breaker"
			}
			return secs(a.Figures.TimeToOpenS)
		}},
	{Name: "time_to_recover_s", Kind: KindSeconds, Worse: +1, Attribution: FigureByEvent, Breaker: true,
		Get:   func(f *Figures) (float64, error) { return optional(f.TimeToRecoverS, "it never recovered") },
		Set:   func(f *Figures, v float64, ok bool) { f.TimeToRecoverS = optionalValue(v, ok) },
		Group: GroupEdges, Order: 2, Label: "Time to recover", Short: "time to recover",
		Hint: "from the end of the fault until /api stays ≥ 99% for a full second with the breaker closed (100 ms resolution)",
		Text: func(a *Arm) string { return secs(a.Figures.TimeToRecoverS) }},
	{Name: "upstream_requests_during_fault", Kind: KindCount, Worse: +1, Attribution: FigureBySend,
		FromPhases: &FromPhases{Value: "upstream_requests"},
		Get:        func(f *Figures) (float64, error) { return float64(f.UpstreamRequestsDuringFault), nil },
		Set:        func(f *Figures, v float64, _ bool) { f.UpstreamRequestsDuringFault = int64(v) },
		Group:      GroupFault, Order: 4, Label: "Requests reaching the upstream", Short: "requests reaching the upstream", AtUpstream: true,
		Hint:       "load the breaker shed from the sick dependency",
		TargetHint: "as the upstream counted them: what the service's breaker, cache or fallback kept from the sick dependency",
		Text:       func(a *Arm) string { return count(a.Figures.UpstreamRequestsDuringFault) }},
	{Name: "collateral_success_during_fault", Kind: KindRatio, Worse: -1, Attribution: FigureByCompletion,
		Get:   func(f *Figures) (float64, error) { return f.CollateralSuccessDuringFault, nil },
		Set:   func(f *Figures, v float64, _ bool) { f.CollateralSuccessDuringFault = v },
		Group: GroupFault, Order: 1, Label: "/local success", Short: "/local success", Collateral: true,
		Hint: "collateral health: the cascade evidence",
		Text: func(a *Arm) string { return Percent(a.Figures.CollateralSuccessDuringFault) }},
	{Name: "collateral_p99_during_fault_ms", Kind: KindMS, Worse: +1, Attribution: FigureByCompletion,
		Get:   func(f *Figures) (float64, error) { return f.CollateralP99DuringFaultMS, nil },
		Set:   func(f *Figures, v float64, _ bool) { f.CollateralP99DuringFaultMS = v },
		Group: GroupFault, Order: 2, Label: "/local p99", Short: "/local p99", Collateral: true,
		Hint: "latency of the endpoint that never calls the upstream",
		Text: func(a *Arm) string { return Millis(a.Figures.CollateralP99DuringFaultMS) }},
	{Name: "api_success_during_fault", Kind: KindRatio, Worse: -1, Attribution: FigureByCompletion,
		Get:   func(f *Figures) (float64, error) { return f.APISuccessDuringFault, nil },
		Set:   func(f *Figures, v float64, _ bool) { f.APISuccessDuringFault = v },
		Group: GroupFault, Order: 3, Label: "/api success", Short: "/api success",
		Hint: "the endpoint that calls the sick upstream",
		Text: func(a *Arm) string { return Percent(a.Figures.APISuccessDuringFault) }},
	{Name: "inflight_peak", Kind: KindCount, Worse: +1, Attribution: FigureByEvent,
		FromPhases: &FromPhases{Value: "inflight_peak"},
		Get:        func(f *Figures) (float64, error) { return float64(f.InflightPeak), nil },
		Set:        func(f *Figures, v float64, _ bool) { f.InflightPeak = int64(v) },
		Group:      GroupFault, Order: 6, Label: "Gateway in-flight peak", Short: "gateway in-flight peak",
		Hint:       "most requests held at once during the fault, queued or running",
		TargetHint: "requests sent and not yet answered during the fault: the service's own in-flight count is not visible",
		Text:       func(a *Arm) string { return count(a.Figures.InflightPeak) }},
	{Name: "inflight_peak_whole_run", Kind: KindCount, Worse: +1, Attribution: FigureByEvent,
		FromPhases: &FromPhases{Value: "inflight_peak", All: true},
		Get:        func(f *Figures) (float64, error) { return float64(f.InflightPeakWholeRun), nil },
		Set:        func(f *Figures, v float64, _ bool) { f.InflightPeakWholeRun = int64(v) },
		Group:      GroupRun, Order: 1, Label: "Gateway in-flight peak", Short: "  (whole run)",
		Hint:       "most requests held at once over every phase, queued or running",
		TargetHint: "requests sent and not yet answered, over every phase",
		Text:       func(a *Arm) string { return count(a.Figures.InflightPeakWholeRun) }},
	{Name: "opens", Kind: KindCount, Worse: +1, Attribution: FigureByEvent, Breaker: true,
		Get: func(f *Figures) (float64, error) { return float64(f.Opens), nil },
		Set: func(f *Figures, v float64, _ bool) { f.Opens = int(v) }},
	{Name: "attempts_per_request_during_fault", Kind: KindNumber, Worse: +1, Attribution: FigureBySend,
		Get:   func(f *Figures) (float64, error) { return f.AttemptsPerRequestDuringFault, nil },
		Set:   func(f *Figures, v float64, _ bool) { f.AttemptsPerRequestDuringFault = v },
		Group: GroupFault, Order: 5, Label: "Attempts per /api request", Short: "attempts per /api request",
		Brief: func(r *Report) bool { return r.Config.Retries > 0 || r.Config.Tiers > 1 },
		Hint:  "the upstream's requests over /api requests: above 1 with retries (amplification)",
		Text:  AttemptsPerRequest},
	{Name: "recovered_after_trigger", Field: "after_trigger", Kind: KindBool, Worse: -1, Attribution: FigureByCompletion,
		Get: func(f *Figures) (float64, error) {
			if f.AfterTrigger == nil {
				return 0, errNoData{"the run has no faultless first phase or nothing after the last fault phase"}
			}
			return boolValue(f.AfterTrigger.Recovered), nil
		},
		Group: GroupEdges, Order: 3, Label: "After the trigger", Short: "after the trigger",
		Hint: "did /api goodput come back to ≥ 90% of its baseline and stay (metastability)",
		Text: AfterTrigger},
	{Name: "time_to_recover_goodput_s", Field: "after_trigger", Kind: KindSeconds, Worse: +1, Attribution: FigureByCompletion,
		Get: func(f *Figures) (float64, error) {
			if f.AfterTrigger == nil {
				return 0, errNoData{"the run has no faultless first phase or nothing after the last fault phase"}
			}
			return optional(f.AfterTrigger.TimeToRecoverS, "its goodput never recovered")
		}},
}

// FromPhases names the per-phase value (a PhaseValue with a Raw.Phase) a
// figure is derived from, and over which phases: the fault phases, or
// every phase with All.
type FromPhases struct {
	Value string
	All   bool
}

// PhaseValueNamed returns the PhaseValues row named name, or nil.
func PhaseValueNamed(name string) *PhaseValue {
	for i := range PhaseValues {
		if PhaseValues[i].Name == name {
			return &PhaseValues[i]
		}
	}
	return nil
}

// CatalogueFigure returns the catalogue's row named name, or nil.
func CatalogueFigure(name string) *Figure {
	for i := range Catalogue {
		if Catalogue[i].Name == name {
			return &Catalogue[i]
		}
	}
	return nil
}

// JSONField is the field of the report's figures object the figure is
// read from.
func (f *Figure) JSONField() string {
	if f.Field != "" {
		return f.Field
	}
	return f.Name
}

func optionalValue(v float64, ok bool) *float64 {
	if !ok {
		return nil
	}
	return &v
}

// PhaseValue is a row of the catalogue for a value each phase of an arm
// has, named <arm>.<phase>.<Name>.
type PhaseValue struct {
	Name string
	// Kind, Worse and Attribution are as a Figure's.
	Kind        string
	Worse       int
	Attribution string
	// Key marks a value `cbload compare` shows without --all.
	Key bool
	// Get reads the value from the phase's summary; an errNoData error
	// says why there is none.
	Get func(r *Report, s *PhaseSummary) (float64, error)
	// Column heads the value's column in the per-phase tables, in t's
	// words: long in Markdown, short in HTML; nil keeps it out of them,
	// and Text formats it there.
	Column func(t Terms) (long, short string)
	Text   func(s *PhaseSummary) string
	// AtUpstream marks a value counted at cbload's upstream: unknown when
	// another process runs it (--upstream-external).
	AtUpstream bool
	// Raw, when its Second is set, is the raw count of a second the value
	// is derived from whenever a report's summaries are derived (the end
	// of a run, a merge), with how it combines over a phase's seconds and
	// over the shards of a merge.
	Raw RawCount
}

// PhaseValues lists the values of a phase besides its endpoints', in the
// order of the threshold paths.
var PhaseValues = []PhaseValue{
	{Name: "upstream_requests", Kind: KindCount, Worse: +1, Attribution: FigureBySend, Key: true,
		Get:        func(_ *Report, s *PhaseSummary) (float64, error) { return float64(s.UpstreamRequests), nil },
		Column:     func(Terms) (string, string) { return "Upstream requests", "Upstream req" },
		Text:       func(s *PhaseSummary) string { return count(s.UpstreamRequests) },
		AtUpstream: true,
		Raw: RawCount{Second: func(s *Second) *int64 { return &s.UpstreamRequests }, Shards: CombineSum,
			Phase: func(ps *PhaseSummary) *int64 { return &ps.UpstreamRequests }, Seconds: CombineSum}},
	{Name: "attempts_per_request", Kind: KindNumber, Worse: +1, Attribution: FigureBySend,
		Get: func(_ *Report, s *PhaseSummary) (float64, error) { return s.AttemptsPerRequest, nil }},
	{Name: "inflight_peak", Kind: KindCount, Worse: +1, Attribution: FigureByEvent, Key: true,
		Get:    func(_ *Report, s *PhaseSummary) (float64, error) { return float64(s.InflightPeak), nil },
		Column: func(t Terms) (string, string) { return t.InflightPeak(), t.InflightPeak() },
		Text:   func(s *PhaseSummary) string { return count(s.InflightPeak) },
		// Each shard's peaks add: an upper bound, as they need not
		// coincide.
		Raw: RawCount{Second: func(s *Second) *int64 { return &s.InflightPeak }, Shards: CombineSum,
			Phase: func(ps *PhaseSummary) *int64 { return &ps.InflightPeak }, Seconds: CombineMax}},
	{Name: "upstream_queue_peak", Kind: KindCount, Worse: +1, Attribution: FigureByEvent,
		Get: func(r *Report, s *PhaseSummary) (float64, error) {
			if s.UpstreamQueuePeak == nil {
				why := "not measured in this phase"
				if _, w := UpstreamQueue(r); w != "" {
					why = strings.ToLower(w[:1]) + strings.TrimSuffix(w[1:], ".")
				}
				return 0, errNoData{"the upstream's queue is " + why}
			}
			return float64(*s.UpstreamQueuePeak), nil
		}},
}

// phaseColumns are the PhaseValues shown in the per-phase tables.
func phaseColumns() []*PhaseValue {
	var out []*PhaseValue
	for i := range PhaseValues {
		if PhaseValues[i].Column != nil {
			out = append(out, &PhaseValues[i])
		}
	}
	return out
}

// EndpointValue is a row of the catalogue for a value of each endpoint of
// a phase, named <arm>.<phase>.<api|collateral>.<Name> (LatencyValues'
// under latency_ms.).
type EndpointValue struct {
	Name string
	// Kind and Worse are as a Figure's; every endpoint value counts
	// requests by completion.
	Kind  string
	Worse int
	// Key marks a value `cbload compare` shows without --all.
	Key bool
	// V1, when set, names what v1 reports did not record, so the value is
	// no data in a report upgraded from one.
	V1  string
	Get func(s *Stats) float64
}

// EndpointValues lists an endpoint's request counts and success ratio.
var EndpointValues = []EndpointValue{
	{Name: "requests", Kind: KindCount, Worse: -1, Key: true, Get: func(s *Stats) float64 { return float64(s.Requests) }},
	{Name: "ok", Kind: KindCount, Worse: -1, Get: func(s *Stats) float64 { return float64(s.OK) }},
	{Name: "success_ratio", Kind: KindRatio, Worse: -1, Key: true, Get: func(s *Stats) float64 { return s.SuccessRatio }},
}

// EndpointDetails lists an endpoint's details: its status codes by class
// (each code of a report is a path too: status_codes.503), its error set
// and its bytes, shown after its outcomes and latency.
var EndpointDetails = func() []EndpointValue {
	var out []EndpointValue
	for _, class := range []string{"1xx", "2xx", "3xx", "4xx", "5xx"} {
		out = append(out, EndpointValue{Name: "status_codes." + class, Kind: KindCount, Worse: +1, V1: "status codes",
			Get: func(s *Stats) float64 {
				var n int64
				for code, c := range s.StatusCodes {
					if len(code) == 3 && code[0] == class[0] {
						n += c
					}
				}
				return float64(n)
			}})
	}
	return append(out,
		EndpointValue{Name: "errors.total", Kind: KindCount, Worse: +1, V1: "the error set", Get: func(s *Stats) float64 {
			n := s.ErrorsOther
			for _, e := range s.Errors {
				n += e.Count
			}
			return float64(n)
		}},
		EndpointValue{Name: "errors.distinct", Kind: KindCount, Worse: +1, V1: "the error set", Get: func(s *Stats) float64 { return float64(len(s.Errors)) }},
		EndpointValue{Name: "errors.other", Kind: KindCount, Worse: +1, V1: "the error set", Get: func(s *Stats) float64 { return float64(s.ErrorsOther) }},
		EndpointValue{Name: "bytes_in", Kind: KindCount, Worse: -1, V1: "bytes", Get: func(s *Stats) float64 { return float64(s.BytesIn) }},
		EndpointValue{Name: "bytes_out", Kind: KindCount, Worse: -1, V1: "bytes", Get: func(s *Stats) float64 { return float64(s.BytesOut) }},
	)
}()

// endpointRows lists every value of an endpoint, in path order: its
// EndpointValues, its outcome classes (outcomes.<class>) and where the
// timeouts happened (outcomes.timeout_at.<where>), its LatencyValues
// (latency_ms.<stat>) and its EndpointDetails.
func endpointRows() []EndpointValue {
	out := slices.Clone(EndpointValues)
	for _, c := range OutcomeClasses {
		out = append(out, EndpointValue{Name: "outcomes." + c.Key, Kind: KindCount,
			Get: func(s *Stats) float64 { return float64(c.Get(s.Outcomes)) }})
	}
	out = append(out,
		EndpointValue{Name: "outcomes.timeout_at.load_runner", Kind: KindCount, Worse: +1,
			Get: func(s *Stats) float64 { return float64(s.Outcomes.TimeoutAt.LoadRunner) }},
		EndpointValue{Name: "outcomes.timeout_at.upstream_call", Kind: KindCount, Worse: +1,
			Get: func(s *Stats) float64 { return float64(s.Outcomes.TimeoutAt.UpstreamCall) }})
	for _, l := range LatencyValues {
		v := EndpointValue{Name: "latency_ms." + l.Name, Kind: KindMS, Worse: +1, Key: l.Key,
			Get: func(s *Stats) float64 { return l.Get(&s.LatencyMS) }}
		if l.SinceV2 {
			v.V1 = "latency " + l.Name
		}
		out = append(out, v)
	}
	return append(out, EndpointDetails...)
}

// LatencyValue is a statistic of an endpoint's latency, named
// <arm>.<phase>.<endpoint>.latency_ms.<Name>, in milliseconds.
type LatencyValue struct {
	Name string
	// Key marks a value `cbload compare` shows without --all.
	Key bool
	// SinceV2 marks a statistic v1 reports did not record.
	SinceV2 bool
	Get     func(l *Latency) float64
}

// LatencyValues lists the latency statistics; higher is worse for each.
var LatencyValues = []LatencyValue{
	{Name: "p50", Key: true, Get: func(l *Latency) float64 { return l.P50 }},
	{Name: "p90", Get: func(l *Latency) float64 { return l.P90 }},
	{Name: "p95", Key: true, SinceV2: true, Get: func(l *Latency) float64 { return l.P95 }},
	{Name: "p99", Key: true, Get: func(l *Latency) float64 { return l.P99 }},
	{Name: "max", Get: func(l *Latency) float64 { return l.Max }},
	{Name: "mean", SinceV2: true, Get: func(l *Latency) float64 { return l.Mean }},
}

// KeyPhaseValues lists the paths below <arm>.<phase> that `cbload
// compare` shows without --all: the Key rows of PhaseValues and, for each
// endpoint, of EndpointValues and LatencyValues.
func KeyPhaseValues() []string {
	var out []string
	for _, ep := range []string{"api", "collateral"} {
		for _, v := range EndpointValues {
			if v.Key {
				out = append(out, ep+"."+v.Name)
			}
		}
		for _, v := range LatencyValues {
			if v.Key {
				out = append(out, ep+".latency_ms."+v.Name)
			}
		}
	}
	for _, v := range PhaseValues {
		if v.Key {
			out = append(out, v.Name)
		}
	}
	return out
}

// OutcomeClass is one row of the outcome table: a class of answers the
// client got, named <arm>.<phase>.<endpoint>.outcomes.<Key>.
type OutcomeClass struct {
	// Key is the class's JSON field and path segment; Label its words in
	// the reports; Color its colour in the HTML report's charts.
	Key, Label, Color string
	// Count is the class's counter in o: Outcomes.Total and Add, and so
	// the series, summaries and merge, count every class by it.
	Count func(o *Outcomes) *int64
}

// Get returns the class's count in o.
func (c OutcomeClass) Get(o Outcomes) int64 { return *c.Count(&o) }

// OutcomeClasses lists the outcome classes in the order they are shown,
// from good to bad.
var OutcomeClasses = []OutcomeClass{
	{"ok", "ok", "#16a34a", func(o *Outcomes) *int64 { return &o.OK }},
	{"upstream_error", "upstream 5xx", "#dc2626", func(o *Outcomes) *int64 { return &o.UpstreamError }},
	{"timeout", "timeout", "#9333ea", func(o *Outcomes) *int64 { return &o.Timeout }},
	{"rejected", "rejected (breaker)", "#eab308", func(o *Outcomes) *int64 { return &o.Rejected }},
	{"saturated", "saturated (queue)", "#7f1d1d", func(o *Outcomes) *int64 { return &o.Saturated }},
	{"connection_error", "connection error", "#0e7490", func(o *Outcomes) *int64 { return &o.ConnectionError }},
	{"redirect", "redirect (3xx)", "#a16207", func(o *Outcomes) *int64 { return &o.Redirect }},
	{"client_error", "client error", "#db2777", func(o *Outcomes) *int64 { return &o.ClientError }},
	{"assertion_failed", "assertion failed (--expect)", "#c2410c", func(o *Outcomes) *int64 { return &o.AssertionFailed }},
	{"shed", "shed by the service (429, 503 + Retry-After)", "#475569", func(o *Outcomes) *int64 { return &o.Shed }},
}

// figureNumber formats an arm's figure in its unit without the words a
// key figure's Text adds ("no breaker"): "never" for a time that did not
// happen.
func figureNumber(fig *Figure, a *Arm) string {
	v, err := fig.Get(&a.Figures)
	switch {
	case err != nil && fig.Kind == KindSeconds:
		return "never"
	case err != nil:
		return "—"
	}
	switch fig.Kind {
	case KindSeconds:
		return Seconds(v)
	case KindMS:
		return Millis(v)
	case KindRatio:
		return Percent(v)
	case KindCount:
		return count(int64(v))
	case KindBool:
		return strconv.FormatBool(v != 0)
	}
	return num(v)
}

// text formats the value for the per-phase tables: "unknown" for a value
// counted at an upstream another process runs.
func (v *PhaseValue) text(r *Report, s *PhaseSummary) string {
	if v.AtUpstream && r.Config.Upstream.External {
		return "unknown"
	}
	return v.Text(s)
}
