package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cbload/cbload/analysis"
	"github.com/cbload/cbload/reports"
)

// Target is one endpoint of a user's own service under test. When Config
// lists targets, cbload does not start its gateway: it starts the
// fault-injecting upstream at Config.UpstreamAddr — the service must be
// configured to call it — and drives the load at each target in turn, each
// as one arm of the report.
type Target struct {
	// Name names the arm. Name the targets "breaker" and "no-breaker" to get
	// the A/B verdict.
	Name string
	// URL is the endpoint that calls the upstream; it gets the /api share of
	// the load.
	URL string
	// Collateral, if set, is an endpoint of the same service that does not
	// call the upstream; it gets the collateral share. Without it there is
	// no collateral evidence and the verdict is inconclusive.
	Collateral string
	// BreakerStateURL, if set, is polled for the service's breaker state as
	// JSON: {"state": "closed" | "open" | "half-open"} or a bare string.
	BreakerStateURL string
	// Requests, when set, is the load sent to this target instead of GET
	// URL and GET Collateral: method, headers and body of each, tagged api
	// or collateral. Every URL must be absolute; see RebaseRequests.
	Requests []Request
}

// requests returns the target's load mix.
func (t Target) requests() []Request {
	if len(t.Requests) > 0 {
		return t.Requests
	}
	rs := []Request{{Method: http.MethodGet, URL: t.URL}}
	if t.Collateral != "" {
		rs = append(rs, Request{Method: http.MethodGet, URL: t.Collateral, Collateral: true})
	}
	return rs
}

// hasCollateral says whether any of the target's requests is collateral.
func (t Target) hasCollateral() bool {
	for _, r := range t.requests() {
		if r.Collateral {
			return true
		}
	}
	return false
}

// statePollInterval is how often a target's breaker state URL is polled;
// transition times are accurate to about this much.
const statePollInterval = 200 * time.Millisecond

// fastFailure is how quickly a failed response must come back to count as a
// fast failure, the outside signature of an open breaker.
const fastFailure = 10 * time.Millisecond

var targetNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// ValidTargetName reports whether name may name a target (an arm): a
// letter followed by letters, digits, _ or -.
func ValidTargetName(name string) bool { return targetNameRE.MatchString(name) }

// reservedNames cannot name an arm: threshold paths start with them.
var reservedNames = []string{"verdict", "partial", "validity"}

