package reports

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Reports about a user's own service speak of that service: its paths
// instead of cbload's /api and /local, in-flight counted at the load
// runner, no collateral wording when it has no collateral endpoint, and
// breaker figures marked measured, inferred or unknown. Terms is the one
// place that knows both vocabularies; every renderer, the terminal summary
// and the verdict's text ask it.

// Terms are the words a report uses for its system under test: cbload's
// own gateway (its /api and /local, its shared worker pool and breaker),
// or a user's service (--target).
type Terms struct {
	// Target is true for a user's own service.
	Target bool
	// API and Collateral name the endpoints: /api and /local, or the
	// service's paths (the first target's; "api" or "collateral" when it
	// has several of a kind).
	API, Collateral string
	// HasCollateral says whether any target has a collateral endpoint;
	// always true for cbload's own gateway.
	HasCollateral bool
}

// TermsOf returns the terms of a run with configuration c.
func TermsOf(c Config) Terms {
	if len(c.Targets) == 0 {
		return Terms{API: "/api", Collateral: "/local", HasCollateral: true}
	}
	// The words name one path only when every target's is that path: an
	// arm is never labelled with another target's path.
	var apis, colls []string
	for i, t := range c.Targets {
		a, cl := targetPaths(t)
		if i == 0 {
			apis, colls = a, cl
			continue
		}
		if !slices.Equal(a, apis) {
			apis = nil
		}
		if !slices.Equal(cl, colls) {
			colls = nil
		}
	}
	terms := Terms{Target: true, API: "api", Collateral: "collateral"}
	for _, tt := range c.Targets {
		for _, q := range tt.Requests {
			if strings.HasSuffix(q, " (collateral)") {
				terms.HasCollateral = true
			}
		}
	}
	if len(apis) == 1 {
		terms.API = apis[0]
	}
	if len(colls) == 1 {
		terms.Collateral = colls[0]
	}
	return terms
}

// Endpoints names the run's api and collateral endpoints for labels, and
// says whether there is a collateral endpoint at all (see Terms).
func Endpoints(r *Report) (api, collateral string, hasCollateral bool) {
	t := TermsOf(r.Config)
	return t.API, t.Collateral, t.HasCollateral
}

// Label rewrites a label written in the built-in gateway's words for the
// system under test: /api and /local become the service's paths, and the
// gateway's in-flight count becomes the load runner's.
func (t Terms) Label(s string) string {
	if !t.Target {
		return s
	}
	return strings.NewReplacer(
		"/api", t.API, "/local", t.Collateral,
		"Gateway in-flight peak", "In-flight peak at the load runner",
		"gateway in-flight peak", "in-flight peak at the load runner",
		"Gateway in-flight", "In flight at the load runner",
		"gateway in-flight", "in flight at the load runner",
	).Replace(s)
}

// Inflight names the in-flight chart.
func (t Terms) Inflight() string { return t.Label("Gateway in-flight") }

// InflightPeak heads a column of per-phase in-flight peaks.
func (t Terms) InflightPeak() string {
	if t.Target {
		return "In-flight peak at the load runner"
	}
	return "In-flight peak"
}

// InflightHint says what the in-flight count counts.
func (t Terms) InflightHint() string {
	if t.Target {
		return "peak per second: requests sent and not yet answered (the service's own in-flight count is not visible)"
	}
	return "peak per second, queued or running"
}

// AllEndpoints names every endpoint requests went to: "/api + /local", or
// the api path alone when there is no collateral endpoint.
func (t Terms) AllEndpoints() string {
	if !t.HasCollateral {
		return t.API
	}
	return t.API + " + " + t.Collateral
}

// UpstreamHint says what the chart of requests reaching the upstream shows.
func (t Terms) UpstreamHint() string {
	if t.Target {
		return "per second, as the upstream counted them: what the service kept from it"
	}
	return "per second: what the breaker shed"
}

// LeadNote explains the lead figure, collateral success; "" without a
// collateral endpoint.
func (t Terms) LeadNote() string {
	switch {
	case !t.HasCollateral:
		return ""
	case t.Target:
		return fmt.Sprintf("%s does not call the upstream: if its success drops while only the upstream is sick, the fault has spread inside the service — through a pool, a connection limit or a queue it shares with %s.", t.Collateral, t.API)
	}
	return "/local never calls the upstream: if its success drops while only the upstream is sick, the fault has spread through the gateway's shared worker pool."
}

