package harness

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/reports"
)

func TestParseUpstreamFault(t *testing.T) {
	for _, tt := range []struct{ in, name, spec, err string }{
		{"latency:1s", "", "latency:1s", ""},
		{"error:503,rate=0.3", "", "error:503,rate=0.3", ""},
		{"latency,rate=0.5", "", "latency:1s,rate=0.5", ""},
		{"payments=latency:1s", "payments", "latency:1s", ""},
		{"search=error:503,rate=0.3", "search", "error:503,rate=0.3", ""},
		{"payments=refuse", "payments", "refuse", ""},
		{"pay ments=refuse", "", "", `upstream "pay ments"`},
		{"payments=", "", "", "empty"},
		{"payments=latncy", "", "", "latncy"},
	} {
		name, spec, err := ParseUpstreamFault(tt.in)
		if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("ParseUpstreamFault(%q) error %v; want %q", tt.in, err, tt.err)
			continue
		}
		if err == nil && (name != tt.name || spec.String() != tt.spec) {
			t.Errorf("ParseUpstreamFault(%q) = %q, %q; want %q, %q", tt.in, name, spec, tt.name, tt.spec)
		}
	}
}

func TestValidateUpstreams(t *testing.T) {
	lat, _ := faultserver.ParseSpec("latency:1s")
	two := []NamedUpstream{{"payments", "127.0.0.1:3001"}, {"search", "127.0.0.1:3002"}}
	for _, tt := range []struct {
		ups   []NamedUpstream
		addr  string
		plain bool
		named string
		want  string
	}{
		{two, "", false, "payments", ""},
		{two[:1], "", true, "", ""}, // one named upstream: a plain fault is its
		{two, "", true, "", "phases[1] (fault): fault latency:1s: say which upstream it is for, like payments=latency:1s (upstreams: payments, search)"},
		{two, "", false, "billing", `phases[1] (fault): fault for upstream "billing": no such upstream`},
		{nil, "127.0.0.1:3001", false, "payments", `fault for upstream "payments": no such upstream`},
		{two, "127.0.0.1:3001", false, "", "not both"},
		{[]NamedUpstream{{"payments", "127.0.0.1:3001"}, {"payments", "127.0.0.1:3002"}}, "", false, "", `upstreams[1].name "payments": used twice`},
		{[]NamedUpstream{{"payments", "127.0.0.1:3001"}, {"search", "127.0.0.1:3001"}}, "", false, "", `upstreams[1] (search).addr "127.0.0.1:3001": also the address of payments`},
		{[]NamedUpstream{{"1pay", "127.0.0.1:3001"}}, "", false, "", `upstreams[0].name "1pay"`},
		{[]NamedUpstream{{"payments", "10.0.0.1:3001"}}, "", false, "", "upstreams[0] (payments).addr"},
	} {
		cfg := DefaultConfig()
		cfg.Targets = []Target{{Name: "svc", URL: "http://127.0.0.1:8080/api"}}
		cfg.Upstreams, cfg.UpstreamAddr = tt.ups, tt.addr
		cfg.Phases[1].Faults = nil
		if tt.plain {
			cfg.Phases[1].AddFault("", lat)
		}
		if tt.named != "" {
			cfg.Phases[1].AddFault(tt.named, lat)
		}
		err := cfg.Validate()
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Validate(upstreams %v, addr %q) = %v; want %q", tt.ups, tt.addr, err, tt.want)
		}
	}
}