// validateTargets checks the target settings; it is part of Validate.
func (c *Config) validateTargets() error {
	if len(c.Targets) == 0 {
		if c.UpstreamAddr != "" || len(c.Upstreams) > 0 {
			return fmt.Errorf("upstream-addr: only used with --target (cbload's own gateway picks a free port)")
		}
		for i, p := range c.Phases {
			if len(p.UpstreamFaults) > 0 {
				return fmt.Errorf("phases[%d] (%s): faults for named upstreams are only used with --target and --upstream NAME=ADDR", i, p.Name)
			}
		}
		switch {
		case len(c.Expect) > 0:
			return fmt.Errorf("expect: only used with --target; cbload's own gateway says how each request ended")
		case c.TargetTLS.Insecure || len(c.TargetTLS.CAPEM) > 0:
			return fmt.Errorf("insecure, ca-cert: only used with --target; cbload's own gateway is plain HTTP")
		case c.UpstreamTLSDir != "":
			return fmt.Errorf("upstream-tls: only used with --target; cbload's own gateway calls its upstream over plain HTTP")
		case len(c.AllowRemote) > 0:
			return fmt.Errorf("allow-remote: only used with --target; cbload's own gateway runs on loopback")
		}
		return nil
	}
	if c.UpstreamExternal && (c.UpstreamAddr != "" || len(c.Upstreams) > 0) {
		return fmt.Errorf("upstream-external: not with upstream-addr or upstream; either this run starts the upstreams, or another process runs them")
	}
	if c.UpstreamExternal && c.Upstream.Concurrency > 0 {
		return fmt.Errorf("upstream-concurrency: not with upstream-external; the process that runs the upstream sets its capacity (cbload serve --upstream-concurrency)")
	}
	if !c.UpstreamExternal {
		if err := c.validateUpstreams(); err != nil {
			return err
		}
	}
	switch {
	case c.Tiers > 1:
		return fmt.Errorf("tiers: only used with cbload's own gateway, not with --target")
	case c.Gateway.Retries > 0:
		return fmt.Errorf("retries: only used with cbload's own gateway, not with --target")
	}
	seen := map[string]bool{}
	for i, t := range c.Targets {
		switch {
		case !targetNameRE.MatchString(t.Name):
			return fmt.Errorf("targets[%d].name %q: want a letter followed by letters, digits, _ or -", i, t.Name)
		case seen[t.Name]:
			return fmt.Errorf("targets[%d].name %q: used twice; target names must be unique", i, t.Name)
		}
		for _, r := range reservedNames {
			if t.Name == r {
				return fmt.Errorf("targets[%d].name %q: reserved; choose another name", i, t.Name)
			}
		}
		seen[t.Name] = true
		for _, u := range []struct{ field, url string }{{"url", t.URL}, {"collateral", t.Collateral}, {"breaker_state_url", t.BreakerStateURL}} {
			if u.url == "" && u.field != "url" {
				continue
			}
			if err := CheckTargetURL(u.url, c.AllowRemote); err != nil {
				return fmt.Errorf("targets[%d] (%s).%s: %w", i, t.Name, u.field, err)
			}
		}
		api := false
		for j, r := range t.Requests {
			if !methodRE.MatchString(r.Method) {
				return fmt.Errorf("targets[%d] (%s).requests[%d]: method %q: want an HTTP method in capitals like GET", i, t.Name, j, r.Method)
			}
			if err := CheckTargetURL(r.URL, c.AllowRemote); err != nil {
				return fmt.Errorf("targets[%d] (%s).requests[%d]: %w", i, t.Name, j, err)
			}
			api = api || !r.Collateral
		}
		if len(t.Requests) > 0 && !api {
			return fmt.Errorf("targets[%d] (%s): every request is collateral; at least one must be an api request, one that calls the upstream", i, t.Name)
		}
		if err := checkRoles(fmt.Sprintf("targets[%d] (%s)", i, t.Name), t.Requests); err != nil {
			return err
		}
	}
	if err := c.TargetTLS.validate(); err != nil {
		return err
	}
	for _, e := range c.Expect {
		if e.scope == scopeCollateral && !slices.ContainsFunc(c.Targets, Target.hasCollateral) {
			return fmt.Errorf("expect %q: judges collateral answers, and no target has a collateral endpoint (--collateral, or a collateral request in --targets)", e)
		}
	}
	return nil
}

