package harness

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cbload/cbload/analysis"
	"github.com/cbload/cbload/internal/pool"
	"github.com/cbload/cbload/reports"
)

// runTarget runs arm run a, of target t, through the phases, telling cp
// of each phase that settles. Like runArm, it returns what was measured
// even when stopped early.
func runTarget(ctx context.Context, cfg *Config, t Target, a *armRun, up *upstreamSet, tune func(*http.Transport), cp *checkpoints) (*reports.Arm, error) {
	var inflight pool.Gauge
	m := newMix(t.requests())
	var checks *expectTransport
	lr := newLoadRunner(cfg.shardRate(), cfg.ClientTimeout, tune, a.wrapLoad(func(next http.RoundTripper) http.RoundTripper {
		next = &countingTransport{next: next, inflight: &inflight}
		if len(cfg.Expect) > 0 {
			checks = newExpectTransport(next, cfg.Expect, m.collateralRequest)
			next = checks
		}
		return next
	}))
	defer lr.close()
	if err := a.start(ctx, up, false); err != nil {
		return nil, err
	}
	defer up.release()

	var poll *statePoller
	if t.BreakerStateURL != "" {
		poll = startStatePoller(t.BreakerStateURL, t.StateMetric, tune)
		defer poll.stop()
	}

	start := a.t0()
	if poll != nil {
		poll.setStart(start)
	}
	// /api requests sent per slot, and of them those answered within
	// each of fastBounds, and upstream requests received per slot and
	// path, for the breaker inference.
	apiSent := newSlotCounter(start, cfg.TotalDuration())
	apiOK := newPairCounter(start, cfg.TotalDuration())
	var apiWithin, apiFreed [len(fastBounds)]*slotCounter
	for i := range apiWithin {
		apiWithin[i] = newSlotCounter(start, cfg.TotalDuration())
		apiFreed[i] = newSlotCounter(start, cfg.TotalDuration())
	}
	up.countArrivals(start, cfg.TotalDuration())
	rec := a.rec
	mixFigures := newRequestMix(t.requests())
	results := a.attack(lr, m.targeter(cfg.CollateralShare, cfg.shardSeed(), &a.sent))

	// Failed /api responses during the fault, and how many came back fast:
	// the outside signature of an open breaker.
	var fastFails, fails int64
	state := func(time.Time) string { return reports.StateUnknown }
	var countTransitions func(time.Time) int
	if poll != nil {
		state = func(time.Time) string { return poll.state() }
		countTransitions = func(time.Time) int { return len(poll.transitions()) }
	}
	w, stopErr := a.drive(ctx, armLoop{
		lr:         lr,
		collateral: m.collateralResult,
		observe: func(res *vegeta.Result, collateral bool) {
			mixFigures.add(res, cfg.Phases[rec.phaseIndex(res.Timestamp.Add(res.Latency).Sub(start))].Faulty())
			if !collateral {
				apiSent.add(res.Timestamp)
				if classify(res) == oOK {
					apiOK.add(res.Timestamp, res.Timestamp.Add(res.Latency))
				}
				for i, b := range fastBounds {
					switch {
					case res.Code != 0 && res.Latency < b:
						apiWithin[i].add(res.Timestamp)
					case res.Code != 0:
						// A held request ended: by when it came back.
						apiFreed[i].add(res.Timestamp.Add(res.Latency))
					}
				}
			}
			if collateral || !cfg.Phases[rec.phaseIndex(res.Timestamp.Add(res.Latency).Sub(start))].Faulty() || classify(res) == oOK {
				return
			}
			fails++
			if res.Code != 0 && res.Latency < fastFailure {
				fastFails++
			}
		},
		state:       state,
		transitions: countTransitions,
		takePeak:    inflight.TakePeak,
		inflight:    inflight.Load,
	}, up, cp, results)
	var transitions []reports.Transition
	figures := reports.BreakerMeasured
	if poll != nil {
		poll.stop()
		transitions = poll.transitions()
		rec.breaker = poll.sawBreaker()
	}
	// Without a state URL that reports a state (or says there is no
	// breaker), the breaker is inferred from outside, or unknown; it
	// cannot be inferred from arrivals this run does not see: an external
	// upstream's, or those of an upstream refusing connections (a refused
	// call never arrives, breaker or not).
	var inf *inference
	if poll == nil || (!poll.sawBreaker() && poll.state() != reports.StateNone) {
		blind := ""
		if cfg.UpstreamExternal {
			blind = "the upstream is run by another process (--upstream-external), so its arrivals are not seen here"
		} else if _, name := up.guarded(); len(refusingPhases(cfg.Phases, name)) > 0 {
			blind = fmt.Sprintf("%s refused connections in phase %s, so the calls your service made then never arrived to be counted, and a breaker that stopped them cannot be told from the refusal",
				upstreamLabel(name), strings.Join(refusingPhases(cfg.Phases, name), ", "))
		}
		figures = reports.BreakerUnknown
		if blind != "" {
			inf = &inference{why: blind}
			for i := range rec.series {
				rec.series[i].State = reports.StateUnknown
			}
		} else {
			n := int(cfg.TotalDuration() / slotWidth)
			base := 0
			if !cfg.Phases[0].Faulty() {
				base = int(cfg.Phases[0].Duration / slotWidth)
			}
			gi, _ := up.guarded()
			api := apiSent.slots(n)
			var fast, freed []int64
			b, quick := fastBoundOf(apiWithin[:], api, base, n)
			if quick {
				fast, freed = apiWithin[b].slots(n), apiFreed[b].slots(n)
			}
			deps, others := dependencyPaths(up.arrivalSlots(gi, n), base, n)
			in := inferBreaker(api, fast, freed, deps, base)
			in.otherPaths = others
			if quick {
				in.fast = fastBounds[b]
			}
			inf = &in
			if in.ok {
				figures, transitions, rec.breaker = reports.BreakerInferred, in.transitions, true
			}
			for i := range rec.series {
				rec.series[i].State = in.stateAt(float64(rec.series[i].T + 1))
			}
		}
	}
	arm := rec.arm(t.Name, transitions, w, 0, "")
	arm.BreakerFigures = figures
	if figures == reports.BreakerUnknown {
		// Derived before the figures were known to be unknown: a time to
		// recover waits on a breaker state nobody saw.
		arm.Figures.TimeToRecoverS = nil
	}
	if inf != nil {
		// A breaker is claimed only on evidence of one.
		arm.Breaker = len(inf.transitions) > 0
	}
	a.finish(&arm, up)
	arm.RequestMix = mixFigures.figures()
	if !cfg.UpstreamExternal {
		n := int(cfg.TotalDuration() / slotWidth)
		gi, _ := up.guarded()
		base := 0
		if !cfg.Phases[0].Faulty() {
			base = int(cfg.Phases[0].Duration / slotWidth)
		}
		served := up.servedPairs(gi, dependencySet(up.arrivalSlots(gi, n), base))
		if k, ok := suspectOK(apiOK.pairs(), served, base, faultSlots(cfg, n)); ok {
			arm.SuspectOK = &k
		}
	}
	arm.Notes = targetNotes(&arm, cfg, t, poll, inf, up, fastFails, fails)
	if checks != nil {
		arm.Notes = append(arm.Notes, checks.notes()...)
	}
	// The notes quote answers (a check's miss, the state URL's body), which
	// may echo a header the service was sent.
	sec := requestSecrets(cfg.Targets)
	for i, n := range arm.Notes {
		arm.Notes[i] = sec.redact(n)
	}
	return &arm, stopErr
}