// TestTargetSeveralUpstreams runs a service that calls two dependencies
// per request, with a fault in only one of them, and checks each upstream
// is counted on its own: requests and injected faults per phase.
func TestTargetSeveralUpstreams(t *testing.T) {
	addr := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	payments, search := addr(), addr()
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: time.Second}
	defer client.CloseIdleConnections()
	var calls atomic.Int64
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		failed := false
		for _, u := range []string{payments, search} {
			calls.Add(1)
			resp, err := client.Get("http://" + u + "/work")
			if err != nil {
				failed = true
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			failed = failed || resp.StatusCode >= 500
		}
		if failed {
			http.Error(w, "dependency failed", http.StatusBadGateway)
		}
	}))
	defer svc.Close()

	cfg := testConfig(t, "latency:1s")
	cfg.Rate = 40
	cfg.Phases = []Phase{{Name: "baseline", Duration: time.Second}, {Name: "fault", Duration: 2 * time.Second}, {Name: "recovery", Duration: time.Second}}
	e503, _ := faultserver.ParseSpec("error:503")
	cfg.Phases[1].AddFault("payments", e503)
	cfg.Targets = []Target{{Name: "svc", URL: svc.URL + "/api"}}
	cfg.Upstreams = []NamedUpstream{{"payments", payments}, {"search", search}}
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Phases[1].Faults; len(got) != 1 || got[0] != "payments=error:503" {
		t.Errorf("report phase faults %q; want [payments=error:503]", got)
	}
	a := r.Arm("svc")
	var total int64
	for _, phase := range []string{"baseline", "fault", "recovery"} {
		ups := a.Summary[phase].Upstreams
		p, s := ups["payments"], ups["search"]
		if p.Requests == 0 || s.Requests == 0 {
			t.Errorf("%s: payments received %d, search %d; want both called", phase, p.Requests, s.Requests)
		}
		if d := p.Requests - s.Requests; d < -2 || d > 2 {
			t.Errorf("%s: payments received %d, search %d; the service calls both once per request", phase, p.Requests, s.Requests)
		}
		if len(s.Injected) != 0 {
			t.Errorf("%s: search injected %v; want nothing (no fault for it)", phase, s.Injected)
		}
		if phase == "fault" {
			if p.Injected["error"] < p.Requests*9/10 {
				t.Errorf("fault: payments injected %v into %d requests; want error on nearly all", p.Injected, p.Requests)
			}
			if api := a.Summary[phase].API; api.Outcomes.UpstreamError < api.Requests*9/10 {
				t.Errorf("fault: /api outcomes %+v; want the service's 502s", api.Outcomes)
			}
		} else if p.Injected["error"] > 2 {
			// A request the fault acted on as the phase switched may be
			// booked in the next phase; more would be a fault outside it.
			t.Errorf("%s: payments injected %v; want nothing outside the fault but at its edge", phase, p.Injected)
		}
		total += p.Requests + s.Requests
	}
	// Calls made after the last phase ended (in-flight at the end) are not
	// booked; everything else is.
	if c := calls.Load(); total > c || total < c-10 {
		t.Errorf("upstreams booked %d requests; the service made %d calls", total, c)
	}
}

// TestTargetUpstreamCapacity checks that the upstreams a user's service
// calls have the run's capacity (--upstream-concurrency, --upstream-queue),
// as cbload's own upstream does: beyond the workers and the queue, a
// request gets 503 at once — so slowdown is a capacity cut in target mode
// too. It also checks that an external upstream, whose capacity another
// process sets, refuses the setting.
func TestTargetUpstreamCapacity(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := DefaultConfig()
	cfg.Targets = []Target{{Name: "svc", URL: "http://127.0.0.1:1/api"}}
	cfg.UpstreamAddr = addr
	cfg.Upstream.ServiceTime, cfg.Upstream.Jitter = 400*time.Millisecond, 0
	cfg.Upstream.Concurrency, cfg.Upstream.Queue = 1, 0
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	up, err := startUpstreams(&cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer up.close()
	up.begin()
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	codes := make(chan int, 2)
	for range 2 {
		go func() {
			resp, err := client.Get("http://" + addr + "/work")
			if err != nil {
				codes <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	got := map[int]int{}
	for range 2 {
		got[<-codes]++
	}
	if got[http.StatusOK] != 1 || got[http.StatusServiceUnavailable] != 1 {
		t.Errorf("two requests at once to an upstream of 1 worker and no queue got %v; want one 200 and one 503 (at capacity)", got)
	}

	ext := DefaultConfig()
	ext.Targets = cfg.Targets
	ext.UpstreamExternal = true
	ext.Upstream.Concurrency = 4
	if err := ext.Validate(); err == nil || !strings.Contains(err.Error(), "upstream-concurrency") {
		t.Errorf("Validate(upstream-external with upstream-concurrency 4) = %v; want an error naming upstream-concurrency", err)
	}
}

// TestTargetFaultsUnseen runs a service without a breaker against faults
// whose effect cbload cannot see from the upstream's side or the answers:
// refused connections (the calls never arrive, so no breaker may be
// inferred from their absence, and the calls per request are unknown) and
// 503s the service ignores (all its answers stay ok, which the notes must
// say).
func TestTargetFaultsUnseen(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: time.Second}
	defer client.CloseIdleConnections()
	// The service calls the upstream once per request and ignores its
	// status code, as sony/gobreaker's example does; a transport error is
	// a 502.
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/local" {
			return
		}
		resp, err := client.Get("http://" + addr + "/dep")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}))
	defer svc.Close()
	var last *reports.Report
	run := func(fault string) *reports.Arm {
		t.Helper()
		cfg := testConfig(t, fault)
		cfg.Rate = 40
		cfg.Phases = []Phase{{Name: "baseline", Duration: time.Second}, {Name: "fault", Duration: 2 * time.Second, Faults: cfg.Phases[1].Faults}, {Name: "recovery", Duration: time.Second}}
		cfg.Targets = []Target{{Name: "svc", URL: svc.URL + "/api", Collateral: svc.URL + "/local"}}
		cfg.UpstreamAddr = addr
		r, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("%s: %v", fault, err)
		}
		last = r
		return r.Arm("svc")
	}

	a := run("refuse")
	if a.BreakerFigures != reports.BreakerUnknown || a.Breaker || len(a.Transitions) != 0 {
		t.Errorf("refuse: breaker figures %q, breaker %v, transitions %v; want unknown, no breaker claimed, none", a.BreakerFigures, a.Breaker, a.Transitions)
	}
	if s := a.Summary["fault"]; s.UpstreamEffect != reports.EffectUnknown || s.UpstreamAttemptsPerAPIRequest != nil {
		t.Errorf("refuse: fault phase effect %q attempts %v; want %q and none", s.UpstreamEffect, s.UpstreamAttemptsPerAPIRequest, reports.EffectUnknown)
	}
	if !hasNote(a.Notes, "refused connections in phase fault") {
		t.Errorf("refuse: notes %q; want one saying the refused calls hide the breaker", a.Notes)
	}

	a = run("error:503")
	if !hasNote(a.Notes, "the faults did not reach the answers") {
		t.Errorf("ignored 503s: notes %q; want one saying the faults did not reach the answers", a.Notes)
	}
	if hasNote(a.Notes, "shed") {
		t.Errorf("ignored 503s, one call per request: notes %q; want no shedding", a.Notes)
	}
	// The verdict does not rest on the answers the report suspects.
	if a.SuspectOK == nil || *a.SuspectOK == 0 || *a.SuspectOK > a.Summary["fault"].API.OK {
		t.Errorf("ignored 503s: suspect ok answers %v of %d ok; want them counted", a.SuspectOK, a.Summary["fault"].API.OK)
	}
	if v := last.Verdict; v.Outcome != reports.OutcomeInconclusive || !strings.Contains(v.Summary, "answers of the svc arm were ok while their upstream call failed") || !strings.Contains(v.Summary, "--expect") {
		t.Errorf("ignored 503s: verdict %s %q; want inconclusive, naming the suspect answers and --expect", v.Outcome, v.Summary)
	}

	// A body cut short is a failed call too, one the service's client
	// never notices when it checks the status alone.
	a = run("truncate:1B")
	if !hasNote(a.Notes, "the faults did not reach the answers") || !hasNote(a.Notes, "(truncate)") {
		t.Errorf("ignored truncated bodies: notes %q; want one saying the faults (truncate) did not reach the answers", a.Notes)
	}
}

