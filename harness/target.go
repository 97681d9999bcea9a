package harness

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cbload/cbload/internal/field"
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
			return invalid("upstream.addr", "upstream-addr", "only used with --target (cbload's own gateway picks a free port)")
		}
		for i, p := range c.Phases {
			if len(p.UpstreamFaults) > 0 {
				return phaseInvalid(i, p, "faults for named upstreams are only used with --target and --upstream NAME=ADDR")
			}
		}
		switch {
		case len(c.Expect) > 0:
			return invalid("expect", "expect", "only used with --target; cbload's own gateway says how each request ended")
		case c.TargetTLS.Insecure || len(c.TargetTLS.CAPEM) > 0:
			return invalidAll([]string{"tls.insecure", "tls.ca_cert"}, []string{"insecure", "ca-cert"}, "only used with --target; cbload's own gateway is plain HTTP")
		case c.UpstreamTLSDir != "":
			return invalid("upstream.tls_dir", "upstream-tls", "only used with --target; cbload's own gateway calls its upstream over plain HTTP")
		case c.UpstreamGRPC:
			return invalid("upstream.grpc", "upstream-grpc", "only used with --target; cbload's own gateway calls its upstream over plain HTTP")
		case len(c.AllowRemote) > 0:
			return invalid("allow_remote", "allow-remote", "only used with --target; cbload's own gateway runs on loopback")
		}
		return nil
	}
	if c.UpstreamExternal && (c.UpstreamAddr != "" || len(c.Upstreams) > 0) {
		return fmt.Errorf("upstream-external: not with upstream-addr or upstream; either this run starts the upstreams, or another process runs them")
	}
	switch {
	case c.UpstreamGRPC && c.UpstreamExternal:
		return invalid("upstream.grpc", "upstream-grpc", "not with upstream-external; the process that runs the upstream serves gRPC (cbload serve --grpc)")
	case c.UpstreamGRPC && c.UpstreamTLSDir != "":
		return invalid("upstream.grpc", "upstream-grpc", "not with upstream-tls; the gRPC upstream serves plain HTTP/2")
	case c.UpstreamGRPC && c.Upstream.Concurrency > 0:
		return invalid("upstream.concurrency", "upstream-concurrency", "not with upstream-grpc; the gRPC upstream has unbounded capacity")
	}
	if c.UpstreamExternal && c.Upstream.Concurrency > 0 {
		return invalid("upstream.concurrency", "upstream-concurrency", "not with upstream-external; the process that runs the upstream sets its capacity (cbload serve --upstream-concurrency)")
	}
	if !c.UpstreamExternal {
		if err := c.validateUpstreams(); err != nil {
			return err
		}
	}
	switch {
	case c.Tiers > 1:
		return invalid("gateway.tiers", "tiers", "only used with cbload's own gateway, not with --target")
	case c.Gateway.Retries > 0:
		return invalid("gateway.retries", "retries", "only used with cbload's own gateway, not with --target")
	}
	seen := map[string]bool{}
	for i, t := range c.Targets {
		switch {
		case !targetNameRE.MatchString(t.Name):
			return targetInvalid(i, fmt.Sprintf("targets[%d].name %q", i, t.Name), "want a letter followed by letters, digits, _ or -")
		case seen[t.Name]:
			return targetInvalid(i, fmt.Sprintf("targets[%d].name %q", i, t.Name), "used twice; target names must be unique")
		}
		for _, r := range reservedNames {
			if t.Name == r {
				return targetInvalid(i, fmt.Sprintf("targets[%d].name %q", i, t.Name), "reserved; choose another name")
			}
		}
		seen[t.Name] = true
		for _, u := range []struct{ field, url string }{{"url", t.URL}, {"collateral", t.Collateral}, {"breaker_state_url", t.BreakerStateURL}} {
			if u.url == "" && u.field != "url" {
				continue
			}
			if err := CheckTargetURL(u.url, c.AllowRemote); err != nil {
				return targetInvalid(i, fmt.Sprintf("targets[%d] (%s).%s", i, t.Name, u.field), "%w", err)
			}
		}
		if !c.UpstreamExternal {
			for _, u := range append(t.requests(), Request{URL: t.BreakerStateURL}) {
				if up, ok := c.ownUpstream(u.URL); ok {
					return targetInvalid(i, fmt.Sprintf("targets[%d] (%s)", i, t.Name), "%s is cbload's own upstream (%s): the target is your service, the one that calls the upstream", u.URL, up)
				}
			}
		}
		api := false
		for j, r := range t.Requests {
			if !methodRE.MatchString(r.Method) {
				return targetInvalid(i, fmt.Sprintf("targets[%d] (%s).requests[%d]", i, t.Name, j), "method %q: want an HTTP method in capitals like GET", r.Method)
			}
			if err := CheckTargetURL(r.URL, c.AllowRemote); err != nil {
				return targetInvalid(i, fmt.Sprintf("targets[%d] (%s).requests[%d]", i, t.Name, j), "%w", err)
			}
			if err := checkHeaders(r.Header); err != nil {
				return targetInvalid(i, fmt.Sprintf("targets[%d] (%s).requests[%d]", i, t.Name, j), "%w", err)
			}
			api = api || !r.Collateral
		}
		if len(t.Requests) > 0 && !api {
			return targetInvalid(i, fmt.Sprintf("targets[%d] (%s)", i, t.Name), "every request is collateral; at least one must be an api request, one that calls the upstream")
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
			return field.InvalidValue("expect", "--expect", "%q: judges collateral answers, and no target has a collateral endpoint (--collateral, or a collateral request in --targets)", e)
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
