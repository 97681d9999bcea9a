package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cbload/cbload/analysis"
	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/internal/pool"
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
	// JSON: {"state": "closed" | "open" | "half-open"} or a bare string;
	// or, with StateMetric, as Prometheus text exposition.
	BreakerStateURL string
	// StateMetric, when set, says which series of the Prometheus text page
	// at BreakerStateURL holds the state and how it maps.
	StateMetric *StateMetric
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

// TargetClientTimeout is the load runner's timeout per request with a
// user's service: past the timeouts services commonly give their own
// calls — 1, 3 and 5 s, and the 10 s of many Go clients
// (http.Client{Timeout: 10 * time.Second}) — so the service's own timeout
// answer arrives and is counted as such, not as cbload giving up first.
const TargetClientTimeout = 15 * time.Second

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
		case c.UpstreamGRPC:
			return fmt.Errorf("upstream-grpc: only used with --target; cbload's own gateway calls its upstream over plain HTTP")
		case len(c.AllowRemote) > 0:
			return fmt.Errorf("allow-remote: only used with --target; cbload's own gateway runs on loopback")
		}
		return nil
	}
	if c.UpstreamExternal && (c.UpstreamAddr != "" || len(c.Upstreams) > 0) {
		return fmt.Errorf("upstream-external: not with upstream-addr or upstream; either this run starts the upstreams, or another process runs them")
	}
	switch {
	case c.UpstreamGRPC && c.UpstreamExternal:
		return fmt.Errorf("upstream-grpc: not with upstream-external; the process that runs the upstream serves gRPC (cbload serve --grpc)")
	case c.UpstreamGRPC && c.UpstreamTLSDir != "":
		return fmt.Errorf("upstream-grpc: not with upstream-tls; the gRPC upstream serves plain HTTP/2")
	case c.UpstreamGRPC && c.Upstream.Concurrency > 0:
		return fmt.Errorf("upstream-concurrency: not with upstream-grpc; the gRPC upstream has unbounded capacity")
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
		if !c.UpstreamExternal {
			for _, u := range append(t.requests(), Request{URL: t.BreakerStateURL}) {
				if up, ok := c.ownUpstream(u.URL); ok {
					return fmt.Errorf("targets[%d] (%s): %s is cbload's own upstream (%s): the target is your service, the one that calls the upstream", i, t.Name, u.URL, up)
				}
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
			if err := checkHeaders(r.Header); err != nil {
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

// ownUpstream reports whether URL u points at one of the upstreams this
// run starts — the same port on a loopback host, or the same host:port —
// and names it as the flags do.
func (c *Config) ownUpstream(u string) (string, bool) {
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" {
		return "", false
	}
	port := pu.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[pu.Scheme]
	}
	for _, up := range c.upstreamList() {
		host, p, err := net.SplitHostPort(up.Addr)
		if err != nil || p != port {
			continue
		}
		if strings.EqualFold(host, pu.Hostname()) || (isLoopbackName(host) && isLoopbackName(pu.Hostname())) {
			if len(c.Upstreams) > 0 {
				return "--upstream " + up.Name + "=" + up.Addr, true
			}
			return "--upstream-addr " + up.Addr, true
		}
	}
	return "", false
}

// isLoopbackName says whether host names the loopback interface.
func isLoopbackName(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// targetSystem is a user's own service: the targets, each an arm, and the
// upstreams cbload runs for the service at the configured addresses,
// shared by every arm.
type targetSystem struct {
	cfg    *Config
	byName map[string]Target
	up     *upstreamSet
	tune   func(*http.Transport)
}

// startTargets starts the upstreams of a run against a user's service,
// traced by tel when it is not nil, fills in the target settings of r,
// and probes every target before any load. The caller must call close.
func startTargets(ctx context.Context, cfg *Config, r *reports.Report, tel *tracing) (*targetSystem, error) {
	r.Config.Upstream.Addr = cfg.UpstreamAddr
	for _, u := range cfg.Upstreams {
		r.Config.Upstreams = append(r.Config.Upstreams, reports.NamedUpstream{Name: u.Name, Addr: u.Addr})
	}
	r.Config.Upstream.TLS = cfg.UpstreamTLSDir != ""
	r.Config.Upstream.GRPC = cfg.UpstreamGRPC
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
		cert, _, err := upstreamCert(ctx, cfg.UpstreamTLSDir)
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
		if up, err = startUpstreams(cfg, upTLS, tel); err != nil {
			return nil, &SetupError{err}
		}
		addrs = nil
		for _, u := range cfg.upstreamList() {
			addrs = append(addrs, u.Addr)
		}
	}
	if err := probeTargets(ctx, cfg.Targets, cfg.Expect, strings.Join(addrs, ", "), tune); err != nil {
		up.close()
		// An answer a check quotes may echo a header the service was sent.
		return nil, &SetupError{requestSecrets(cfg.Targets).redactErr(err)}
	}
	s := &targetSystem{cfg: cfg, byName: map[string]Target{}, up: up, tune: tune}
	for _, t := range cfg.Targets {
		s.byName[t.Name] = t
	}
	return s, nil
}

func (s *targetSystem) runArm(ctx context.Context, a *armRun, cp *checkpoints) (*reports.Arm, error) {
	return runTarget(ctx, s.cfg, s.byName[a.name], a, s.up, s.tune, cp)
}

func (s *targetSystem) close() { s.up.close() }

// reportTargets describes the targets as a report does: name, URL and the
// load mix, never headers or bodies.
func reportTargets(targets []Target) []reports.Target {
	var out []reports.Target
	for _, t := range targets {
		rt := reports.Target{Name: t.Name, URL: RedactURL(t.URL)}
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

// noRedirects makes an http.Client return a redirect as the answer instead
// of following it: a redirect could lead anywhere, and cbload sends only to
// the loopback addresses it was given.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// requestLabel names a request in reports: method and URL (its userinfo
// redacted), never its headers or body, which may hold secrets.
func requestLabel(q Request) string {
	s := q.Method + " " + RedactURL(q.URL)
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
				return fmt.Errorf("target %s: %s", t.Name, RedactText(err.Error()))
			}
			for k, vs := range q.Header {
				req.Header[k] = vs
			}
			if h := q.Header.Get("Host"); h != "" {
				req.Host = h
			}
			resp, err := c.Do(req)
			if err != nil {
				return fmt.Errorf("target %s unreachable at %s: %w", t.Name, RedactURL(q.URL), errors.Unwrap(err))
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, maxCheckedBody+1))
			resp.Body.Close()
			what := fmt.Sprintf("target %s: %s %s", t.Name, q.Method, RedactURL(q.URL))
			if state {
				what = fmt.Sprintf("target %s: breaker state URL %s", t.Name, RedactURL(q.URL))
			}
			var judge expectations // none for the state URL: 2xx
			if !state {
				judge = checks.scoped(q.Collateral)
			}
			var sent []string // header names only: values may be secrets
			for k := range q.Header {
				if k != "Host" {
					sent = append(sent, k)
				}
			}
			slices.Sort(sent)
			if err := probeAnswer(resp, body, judge, state, q.Collateral, upstream, sent); err != nil {
				return fmt.Errorf("%s %v", what, err)
			}
			if state {
				if err := probeState(body, t.StateMetric); err != nil {
					return fmt.Errorf("%s %v", what, err)
				}
			}
		}
	}
	return nil
}

