package analysis

import (
	"github.com/cbload/cbload/reports"
)

// effectMargin is how far a phase's upstream attempts per /api request
// may be from the baseline's before it is called amplification or
// shedding: a few requests in flight across a phase boundary move it by
// less than this.
const effectMargin = 0.1

// Symptoms fills, for each phase of the arm, the upstream attempts per /api
// request — all upstreams' requests over the /api requests answered — and
// what it says next to the baseline's (the first phase, when it has no
// faults; otherwise one attempt per request): amplification when the
// service made more calls per request (retries), shedding when fewer (a
// breaker, a queue, a fallback that skips the call), as in the baseline
// otherwise. The upstreams' counts must be in the summary already; a phase
// without them is left as it is. cbload run calls it at the end of each
// arm, and cbload merge on the merged counts.
func Symptoms(a *reports.Arm, phases []reports.Phase) {
	attempts := func(ps reports.PhaseSummary) (float64, bool) {
		if ps.API.Requests == 0 || ps.Upstreams == nil {
			return 0, false
		}
		var n int64
		for _, u := range ps.Upstreams {
			n += u.Requests
		}
		return float64(n) / float64(ps.API.Requests), true
	}
	base, baseOK := 1.0, false
	if len(phases) > 0 && len(phases[0].Faults) == 0 {
		if v, ok := attempts(a.Summary[phases[0].Name]); ok && v > 0 {
			base, baseOK = v, true
		}
	}
	for i, p := range phases {
		ps, ok := a.Summary[p.Name]
		if !ok {
			continue
		}
		v, ok := attempts(ps)
		if !ok {
			continue
		}
		v = round3(v)
		ps.UpstreamAttemptsPerAPIRequest = &v
		switch {
		case i == 0 && baseOK:
			ps.UpstreamEffect = reports.EffectBaseline
		case v > base*(1+effectMargin):
			ps.UpstreamEffect = reports.EffectAmplification
		case v < base*(1-effectMargin):
			ps.UpstreamEffect = reports.EffectShedding
		default:
			ps.UpstreamEffect = reports.EffectAsBaseline
		}
		a.Summary[p.Name] = ps
	}
}