func hasNote(notes []string, part string) bool {
	for _, n := range notes {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}

// TestValidateGRPCUpstream checks what --upstream-grpc takes: the faults
// a gRPC upstream acts on, and none of the HTTP upstream's settings.
func TestValidateGRPCUpstream(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"grpc-error", func(c *Config) { c.Phases[1].Faults = []faultserver.Spec{mustSpec("grpc-error:UNAVAILABLE,rate=0.5")} }, ""},
		{"latency", func(c *Config) { c.Phases[1].Faults = []faultserver.Spec{mustSpec("latency:1s")} }, ""},
		{"reset", func(c *Config) { c.Phases[1].Faults = []faultserver.Spec{mustSpec("reset")} }, ""},
		{"garbage", func(c *Config) { c.Phases[1].Faults = []faultserver.Spec{mustSpec("garbage")} }, "garbage is an HTTP fault"},
		{"named truncate", func(c *Config) {
			c.UpstreamAddr, c.Upstreams = "", []NamedUpstream{{Name: "payments", Addr: "127.0.0.1:9091"}}
			c.Phases[1].Faults = nil
			c.Phases[1].AddFault("payments", mustSpec("truncate:100B,framing=chunked"))
		}, "framing= is for HTTP answers"},
		{"tls dir", func(c *Config) { c.UpstreamTLSDir = t.TempDir() }, "upstream-grpc: not with upstream-tls"},
		{"external", func(c *Config) { c.UpstreamAddr, c.UpstreamExternal = "", true }, "upstream-grpc: not with upstream-external"},
		{"capacity", func(c *Config) { c.Upstream.Concurrency = 4 }, "upstream-concurrency: not with upstream-grpc"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Targets = []Target{{Name: "svc", URL: "http://127.0.0.1:8080/api"}}
			cfg.UpstreamAddr, cfg.UpstreamGRPC = "127.0.0.1:9090", true
			tt.mutate(&cfg)
			err := cfg.Validate()
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestRefusingTLS checks that a phase failing TLS handshakes, like one
// refusing connections, leaves its upstream's calls uncounted.
func TestRefusingTLS(t *testing.T) {
	p := Phase{Name: "fault"}
	p.AddFault("payments", mustSpec("tls:expired"))
	p.AddFault("inventory", mustSpec("latency:1s"))
	if got := refusing(p, []string{"inventory", "payments"}); !slices.Equal(got, []string{"payments"}) {
		t.Errorf("refusing(tls for payments) = %v; want [payments]", got)
	}
}
