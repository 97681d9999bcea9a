package faultserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultServiceTime is the healthy service time when Config.ServiceTime is
// zero.
const DefaultServiceTime = 2 * time.Millisecond

// FaultHeader is the response header naming the faults applied to a request,
// comma-separated in the order they acted, e.g. "latency,error".
const FaultHeader = "X-Cbload-Fault"

// Config configures a Server. The zero Config is a healthy synthetic
// upstream on a random loopback port with no control API.
type Config struct {
	// Addr is the data listener's address; "" means "127.0.0.1:0".
	Addr string
	// ControlAddr is the control API's address; "" means no control API.
	ControlAddr string
	// ControlToken, when set, is the bearer token the control API requires.
	ControlToken string
	// Seed seeds the one random source behind every random choice.
	Seed int64
	// ServiceTime is how long a healthy synthetic response takes; zero
	// means DefaultServiceTime. It is unused in proxy mode.
	ServiceTime time.Duration
	// Jitter spreads ServiceTime uniformly over [ServiceTime-Jitter,
	// ServiceTime+Jitter]; zero means none.
	Jitter time.Duration
	// ProxyTo, when set, is the base URL of a real upstream to forward to
	// instead of answering synthetically; faults apply in front of it.
	ProxyTo string
	// Faults are active from the start.
	Faults []Spec
	// Middleware, when set, wraps the data handler (for example to trace
	// every request). It does not wrap the control API.
	Middleware func(http.Handler) http.Handler
	// OnApplied, when set, is called for every data request, on the
	// request's goroutine and before any fault acts, with the faults that
	// apply to it in the order they will act (empty for a healthy request).
	// r.Context carries what Middleware put there, such as a span. It must
	// return quickly and must not keep applied.
	OnApplied func(r *http.Request, applied []Spec)
	// OnHangEnd, when set, is called on the request's goroutine when a hang
	// stops holding a request that then goes on: endedBy is "hold" when its
	// duration passed and "cleared" when the fault was removed. It is not
	// called when the client gave up or the server closed.
	OnHangEnd func(r *http.Request, held time.Duration, endedBy string)
	// TLS, when set, makes the data listener serve HTTPS with it (the
	// control API stays plain HTTP). Faults act the same over TLS.
	TLS *tls.Config
}

// Server is a running fault-injecting upstream. Create one with New; the
// caller must call Close to stop its listeners and goroutines.
type Server struct {
	cfg         Config
	serviceTime time.Duration
	ln          *switchListener
	ctlLn       net.Listener
	data        *http.Server
	ctl         *http.Server
	proxy       *httputil.ReverseProxy
	transport   *http.Transport
	cancelBase  context.CancelFunc // cancels every request context, on Close

	setMu sync.Mutex // serialises SetFaults

	mu       sync.Mutex // guards the fields below
	rnd      *rand.Rand
	active   []*activeFault
	closed   bool
	handlers sync.WaitGroup // running handlers; Add only under mu while !closed

	serving   sync.WaitGroup // the Serve goroutines
	closeOnce sync.Once
	closeErr  error

	requests atomic.Int64
	injected [len(kindTable)]atomic.Int64
	inFlight atomic.Int64
	peak     atomic.Int64
}

// activeFault is one fault of the active set. release is closed when the
// fault leaves the set, which ends the holds of its hangs.
type activeFault struct {
	spec    Spec
	norm    string
	kind    int
	release chan struct{}
}

