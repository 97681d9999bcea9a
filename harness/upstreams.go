package harness

import (
	"crypto/tls"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/internal/field"
	"github.com/cbload/cbload/reports"
)

// NamedUpstream is one dependency of a user's service: cbload runs a
// fault-injecting upstream at Addr, and the service must be configured to
// call it there.
type NamedUpstream struct {
	Name string
	Addr string
}

// DefaultUpstream names the one upstream of a run that gives only
// UpstreamAddr.
const DefaultUpstream = "upstream"

var upstreamNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// upstreamList returns the run's upstreams: Upstreams, or the one at
// UpstreamAddr named DefaultUpstream.
func (c *Config) upstreamList() []NamedUpstream {
	if len(c.Upstreams) > 0 {
		return c.Upstreams
	}
	return []NamedUpstream{{Name: DefaultUpstream, Addr: c.UpstreamAddr}}
}

// ParseUpstreamFault parses a fault for a named upstream, NAME=SPEC like
// "payments=latency:1s", or a plain SPEC, for the only upstream; name is
// "" then. A spec never has "=" before its first ":" or ",", so the two
// cannot be confused.
func ParseUpstreamFault(s string) (name string, spec faultserver.Spec, err error) {
	if i := strings.IndexAny(s, "=:,"); i > 0 && s[i] == '=' {
		name, s = s[:i], s[i+1:]
		if !upstreamNameRE.MatchString(name) {
			return "", faultserver.Spec{}, fmt.Errorf("upstream %q: want NAME=SPEC with a name of letters, digits, _ or -, like payments=latency:1s", name)
		}
	}
	spec, err = faultserver.ParseSpec(s)
	return name, spec, err
}

// AddFault adds a fault for the named upstream, or for the only upstream
// when name is "".
func (p *Phase) AddFault(name string, spec faultserver.Spec) {
	if name == "" {
		p.Faults = append(p.Faults, spec)
		return
	}
	if p.UpstreamFaults == nil {
		p.UpstreamFaults = map[string][]faultserver.Spec{}
	}
	p.UpstreamFaults[name] = append(p.UpstreamFaults[name], spec)
}

// Faulty says whether the phase injects any fault, into any upstream.
func (p Phase) Faulty() bool {
	if len(p.Faults) > 0 {
		return true
	}
	for _, fs := range p.UpstreamFaults {
		if len(fs) > 0 {
			return true
		}
	}
	return false
}

// faultsFor returns the faults the phase injects into the named upstream:
// its own, and the unnamed ones, which apply to the only upstream.
func (p Phase) faultsFor(name string) []faultserver.Spec {
	return append(append([]faultserver.Spec(nil), p.Faults...), p.UpstreamFaults[name]...)
}

// refusing returns the upstreams, of those named, that the phase makes
// refuse connections or fail TLS handshakes: what the service sends them
// is not counted.
func refusing(p Phase, upstreams []string) []string {
	var out []string
	for _, name := range upstreams {
		for _, f := range p.faultsFor(name) {
			if f.Kind == "refuse" || f.Kind == "tls" {
				out = append(out, name)
				break
			}
		}
	}
	return out
}

// FaultStrings lists the phase's faults for the report, each named by its
// upstream when upstreams are named: "payments=latency:1s".
func (p Phase) FaultStrings() []string {
	out := specStrings(p.Faults)
	for _, name := range slices.Sorted(maps.Keys(p.UpstreamFaults)) {
		for _, s := range p.UpstreamFaults[name] {
			out = append(out, name+"="+s.String())
		}
	}
	return out
}

