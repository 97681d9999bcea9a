package analysis

import (
	"strings"

	"github.com/cbload/cbload/reports"
)

// EffectMargin is how far a phase's upstream attempts per /api request
// may be from the baseline's before it is called amplification or
// shedding: a few requests in flight across a phase boundary move it by
// less than this.
const EffectMargin = 0.1

// Symptoms fills, for each phase of the arm, the upstream attempts per /api
// request — all upstreams' requests over the /api requests sent in the
// phase — and what it says next to the baseline's (the first phase, when it
// has no faults; otherwise one attempt per request): amplification when the
// service made more calls per request (retries), shedding when fewer (a
// breaker, a queue, a fallback that skips the call), as in the baseline
// otherwise. Both counts are by send time: an upstream request is counted
// when it arrives, so counting the /api requests by completion would credit
// a slow phase's calls to the next one (a latency fault of 1.5 s would look
// like amplification, its recovery like shedding). In a phase where an
// upstream refuses connections the calls the service tried never became
// requests and cannot be counted, nor those whose TLS handshake a tls
// fault failed: the attempts are unknown there. The
// upstreams' counts must be in the summary already; a phase without them is
// left as it is. cbload run calls it at the end of each arm, and cbload
// merge on the merged counts.
func Symptoms(a *reports.Arm, phases []reports.Phase) {
	sent := map[string]int64{}
	for _, s := range a.Series {
		sent[s.Phase] += s.API.Sent
	}
	attempts := func(name string, ps reports.PhaseSummary) (float64, bool) {
		if sent[name] == 0 || ps.Upstreams == nil {
			return 0, false
		}
		var n int64
		for _, u := range ps.Upstreams {
			n += u.Requests
		}
		return float64(n) / float64(sent[name]), true
	}
	base, baseOK := 1.0, false
	if len(phases) > 0 && len(phases[0].Faults) == 0 {
		if v, ok := attempts(phases[0].Name, a.Summary[phases[0].Name]); ok && v > 0 {
			base, baseOK = v, true
		}
	}
	for i, p := range phases {
		ps, ok := a.Summary[p.Name]
		if !ok {
			continue
		}
		v, ok := attempts(p.Name, ps)
		if !ok {
			continue
		}
		if Refuses(p, ps) || FailsHandshakes(p, ps) {
			ps.UpstreamAttemptsPerAPIRequest, ps.UpstreamEffect = nil, reports.EffectUnknown
			a.Summary[p.Name] = ps
			continue
		}
		v = round3(v)
		ps.UpstreamAttemptsPerAPIRequest = &v
		switch {
		case i == 0 && baseOK:
			ps.UpstreamEffect = reports.EffectBaseline
		case v > base*(1+EffectMargin):
			ps.UpstreamEffect = reports.EffectAmplification
		case v < base*(1-EffectMargin):
			ps.UpstreamEffect = reports.EffectShedding
		default:
			ps.UpstreamEffect = reports.EffectAsBaseline
		}
		a.Summary[p.Name] = ps
	}
}

// Refuses reports whether the phase makes one of the arm's upstreams (those
// its summary counts) refuse connections: a fault "refuse…" applies to
// every upstream, "NAME=refuse…" to the one named.
func Refuses(p reports.Phase, ps reports.PhaseSummary) bool {
	return injects(p, ps, "refuse")
}

// FailsHandshakes reports, in the same way, whether the phase makes one of
// the arm's upstreams fail TLS handshakes (a tls fault): the calls it
// failed never became requests either, so its count misses them.
func FailsHandshakes(p reports.Phase, ps reports.PhaseSummary) bool {
	return injects(p, ps, "tls")
}

// injects reports whether the phase injects a fault of the kind into one
// of the upstreams the arm's summary counts.
func injects(p reports.Phase, ps reports.PhaseSummary, want string) bool {
	for _, f := range p.Faults {
		spec := f
		// "NAME=SPEC" names an upstream; in a spec itself '=' only follows
		// a ',' (KIND[:ARG][,key=value…]).
		if name, rest, ok := strings.Cut(f, "="); ok && !strings.ContainsAny(name, ",:") {
			if _, counted := ps.Upstreams[name]; !counted {
				continue
			}
			spec = rest
		}
		if kind, _, _ := strings.Cut(strings.SplitN(spec, ",", 2)[0], ":"); kind == want {
			return true
		}
	}
	return false
}