// New validates cfg, listens on its addresses at once (so an address in use
// is an error here, not later) and starts serving. The caller must call
// Close.
func New(cfg Config) (*Server, error) {
	if cfg.ServiceTime < 0 {
		return nil, fmt.Errorf("service time %v is negative", cfg.ServiceTime)
	}
	if cfg.Jitter < 0 {
		return nil, fmt.Errorf("jitter %v is negative", cfg.Jitter)
	}
	s := &Server{
		cfg:         cfg,
		serviceTime: cfg.ServiceTime,
		rnd:         rand.New(rand.NewPCG(uint64(cfg.Seed), 0)),
	}
	if s.serviceTime == 0 {
		s.serviceTime = DefaultServiceTime
	}
	if cfg.ProxyTo != "" {
		if err := s.setupProxy(cfg.ProxyTo); err != nil {
			return nil, err
		}
	}
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.ln = newSwitchListener(l)
	if cfg.ControlAddr != "" {
		if s.ctlLn, err = net.Listen("tcp", cfg.ControlAddr); err != nil {
			l.Close()
			return nil, fmt.Errorf("listen for the control API on %s: %w", cfg.ControlAddr, err)
		}
	}

	baseCtx, cancel := context.WithCancel(context.Background())
	s.cancelBase = cancel
	discard := log.New(io.Discard, "", 0)
	var h http.Handler = http.HandlerFunc(s.serveData)
	if cfg.Middleware != nil {
		h = cfg.Middleware(h)
	}
	s.data = &http.Server{
		Handler:     h,
		BaseContext: func(net.Listener) context.Context { return baseCtx },
		ErrorLog:    discard,
	}
	s.SetFaults(cfg.Faults)
	if cfg.TLS != nil {
		s.serve(s.data, tls.NewListener(s.ln, cfg.TLS))
	} else {
		s.serve(s.data, s.ln)
	}
	if s.ctlLn != nil {
		s.ctl = &http.Server{
			Handler:           s.controlHandler(),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          discard,
		}
		s.serve(s.ctl, s.ctlLn)
	}
	return s, nil
}

func (s *Server) serve(srv *http.Server, l net.Listener) {
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		srv.Serve(l) //nolint:errcheck // always ErrServerClosed or a closed listener, after Close
	}()
}

func (s *Server) setupProxy(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("proxy target %q is not an http:// or https:// URL with a host", raw)
	}
	s.transport = http.DefaultTransport.(*http.Transport).Clone()
	s.transport.MaxIdleConnsPerHost = 256
	s.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
		},
		Transport:     s.transport,
		FlushInterval: -1, // stream bodies through as they come
		ErrorLog:      log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client gave up or the server is closing
			}
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": "proxy: " + oneLine(err.Error())})
		},
	}
	return nil
}

// URL returns the data listener's base URL, such as "http://127.0.0.1:8081"
// (https:// with Config.TLS).
func (s *Server) URL() string {
	if s.cfg.TLS != nil {
		return "https://" + s.Addr()
	}
	return "http://" + s.Addr()
}

// Addr returns the data listener's address, host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// ControlURL returns the control API's base URL, or "" when there is none.
func (s *Server) ControlURL() string {
	if s.ctlLn == nil {
		return ""
	}
	return "http://" + s.ctlLn.Addr().String()
}

// Seed returns the seed of the server's random source.
func (s *Server) Seed() int64 { return s.cfg.Seed }

// SetFaults replaces the active faults atomically. A fault equal to one
// already active (same normalised spec) stays the same fault: its held
// requests stay held. Requests held by a hang that is not in specs are
// released at once. Zero Specs are ignored.
func (s *Server) SetFaults(specs []Spec) {
	s.setMu.Lock()
	defer s.setMu.Unlock()

	s.mu.Lock()
	old := s.active
	kept := make([]bool, len(old))
	next := make([]*activeFault, 0, len(specs))
	refusing := false
	for _, sp := range specs {
		if sp.f == nil {
			continue
		}
		norm := sp.String()
		var af *activeFault
		for i, o := range old {
			if !kept[i] && o.norm == norm {
				af, kept[i] = o, true
				break
			}
		}
		if af == nil {
			af = &activeFault{spec: sp, norm: norm, kind: kindIndex(sp.Kind), release: make(chan struct{})}
		}
		refusing = refusing || sp.Kind == "refuse"
		next = append(next, af)
	}
	s.active = next
	s.mu.Unlock()

	for i, o := range old {
		if !kept[i] {
			close(o.release)
		}
	}
	s.ln.setRefusing(refusing)
}

// Faults returns the active faults in the order they are rolled.
func (s *Server) Faults() []Spec {
	s.mu.Lock()
	defer s.mu.Unlock()
	specs := make([]Spec, len(s.active))
	for i, af := range s.active {
		specs[i] = af.spec
	}
	return specs
}

// Stats is a snapshot of the server's counters.
type Stats struct {
	// Requests counts data requests received, faulted or not.
	Requests int64 `json:"requests"`
	// Injected counts, per fault kind, the requests that kind applied to.
	// Every kind is present.
	Injected map[string]int64 `json:"injected"`
	// InFlight is the number of data requests being handled now, and
	// InFlightPeak the most there have been at once.
	InFlight     int64 `json:"in_flight"`
	InFlightPeak int64 `json:"in_flight_peak"`
}

