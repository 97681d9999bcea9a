package reports

import (
	"fmt"
	"net/url"
	"strings"
)

// Reports about a user's own service speak of that service: its paths
// instead of cbload's /api and /local, in-flight counted at the load
// runner, no collateral figures when it has no collateral endpoint, and
// breaker figures marked inferred or unknown when they are.

// Endpoints names the run's api and collateral endpoints for labels:
// cbload's /api and /local, or a user's service's paths (the first
// target's; "api" or "collateral" when that target has several), and
// whether there is a collateral endpoint at all.
func Endpoints(r *Report) (api, collateral string, hasCollateral bool) {
	if len(r.Config.Targets) == 0 {
		return "/api", "/local", true
	}
	t := r.Config.Targets[0]
	var apis, colls []string
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
	for _, tt := range r.Config.Targets {
		for _, q := range tt.Requests {
			if strings.HasSuffix(q, " (collateral)") {
				hasCollateral = true
			}
		}
	}
	api, collateral = "api", "collateral"
	if len(apis) == 1 {
		api = apis[0]
	}
	if len(colls) == 1 {
		collateral = colls[0]
	}
	return api, collateral, hasCollateral
}

// reportFigure is a key figure as one report shows it.
type reportFigure struct {
	keyFigure
	// bar says whether the figure is the collateral success, drawn as bars.
	bar bool
}

type reportFigureGroup struct {
	id, title string
	figures   []reportFigure
}

// reportFigureGroups returns the key figures as r shows them: labelled
// with r's endpoints, without collateral figures when there is no
// collateral endpoint, and with breaker figures marked inferred or
// unknown.
func reportFigureGroups(r *Report) []reportFigureGroup {
	api, coll, hasColl := Endpoints(r)
	target := len(r.Config.Targets) > 0
	var out []reportFigureGroup
	for _, g := range keyFigureGroups {
		rg := reportFigureGroup{id: g.id, title: g.title}
		for i, kf := range g.figures {
			isColl := strings.HasPrefix(kf.label, "/local")
			if isColl && !hasColl {
				continue
			}
			f := reportFigure{keyFigure: kf, bar: g.id == keyFigureGroups[0].id && i == 0}
			f.label = strings.NewReplacer("/local", coll, "/api", api).Replace(kf.label)
			if target && strings.HasPrefix(kf.label, "Gateway in-flight") {
				f.label = "In-flight peak at the load runner"
				f.hint = "requests sent and not yet answered: the service's own in-flight count is not visible"
			}
			if kf.label == "Time to open" || kf.label == "Time to recover" {
				f.value = breakerValue(kf.label == "Time to open", kf.value)
			}
			rg.figures = append(rg.figures, f)
		}
		out = append(out, rg)
	}
	return out
}

// breakerValue marks a breaker figure inferred, or says it is unknown.
func breakerValue(open bool, value func(a *Arm) string) func(a *Arm) string {
	return func(a *Arm) string {
		switch a.BreakerFigures {
		case BreakerUnknown:
			return "unknown (breaker state not observable)"
		case BreakerInferred:
			v := a.Figures.TimeToRecoverS
			if open {
				v = a.Figures.TimeToOpenS
			}
			return secs(v) + " (inferred)"
		}
		return value(a)
	}
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
	if c.Upstream.TLS {
		scheme = "https"
	}
	if c.Upstream.Addr != "" {
		rows = append(rows, [2]string{"Upstream", scheme + "://" + c.Upstream.Addr})
	}
	for _, u := range c.Upstreams {
		rows = append(rows, [2]string{"Upstream " + u.Name, scheme + "://" + u.Addr})
	}
	rows = append(rows, [2]string{"Upstream service time", fmt.Sprintf("%s ± %s", c.Upstream.ServiceTime, c.Upstream.Jitter)})
	if len(c.Expect) > 0 {
		rows = append(rows, [2]string{"Expect (api answers)", strings.Join(c.Expect, ", ")})
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