// FiguresTitle heads the key figures.
func (t Terms) FiguresTitle() string {
	if t.Target {
		return "Key figures, target by target"
	}
	return "Key figures, with and without the breaker"
}

// targetPaths returns the paths of a target's api and collateral
// requests, in the order of its request list.
func targetPaths(t Target) (apis, colls []string) {
	for _, q := range t.Requests {
		label, isColl := strings.CutSuffix(q, " (collateral)")
		_, u, _ := strings.Cut(label, " ")
		p := u
		if pu, err := url.Parse(u); err == nil && pu.Path != "" {
			p = pu.Path
		}
		if isColl {
			colls = append(colls, p)
		} else {
			apis = append(apis, p)
		}
	}
	if len(t.Requests) == 0 { // reports of versions without the request list
		apis = []string{t.URL}
		if pu, err := url.Parse(t.URL); err == nil && pu.Path != "" {
			apis = []string{pu.Path}
		}
	}
	return apis, colls
}

// BreakerBand names an arm's breaker-state band under the charts: the arm,
// marked inferred or unknown when so, or "no breaker".
func BreakerBand(a *Arm) string {
	switch a.BreakerFigures {
	case BreakerInferred:
		return a.Name + " (inferred)"
	case BreakerUnknown:
		return a.Name + " (unknown)"
	}
	if !a.Breaker {
		return "no breaker"
	}
	return a.Name
}

// BreakerText says in a sentence where an arm's breaker states come from,
// for the transitions section; "" for cbload's own breaker, whose states
// are its own, and for reports of versions that did not record it.
func BreakerText(r *Report, a *Arm) string {
	if len(r.Config.Targets) == 0 {
		return ""
	}
	switch a.BreakerFigures {
	case BreakerInferred:
		return "Inferred from the upstream's arrivals against the requests sent, not read from the service: half-open cannot be told from open."
	case BreakerUnknown:
		return "The service's breaker state is unknown: it is not observable from outside, so no transition is shown."
	case BreakerMeasured:
		if a.Breaker {
			return "Measured: polled from the service's breaker state URL."
		}
		return "The service's breaker state URL reported no breaker."
	}
	return "" // a report of a version that did not say
}

// reportFigure is a key figure as one report shows it.
type reportFigure struct {
	keyFigure
	// lead says whether the figure is the lead, collateral success, drawn
	// as bars with the lead note under it.
	lead bool
}

type reportFigureGroup struct {
	id, title string
	figures   []reportFigure
}

// reportFigureGroups returns the key figures as r shows them: labelled in
// r's terms, without collateral figures when there is no collateral
// endpoint, and with breaker figures marked inferred or unknown.
func reportFigureGroups(r *Report) []reportFigureGroup {
	t := TermsOf(r.Config)
	var out []reportFigureGroup
	for _, g := range keyFigureGroups {
		rg := reportFigureGroup{id: g.id, title: g.title}
		for i, kf := range g.figures {
			if kf.fig.Collateral && !t.HasCollateral {
				continue
			}
			f := reportFigure{keyFigure: kf, lead: g.id == keyFigureGroups[0].id && i == 0}
			if t.Target && kf.targetHint != "" {
				f.hint = kf.targetHint
			}
			f.label, f.hint = t.Label(f.label), t.Label(f.hint)
			if kf.fig.Breaker {
				f.value = breakerValue(kf.fig, kf.value, "unknown (breaker state not observable)")
			}
			if r.Config.Upstream.External && (kf.label == "Requests reaching the upstream" || kf.label == "Attempts per /api request") {
				f.value = func(*Arm) string { return "unknown (external upstream)" }
			}
			rg.figures = append(rg.figures, f)
		}
		out = append(out, rg)
	}
	return out
}

