package faultserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
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
	"unicode"

	"github.com/cbload/cbload/internal/pool"
)

// DefaultServiceTime is the healthy service time when Config.ServiceTime is
// zero.
const DefaultServiceTime = 2 * time.Millisecond

// FaultHeader is the response header naming the faults applied to a request,
// comma-separated in the order they acted, e.g. "latency,error".
const FaultHeader = "X-Cbload-Fault"

// BackendErrorHeader, in proxy mode, marks a 502 the server answered because
// the forward to the backend failed; it carries the reason. Such a response
// has no FaultHeader: the failure is the backend's, not an injected fault.
const BackendErrorHeader = "X-Cbload-Backend-Error"

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
	// return quickly and must not keep applied. With GRPC it is called
	// for every call, r standing for it: r.URL.Path is the full method
	// name and r.Context the call's.
	OnApplied func(r *http.Request, applied []Spec)
	// OnHangEnd, when set, is called on the request's goroutine when a hang
	// stops holding a request that then goes on: endedBy is "hold" when its
	// duration passed and "cleared" when the fault was removed. It is not
	// called when the client gave up or the server closed.
	OnHangEnd func(r *http.Request, held time.Duration, endedBy string)

	// Concurrency, when above zero, gives the synthetic upstream finite
	// capacity: at most Concurrency requests are worked on at once, each
	// holding a worker for its service time (scaled by slowdown faults);
	// up to Queue more wait in line, first come first served; beyond that a
	// request is answered 503 at once (Stats.Rejected). Zero keeps the
	// unbounded upstream, whose work stops when the caller gives up. Not in
	// proxy mode.
	Concurrency int
	// Queue is the most requests that wait for a worker; zero means none
	// wait. It needs Concurrency.
	Queue int
	// HonorCancel makes queued and running work stop when its caller gives
	// up (Stats.Abandoned). By default it does not: the work is done in
	// full for nobody (Stats.CompletedForGone), as a server that cannot
	// see its callers leave does, which is what sustains a metastable
	// failure. It needs Concurrency.
	HonorCancel bool

	// ControlHosts are extra host names (without port) the control API
	// accepts in the Host header when ControlToken is empty. Without a
	// token it accepts only loopback hosts (localhost, 127.0.0.0/8, ::1),
	// the control listener's own IP and these, so that a web page cannot
	// reach it through DNS rebinding.
	ControlHosts []string

	// Slow-client protections; a zero field takes its Default* value (see
	// limits.go). ReadHeaderTimeout, ReadTimeout and IdleTimeout apply to
	// both listeners, the control listener's read timeouts being capped at
	// ControlTimeout. StallTimeout, on the data listener, closes a
	// connection whose client has taken none of its response for that long
	// (at least 16 KiB must go per StallTimeout); it bounds no response's
	// total time. MaxConns and ControlMaxConns cap the open connections of
	// each listener; a connection beyond the cap is closed as soon as it is
	// accepted.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration
	StallTimeout      time.Duration
	MaxConns          int
	ControlMaxConns   int

	// ProxyDial, when set, dials the backend in proxy mode, so the caller
	// can decide which addresses it may reach.
	ProxyDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLS, when set, makes the data listener serve HTTPS with it (the
	// control API stays plain HTTP). Faults act the same over TLS.
	TLS *tls.Config
	// GRPC makes the data listener serve gRPC (plain HTTP/2) instead of
	// HTTP/1: any method answered with an empty message, faults in gRPC's
	// terms (see grpc.go). Not with ProxyTo, TLS or Concurrency.
	GRPC bool
}

