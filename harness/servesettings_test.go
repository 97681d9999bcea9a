package harness

import (
	"testing"
	"time"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/internal/field"
)

// TestServeSettingsConfig checks that a serve setting that cannot be used
// is a field error at its path with its flag's message, and that a
// grpc:// backend makes a gRPC upstream.
func TestServeSettingsConfig(t *testing.T) {
	good := func() ServeSettings {
		return ServeSettings{Addr: "127.0.0.1:0", ServiceTime: time.Millisecond,
			ReadHeaderTimeout: time.Second, ReadTimeout: time.Second, IdleTimeout: time.Second, StallTimeout: time.Second,
			MaxConns: 10, ControlMaxConns: 10}
	}
	for _, tt := range []struct {
		change    func(s *ServeSettings)
		path, msg string
	}{
		{func(s *ServeSettings) { s.ServiceTime = 0 }, "upstream.service_time", "--service-time 0s: want a positive duration like 2ms, up to the limit of 1h"},
		{func(s *ServeSettings) { s.Addr = "8081" }, "addr", `--addr "8081": want host:port like 127.0.0.1:8081`},
		{func(s *ServeSettings) { s.ControlAddr = "127.0.0.1:99999" }, "control.addr", `--control-addr "127.0.0.1:99999": port "99999": want a number from 0 (any free port) to 65535`},
		{func(s *ServeSettings) { s.MaxConns = 0 }, "max_conns", "--max-conns 0: want a count from 1 to the limit of"},
		{func(s *ServeSettings) { s.Queue = 3 }, "upstream.queue", "--upstream-queue and --upstream-honor-cancel need --upstream-concurrency above 0"},
		{func(s *ServeSettings) { s.ControlToken = " " }, faultserver.PathControlToken, "--control-token: control token is only whitespace"},
		{func(s *ServeSettings) { s.OTLPProtocol = "http" }, "tracing.otlp_protocol", `--otlp-protocol "http": want grpc or http/protobuf`},
	} {
		s := good()
		tt.change(&s)
		_, err := s.Config(1, nil)
		if fe := field.As(err); fe.Path() != tt.path || len(err.Error()) < len(tt.msg) || err.Error()[:len(tt.msg)] != tt.msg {
			t.Errorf("Config = %v (path %q); want %q… at %s", err, fe.Path(), tt.msg, tt.path)
		}
	}
	s := good()
	s.ProxyTo = "grpc://127.0.0.1:9000"
	cfg, err := s.Config(1, nil)
	if err != nil || !cfg.GRPC || cfg.ProxyDial == nil {
		t.Errorf("Config with a grpc:// backend = GRPC %v, dial set %v, %v; want a gRPC proxy that dials within the allowed ranges", cfg.GRPC, cfg.ProxyDial != nil, err)
	}
}

// TestDescribeUpstream checks serve's line about what its upstream
// answers, a proxy's userinfo redacted.
func TestDescribeUpstream(t *testing.T) {
	for _, tt := range []struct {
		cfg  faultserver.Config
		want string
	}{
		{faultserver.Config{ServiceTime: 2 * time.Millisecond, Jitter: time.Millisecond}, "synthetic 200 JSON after 2ms ± 1ms"},
		{faultserver.Config{ServiceTime: time.Millisecond, Concurrency: 4, Queue: 8, HonorCancel: true}, "synthetic 200 JSON after 1ms ± 0s; 4 workers, queue 8, work for callers that gave up is dropped"},
		{faultserver.Config{ProxyTo: "http://user:secret@127.0.0.1:9000"}, "proxy to http://xxxxx@127.0.0.1:9000"},
		{faultserver.Config{GRPC: true, ServiceTime: time.Millisecond}, "gRPC: any method, an empty message after 1ms ± 0s"},
	} {
		if got := DescribeUpstream(&tt.cfg); got != tt.want {
			t.Errorf("DescribeUpstream = %q; want %q", got, tt.want)
		}
	}
}