// validateUpstreams checks the named upstreams and the faults keyed by
// them; it is part of validateTargets.
func (c *Config) validateUpstreams() error {
	if len(c.Upstreams) > 0 && c.UpstreamAddr != "" {
		return invalidAll([]string{"upstream.addr", "upstreams"}, []string{"upstream-addr", "upstream"}, "give one upstream with --upstream-addr or name each with --upstream NAME=ADDR, not both")
	}
	if len(c.Upstreams) > maxUpstreams {
		return invalid("upstreams", "upstream", "%d upstreams; at most %d", len(c.Upstreams), maxUpstreams)
	}
	names := map[string]bool{}
	addrs := map[string]string{}
	for i, u := range c.upstreamList() {
		// A named upstream's error points at upstreams, a mapping in a
		// scenario file, whose line names it there; the message names the
		// entry by its place in the list.
		switch {
		case len(c.Upstreams) > 0 && !upstreamNameRE.MatchString(u.Name):
			return field.InvalidValue("upstreams", fmt.Sprintf("upstreams[%d].name", i), "%q: want a letter followed by letters, digits, _ or -", u.Name)
		case names[u.Name]:
			return field.InvalidValue("upstreams", fmt.Sprintf("upstreams[%d].name", i), "%q: used twice; upstream names must be unique", u.Name)
		case addrs[u.Addr] != "":
			return field.InvalidValue("upstreams", fmt.Sprintf("upstreams[%d] (%s).addr", i, u.Name), "%q: also the address of %s; each upstream needs its own", u.Addr, addrs[u.Addr])
		}
		path, where := "upstream.addr", "upstream-addr"
		if len(c.Upstreams) > 0 {
			path, where = "upstreams", fmt.Sprintf("upstreams[%d] (%s).addr", i, u.Name)
		}
		if err := c.AllowRemote.checkListenAddr(u.Addr); err != nil {
			return invalid(path, where, "%w", err)
		}
		names[u.Name], addrs[u.Addr] = true, u.Name
	}
	for i, p := range c.Phases {
		if len(p.Faults) > 0 && len(c.Upstreams) > 1 {
			return phaseInvalid(i, p, "fault %s: say which upstream it is for, like %s=%s (upstreams: %s)",
				p.Faults[0], c.Upstreams[0].Name, p.Faults[0], strings.Join(slices.Sorted(maps.Keys(names)), ", "))
		}
		for name := range p.UpstreamFaults {
			if !names[name] || len(c.Upstreams) == 0 {
				return phaseInvalid(i, p, "fault for upstream %q: no such upstream; name upstreams with --upstream NAME=ADDR (upstreams: %s)",
					name, strings.Join(slices.Sorted(maps.Keys(names)), ", "))
			}
		}
	}
	return nil
}

// maxUpstreams caps the named upstreams of one run.
const maxUpstreams = 16

// upstreamSet is the fault-injecting upstreams a user's service calls, one
// per dependency, switched together at phase boundaries. It counts, per
// phase and upstream, what each received and injected.
type upstreamSet struct {
	names   []string
	servers []*faultserver.Server
	phases  []Phase
	// phase is the current phase; last the stats at its start.
	phase int
	last  []faultserver.Stats
	// counts[phase][upstream] is filled as each phase ends.
	counts []map[string]reports.UpstreamPhase
	// arrivals[i] counts upstream i's requests per slot and path of the
	// current arm, for the breaker inference; nil until countArrivals.
	arrivals []atomic.Pointer[pathSlots]
	// served[i] counts, by arrival and by when it ended, the requests
	// upstream i answered in full, without an error status, to a caller
	// still there: the calls that worked, and when they could first feed
	// an answer.
	served []atomic.Pointer[pathPairs]
}

// upstreamServer is the fault server of an upstream cbload runs at addr:
// the run's seed, service time and capacity. The built-in gateway's
// upstream and a user's service's upstreams both start from it, so a
// setting cannot reach one and miss the other.
func (c *Config) upstreamServer(addr string) faultserver.Config {
	return faultserver.Config{
		Addr:        addr,
		Seed:        c.Seed,
		ServiceTime: c.Upstream.ServiceTime,
		Jitter:      c.Upstream.Jitter,
		Concurrency: c.Upstream.Concurrency,
		Queue:       c.Upstream.Queue,
		HonorCancel: c.Upstream.HonorCancel,
	}
}

// startUpstreams listens on every upstream's address, traced by tel when
// it is not nil. The caller must call close.
func startUpstreams(cfg *Config, tlsCfg *tls.Config, tel *tracing) (*upstreamSet, error) {
	list := cfg.upstreamList()
	s := &upstreamSet{phases: cfg.Phases, arrivals: make([]atomic.Pointer[pathSlots], len(list)), served: make([]atomic.Pointer[pathPairs], len(list))}
	for i, u := range list {
		fc := cfg.upstreamServer(u.Addr)
		fc.TLS = tlsCfg
		fc.GRPC = cfg.UpstreamGRPC
		if tel != nil {
			tel.instrumentUpstream(&fc)
		}
		inner := fc.Middleware
		fc.Middleware = func(h http.Handler) http.Handler {
			if inner != nil {
				h = inner(h)
			}
			return countServed(h, &s.served[i])
		}
		traced := fc.OnApplied
		fc.OnApplied = func(r *http.Request, applied []faultserver.Spec) {
			if c := s.arrivals[i].Load(); c != nil {
				c.add(r.URL.Path, time.Now())
			}
			if traced != nil {
				traced(r, applied)
			}
		}
		srv, err := faultserver.New(fc)
		if err != nil {
			s.close()
			what := "upstream"
			if len(cfg.Upstreams) > 0 {
				what += " " + u.Name
			}
			return nil, fmt.Errorf("start %s at %s: %w", what, u.Addr, err)
		}
		s.names = append(s.names, u.Name)
		s.servers = append(s.servers, srv)
	}
	return s, nil
}