// targetNotes says what cbload could not see inside the service and what it
// inferred from outside instead.
func targetNotes(a *reports.Arm, cfg *Config, t Target, poll *statePoller, inf *inference, up *upstreamSet, fastFails, fails int64) []string {
	var notes []string
	api := cfg.Terms().API
	switch {
	case poll != nil && poll.sawBreaker():
		from := RedactURL(t.BreakerStateURL)
		if t.StateMetric != nil {
			from += fmt.Sprintf(" (Prometheus series %s)", sanitizeNote(t.StateMetric.String(), maxStateExcerpt))
		}
		notes = append(notes, fmt.Sprintf("breaker state: polled from %s every %v; transition times are accurate to about that", from, statePollInterval))
	case poll != nil && inf == nil:
		notes = append(notes, fmt.Sprintf("breaker state: %s reported that the service has no breaker (%q)", RedactURL(t.BreakerStateURL), poll.lastRaw()))
	default:
		why := "no breaker state URL"
		if poll != nil {
			why = fmt.Sprintf("%s never reported closed, open or half-open (last answer %q)", RedactURL(t.BreakerStateURL), poll.lastRaw())
		}
		if !inf.ok {
			notes = append(notes, fmt.Sprintf("breaker state: unknown (%s): nothing to infer it from — %s; breaker figures have no data", why, inf.why))
			break
		}
		_, name := up.guarded()
		fastText := fmt.Sprintf("most %s answers came back within %v (as fast as half the baseline's)", api, inf.fast)
		if inf.fast == 0 {
			fastText = fmt.Sprintf("(the baseline's %s answers were too slow for their speed to tell anything, so the arrivals decide alone)", api)
		}
		notes = append(notes, fmt.Sprintf("breaker state: inferred (%s) from %s's arrivals per %v against the %s requests sent: open while it received under %.0f%% of the baseline's %.2f calls per %s request and %s, for %v; closed again at %.0f%% for %v; the calls in flight date nothing (a service may abandon calls that never end); half-open cannot be told from open, so opens, time to open and time to recover are inferred, each open with the span the evidence puts it in",
			why, upstreamLabel(name), inf.window, api, shedRatio*100, inf.baselineRatio, api, fastText, openSlots*inf.window, closedRatio*100, closeSlots*inf.window))
		if inf.limited {
			notes = append(notes, fmt.Sprintf("breaker state: a concurrency limit — calls to %s started again after quiet stretches while the %s answers failed fast, so those stretches were the limit full, not an open; an open is dated at the first window in which a held request ended and no new call took its place, its span from the last window the service still called in", upstreamLabel(name), api))
		}
		if inf.window > slotWidth {
			notes = append(notes, fmt.Sprintf("breaker state: inferred at %v, not %v: at this rate the baseline predicts under %d calls per %v, too few to tell an open from a lull; a higher rate infers more finely", inf.window, slotWidth, minWindowCalls, slotWidth))
		}
		if len(inf.otherPaths) > 0 {
			var parts []string
			for _, p := range slices.Sorted(maps.Keys(inf.otherPaths)) {
				parts = append(parts, fmt.Sprintf("%s: %d", sanitizeNote(p, 60), inf.otherPaths[p]))
			}
			notes = append(notes, fmt.Sprintf("%s also received calls on other paths than the service's dependency calls (%s) — health probes or the like, which do not follow the requests: counted apart, never read as calls resumed", upstreamLabel(name), strings.Join(parts, ", ")))
		}
	}
	if m := reports.RequestMixText(a); m != "" {
		notes = append(notes, "per request, success during the fault: "+m)
	}
	notes = append(notes, callsNote(a, cfg, up, api)...)
	if n := reports.SuspectOKText(a, api); n != "" {
		notes = append(notes, n)
	}
	var shed int64
	for _, ps := range a.Summary {
		shed += ps.API.Outcomes.Shed + ps.Collateral.Outcomes.Shed
	}
	if shed > 0 {
		notes = append(notes, fmt.Sprintf("shed: the service answered %d requests with 429, or 503 with Retry-After — it shed the load itself (a rate limiter or load shedder), counted as shed, apart from its dependency's failures; a lower --rate stays under its limit", shed))
	}
	if fails > 0 {
		notes = append(notes, fmt.Sprintf("fast failures (inferred): %d of %d failed %s responses during the fault came back in under %v — the outside signature of an open breaker (or of an upstream that itself fails fast)", fastFails, fails, api, fastFailure))
	}
	if !t.hasCollateral() {
		notes = append(notes, "collateral: none given, so there is no evidence of cascading failure")
	}
	notes = append(notes, "in-flight: measured at the load runner (requests sent and not yet answered), not inside the service; outcomes are classified by status code unless the service sets the X-Cbload-Outcome header")
	return notes
}