// Validate reports the first field of cfg that New would reject, as one
// line naming the field and the accepted form.
func (cfg *Config) Validate() error {
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"service time", cfg.ServiceTime}, {"jitter", cfg.Jitter},
		{"read header timeout", cfg.ReadHeaderTimeout}, {"read timeout", cfg.ReadTimeout},
		{"idle timeout", cfg.IdleTimeout}, {"stall timeout", cfg.StallTimeout},
	}
	for _, d := range durations {
		if d.d < 0 || d.d > MaxDuration {
			return fmt.Errorf("%s %v: want a duration from 0 to the limit of %s", d.name, d.d, shortDuration(MaxDuration))
		}
	}
	caps := []struct {
		name string
		n    int
	}{{"max conns", cfg.MaxConns}, {"control max conns", cfg.ControlMaxConns}}
	for _, c := range caps {
		if c.n < 0 || c.n > MaxConnsLimit {
			return fmt.Errorf("%s %d: want a count from 1 to the limit of %d (0 for the default)", c.name, c.n, MaxConnsLimit)
		}
	}
	if err := CheckToken(cfg.ControlToken); err != nil {
		return err
	}
	for _, h := range cfg.ControlHosts {
		if net.ParseIP(h) == nil && (h == "" || strings.ContainsAny(h, " \t\r\n:/[]")) {
			return fmt.Errorf("control host %q: want a host name or IP without port, like myhost.internal", h)
		}
	}
	switch {
	case cfg.Concurrency < 0 || cfg.Concurrency > MaxConcurrency:
		return fmt.Errorf("concurrency %d: want a number of workers from 0 (unbounded) to the limit of %d", cfg.Concurrency, MaxConcurrency)
	case cfg.Queue < 0 || cfg.Queue > MaxQueue:
		return fmt.Errorf("queue %d: want a length from 0 to the limit of %d", cfg.Queue, MaxQueue)
	case cfg.Concurrency == 0 && (cfg.Queue > 0 || cfg.HonorCancel):
		return errors.New("queue and honor-cancel need a concurrency above zero")
	case cfg.Concurrency > 0 && cfg.ProxyTo != "":
		return errors.New("concurrency models the synthetic upstream: in proxy mode the backend's own capacity applies")
	case cfg.GRPC && (cfg.ProxyTo != "" || cfg.TLS != nil || cfg.Concurrency > 0):
		return errors.New("grpc: the gRPC upstream answers synthetically over plain HTTP/2; proxy, TLS and concurrency are for the HTTP upstream")
	}
	if err := checkFaults(cfg.Faults, cfg); err != nil {
		return err
	}
	if cfg.ProxyTo != "" {
		if _, err := parseProxyURL(cfg.ProxyTo); err != nil {
			return err
		}
	}
	return nil
}

// checkFaults reports why specs cannot be the active set of a server with
// cfg: too many, a slowdown in proxy mode, where there is no service time
// to scale, a tls fault on a plain HTTP upstream, or a kind that does not
// fit the protocol (HTTP or gRPC).
func checkFaults(specs []Spec, cfg *Config) error {
	if len(specs) > MaxFaults {
		return fmt.Errorf("%d faults, over the limit of %d", len(specs), MaxFaults)
	}
	for _, sp := range specs {
		def := kindIndex(sp.Kind)
		switch {
		case cfg.GRPC && def >= 0 && !kindTable[def].grpcOK:
			return fmt.Errorf("fault %q: %s is an HTTP fault; a gRPC upstream takes %s", sp.String(), sp.Kind, grpcKindNames())
		case !cfg.GRPC && sp.Kind == "grpc-error":
			return fmt.Errorf("fault %q: grpc-error needs a gRPC upstream (--grpc)", sp.String())
		case cfg.ProxyTo != "" && sp.Kind == "slowdown":
			return fmt.Errorf("fault %q: slowdown scales the synthetic service time, and proxy mode has none", sp.String())
		case cfg.TLS == nil && sp.Kind == "tls":
			return fmt.Errorf("fault %q: tls faults need an HTTPS upstream (--upstream-tls)", sp.String())
		}
	}
	return nil
}

// CheckToken rejects a control token that no client could send as is: one
// that is blank or holds whitespace or control characters (header values
// lose their surrounding whitespace on the way). The empty token, none, is
// accepted.
func CheckToken(tok string) error {
	if tok == "" {
		return nil
	}
	for _, r := range tok {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			if strings.TrimSpace(tok) == "" {
				return errors.New("control token is only whitespace: want printable characters, or no token")
			}
			return errors.New("control token holds whitespace or control characters: want printable characters only")
		}
	}
	return nil
}

func parseProxyURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("proxy target %q is not an http:// or https:// URL with a host", raw)
	}
	return u, nil
}

// or returns d, or def when d is zero.
func or[T comparable](d, def T) T {
	var zero T
	if d == zero {
		return def
	}
	return d
}

// Server is a running fault-injecting upstream. Create one with New; the
// caller must call Close to stop its listeners and goroutines.
type Server struct {
	cfg          Config
	serviceTime  time.Duration
	readTimeout  time.Duration
	stallTimeout time.Duration
	ln           *switchListener
	ctlLn        net.Listener
	ctlIP        net.IP // the control listener's IP, accepted as a Host
	data         *http.Server
	ctl          *http.Server
	proxy        *httputil.ReverseProxy
	transport    *http.Transport
	cancelBase   context.CancelFunc // cancels every request context, on Close
	pool         *capacity          // nil: unbounded (Config.Concurrency 0)

	setMu     sync.Mutex // serialises SetFaults
	resetting bool       // a reset, empty or tls fault is active, so keep-alive is off; guarded by setMu

	mu       sync.Mutex // guards the fields below
	rnd      *rand.Rand
	active   []*activeFault
	closed   bool
	handlers sync.WaitGroup // running handlers; Add only under mu while !closed

	serving   sync.WaitGroup // the Serve goroutines
	conns     sync.WaitGroup // open connections of both listeners, until net/http is done with them
	closeOnce sync.Once
	closeErr  error

	requests         atomic.Int64
	completed        atomic.Int64 // synthetic work done without capacity; see capacity for the rest
	backendErrors    atomic.Int64
	backend5xx       atomic.Int64
	grpc             *grpcServer // with Config.GRPC; see grpc.go
	grpcCalls        grpcCounts
	connsRejected    atomic.Int64
	ctlConnsRejected atomic.Int64
	injected         [len(kindTable)]atomic.Int64
	inFlight         pool.Gauge   // data requests being handled, and their peak
	heldBytes        atomic.Int64 // request bodies kept for the forward, see body.go
}

// activeFault is one fault of the active set, named when it was added by
// AddFault. release is closed when the fault leaves the set, which ends the
// holds of its hangs.
type activeFault struct {
	name    string
	spec    Spec
	norm    string
	kind    int
	release chan struct{}
}

// New validates cfg, listens on its addresses at once (so an address in use
// is an error here, not later) and starts serving. The caller must call
// Close.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
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
	dataLn := newCapListener(s.ln, or(cfg.MaxConns, DefaultMaxConns), &s.connsRejected)
	var ctlLn net.Listener
	if cfg.ControlAddr != "" {
		if s.ctlLn, err = net.Listen("tcp", cfg.ControlAddr); err != nil {
			l.Close()
			return nil, fmt.Errorf("listen for the control API on %s: %w", cfg.ControlAddr, err)
		}
		if tcp, ok := s.ctlLn.Addr().(*net.TCPAddr); ok {
			s.ctlIP = tcp.IP
		}
		ctlLn = newCapListener(s.ctlLn, or(cfg.ControlMaxConns, DefaultControlMaxConns), &s.ctlConnsRejected)
	}

	baseCtx, cancel := context.WithCancel(context.Background())
	s.cancelBase = cancel
	if cfg.Concurrency > 0 {
		s.pool = newCapacity(cfg.Concurrency, cfg.Queue, cfg.HonorCancel, baseCtx)
	}
	discard := log.New(io.Discard, "", 0)
	var h http.Handler = http.HandlerFunc(s.serveData)
	if cfg.Middleware != nil {
		h = cfg.Middleware(h)
	}
	readHeader := or(cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	idle := or(cfg.IdleTimeout, DefaultIdleTimeout)
	s.readTimeout = or(cfg.ReadTimeout, DefaultReadTimeout)
	s.stallTimeout = or(cfg.StallTimeout, DefaultStallTimeout)
	// No WriteTimeout: slowbody trickles a response for as long as its
	// size and bandwidth say; stallWriter cuts clients that stop reading
	// instead. ReadTimeout is safe with hang: net/http lifts the read
	// deadline once the body is read.
	s.data = &http.Server{
		Handler:           h,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ErrorLog:          discard,
		ReadHeaderTimeout: readHeader,
		ReadTimeout:       s.readTimeout,
		IdleTimeout:       idle,
		ConnState:         s.trackConn,
	}
	s.SetFaults(cfg.Faults) //nolint:errcheck // Validate checked them
	switch {
	case cfg.GRPC:
		s.grpc = s.newGRPC()
		s.serving.Add(1)
		go func() {
			defer s.serving.Done()
			s.grpc.Serve(dataLn) //nolint:errcheck // returns once Stop closed the listener
		}()
	case cfg.TLS != nil:
		tcfg, err := s.newTLSFaults(cfg.TLS)
		if err != nil {
			cancel()
			l.Close()
			if s.ctlLn != nil {
				s.ctlLn.Close()
			}
			return nil, err
		}
		s.serve(s.data, tls.NewListener(dataLn, tcfg))
	default:
		s.serve(s.data, dataLn)
	}
	if ctlLn != nil {
		s.ctl = &http.Server{
			Handler:           s.controlHandler(),
			ErrorLog:          discard,
			ReadHeaderTimeout: min(readHeader, ControlTimeout),
			ReadTimeout:       min(s.readTimeout, ControlTimeout),
			WriteTimeout:      ControlTimeout,
			IdleTimeout:       idle,
			ConnState:         s.trackConn,
		}
		s.serve(s.ctl, ctlLn)
	}
	return s, nil
}