// begin starts an arm: the first phase's faults, fresh counts, and a queue
// peak that starts now, not with an earlier arm.
func (s *upstreamSet) begin() {
	s.phase = 0
	s.counts = make([]map[string]reports.UpstreamPhase, len(s.phases))
	s.last = s.stats()
	s.takeQueuePeak()
	s.apply()
}

func (s *upstreamSet) apply() {
	for i, srv := range s.servers {
		srv.SetFaults(s.phases[s.phase].faultsFor(s.names[i]))
	}
}

func (s *upstreamSet) stats() []faultserver.Stats {
	out := make([]faultserver.Stats, len(s.servers))
	for i, srv := range s.servers {
		out[i] = srv.Stats()
	}
	return out
}

// endPhase books what each upstream received since the phase began.
func (s *upstreamSet) endPhase() {
	now := s.stats()
	m := make(map[string]reports.UpstreamPhase, len(s.servers))
	for i := range s.servers {
		d := now[i].Sub(s.last[i])
		up := reports.UpstreamPhase{Requests: d.Requests, Injected: map[string]int64{}}
		for k, n := range d.Injected {
			if n > 0 {
				up.Injected[k] = n
			}
		}
		for m, byCode := range d.GRPC {
			for c, n := range byCode {
				if n <= 0 {
					continue
				}
				if up.GRPC == nil {
					up.GRPC = map[string]map[string]int64{}
				}
				if up.GRPC[m] == nil {
					up.GRPC[m] = map[string]int64{}
				}
				up.GRPC[m][c] = n
			}
		}
		m[s.names[i]] = up
	}
	s.counts[s.phase] = m
	s.last = now
}

// countArrivals starts counting each upstream's requests per slot from
// start, for an arm of length total.
func (s *upstreamSet) countArrivals(start time.Time, total time.Duration) {
	for i := range s.arrivals {
		s.arrivals[i].Store(&pathSlots{start: start, total: total, paths: map[string]*slotCounter{}})
		s.served[i].Store(&pathPairs{start: start, total: total, paths: map[string]*pairCounter{}})
	}
}

// guarded returns the index of the upstream a breaker most likely guards —
// the first, by name, that any phase injects faults into — and its name.
func (s *upstreamSet) guarded() (int, string) {
	for i, name := range s.names {
		for _, p := range s.phases {
			if len(p.faultsFor(name)) > 0 {
				return i, name
			}
		}
	}
	return 0, s.names[0]
}

// arrivalSlots returns upstream i's requests per slot, n slots long, by
// path.
func (s *upstreamSet) arrivalSlots(i, n int) map[string][]int64 {
	if c := s.arrivals[i].Load(); c != nil {
		return c.slots(n)
	}
	return map[string][]int64{}
}

// servedPairs returns upstream i's calls that worked, by arrival and end
// slot, summed over the given paths.
func (s *upstreamSet) servedPairs(i int, paths map[string]bool) map[slotPair]int64 {
	out := map[slotPair]int64{}
	if c := s.served[i].Load(); c != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		for path, pc := range c.paths {
			if paths[path] {
				pc.sumInto(out)
			}
		}
	}
	return out
}

// countServed counts into *to, by path, arrival time and the time it
// ended, the requests h answered in full with a status below 500 to a
// caller still there.
func countServed(h http.Handler, to *atomic.Pointer[pathPairs]) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r) // a reset panics through: not counted
		if c := to.Load(); c != nil && sw.status < 500 && r.Context().Err() == nil {
			c.add(r.URL.Path, arrived, time.Now())
		}
	})
}

// statusWriter notes the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Flush and Unwrap keep what the fault server needs of its writer.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// pathSlots counts one upstream's arrivals per slot, apart for each path:
// the first maxCountedPaths paths, the rest together under otherPaths.
type pathSlots struct {
	start time.Time
	total time.Duration
	mu    sync.Mutex
	paths map[string]*slotCounter
}

// maxCountedPaths caps the paths an upstream's arrivals are counted apart
// for; otherPaths counts the rest.
const (
	maxCountedPaths = 16
	otherPaths      = "(other paths)"
)

// pathCounter returns the counter of path in m, made by mk when it is new;
// past maxCountedPaths paths a new path counts as otherPaths. The caller
// holds the lock that guards m.
func pathCounter[C any](m map[string]*C, path string, mk func() *C) *C {
	if c := m[path]; c != nil {
		return c
	}
	if len(m) >= maxCountedPaths {
		path = otherPaths
		if c := m[path]; c != nil {
			return c
		}
	}
	c := mk()
	m[path] = c
	return c
}

func (p *pathSlots) add(path string, t time.Time) {
	p.mu.Lock()
	c := pathCounter(p.paths, path, func() *slotCounter { return newSlotCounter(p.start, p.total) })
	p.mu.Unlock()
	c.add(t)
}