// callsNote says what the upstream calls per /api request show during the
// fault next to the baseline's — the same reading as the fault → symptom
// table, over all fault phases — and whether the faults reached the
// service's answers at all. Phases in which an upstream refused
// connections are left out: the calls refused there were never counted.
func callsNote(a *reports.Arm, cfg *Config, up *upstreamSet, api string) []string {
	if cfg.UpstreamExternal {
		return []string{fmt.Sprintf("upstream requests: unknown — the upstream is run by another process (--upstream-external), so this run did not see its faults or count its requests; the calls per %s request cannot be told", api)}
	}
	sent := map[string]int64{}
	for _, s := range a.Series {
		sent[s.Phase] += s.API.Sent
	}
	calls := func(ps reports.PhaseSummary) (n int64) {
		for _, u := range ps.Upstreams {
			n += u.Requests
		}
		return n
	}
	var notes []string
	var fault, base struct{ sent, up int64 }
	var refused []string
	var failing, ok, answered int64
	failedBy := map[string]bool{}
	for i, p := range cfg.Phases {
		ps := a.Summary[p.Name]
		if !p.Faulty() {
			if i == 0 {
				base.sent, base.up = sent[p.Name], calls(ps)
			}
			continue
		}
		for _, u := range ps.Upstreams {
			for _, k := range failingKinds {
				if n := u.Injected[k]; n > 0 {
					failing += n
					failedBy[k] = true
				}
			}
		}
		ok, answered = ok+ps.API.OK, answered+ps.API.Requests
		if r := refusing(p, up.names); len(r) > 0 {
			refused = append(refused, p.Name)
			continue
		}
		fault.sent, fault.up = fault.sent+sent[p.Name], fault.up+calls(ps)
	}
	if fault.sent > 0 {
		v, b := float64(fault.up)/float64(fault.sent), 1.0
		n := fmt.Sprintf("upstream calls per %s request: %.2f during the fault", api, v)
		if base.sent > 0 && base.up > 0 {
			b = float64(base.up) / float64(base.sent)
			n += fmt.Sprintf(", %.2f before it", b)
		}
		switch {
		case v > b*(1+analysis.EffectMargin):
			n += " — amplification: the service made more calls per request (retries)"
		case v < b*(1-analysis.EffectMargin):
			n += " — shedding: the service skipped calls (a breaker, a concurrency limit, a queue or a fallback)"
		default:
			n += " — as in the baseline: the service kept calling its upstream"
		}
		notes = append(notes, n)
	}
	if len(refused) > 0 {
		notes = append(notes, fmt.Sprintf("upstream calls: unknown in phase %s — an upstream refused connections there, so the calls your service tried were never requests it could count", strings.Join(refused, ", ")))
	}
	if failing > 0 && answered > 0 && ok == answered {
		// Every answer ok while the faults failed calls: at least that many
		// are suspect, whatever the per-second count found.
		if k := min(failing, ok); a.SuspectOK == nil || *a.SuspectOK < k {
			a.SuspectOK = &k
		}
		who := "the upstream"
		if len(up.names) > 1 {
			who = "the upstreams"
		}
		notes = append(notes, fmt.Sprintf("the faults did not reach the answers: %s failed %d requests (%s) during the fault, yet all %d %s answers counted as ok — the service ignores its dependency's failures (such as status codes), retries until a call succeeds, or answers a fallback; mark a fallback and check for it with --expect", who, failing, strings.Join(slices.Sorted(maps.Keys(failedBy)), ", "), answered, api))
	}
	return notes
}