// runTargets is Run for a user's own service: one shared upstream at the
// configured address, each target an arm through the same phases.
func runTargets(ctx context.Context, cfg Config) (*reports.Report, error) {
	r := newReport(&cfg)
	r.Config.Upstream.Addr = cfg.UpstreamAddr
	for _, u := range cfg.Upstreams {
		r.Config.Upstreams = append(r.Config.Upstreams, reports.NamedUpstream{Name: u.Name, Addr: u.Addr})
	}
	r.Config.Upstream.TLS = cfg.UpstreamTLSDir != ""
	r.Config.Arms = nil
	for _, t := range cfg.Targets {
		r.Config.Arms = append(r.Config.Arms, t.Name)
	}
	r.Config.Targets = reportTargets(cfg.Targets)
	for _, e := range cfg.Expect {
		r.Config.Expect = append(r.Config.Expect, e.String())
	}
	tune, err := targetTransport(cfg.TargetTLS, cfg.AllowRemote)
	if err != nil {
		return nil, err
	}

	// The same upstreams for every target: the service keeps calling the
	// same addresses, and nothing else can take the ports between arms.
	var upTLS *tls.Config
	if cfg.UpstreamTLSDir != "" {
		cert, _, err := upstreamCert(cfg.UpstreamTLSDir)
		if err != nil {
			return nil, &SetupError{err}
		}
		upTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	// An external upstream is run by another process: the set is empty,
	// and counts nothing.
	up := &upstreamSet{phases: cfg.Phases}
	addrs := []string{"the external upstream"}
	if !cfg.UpstreamExternal {
		if up, err = startUpstreams(&cfg, upTLS); err != nil {
			return nil, &SetupError{err}
		}
		addrs = nil
		for _, u := range cfg.upstreamList() {
			addrs = append(addrs, u.Addr)
		}
	}
	defer up.close()
	if err := probeTargets(ctx, cfg.Targets, cfg.Expect, strings.Join(addrs, ", "), tune); err != nil {
		return nil, &SetupError{err}
	}

	byName := map[string]Target{}
	var names []string
	for _, t := range cfg.Targets {
		byName[t.Name] = t
		names = append(names, t.Name)
	}
	// k counts the arm runs (trials interleave them): run k starts at
	// ArmStart(k) when the run has a start time.
	cp := newCheckpoints(&cfg, r, names, true)
	runs, order, runErr := cp.runTrials(cfg.Trials, names, func(name string, k int) (*reports.Arm, error) {
		return runTarget(ctx, &cfg, byName[name], k, up, tune, cp)
	})
	r.FinishedAt = time.Now().UTC()
	if runErr != nil {
		r.Partial = true
		r.PartialReason = partialReason(runErr)
	}
	finish(r, runs, order, cfg.Trials)
	collateralRule(r)
	return r, runErr
}

// reportTargets describes the targets as a report does: name, URL and the
// load mix, never headers or bodies.
func reportTargets(targets []Target) []reports.Target {
	var out []reports.Target
	for _, t := range targets {
		rt := reports.Target{Name: t.Name, URL: t.URL}
		for _, q := range t.requests() {
			rt.Requests = append(rt.Requests, requestLabel(q))
		}
		out = append(out, rt)
	}
	return out
}

// Terms returns the words the run's report will use for its system under
// test (reports.Terms), for output written before the report exists, such
// as the live progress line.
func (c *Config) Terms() reports.Terms {
	return reports.TermsOf(reports.Config{Targets: reportTargets(c.Targets)})
}

// Judge analyses a report of one trial for cascades (attempts per request,
// recovery), runs its validity checks and decides its verdict
// (CheckValidity, Verdict and, for a user's own service, the collateral
// rule), as the end of a run does. It is how cbload merge judges merged
// shards.
func Judge(r *reports.Report) {
	analyseCascades(r)
	r.Validity = CheckValidity(r)
	r.Verdict = Verdict(r)
	collateralRule(r)
}

// collateralRule makes the verdict inconclusive when a target has no
// collateral request: the verdict compares collateral health.
func collateralRule(r *reports.Report) {
	for _, t := range r.Config.Targets {
		if !slices.ContainsFunc(t.Requests, func(q string) bool { return strings.HasSuffix(q, collateralLabel) }) && r.Verdict.Outcome != reports.OutcomeInconclusive {
			r.Verdict = reports.Verdict{Outcome: reports.OutcomeInconclusive,
				Summary: "Inconclusive: target " + t.Name + " has no collateral endpoint, and the verdict compares collateral health during the fault.",
				Reasons: []string{"give each target a collateral endpoint (--collateral) that does not call the upstream"}}
			break
		}
	}
}

// noRedirects makes an http.Client return a redirect as the answer instead
// of following it: a redirect could lead anywhere, and cbload sends only to
// the loopback addresses it was given.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// requestLabel names a request in reports: method and URL, never its
// headers or body, which may hold secrets.
func requestLabel(q Request) string {
	s := q.Method + " " + q.URL
	if q.Collateral {
		s += collateralLabel
	}
	return s
}

// collateralLabel ends the label of a collateral request.
const collateralLabel = " (collateral)"

// probeTargets sends every request of every target once, and a GET to its
// state URL, before any load, and fails on the first that cannot be reached
// or whose answer shows a setup mistake: an api or collateral answer must
// meet the checks that judge its kind (2xx without a status check), a state
// URL must answer 2xx. Redirects are not followed: a redirect is the
// answer.
func probeTargets(ctx context.Context, targets []Target, checks expectations, upstream string, tune func(*http.Transport)) error {
	tr := &http.Transport{Proxy: nil}
	tune(tr)
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 3 * time.Second, CheckRedirect: noRedirects}
	for _, t := range targets {
		probes := t.requests()
		if t.BreakerStateURL != "" {
			probes = append(probes, Request{Method: http.MethodGet, URL: t.BreakerStateURL})
		}
		for i, q := range probes {
			state := i == len(probes)-1 && t.BreakerStateURL != ""
			req, err := http.NewRequestWithContext(ctx, q.Method, q.URL, bytes.NewReader(q.Body))
			if err != nil {
				return fmt.Errorf("target %s: %w", t.Name, err)
			}
			for k, vs := range q.Header {
				req.Header[k] = vs
			}
			if h := q.Header.Get("Host"); h != "" {
				req.Host = h
			}
			resp, err := c.Do(req)
			if err != nil {
				return fmt.Errorf("target %s unreachable at %s: %w", t.Name, q.URL, errors.Unwrap(err))
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, maxCheckedBody+1))
			resp.Body.Close()
			what := fmt.Sprintf("target %s: %s %s", t.Name, q.Method, q.URL)
			if state {
				what = fmt.Sprintf("target %s: breaker state URL %s", t.Name, q.URL)
			}
			var judge expectations // none for the state URL: 2xx
			if !state {
				judge = checks.scoped(q.Collateral)
			}
			if err := probeAnswer(resp, body, judge, state, q.Collateral, upstream); err != nil {
				return fmt.Errorf("%s %v", what, err)
			}
		}
	}
	return nil
}

