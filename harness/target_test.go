package harness

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

func TestParseState(t *testing.T) {
	for _, tt := range []struct{ body, want string }{
		{`{"state":"closed"}`, reports.StateClosed},
		{`{"state":"OPEN"}`, reports.StateOpen},
		{`{"state":"half-open"}`, reports.StateHalfOpen},
		{`{"state":"half_open"}`, reports.StateHalfOpen},
		{`"half open"`, reports.StateHalfOpen},
		{`{"state":"disabled"}`, reports.StateNone},
		{`open`, reports.StateOpen},
		{`{"status":"up"}`, reports.StateUnknown},
		{``, reports.StateUnknown},
	} {
		if _, got := parseState([]byte(tt.body)); got != tt.want {
			t.Errorf("parseState(%q) = %q; want %q", tt.body, got, tt.want)
		}
	}
}

func TestValidateTargets(t *testing.T) {
	ok := Target{Name: "svc", URL: "http://127.0.0.1:8080/api"}
	for _, tt := range []struct {
		targets []Target
		addr    string
		want    string
	}{
		{[]Target{ok}, "127.0.0.1:9090", ""},
		{[]Target{{Name: "svc", URL: "http://localhost:8080/api", Collateral: "http://[::1]:8080/local"}}, "[::1]:9090", ""},
		{[]Target{ok}, "", "upstream-addr"},
		{[]Target{ok}, "127.0.0.1:0", "upstream-addr"},
		{[]Target{ok}, "10.0.0.1:9090", "not loopback"},
		{[]Target{{Name: "svc", URL: "http://192.168.1.2:8080/api"}}, "127.0.0.1:9090", "host 192.168.1.2 is not loopback"},
		{[]Target{{Name: "svc", URL: "http://example.com/api"}}, "127.0.0.1:9090", "not loopback"},
		{[]Target{{Name: "svc", URL: "127.0.0.1:8080/api"}}, "127.0.0.1:9090", "absolute http:// URL"},
		{[]Target{{Name: "svc", URL: ok.URL, Collateral: "http://10.0.0.2/local"}}, "127.0.0.1:9090", "targets[0] (svc).collateral"},
		{[]Target{ok, ok}, "127.0.0.1:9090", "used twice"},
		{[]Target{{Name: "my svc", URL: ok.URL}}, "127.0.0.1:9090", "want a letter"},
		{[]Target{{Name: "partial", URL: ok.URL}}, "127.0.0.1:9090", "reserved"},
		{nil, "127.0.0.1:9090", "only used with --target"},
	} {
		cfg := DefaultConfig()
		cfg.Targets, cfg.UpstreamAddr = tt.targets, tt.addr
		err := cfg.Validate()
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Validate(targets %v, upstream %q) = %v; want an error containing %q", tt.targets, tt.addr, err, tt.want)
		}
	}
}

// TestRunTargetsUnreachable checks that an unreachable target stops the run
// before any load, as a SetupError.
func TestRunTargetsUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upAddr := up.Addr().String()
	up.Close()

	cfg := testConfig(t, "latency:1s")
	cfg.Targets = []Target{{Name: "svc", URL: "http://" + closed + "/api"}}
	cfg.UpstreamAddr = upAddr
	r, err := Run(context.Background(), cfg)
	var se *SetupError
	if !errors.As(err, &se) || r != nil || !strings.Contains(err.Error(), "target svc unreachable") {
		t.Errorf("Run with an unreachable target = %v, %v; want a SetupError naming the target and no report", r, err)
	}
}
