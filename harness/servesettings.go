package harness

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/internal/field"
)

// ServeSettings are the settings of a standalone upstream (cbload serve),
// as given. Config checks them and returns the upstream's configuration.
// Errors are *field.Error named by the flag that gives the setting.
type ServeSettings struct {
	Addr         string // the data listener, host:port
	ControlAddr  string // the control API's listener; "" for none
	ControlToken string
	ControlHosts []string
	AllowRemote  string // CIDR ranges besides loopback, comma-separated
	ServiceTime  time.Duration
	Jitter       time.Duration
	ProxyTo      string // a backend's URL: http, https or grpc
	GRPC         bool
	MetricsAddr  string // the Prometheus listener; "" for none
	OTLPEndpoint string
	OTLPProtocol string

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration
	StallTimeout      time.Duration
	MaxConns          int
	ControlMaxConns   int

	Concurrency int
	Queue       int
	HonorCancel bool
}

// Config checks s and returns the upstream's configuration, with seed and
// the faults active from the start. A proxy's backend is dialled only
// within the allowed ranges; a grpc:// backend makes it a gRPC upstream.
func (s *ServeSettings) Config(seed int64, faults []faultserver.Spec) (faultserver.Config, error) {
	var cfg faultserver.Config
	switch {
	case s.ServiceTime <= 0 || s.ServiceTime > faultserver.MaxDuration:
		return cfg, field.InvalidValue("upstream.service_time", "--service-time", "%v: want a positive duration like 2ms, up to the limit of 1h", s.ServiceTime)
	case s.Jitter < 0 || s.Jitter > faultserver.MaxDuration:
		return cfg, field.InvalidValue("upstream.jitter", "--jitter", "%v: want a duration of zero or more, up to the limit of 1h", s.Jitter)
	}
	// The same rule as cbload run's: this machine's loopback, and other
	// addresses only in ranges the user names.
	var allow AllowList
	if s.AllowRemote != "" {
		var err error
		if allow, err = ParseAllowList(s.AllowRemote); err != nil {
			return cfg, field.InvalidValue("allow_remote", "--allow-remote", "%w", err)
		}
	}
	grpc := s.GRPC
	if s.ProxyTo != "" {
		u, err := url.Parse(s.ProxyTo)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "grpc") || u.Host == "" {
			return cfg, field.InvalidValue("proxy_to", "--proxy-to", "%q: want an http:// or https:// URL with a host, or grpc://host:port", RedactURL(s.ProxyTo))
		}
		grpc = grpc || u.Scheme == "grpc" // a gRPC backend is served as gRPC
		if err := CheckPort(s.ProxyTo); err != nil {
			return cfg, field.InvalidValue("proxy_to", "--proxy-to", "%w", err)
		}
		if err := allow.CheckHost(u.Hostname()); err != nil {
			return cfg, field.InvalidValue("proxy_to", "--proxy-to", "%q: %w", RedactURL(s.ProxyTo), err)
		}
	}
	if err := CheckListenAddr("addr", "--addr", s.Addr, allow); err != nil {
		return cfg, err
	}
	if s.ControlAddr != "" {
		if err := CheckListenAddr("control.addr", "--control-addr", s.ControlAddr, allow); err != nil {
			return cfg, err
		}
	}
	if err := CheckMetricsAddr(s.MetricsAddr, allow); err != nil {
		return cfg, err
	}
	if err := CheckOTLP(s.OTLPEndpoint, s.OTLPProtocol); err != nil {
		return cfg, err
	}
	for _, f := range []struct {
		path, flag string
		d          time.Duration
	}{
		{"read_header_timeout", "--read-header-timeout", s.ReadHeaderTimeout}, {"read_timeout", "--read-timeout", s.ReadTimeout},
		{"idle_timeout", "--idle-timeout", s.IdleTimeout}, {"stall_timeout", "--stall-timeout", s.StallTimeout},
	} {
		if f.d <= 0 || f.d > faultserver.MaxDuration {
			return cfg, field.InvalidValue(f.path, f.flag, "%v: want a positive duration up to the limit of 1h", f.d)
		}
	}
	for _, f := range []struct {
		path, flag string
		n          int
	}{{"max_conns", "--max-conns", s.MaxConns}, {"control.max_conns", "--control-max-conns", s.ControlMaxConns}} {
		if f.n < 1 || f.n > faultserver.MaxConnsLimit {
			return cfg, field.InvalidValue(f.path, f.flag, "%d: want a count from 1 to the limit of %d", f.n, faultserver.MaxConnsLimit)
		}
	}
	switch {
	case s.Concurrency < 0 || s.Concurrency > faultserver.MaxConcurrency:
		return cfg, field.InvalidValue("upstream.concurrency", "--upstream-concurrency", "%d: want a number of workers from 0 (unbounded) to the limit of %d", s.Concurrency, faultserver.MaxConcurrency)
	case s.Queue < 0 || s.Queue > faultserver.MaxQueue:
		return cfg, field.InvalidValue("upstream.queue", "--upstream-queue", "%d: want a length from 0 to the limit of %d", s.Queue, faultserver.MaxQueue)
	case s.Concurrency == 0 && (s.Queue > 0 || s.HonorCancel):
		return cfg, &field.Error{Paths: []string{"upstream.queue", "upstream.honor_cancel", "upstream.concurrency"},
			Detail: "--upstream-queue and --upstream-honor-cancel need --upstream-concurrency above 0"}
	case s.Concurrency > 0 && s.ProxyTo != "":
		return cfg, &field.Error{Paths: []string{"upstream.concurrency", "proxy_to"},
			Detail: "--upstream-concurrency models the synthetic upstream: with --proxy-to your service's own capacity applies"}
	}
	cfg = faultserver.Config{
		Addr: s.Addr, ControlAddr: s.ControlAddr, ControlToken: s.ControlToken, ControlHosts: s.ControlHosts,
		Seed: seed, ServiceTime: s.ServiceTime, Jitter: s.Jitter,
		ProxyTo: s.ProxyTo, ProxyDial: allow.DialContext(30 * time.Second), Faults: faults,
		ReadHeaderTimeout: s.ReadHeaderTimeout, ReadTimeout: s.ReadTimeout, IdleTimeout: s.IdleTimeout, StallTimeout: s.StallTimeout,
		MaxConns: s.MaxConns, ControlMaxConns: s.ControlMaxConns,
		Concurrency: s.Concurrency, Queue: s.Queue, HonorCancel: s.HonorCancel, GRPC: grpc,
	}
	if err := cfg.Validate(); err != nil {
		switch field.As(err).Path() {
		case faultserver.PathControlToken:
			return cfg, field.Invalid(faultserver.PathControlToken, "--control-token", "%w", err)
		case faultserver.PathControlHosts:
			return cfg, field.Invalid(faultserver.PathControlHosts, "--control-host", "%w", err)
		}
		return cfg, err
	}
	return cfg, nil
}