func (p *pathSlots) slots(n int) map[string][]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string][]int64, len(p.paths))
	for path, c := range p.paths {
		out[path] = c.slots(n)
	}
	return out
}

// pathPairs counts one upstream's served calls by path, arrival and end,
// for the same paths pathSlots keeps apart.
type pathPairs struct {
	start time.Time
	total time.Duration
	mu    sync.Mutex
	paths map[string]*pairCounter
}

func (p *pathPairs) add(path string, at, done time.Time) {
	p.mu.Lock()
	c := pathCounter(p.paths, path, func() *pairCounter { return newPairCounter(p.start, p.total) })
	p.mu.Unlock()
	c.add(at, done)
}

// dependencySet returns the paths dependencyPaths reads as the service's
// dependency calls.
func dependencySet(byPath map[string][]int64, base int) map[string]bool {
	sums := map[string]int64{}
	var top int64
	for path, xs := range byPath {
		for _, x := range xs[:min(base, len(xs))] {
			sums[path] += x
		}
		top = max(top, sums[path])
	}
	out := map[string]bool{}
	for path := range byPath {
		if top == 0 || 4*sums[path] >= top {
			out[path] = true
		}
	}
	return out
}

// dependencyPaths splits an upstream's arrivals per path into the
// service's dependency calls — the paths that received, in the baseline's
// first base slots, at least a quarter of the busiest path's calls — and
// the rest, such as a health probe, which do not follow the requests:
// it returns the sum of the first per slot and the total of each of the
// rest.
func dependencyPaths(byPath map[string][]int64, base, n int) (deps []int64, others map[string]int64) {
	dep := dependencySet(byPath, base)
	deps, others = make([]int64, n), map[string]int64{}
	for path, xs := range byPath {
		if !dep[path] {
			for _, x := range xs {
				others[path] += x
			}
			continue
		}
		for j, x := range xs[:min(n, len(xs))] {
			deps[j] += x
		}
	}
	return deps, others
}

// next moves to the following phase.
func (s *upstreamSet) next() {
	s.endPhase()
	if s.phase+1 < len(s.phases) {
		s.phase++
		s.apply()
	}
}

// release clears every fault, letting held requests go at once.
func (s *upstreamSet) release() {
	for _, srv := range s.servers {
		srv.SetFaults(nil)
	}
}

// Stats sums the upstreams' counters: requests, completions and queue
// lengths (the per-kind counts are left out).
func (s *upstreamSet) Stats() faultserver.Stats {
	var t faultserver.Stats
	for _, srv := range s.servers {
		st := srv.Stats()
		t.Requests += st.Requests
		t.Completed += st.Completed
		t.CompletedForGone += st.CompletedForGone
		t.QueueLen += st.QueueLen
	}
	return t
}

// takeQueuePeak sums the upstreams' queue peaks since its last call
// (faultserver.Server.TakeQueuePeak): with several upstreams an upper
// bound of the most requests waiting at once, as their peaks need not
// coincide.
func (s *upstreamSet) takeQueuePeak() int64 {
	var n int64
	for _, srv := range s.servers {
		n += srv.TakeQueuePeak()
	}
	return n
}

// queueFigures says whether a run of cfg measures its upstreams' queue
// (reports.Arm.UpstreamQueue): an external upstream's is unknown, one with
// unlimited capacity has none.
func queueFigures(cfg *Config) string {
	switch {
	case cfg.UpstreamExternal:
		return reports.QueueUnknown
	case cfg.Upstream.Concurrency == 0:
		return reports.QueueNotModelled
	}
	return reports.QueueMeasured
}

// finish books the current phase and returns the counts per phase name;
// phases never reached have none.
func (s *upstreamSet) finish() map[string]map[string]reports.UpstreamPhase {
	s.endPhase()
	s.release()
	return s.booked()
}

// booked returns the counts of the phases booked so far, by name: those
// that have ended.
func (s *upstreamSet) booked() map[string]map[string]reports.UpstreamPhase {
	out := map[string]map[string]reports.UpstreamPhase{}
	for i, c := range s.counts {
		if c != nil {
			out[s.phases[i].Name] = c
		}
	}
	return out
}

// addUpstreamCounts puts each phase's upstream counts into the arm's
// summary.
func addUpstreamCounts(a *reports.Arm, counts map[string]map[string]reports.UpstreamPhase) {
	for phase, c := range counts {
		if len(c) == 0 {
			continue // an external upstream: what it received is unknown here, not none
		}
		if ps, ok := a.Summary[phase]; ok {
			ps.Upstreams = c
			a.Summary[phase] = ps
		}
	}
}

func (s *upstreamSet) close() {
	for _, srv := range s.servers {
		srv.Close()
	}
}
