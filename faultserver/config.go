package faultserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/cbload/cbload/internal/field"
)

// DefaultServiceTime is the healthy service time when Config.ServiceTime is
// zero.
const DefaultServiceTime = 2 * time.Millisecond

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
	// With GRPC it is a gRPC backend, grpc://host:port (see grpcproxy.go).
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
	// HTTP/1: any method answered with an empty message, or forwarded to
	// ProxyTo, faults in gRPC's terms (see grpc.go). Not with TLS or
	// Concurrency.
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
			return field.Invalid(PathControlHosts, fmt.Sprintf("control host %q", h), "want a host name or IP without port, like myhost.internal")
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
	case cfg.GRPC && (cfg.TLS != nil || cfg.Concurrency > 0):
		return errors.New("grpc: the gRPC upstream serves plain HTTP/2 with unbounded capacity; TLS and concurrency are for the HTTP upstream")
	}
	if err := checkFaults(cfg.Faults, cfg); err != nil {
		return err
	}
	switch {
	case cfg.ProxyTo != "" && cfg.GRPC:
		if _, err := parseGRPCProxyURL(cfg.ProxyTo); err != nil {
			return err
		}
	case cfg.ProxyTo != "":
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
		switch {
		case !cfg.GRPC && sp.Kind == "grpc-error":
			return fmt.Errorf("fault %q: grpc-error needs a gRPC upstream (--grpc)", sp.String())
		case cfg.ProxyTo != "" && sp.Kind == "slowdown":
			return fmt.Errorf("fault %q: slowdown scales the synthetic service time, and proxy mode has none", sp.String())
		case cfg.TLS == nil && sp.Kind == "tls":
			return fmt.Errorf("fault %q: tls faults need an HTTPS upstream (--upstream-tls)", sp.String())
		}
		if cfg.GRPC {
			if err := CheckGRPC(sp); err != nil {
				return err
			}
		}
	}
	return nil
}

// CheckGRPC reports why sp cannot act on a gRPC upstream (Config.GRPC):
// its kind acts on HTTP only (see GRPCKinds), or it is a truncate with
// framing= or a size= over MaxGRPCMessage.
func CheckGRPC(sp Spec) error {
	if def := kindIndex(sp.Kind); def >= 0 && !kindTable[def].grpcOK {
		return fmt.Errorf("fault %q: %s is an HTTP fault; a gRPC upstream takes %s", sp.String(), sp.Kind, grpcKindNames())
	}
	if t, ok := sp.f.(truncate); ok {
		if t.chunked {
			return fmt.Errorf("fault %q: framing= is for HTTP answers; over gRPC truncate cuts the message, with no framing choice", sp.String())
		}
		if t.size > MaxGRPCMessage {
			return fmt.Errorf("fault %q: size %s is over %s, the largest message a gRPC client takes by default; want a smaller size=", sp.String(), formatBytes(t.size), formatBytes(MaxGRPCMessage))
		}
	}
	return nil
}

// The paths of the control API's settings in the errors of Validate,
// NewClient and CheckToken (see field.Error).
const (
	PathControlURL   = "control.url"
	PathControlToken = "control.token"
	PathControlHosts = "control.hosts"
)

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
				return &field.Error{Paths: []string{PathControlToken}, Detail: "control token is only whitespace: want printable characters, or no token"}
			}
			return &field.Error{Paths: []string{PathControlToken}, Detail: "control token holds whitespace or control characters: want printable characters only"}
		}
	}
	return nil
}

// or returns d, or def when d is zero.
func or[T comparable](d, def T) T {
	var zero T
	if d == zero {
		return def
	}
	return d
}