// firstLine returns the first non-empty line of a service's answer,
// sanitized and cut to 120 characters: a reason quoted in a message.
func firstLine(body []byte) string {
	for _, l := range strings.Split(string(body[:min(len(body), 4096)]), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return sanitizeNote(l, 120)
		}
	}
	return ""
}

// probeAnswer judges one probe's answer against checks, those that judge
// its kind; state says it is the answer of a breaker state URL, collateral
// that of a collateral request.
func probeAnswer(resp *http.Response, body []byte, checks expectations, state, collateral bool, upstream string, sent []string) error {
	code := resp.StatusCode
	if k := resp.Header.Get(faultserver.FaultHeader); k != "" {
		return fmt.Errorf("answered with %s: %s — that is a cbload fault server, not your service; the target is the service that calls the upstream", faultserver.FaultHeader, sanitizeNote(k, 40))
	}
	accepted, want := checks.acceptsStatus(code), checks.statusForms()
	if !accepted {
		status := fmt.Sprintf("%d %s", code, http.StatusText(code))
		hint := ""
		switch {
		case code >= 300 && code <= 399:
			hint = fmt.Sprintf(" (a redirect to %q, not followed)", resp.Header.Get("Location"))
		case code == http.StatusNotFound || code == http.StatusMethodNotAllowed:
			hint = " — check the path and method"
		case (code == http.StatusUnauthorized || code == http.StatusForbidden) && len(sent) > 0:
			hint = fmt.Sprintf(" — it refused the request with header %s: check the value (--header, --header-env)", strings.Join(sent, ", "))
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			hint = " — does it need a header (--header, --header-env)?"
		case code == http.StatusBadRequest && firstLine(body) != "":
			hint = fmt.Sprintf(" — it said %q: check the method, body and headers", firstLine(body))
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
	apiOK := newSlotCounter(start, cfg.TotalDuration())
	var apiWithin [len(fastBounds)]*slotCounter
	for i := range apiWithin {
		apiWithin[i] = newSlotCounter(start, cfg.TotalDuration())
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
					apiOK.add(res.Timestamp)
				}
				for i, b := range fastBounds {
					if res.Code != 0 && res.Latency < b {
						apiWithin[i].add(res.Timestamp)
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
			var fast []int64
			b, quick := fastBoundOf(apiWithin[:], api, base, n)
			if quick {
				fast = apiWithin[b].slots(n)
			}
			deps, others := dependencyPaths(up.arrivalSlots(gi, n), base, n)
			in := inferBreaker(api, fast, deps, base)
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
		served, _ := dependencyPaths(up.servedSlots(gi, n), base, n)
		if k, ok := suspectOK(apiOK.slots(n), served, base, faultSlots(cfg.Phases, n)); ok {
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

// statePoller polls a breaker state URL until stopped and keeps the
// transitions it saw, timed when it saw them.
type statePoller struct {
	url    string
	metric *StateMetric
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

// startStatePoller starts polling at once, reading the state as sm says
// (nil: JSON); tune adjusts its transport as for every client of the
// user's service. The caller must call stop.
func startStatePoller(u string, sm *StateMetric, tune func(*http.Transport)) *statePoller {
	ctx, cancel := context.WithCancel(context.Background())
	tr := &http.Transport{Proxy: nil}
	tune(tr)
	p := &statePoller{
		url:    u,
		metric: sm,
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
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxStateBody))
	resp.Body.Close()
	var raw, state string
	if p.metric != nil {
		var err error
		if raw, state, err = p.metric.state(body); err != nil {
			raw = err.Error()
		}
	} else {
		raw, state = parseState(body)
	}
	// raw goes into notes: a short excerpt, never the page.
	raw = sanitizeNote(raw, maxStateExcerpt)
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

// maxStateBody caps what is read of a breaker state answer: a Prometheus
// page of a large service runs to hundreds of KB. maxStateExcerpt caps what
// of it a note quotes.
const (
	maxStateBody    = 4 << 20
	maxStateExcerpt = 80
)

// probeState checks a breaker state URL's answer before any load: with sm,
// the page parses, sm picks exactly one series and its value maps; without,
// the answer is JSON (or bare) state. The error says in one line what was
// found instead, quoting at most a short excerpt.
func probeState(body []byte, sm *StateMetric) error {
	if sm != nil {
		if _, _, err := sm.state(body); err != nil {
			return fmt.Errorf("%v (--breaker-state-metric %s)", err, sm)
		}
		return nil
	}
	if _, st := parseState(body); st != reports.StateUnknown {
		return nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	if fams, err := p.TextToMetricFamilies(bytes.NewReader(body)); err == nil && len(fams) > 0 {
		return fmt.Errorf("answered a Prometheus text page (%d metrics), not JSON state; name the series that holds the state with --breaker-state-metric, like resilience4j_circuitbreaker_state{name=\"backend\"} --breaker-state-map label:state", len(fams))
	}
	return fmt.Errorf("answered %q, which is not a breaker state; want JSON {\"state\": \"closed\"|\"open\"|\"half-open\"} or a bare state, or Prometheus text with --breaker-state-metric", sanitizeNote(strings.TrimSpace(string(body)), maxStateExcerpt))
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
	return raw, stateWord(raw)
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
