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
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/cbload/cbload/internal/pool"
)

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
	grpcLn           *grpcListener          // with Config.GRPC: its connections, for reset and truncate
	grpcBackend      *grpc.ClientConn       // with Config.GRPC and ProxyTo: the backend, see grpcproxy.go
	cutMsg           atomic.Pointer[[]byte] // the last message truncate sent over gRPC, see paddedMessage
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
	switch {
	case cfg.ProxyTo != "" && cfg.GRPC:
		if err := s.setupGRPCProxy(cfg.ProxyTo); err != nil {
			return nil, err
		}
	case cfg.ProxyTo != "":
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
		s.grpcLn = newGRPCListener(dataLn)
		s.serving.Add(1)
		go func() {
			defer s.serving.Done()
			s.grpc.Serve(s.grpcLn) //nolint:errcheck // returns once Stop closed the listener
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
		if s.grpcBackend != nil {
			s.grpcBackend.Close() // after the handlers: no call uses it now
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