// breakerValue marks a breaker figure inferred, or says it is unknown in
// the words given.
func breakerValue(fig *Figure, value func(a *Arm) string, unknown string) func(a *Arm) string {
	return func(a *Arm) string {
		switch a.BreakerFigures {
		case BreakerUnknown:
			return unknown
		case BreakerInferred:
			if fig.Name == "time_to_open_s" {
				return TimeToOpenInferred(a)
			}
			return figureNumber(fig, a) + " (inferred)"
		}
		return value(a)
	}
}

// SuspectOKText says, for an arm of a user's service, how many api
// answers were ok while the upstream call failed, timed out, was never
// made or was still held when the answer came back (a fallback answered
// while a hang or a delay held its call), and what to do about it; ""
// when none were, or it is not known.
func SuspectOKText(a *Arm, api string) string {
	if a.SuspectOK == nil || *a.SuspectOK == 0 {
		return ""
	}
	return fmt.Sprintf("%d %s answers were ok while their upstream call failed, timed out, was never made or was still held when the answer came back (per second, by send time): fallbacks? check them with --expect (what a real answer holds, like --expect json:.source=primary)", *a.SuspectOK, api)
}

// RequestMixText lists, for an arm driven with a request mix, each
// request's success during the fault: "GET /orders/42 98.0% of 120, POST
// /orders 12.0% of 118"; "" without a mix.
func RequestMixText(a *Arm) string {
	var parts []string
	for _, f := range a.RequestMix {
		s := fmt.Sprintf("%s %s of %d", f.Request, ratioText(f.OK, f.Requests), f.Requests)
		if f.Collateral {
			s += " (collateral)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// RequestSuccess is one request's success during the fault in arm a, by
// its label ("GET /orders"), or "—" when a has no such request.
func RequestSuccess(a *Arm, request string) string {
	for _, f := range a.RequestMix {
		if f.Request == request {
			return ratioText(f.OK, f.Requests)
		}
	}
	return "—"
}

func ratioText(ok, n int64) string {
	if n == 0 {
		return "—"
	}
	return Percent(float64(ok) / float64(n))
}

// TimeToOpenInferred shows an inferred time to open with the span the
// evidence puts it in, "5.1 s (inferred, 4.9–5.4 s)", or without one when
// the report has none.
func TimeToOpenInferred(a *Arm) string {
	v, span := a.Figures.TimeToOpenS, a.Figures.TimeToOpenSpanS
	if v == nil || len(span) != 2 {
		return secs(v) + " (inferred)"
	}
	return fmt.Sprintf("%s (inferred, %.1f–%.1f s)", secs(v), span[0], span[1])
}

// targetConfigRows is the configuration of a run against a user's own
// service: only what applies to it — no gateway or breaker settings, which
// are the service's own and not cbload's.
func targetConfigRows(r *Report) [][2]string {
	c := r.Config
	_, coll, hasColl := Endpoints(r)
	rows := [][2]string{
		{"Fault", faultText(r)},
		{"Phases", phasesText(r)},
		{"Offered load", num(c.Rate) + " req/s, constant (open model)"},
	}
	if hasColl {
		rows = append(rows, [2]string{"Share sent to " + coll, Percent(c.CollateralShare)})
	}
	rows = append(rows, [2]string{"Client timeout", c.ClientTimeout.String()})
	scheme := "http"
	switch {
	case c.Upstream.TLS:
		scheme = "https"
	case c.Upstream.GRPC:
		scheme = "grpc"
	}
	if c.Upstream.Addr != "" {
		rows = append(rows, [2]string{"Upstream", scheme + "://" + c.Upstream.Addr})
	}
	for _, u := range c.Upstreams {
		rows = append(rows, [2]string{"Upstream " + u.Name, scheme + "://" + u.Addr})
	}
	rows = append(rows, [2]string{"Upstream service time", fmt.Sprintf("%s ± %s", c.Upstream.ServiceTime, c.Upstream.Jitter)})
	if len(c.Expect) > 0 {
		rows = append(rows, [2]string{"Expect (unscoped: api answers)", strings.Join(c.Expect, ", ")})
	}
	for _, t := range c.Targets {
		v := t.URL
		if len(t.Requests) > 0 {
			v = strings.Join(t.Requests, "; ")
		}
		rows = append(rows, [2]string{"Target " + t.Name, v})
	}
	return rows
}
