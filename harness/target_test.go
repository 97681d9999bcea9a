package harness

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
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
		{[]Target{ok}, "127.0.0.1:8080", "targets[0] (svc): http://127.0.0.1:8080/api is cbload's own upstream (--upstream-addr 127.0.0.1:8080)"},
		{[]Target{{Name: "svc", URL: "http://localhost:8080/api"}}, "127.0.0.1:8080", "is cbload's own upstream"},
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

// TestProbeRefusesBadAnswers checks that the probe stops the run, before
// any load, when a target's answer shows a setup mistake, and says why in
// one line.
func TestProbeRefusesBadAnswers(t *testing.T) {
	var loadSeen atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"source":"primary"}`) })
	mux.HandleFunc("/fallback", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"source":"cache"}`) })
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "who?", http.StatusUnauthorized) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/created", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	mux.HandleFunc("/bad", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "\n  missing query parameter: city\x1b[31m\nat line 2", http.StatusBadRequest)
	})
	mux.HandleFunc("/faulted", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X-Cbload-Fault", "latency") })
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		loadSeen.Add(1)
		mux.ServeHTTP(w, r)
	}))
	defer svc.Close()
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upAddr := up.Addr().String()
	up.Close()
	expect := func(ss ...string) []Expectation { return mustExpect(t, ss...) }
	for _, tt := range []struct {
		target Target
		expect []Expectation
		want   string // "" when the probe passes
	}{
		{Target{URL: svc.URL + "/okk"}, nil, "GET " + svc.URL + "/okk answered 404 Not Found — check the path and method; want 200-299 (--expect status=... changes the statuses accepted)"},
		{Target{URL: svc.URL + "/down"}, nil, "answered 503 Service Unavailable before any fault — is it healthy, and does it reach the upstream at " + upAddr + "?"},
		{Target{URL: svc.URL + "/login"}, nil, "answered 401 Unauthorized — does it need a header"},
		{Target{URL: svc.URL + "/moved"}, nil, `answered 302 Found (a redirect to "/ok", not followed); want 200-299`},
		{Target{Requests: []Request{{Method: "GET", URL: svc.URL + "/login", Header: http.Header{"Authorization": {"Bearer secret-token"}, "X-Tenant": {"a"}}}}}, nil, "answered 401 Unauthorized — it refused the request with header Authorization, X-Tenant: check the value"},
		{Target{URL: svc.URL + "/bad"}, nil, `answered 400 Bad Request — it said "missing query parameter: city `},
		{Target{URL: svc.URL + "/faulted"}, nil, "answered with X-Cbload-Fault: latency — that is a cbload fault server, not your service"},
		{Target{URL: svc.URL + "/moved"}, expect("status=200-399"), ""},
		{Target{URL: svc.URL + "/created"}, expect("status=200"), "answered 201 Created; want 200 (--expect"},
		{Target{URL: svc.URL + "/ok", Collateral: svc.URL + "/nope"}, nil, "GET " + svc.URL + "/nope answered 404 Not Found — check the path and method; want 200-299 (--expect collateral:status=... changes the statuses accepted)\n"},
		{Target{URL: svc.URL + "/ok", Collateral: svc.URL + "/created"}, expect("status=200"), ""}, // an unscoped check judges api answers only
		{Target{URL: svc.URL + "/ok", Collateral: svc.URL + "/created"}, expect("all:status=200"), "GET " + svc.URL + "/created answered 201 Created; want 200 (--expect collateral:status="},
		{Target{URL: svc.URL + "/ok", Collateral: svc.URL + "/fallback"}, expect("json:.source=primary"), ""},
		{Target{URL: svc.URL + "/ok", Collateral: svc.URL + "/fallback"}, expect("collateral:json:.source=primary"), `GET ` + svc.URL + `/fallback missed --expect collateral:json:.source=primary before any fault: got .source = "cache" — is the collateral endpoint healthy, or is the check meant for api answers only (unscoped or api:)?`},
		{Target{URL: svc.URL + "/ok", BreakerStateURL: svc.URL + "/state"}, nil, "breaker state URL " + svc.URL + "/state answered 404"},
		{Target{URL: svc.URL + "/fallback"}, expect("json:.source=primary"), `missed --expect json:.source=primary before any fault: got .source = "cache" — is the service calling the upstream at ` + upAddr + ", or is the check wrong?"},
		{Target{URL: svc.URL + "/ok"}, expect("status=200", "json:.source=primary"), ""},
	} {
		tt.target.Name = "svc"
		targets := []Target{tt.target}
		before := loadSeen.Load()
		err := probeTargets(context.Background(), targets, tt.expect, upAddr, func(*http.Transport) {})
		got := ""
		if err != nil {
			got = err.Error() + "\n"
		}
		if (tt.want == "") != (err == nil) || !strings.Contains(got, tt.want) || strings.Count(got, "\n") > 1 || strings.Contains(got, "secret-token") {
			t.Errorf("probe %s with %v = %q; want one line containing %q", tt.target.URL, tt.expect, got, tt.want)
		}
		if n := loadSeen.Load() - before; n > 3 {
			t.Errorf("probe %s sent %d requests; want one per URL", tt.target.URL, n)
		}
	}

	// Through Run: a SetupError and no report, so cbload exits 3.
	cfg := testConfig(t, "latency:1s")
	cfg.Targets = []Target{{Name: "svc", URL: svc.URL + "/okk"}}
	cfg.UpstreamAddr = upAddr
	r, err := Run(context.Background(), cfg)
	var se *SetupError
	if !errors.As(err, &se) || r != nil || !strings.Contains(err.Error(), "404 Not Found") {
		t.Errorf("Run with a typo in the path = %v, %v; want a SetupError naming the 404 and no report", r, err)
	}
}

// mustExpect parses each --expect check of ss.
func mustExpect(t *testing.T, ss ...string) []Expectation {
	t.Helper()
	var out []Expectation
	for _, s := range ss {
		e, err := ParseExpectation(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}