// trackConn counts connections from accept until net/http lets go of them,
// so Close can wait for the ones lingering after a "Connection: close"
// answer (net/http waits up to 500ms there before closing).
func (s *Server) trackConn(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		s.conns.Add(1)
	case http.StateClosed, http.StateHijacked:
		s.conns.Done()
	}
}

func (s *Server) serve(srv *http.Server, l net.Listener) {
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		srv.Serve(l) //nolint:errcheck // always ErrServerClosed or a closed listener, after Close
	}()
}

func (s *Server) setupProxy(raw string) error {
	u, err := parseProxyURL(raw)
	if err != nil {
		return err
	}
	s.transport = http.DefaultTransport.(*http.Transport).Clone()
	s.transport.MaxIdleConnsPerHost = 256
	if s.cfg.ProxyDial != nil {
		s.transport.DialContext = s.cfg.ProxyDial
	}
	// A ReverseProxy never follows redirects: a 3xx from the backend goes
	// back to the client as it is.
	s.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
		},
		Transport:     s.transport,
		FlushInterval: -1, // stream bodies through as they come
		ErrorLog:      log.New(io.Discard, "", 0),
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode >= 500 {
				s.backend5xx.Add(1)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client gave up or the server is closing
			}
			s.backendErrors.Add(1)
			// The failure is the backend's: answer at once, not trickled
			// by slowbody nor cut by truncate, and without naming the
			// faults that applied.
			w = unwrapFaults(w)
			msg := "proxy: " + oneLine(err.Error())
			w.Header().Del(FaultHeader)
			w.Header().Set(BackendErrorHeader, msg)
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": msg})
		},
	}
	return nil
}