// probeAnswer judges one probe's answer against checks, those that judge
// its kind; state says it is the answer of a breaker state URL, collateral
// that of a collateral request.
func probeAnswer(resp *http.Response, body []byte, checks expectations, state, collateral bool, upstream string) error {
	code := resp.StatusCode
	accepted, want := checks.acceptsStatus(code), checks.statusForms()
	if !accepted {
		status := fmt.Sprintf("%d %s", code, http.StatusText(code))
		hint := ""
		switch {
		case code >= 300 && code <= 399:
			hint = fmt.Sprintf(" (a redirect to %q, not followed)", resp.Header.Get("Location"))
		case code == http.StatusNotFound || code == http.StatusMethodNotAllowed:
			hint = " — check the path and method"
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			hint = " — does it need a header (--header, --header-env)?"
		case code >= 500:
			hint = fmt.Sprintf(" before any fault — is it healthy, and does it reach the upstream at %s?", upstream)
		}
		change := " (--expect status=... changes the statuses accepted)"
		switch {
		case state:
			change = ""
		case collateral:
			change = " (--expect collateral:status=... changes the statuses accepted)"
		}
		return fmt.Errorf("answered %s%s; want %s%s", status, hint, want, change)
	}
	truncated := len(body) > maxCheckedBody
	if truncated {
		body = body[:maxCheckedBody]
	}
	if i, got := checks.failure(code, body, truncated); i >= 0 && collateral {
		return fmt.Errorf("missed --expect %s before any fault: got %s — is the collateral endpoint healthy, or is the check meant for api answers only (unscoped or api:)?", checks[i], got)
	} else if i >= 0 {
		return fmt.Errorf("missed --expect %s before any fault: got %s — is the service calling the upstream at %s, or is the check wrong?", checks[i], got, upstream)
	}
	return nil
}