// failingKinds are the fault kinds whose injections fail the call that
// meets them — a status, a reset, a broken or missing answer, a failed
// handshake, a gRPC status code — rather than slowing it: when every
// answer is ok through them, the faults did not reach the answers.
var failingKinds = []string{"error", "reset", "empty", "garbage", "truncate", "tls", "grpc-error"}

// refusingPhases names the phases that make the named upstream refuse
// connections.
func refusingPhases(phases []Phase, name string) []string {
	var out []string
	for _, p := range phases {
		if len(refusing(p, []string{name})) > 0 {
			out = append(out, p.Name)
		}
	}
	return out
}

// upstreamLabel names an upstream in notes: "the upstream" when the run has
// only the default one, "upstream payments" otherwise.
func upstreamLabel(name string) string {
	if name == DefaultUpstream {
		return "the upstream"
	}
	return "upstream " + name
}

// countingTransport counts requests sent and not yet answered.
type countingTransport struct {
	next     http.RoundTripper
	inflight *pool.Gauge
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.inflight.Add(1)
	resp, err := c.next.RoundTrip(r)
	if err != nil {
		c.inflight.Add(-1)
		return nil, err
	}
	resp.Body = &countedBody{ReadCloser: resp.Body, inflight: c.inflight}
	return resp, nil
}

// countedBody takes its request off the in-flight count when closed.
type countedBody struct {
	io.ReadCloser
	inflight *pool.Gauge
	closed   atomic.Bool
}

func (b *countedBody) Close() error {
	err := b.ReadCloser.Close()
	if b.closed.CompareAndSwap(false, true) {
		b.inflight.Add(-1)
	}
	return err
}