// URL returns the data listener's base URL, such as "http://127.0.0.1:8081"
// (https:// with Config.TLS, grpc:// with Config.GRPC).
func (s *Server) URL() string {
	if s.cfg.GRPC {
		return "grpc://" + s.Addr()
	}
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

// SetFaults replaces the active faults atomically, named ones included
// (the new ones have no name). A fault equal to an unnamed one already
// active (same normalised spec) stays the same fault: its held requests
// stay held. Requests held by a hang that is not in specs are released at
// once. Zero Specs are ignored. More than MaxFaults specs, or a slowdown in
// proxy mode, are an error, and the active set is left as it was.
func (s *Server) SetFaults(specs []Spec) error {
	if err := checkFaults(specs, &s.cfg); err != nil {
		return err
	}
	return s.update(func(old []*activeFault) ([]*activeFault, error) {
		kept := make([]bool, len(old))
		next := make([]*activeFault, 0, len(specs))
		for _, sp := range specs {
			if sp.f == nil {
				continue
			}
			norm := sp.String()
			var af *activeFault
			for i, o := range old {
				if !kept[i] && o.name == "" && o.norm == norm {
					af, kept[i] = o, true
					break
				}
			}
			if af == nil {
				af = newActiveFault("", sp)
			}
			next = append(next, af)
		}
		return next, nil
	})
}

func newActiveFault(name string, sp Spec) *activeFault {
	return &activeFault{name: name, spec: sp, norm: sp.String(), kind: kindIndex(sp.Kind), release: make(chan struct{})}
}

// update replaces the active set with what build makes of the current one,
// then releases the holds of the faults that left it and switches the
// listener for refuse and keep-alive for reset. build runs under the lock
// that request decisions take: it must only compute. When it fails, the
// set stays as it was.
func (s *Server) update(build func(old []*activeFault) ([]*activeFault, error)) error {
	s.setMu.Lock()
	defer s.setMu.Unlock()

	s.mu.Lock()
	old := s.active
	next, err := build(old)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	s.active = next
	s.mu.Unlock()

	stays := make(map[*activeFault]bool, len(next))
	refusing, resetting := false, false
	for _, af := range next {
		stays[af] = true
		refusing = refusing || af.spec.Kind == "refuse"
		resetting = resetting || (kindTable[af.kind].noKeepAlive && af.spec.Rate > 0)
	}
	for _, o := range old {
		if !stays[o] {
			close(o.release)
		}
	}
	s.ln.setRefusing(refusing)
	if resetting != s.resetting {
		// See reset.go: with keep-alive off every request comes on a
		// fresh connection, so no client takes a reset for a stale
		// keep-alive connection, and a tls fault acts on every request.
		// Turning it off also closes the idle connections.
		s.resetting = resetting
		s.data.SetKeepAlivesEnabled(!resetting)
	}
	return nil
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
	// Injected counts, per fault kind, the requests that kind applied to,
	// counted when the request arrives. In proxy mode slowbody is counted
	// when the backend's answer starts to trickle, and not at all when the
	// forward failed. Every kind is present.
	Injected map[string]int64 `json:"injected"`
	// InFlight is the number of data requests being handled now, and
	// InFlightPeak the most there have been at once.
	InFlight     int64 `json:"in_flight"`
	InFlightPeak int64 `json:"in_flight_peak"`
	// Completed counts synthetic requests whose work (the service time)
	// was done; CompletedForGone those of them whose caller had already
	// gone, work done for nobody (only with Config.Concurrency, since
	// otherwise work stops when the caller goes). Completed minus
	// CompletedForGone is the goodput the upstream delivered.
	Completed        int64 `json:"completed"`
	CompletedForGone int64 `json:"completed_for_gone"`
	// With Config.Concurrency: QueueLen and BusyWorkers are the requests
	// waiting for a worker and being worked on now; Rejected counts
	// requests answered 503 because the queue was full; Abandoned counts
	// work dropped because its caller left (Config.HonorCancel).
	QueueLen    int64 `json:"queue_len"`
	BusyWorkers int64 `json:"busy_workers"`
	Rejected    int64 `json:"rejected"`
	Abandoned   int64 `json:"abandoned"`
	// BackendErrors counts, in proxy mode, forwards that failed before the
	// backend answered (unreachable, reset, timed out), answered 502 with
	// BackendErrorHeader; Backend5xx counts 5xx answers from the backend
	// itself, passed through. Neither is an injected fault.
	BackendErrors int64 `json:"backend_errors"`
	Backend5xx    int64 `json:"backend_5xx"`
	// ConnsRejected and ControlConnsRejected count connections closed at
	// once because the data or control listener was at its connection cap.
	ConnsRejected        int64 `json:"conns_rejected"`
	ControlConnsRejected int64 `json:"control_conns_rejected"`
	// GRPC counts, with Config.GRPC, the calls by full method name and
	// status code name ("/shop.Payments/Charge": {"OK": 10,
	// "UNAVAILABLE": 4}); methods beyond the 256th are counted together
	// as "(other)".
	GRPC map[string]map[string]int64 `json:"grpc,omitempty"`
}

// Sub returns the counters of st minus those of prev, an earlier snapshot
// of the same server: what happened between the two, such as during one
// phase. The gauges (InFlight, InFlightPeak, QueueLen, BusyWorkers) are
// st's own: a gauge or a peak cannot be split.
func (st Stats) Sub(prev Stats) Stats {
	d := st
	d.Requests -= prev.Requests
	d.Injected = make(map[string]int64, len(st.Injected))
	for k, v := range st.Injected {
		d.Injected[k] = v - prev.Injected[k]
	}
	d.Completed -= prev.Completed
	d.CompletedForGone -= prev.CompletedForGone
	d.Rejected -= prev.Rejected
	d.Abandoned -= prev.Abandoned
	d.BackendErrors -= prev.BackendErrors
	d.Backend5xx -= prev.Backend5xx
	d.ConnsRejected -= prev.ConnsRejected
	d.ControlConnsRejected -= prev.ControlConnsRejected
	if st.GRPC != nil {
		d.GRPC = make(map[string]map[string]int64, len(st.GRPC))
		for m, byCode := range st.GRPC {
			c := make(map[string]int64, len(byCode))
			for k, v := range byCode {
				c[k] = v - prev.GRPC[m][k]
			}
			d.GRPC[m] = c
		}
	}
	return d
}

// Stats returns the counters. It reads atomics only, so it is cheap enough
// to call every second while load runs.
func (s *Server) Stats() Stats {
	st := Stats{
		Requests:     s.requests.Load(),
		Injected:     make(map[string]int64, len(kindTable)),
		InFlight:     s.inFlight.Load(),
		InFlightPeak: s.inFlight.Peak(),

		Completed:            s.completed.Load(),
		BackendErrors:        s.backendErrors.Load(),
		Backend5xx:           s.backend5xx.Load(),
		ConnsRejected:        s.connsRejected.Load(),
		ControlConnsRejected: s.ctlConnsRejected.Load(),
		GRPC:                 s.grpcCalls.snapshot(),
	}
	for i := range kindTable {
		st.Injected[kindTable[i].Name] = s.injected[i].Load()
	}
	if c := s.pool; c != nil {
		st.Completed += c.completed.Load()
		st.CompletedForGone = c.completedForGone.Load()
		st.QueueLen = c.workers.Waiting()
		st.BusyWorkers = c.workers.Busy()
		st.Rejected = c.rejected.Load()
		st.Abandoned = c.abandoned.Load()
	}
	return st
}

// TakeQueuePeak returns the most requests that waited at once for a worker
// (Config.Concurrency) since its last call — since the server started, the
// first time — and starts the next period from the number waiting now.
// Called once a second it gives the queue's peak per second, which a
// snapshot of Stats.QueueLen would miss. Without Config.Concurrency there
// is no queue and it returns 0.
func (s *Server) TakeQueuePeak() int64 {
	if s.pool == nil {
		return 0
	}
	return s.pool.takeQueuePeak()
}

// Close stops both listeners, closes every connection, releases every held
// request at once and waits for the handlers to return and for net/http to
// let go of every connection (up to 500ms after a "Connection: close"
// answer). It is safe to call more than once.
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
		if s.grpc != nil {
			s.grpc.Stop() // closes its connections and cancels its calls
		}
		s.ln.Close()
		if s.ctl != nil {
			s.ctl.Close()
		}
		s.serving.Wait()
		s.handlers.Wait()
		s.conns.Wait()
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
		if kindTable[af.kind].perConn || !af.spec.matches(path) {
			continue // handshake faults are rolled per connection, in rollTLS
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
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	w = newStallWriter(w, s.stallTimeout)

	var buf [maxSteps]step
	steps, service := s.decide(r.URL.Path, buf[:0])
	for _, st := range steps {
		if s.proxy != nil && st.kind == slowBodyKind {
			continue // counted by the slow writer, see Stats.Injected
		}
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

	rc := &reqCtx{w: w, r: r, onHangEnd: s.cfg.OnHangEnd, slowdown: 1}
	if s.proxy != nil {
		rc.onSlowStart = func() { s.injected[slowBodyKind].Add(1) }
	}
	if s.readsBody(steps) {
		var bps int64
		for _, st := range steps {
			if u, ok := st.act.(slowUpload); ok {
				bps = u.bps // the first applied slowupload sets the pace
				break
			}
		}
		ok := s.readBody(rc, bps)
		defer func() { s.heldBytes.Add(-rc.heldBody) }()
		if !ok {
			// Returning would answer an implicit 200; abort instead,
			// so net/http closes the connection.
			panic(http.ErrAbortHandler)
		}
	}
	if s.proxy != nil && r.Body != http.NoBody && len(steps) > 0 && !rc.bodyRead {
		// The forward reads the rest of a body too large to keep, after
		// the faults act; they may hold the request longer than the read
		// timeout. Lift the deadline while they act and set it again for
		// the forward, or for the server's own discard of an unread body.
		ctl := http.NewResponseController(w)
		ctl.SetReadDeadline(time.Time{}) //nolint:errcheck // a plain HTTP/1 conn always supports it
		armed := false
		rc.bodyDeadline = func() {
			if !armed {
				armed = true
				ctl.SetReadDeadline(time.Now().Add(s.readTimeout)) //nolint:errcheck // as above
			}
		}
		defer rc.bodyDeadline()
	}
	for _, st := range steps {
		rc.release = st.release
		if st.act.act(rc) {
			return
		}
	}
	out := w
	for _, wrap := range rc.wraps {
		out = wrap(out)
	}
	defer func() {
		for _, f := range rc.after {
			f()
		}
	}()
	if s.proxy != nil {
		if rc.bodyDeadline != nil {
			rc.bodyDeadline()
		}
		s.proxy.ServeHTTP(out, r)
		return
	}
	if rc.slowdown > 1 {
		service = scaleDuration(service, rc.slowdown)
	}
	answer := writeHealthy
	if rc.answer != nil {
		answer = rc.answer
	}
	if s.pool != nil {
		s.pool.serve(out, r, service, rc.size, answer)
		return
	}
	if !rc.wait(service) {
		return
	}
	s.completed.Add(1)
	answer(out, rc.size)
}

// scaleDuration returns d times f, clamped to the longest Duration.
func scaleDuration(d time.Duration, f float64) time.Duration {
	return time.Duration(min(float64(d)*f, float64(math.MaxInt64)))
}

// faultWriter marks the writers faults wrap a response in.
type faultWriter interface {
	http.ResponseWriter
	faultWrapped() http.ResponseWriter
}

// unwrapFaults returns the writer under every fault's wrapper.
func unwrapFaults(w http.ResponseWriter) http.ResponseWriter {
	for {
		fw, ok := w.(faultWriter)
		if !ok {
			return w
		}
		w = fw.faultWrapped()
	}
}

// padding is what a padded synthetic body is streamed from, a piece at a
// time, so that no body is ever built in memory.
var padding = bytes.Repeat([]byte(" "), 32<<10)

// writeHealthy answers 200 with the synthetic body, padded to size bytes
// when size is larger. The padding is trailing whitespace, so the body stays
// valid JSON.
func writeHealthy(w http.ResponseWriter, size int64) {
	n := max(size, int64(len(healthyBody)))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(http.StatusOK)
	if n == int64(len(healthyBody)) {
		io.WriteString(w, healthyBody) //nolint:errcheck // the client may be gone
		return
	}
	if _, err := io.WriteString(w, healthyBody[:len(healthyBody)-1]); err != nil {
		return
	}
	for pad := n - int64(len(healthyBody)); pad > 0; {
		k := min(pad, int64(len(padding)))
		if _, err := w.Write(padding[:k]); err != nil {
			return // the client is gone
		}
		pad -= k
	}
	io.WriteString(w, "\n") //nolint:errcheck // the client may be gone
}