// CheckListenAddr checks a listener's address, the setting at path given
// by flag: host:port, so that a typo is bad input rather than a failure to
// listen, on a host allow.CheckListenHost accepts.
func CheckListenAddr(path, flag, addr string, allow AllowList) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return field.InvalidValue(path, flag, "%q: want host:port like 127.0.0.1:8081", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return field.InvalidValue(path, flag, "%q: port %q: want a number from 0 (any free port) to 65535", addr, port)
	}
	if err := allow.CheckListenHost(host); err != nil {
		return field.InvalidValue(path, flag, "%q: %w", addr, err)
	}
	return nil
}

// CheckMetricsAddr checks --metrics-addr as every listener is checked;
// "" is none.
func CheckMetricsAddr(addr string, allow AllowList) error {
	if addr == "" {
		return nil
	}
	return CheckListenAddr("metrics_addr", "--metrics-addr", addr, allow)
}

// CheckOTLP checks an OTLP endpoint (a URL, or host:port meaning http://)
// and protocol as --otlp-endpoint and --otlp-protocol give them; "" is
// the default.
func CheckOTLP(endpoint, protocol string) error {
	switch protocol {
	case "", "grpc", "http/protobuf":
	default:
		return field.InvalidValue("tracing.otlp_protocol", "--otlp-protocol", "%q: want grpc or http/protobuf", protocol)
	}
	if e := endpoint; e != "" {
		// host:port means http://, as the exporters read it.
		if !strings.Contains(e, "://") {
			e = "http://" + e
		}
		if err := CheckEndpointURL(e); err != nil {
			return field.InvalidValue("tracing.otlp_endpoint", "--otlp-endpoint", "%q: %w, or host:port", endpoint, err)
		}
	}
	return nil
}

// DescribeUpstream says what the upstream of cfg answers, for the line
// cbload serve starts with: synthetic answers and its capacity, or the
// backend it proxies to (its userinfo redacted).
func DescribeUpstream(cfg *faultserver.Config) string {
	switch {
	case cfg.GRPC && cfg.ProxyTo != "":
		return "gRPC: any method, proxied to " + RedactURL(cfg.ProxyTo)
	case cfg.GRPC:
		return fmt.Sprintf("gRPC: any method, an empty message after %v ± %v", cfg.ServiceTime, cfg.Jitter)
	case cfg.ProxyTo != "":
		return "proxy to " + RedactURL(cfg.ProxyTo)
	}
	what := fmt.Sprintf("synthetic 200 JSON after %v ± %v", cfg.ServiceTime, cfg.Jitter)
	if cfg.Concurrency > 0 {
		abandon := "work for callers that gave up is done anyway"
		if cfg.HonorCancel {
			abandon = "work for callers that gave up is dropped"
		}
		what += fmt.Sprintf("; %d workers, queue %d, %s", cfg.Concurrency, cfg.Queue, abandon)
	}
	return what
}