// Stats returns the counters. It reads atomics only, so it is cheap enough
// to call every second while load runs.
func (s *Server) Stats() Stats {
	st := Stats{
		Requests:     s.requests.Load(),
		Injected:     make(map[string]int64, len(kindTable)),
		InFlight:     s.inFlight.Load(),
		InFlightPeak: s.peak.Load(),
	}
	for i := range kindTable {
		st.Injected[kindTable[i].Name] = s.injected[i].Load()
	}
	return st
}

// Close stops both listeners, closes every connection, releases every held
// request at once and waits for the handlers to return. It is safe to call
// more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		// Connections close before held requests are released, so a
		// released request cannot answer on its way out.
		if err := s.data.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.closeErr = err
		}
		s.cancelBase()
		s.ln.Close()
		if s.ctl != nil {
			s.ctl.Close()
		}
		s.serving.Wait()
		s.handlers.Wait()
		if s.transport != nil {
			s.transport.CloseIdleConnections()
		}
	})
	return s.closeErr
}

// enter registers a running handler; it reports false once Close has begun.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.handlers.Add(1)
	return true
}

// raisePeak records n in-flight requests as the peak if it is one.
func (s *Server) raisePeak(n int64) {
	for p := s.peak.Load(); n > p; p = s.peak.Load() {
		if s.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// step is one applied fault's action for one request.
type step struct {
	act     action
	kind    int
	spec    *Spec
	release <-chan struct{}
}

// maxSteps bounds the per-request plan kept on the stack.
const maxSteps = 8

// decide rolls the active faults for a request to path, in the order
// documented in the package comment, and returns the applied steps and the
// healthy service time. All draws happen under one lock so the sequence of
// decisions depends only on the seed and the order of requests.
func (s *Server) decide(path string, steps []step) ([]step, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	answered := false
	for _, af := range s.active {
		if !af.spec.matches(path) {
			continue
		}
		if s.rnd.Float64() >= af.spec.Rate {
			continue
		}
		steps = append(steps, step{act: af.spec.f.plan(s.rnd), kind: af.kind, spec: &af.spec, release: af.release})
		if af.spec.f.answers() {
			answered = true
			break
		}
	}
	var service time.Duration
	if !answered && s.proxy == nil {
		service = uniformJitter(s.rnd, s.serviceTime, s.cfg.Jitter)
	}
	return steps, service
}

// healthyBody is the synthetic response body.
const healthyBody = `{"status":"ok"}` + "\n"

func (s *Server) serveData(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		panic(http.ErrAbortHandler)
	}
	defer s.handlers.Done()
	s.requests.Add(1)
	s.raisePeak(s.inFlight.Add(1))
	defer s.inFlight.Add(-1)

	var buf [maxSteps]step
	steps, service := s.decide(r.URL.Path, buf[:0])
	for _, st := range steps {
		s.injected[st.kind].Add(1)
	}
	if s.cfg.OnApplied != nil {
		applied := make([]Spec, len(steps))
		for i, st := range steps {
			applied[i] = *st.spec
		}
		s.cfg.OnApplied(r, applied)
	}
	if len(steps) > 0 {
		names := make([]string, len(steps))
		for i, st := range steps {
			names[i] = kindTable[st.kind].Name
		}
		w.Header().Set(FaultHeader, strings.Join(names, ","))
	}

	rc := &reqCtx{w: w, r: r, onHangEnd: s.cfg.OnHangEnd}
	for _, st := range steps {
		rc.release = st.release
		if st.act.act(rc) {
			return
		}
	}
	out := w
	if rc.wrap != nil {
		out = rc.wrap(w)
	}
	if s.proxy != nil {
		s.proxy.ServeHTTP(out, r)
		return
	}
	if !rc.wait(service) {
		return
	}
	body := healthyBody
	if pad := int(rc.size) - len(body); pad > 0 {
		// Trailing whitespace keeps the padded body valid JSON.
		body = healthyBody[:len(healthyBody)-1] + strings.Repeat(" ", pad) + "\n"
	}
	out.Header().Set("Content-Type", "application/json")
	out.Header().Set("Content-Length", strconv.Itoa(len(body)))
	out.WriteHeader(http.StatusOK)
	io.WriteString(out, body) //nolint:errcheck // the client may be gone
}