// runTarget runs one target through the phases, telling cp of each phase
// that settles. Like runArm, it returns what was measured even when
// stopped early.
func runTarget(ctx context.Context, cfg *Config, t Target, k int, up *upstreamSet, tune func(*http.Transport), cp *checkpoints) (*reports.Arm, error) {
	begin, err := beginArm(ctx, cfg, k)
	if err != nil {
		return nil, err
	}
	up.begin()
	defer up.release()

	var inflight, peak atomic.Int64
	m := newMix(t.requests())
	var checks *expectTransport
	lr := newLoadRunner(cfg.shardRate(), cfg.ClientTimeout, tune, func(next http.RoundTripper) http.RoundTripper {
		next = &countingTransport{next: next, inflight: &inflight, peak: &peak}
		if len(cfg.Expect) > 0 {
			checks = newExpectTransport(next, cfg.Expect, m.collateralRequest)
			next = checks
		}
		return next
	})
	defer lr.close()

	var poll *statePoller
	if t.BreakerStateURL != "" {
		poll = startStatePoller(t.BreakerStateURL, tune)
		defer poll.stop()
	}

	start := begin.t0
	if poll != nil {
		poll.setStart(start)
	}
	// /api requests sent and upstream requests received per slot, for the
	// breaker inference.
	apiSent := newSlotCounter(start, cfg.TotalDuration())
	up.countArrivals(start, cfg.TotalDuration())
	// The upstream's in-flight requests per slot tell a breaker's drop in
	// arrivals from a concurrency limit's (see inferBreaker).
	var inflightAt *slotSampler
	if !cfg.UpstreamExternal {
		gi, _ := up.guarded()
		inflightAt = startSlotSampler(start, cfg.TotalDuration(), func() int64 { return up.inFlight(gi) })
		defer inflightAt.halt()
	}
	rec := newRecorder(start, cfg.Phases, cfg.Rate, cfg.ClientTimeout+time.Second, false)
	rec.queue = queueFigures(cfg)
	rec.pace = newSchedulePacer(start, cfg.Rate, cfg.TotalDuration(), cfg.Shard, time.Now())
	var sent atomic.Int64
	results := lr.attack(m.targeter(cfg.CollateralShare, cfg.shardSeed(), &sent), rec.pace)

	// Failed /api responses during the fault, and how many came back fast:
	// the outside signature of an open breaker.
	var fastFails, fails int64
	state := func(time.Time) string { return reports.StateUnknown }
	var countTransitions func(time.Time) int
	if poll != nil {
		state = func(time.Time) string { return poll.state() }
		countTransitions = func(time.Time) int { return len(poll.transitions()) }
	}
	w, stopErr := drive(ctx, cfg, armLoop{
		name: t.Name, start: start, up: up, lr: lr, rec: rec, sent: &sent,
		collateral: m.collateralResult,
		observe: func(res *vegeta.Result, collateral bool) {
			if !collateral {
				apiSent.add(res.Timestamp)
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
		takePeak:    func() int64 { return peak.Swap(inflight.Load()) },
		inflight:    inflight.Load,
		settled:     cp.settledFunc(t.Name, k, rec, up),
	}, results)
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
			in := inferBreaker(apiSent.slots(n), up.arrivalSlots(gi, n), inflightAt.slots(n), base)
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
	if inf != nil {
		// A breaker is claimed only on evidence of one.
		arm.Breaker = len(inf.transitions) > 0
	}
	arm.StartedAt = start.UTC()
	addUpstreamCounts(&arm, up.finish())
	analysis.Symptoms(&arm, rec.reportPhases())
	arm.Notes = targetNotes(&arm, cfg, t, poll, inf, up, fastFails, fails)
	if checks != nil {
		arm.Notes = append(arm.Notes, checks.notes()...)
	}
	arm.Start = begin.report(rec.pace)
	return &arm, stopErr
}

// targetNotes says what cbload could not see inside the service and what it
// inferred from outside instead.
func targetNotes(a *reports.Arm, cfg *Config, t Target, poll *statePoller, inf *inference, up *upstreamSet, fastFails, fails int64) []string {
	var notes []string
	api := cfg.Terms().API
	switch {
	case poll != nil && poll.sawBreaker():
		notes = append(notes, fmt.Sprintf("breaker state: polled from %s every %v; transition times are accurate to about that", t.BreakerStateURL, statePollInterval))
	case poll != nil && inf == nil:
		notes = append(notes, fmt.Sprintf("breaker state: %s reported that the service has no breaker (%q)", t.BreakerStateURL, poll.lastRaw()))
	default:
		why := "no breaker state URL"
		if poll != nil {
			why = fmt.Sprintf("%s never reported closed, open or half-open (last answer %q)", t.BreakerStateURL, poll.lastRaw())
		}
		if !inf.ok {
			notes = append(notes, fmt.Sprintf("breaker state: unknown (%s): nothing to infer it from — %s; breaker figures have no data", why, inf.why))
			break
		}
		_, name := up.guarded()
		notes = append(notes, fmt.Sprintf("breaker state: inferred (%s) from %s's arrivals per %v against the %s requests sent: open while it received under %.0f%% of the baseline's %.2f calls per %s request for %v and its requests in flight drained to none (a concurrency limit keeps them up), closed again at %.0f%% for %v; half-open cannot be told from open, so opens, time to open and time to recover are inferred, accurate to about %v",
			why, upstreamLabel(name), slotWidth, api, shedRatio*100, inf.baselineRatio, api, openSlots*slotWidth, closedRatio*100, closeSlots*slotWidth, 2*slotWidth))
		for _, h := range inf.held {
			notes = append(notes, fmt.Sprintf("breaker state: the open inferred at %.1f s is dated by the calls in flight at %s draining to none; from %.1f s the service already made almost no new calls while calls stayed in flight — a concurrency limit (bulkhead, throttle, connection pool) or the breaker itself — so it opened between %.1f s and %.1f s", h.T, upstreamLabel(name), h.From, h.From, h.T))
		}
	}
	notes = append(notes, callsNote(a, cfg, up, api)...)
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
	for i, p := range cfg.Phases {
		ps := a.Summary[p.Name]
		if !p.Faulty() {
			if i == 0 {
				base.sent, base.up = sent[p.Name], calls(ps)
			}
			continue
		}
		for _, u := range ps.Upstreams {
			failing += u.Injected["error"] + u.Injected["reset"]
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
		who := "the upstream"
		if len(up.names) > 1 {
			who = "the upstreams"
		}
		notes = append(notes, fmt.Sprintf("the faults did not reach the answers: %s failed %d requests (error, reset) during the fault, yet all %d %s answers counted as ok — the service ignores its dependency's failures (such as status codes), retries until a call succeeds, or answers a fallback; mark a fallback and check for it with --expect", who, failing, answered, api))
	}
	return notes
}

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
	next           http.RoundTripper
	inflight, peak *atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	n := c.inflight.Add(1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			break
		}
	}
	resp, err := c.next.RoundTrip(r)
	if err != nil {
		c.inflight.Add(-1)
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, done: func() { c.inflight.Add(-1) }}
	return resp, nil
}

// statePoller polls a breaker state URL until stopped and keeps the
// transitions it saw, timed when it saw them.
type statePoller struct {
	url    string
	client *http.Client
	// ctx is cancelled by stop, which aborts a poll in flight.
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	mu      sync.Mutex
	start   time.Time
	cur     string
	raw     string
	trans   []reports.Transition
	breaker bool
}

// startStatePoller starts polling at once; tune adjusts its transport as
// for every client of the user's service. The caller must call stop.
func startStatePoller(u string, tune func(*http.Transport)) *statePoller {
	ctx, cancel := context.WithCancel(context.Background())
	tr := &http.Transport{Proxy: nil}
	tune(tr)
	p := &statePoller{
		url:    u,
		client: &http.Client{Transport: tr, Timeout: statePollInterval * 4, CheckRedirect: noRedirects},
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
		start:  time.Now(),
		cur:    reports.StateUnknown,
	}
	go p.loop()
	return p
}

func (p *statePoller) setStart(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start = t
	p.trans = nil
}

func (p *statePoller) loop() {
	defer close(p.done)
	tick := time.NewTicker(statePollInterval)
	defer tick.Stop()
	for {
		p.pollOnce()
		select {
		case <-p.ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (p *statePoller) pollOnce() {
	req, err := http.NewRequestWithContext(p.ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	raw, state := parseState(body)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		raw, state = fmt.Sprintf("HTTP %d redirect to %s, not followed", resp.StatusCode, resp.Header.Get("Location")), reports.StateUnknown
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.raw = raw
	if state == reports.StateClosed || state == reports.StateOpen || state == reports.StateHalfOpen {
		p.breaker = true
	}
	if state != p.cur {
		if p.cur != reports.StateUnknown && state != reports.StateUnknown && !now.Before(p.start) {
			p.trans = append(p.trans, reports.Transition{T: round3(now.Sub(p.start).Seconds()), From: p.cur, To: state})
		}
		p.cur = state
	}
}

// parseState reads {"state": "..."} or a bare JSON string and maps it to a
// report state.
func parseState(body []byte) (raw, state string) {
	var obj struct {
		State string `json:"state"`
	}
	if json.Unmarshal(body, &obj) != nil || obj.State == "" {
		if json.Unmarshal(body, &raw) != nil {
			raw = strings.TrimSpace(string(body))
		}
	} else {
		raw = obj.State
	}
	switch strings.NewReplacer("_", "-", " ", "-").Replace(strings.ToLower(strings.TrimSpace(raw))) {
	case "closed":
		return raw, reports.StateClosed
	case "open":
		return raw, reports.StateOpen
	case "half-open", "halfopen":
		return raw, reports.StateHalfOpen
	case "none", "disabled", "off":
		return raw, reports.StateNone
	}
	return raw, reports.StateUnknown
}

func (p *statePoller) state() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

func (p *statePoller) transitions() []reports.Transition {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]reports.Transition(nil), p.trans...)
}

func (p *statePoller) sawBreaker() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.breaker
}

func (p *statePoller) lastRaw() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw
}

// stop ends polling and waits for the poller; it may be called twice.
func (p *statePoller) stop() {
	p.once.Do(func() {
		p.cancel()
		<-p.done
		p.client.CloseIdleConnections()
	})
}
