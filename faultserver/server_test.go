package faultserver

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// faultSequence sends n requests one after another and returns what the
// fault header of each said ("reset" for a reset connection).
func faultSequence(t *testing.T, seed int64, n int) []string {
	t.Helper()
	s := start(t, Config{Seed: seed, Jitter: time.Microsecond, Faults: mustSpecs(t,
		"latency:1ms,jitter=1ms,rate=0.3", "error:503,rate=0.2", "reset,rate=0.1")})
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	seq := make([]string, n)
	for i := range seq {
		r := get(c, s.URL()+"/")
		switch {
		case errors.Is(r.err, syscall.ECONNRESET):
			seq[i] = "reset"
		case r.err != nil:
			t.Fatalf("GET %d: %v", i, r.err)
		default:
			seq[i] = r.fault
		}
	}
	return seq
}

func TestDeterministicBySeed(t *testing.T) {
	const n = 150
	a, b := faultSequence(t, 7, n), faultSequence(t, 7, n)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("two runs with seed 7 differ (-first +second):\n%s", diff)
	}
	if c := faultSequence(t, 8, n); cmp.Equal(a, c) {
		t.Errorf("runs with seeds 7 and 8 gave the same %d-request sequence; want different", n)
	}
	kinds := map[string]int{}
	for _, f := range a {
		kinds[f]++
	}
	for _, k := range []string{"", "latency", "error", "reset", "latency,error"} {
		if kinds[k] == 0 {
			t.Errorf("sequence %v never had %q; want a mix of every outcome", kinds, k)
		}
	}
}

func TestDecideDeterministic(t *testing.T) {
	plan := func(seed int64) []string {
		s := start(t, Config{Seed: seed, Jitter: time.Millisecond, Faults: mustSpecs(t,
			"latency:10ms,jitter=5ms,dist=exp,rate=0.5", "error:503,rate=0.3,path=/api", "hang:1s,rate=0.1")})
		var out []string
		for i := range 500 {
			path := "/"
			if i%3 == 0 {
				path = "/api"
			}
			steps, service := s.decide(path, nil)
			var b strings.Builder
			for _, st := range steps {
				b.WriteString(kindTable[st.kind].Name)
				if d, ok := st.act.(delayAction); ok {
					b.WriteString("=" + time.Duration(d).String())
				}
				b.WriteString(" ")
			}
			b.WriteString(service.String())
			out = append(out, b.String())
		}
		return out
	}
	if diff := cmp.Diff(plan(99), plan(99)); diff != "" {
		t.Errorf("decisions with the same seed differ (-first +second):\n%s", diff)
	}
}

func TestPathFilter(t *testing.T) {
	s := start(t, Config{Faults: mustSpecs(t, "error:503,path=/api")})
	c := newClient(t, 5*time.Second)
	tests := []struct {
		path string
		want int
	}{
		{"/api", 503},
		{"/api/v1/users", 503},
		{"/apiary", 503}, // a plain prefix: write path=/api/ to spare it
		{"/", 200},
		{"/other/api", 200},
	}
	for _, tt := range tests {
		if r := get(c, s.URL()+tt.path); r.err != nil || r.status != tt.want {
			t.Errorf("GET %s = %d %v; want %d", tt.path, r.status, r.err, tt.want)
		}
	}
}

func TestSeveralFaults(t *testing.T) {
	tests := []struct {
		specs      []string
		status     int
		fault      string
		minLatency time.Duration
	}{
		{[]string{"latency:30ms", "error:502"}, 502, "latency,error", 30 * time.Millisecond},
		{[]string{"error:502", "latency:30ms"}, 502, "error", 0}, // error answers; latency is not rolled
		{[]string{"latency:20ms", "latency:20ms,path=/x"}, 200, "latency,latency", 40 * time.Millisecond},
		{[]string{"latency:20ms,path=/nope", "slowbody:1MiB/s"}, 200, "slowbody", 0},
	}
	for _, tt := range tests {
		s := start(t, Config{Faults: mustSpecs(t, tt.specs...)})
		r := get(newClient(t, 5*time.Second), s.URL()+"/x")
		if r.err != nil || r.status != tt.status || r.fault != tt.fault || r.elapsed < tt.minLatency {
			t.Errorf("faults %q: GET = %d %q in %v (%v); want %d %q in at least %v",
				tt.specs, r.status, r.fault, r.elapsed, r.err, tt.status, tt.fault, tt.minLatency)
		}
	}
}

func TestStatsAndHooks(t *testing.T) {
	var (
		mu      sync.Mutex
		applied []string
	)
	s := start(t, Config{
		Faults: mustSpecs(t, "error:418,path=/teapot"),
		OnApplied: func(r *http.Request, specs []Spec) {
			mu.Lock()
			defer mu.Unlock()
			var names []string
			for _, sp := range specs {
				names = append(names, sp.String())
			}
			applied = append(applied, r.URL.Path+" "+strings.Join(names, ";")+" "+r.Header.Get("X-Mw"))
		},
		Middleware: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.Header.Set("X-Mw", "seen")
				w.Header().Set("X-Wrapped", "yes")
				h.ServeHTTP(w, r)
			})
		},
	})
	c := newClient(t, 5*time.Second)
	for _, p := range []string{"/teapot", "/", "/teapot/x"} {
		if r := get(c, s.URL()+p); r.err != nil || r.header.Get("X-Wrapped") != "yes" {
			t.Errorf("GET %s: X-Wrapped = %q, %v; want the middleware to run", p, r.header.Get("X-Wrapped"), r.err)
		}
	}
	mu.Lock()
	want := []string{"/teapot error:418,path=/teapot seen", "/  seen", "/teapot/x error:418,path=/teapot seen"}
	if diff := cmp.Diff(want, applied); diff != "" {
		t.Errorf("OnApplied calls (-want +got):\n%s", diff)
	}
	mu.Unlock()

	held := func() <-chan result {
		s.SetFaults(mustSpecs(t, "hang"))
		return hold(t, s, c, 4)
	}()
	st := s.Stats()
	s.SetFaults(nil)
	for range 4 {
		<-held
	}
	want2 := Stats{Requests: 7, Completed: 1, InFlight: 4, InFlightPeak: 4,
		Injected: map[string]int64{"latency": 0, "error": 2, "hang": 4, "refuse": 0, "reset": 0, "slowbody": 0, "slowdown": 0, "truncate": 0, "empty": 0, "garbage": 0, "slowclose": 0, "slowupload": 0, "tls": 0, "grpc-error": 0}}
	if diff := cmp.Diff(want2, st); diff != "" {
		t.Errorf("Stats() while 4 requests hang (-want +got):\n%s", diff)
	}
	waitFor(t, "in-flight to drop", time.Second, func() bool { return s.Stats().InFlight == 0 })
	if got := s.Stats().InFlightPeak; got != 4 {
		t.Errorf("InFlightPeak after release = %d; want 4", got)
	}
}

func TestFaultsRoundTrip(t *testing.T) {
	s := start(t, Config{})
	if got := s.Faults(); len(got) != 0 {
		t.Errorf("Faults() of a new healthy server = %v; want none", got)
	}
	want := []string{"latency:200ms", "error:503,rate=0.5", "latency:200ms"}
	s.SetFaults(append(mustSpecs(t, want...), Spec{}))
	var got []string
	for _, sp := range s.Faults() {
		got = append(got, sp.String())
	}
	if !cmp.Equal(got, want) {
		t.Errorf("Faults() = %q; want %q (zero Specs ignored)", got, want)
	}
}

func TestProxy(t *testing.T) {
	release := make(chan struct{})
	var (
		mu   sync.Mutex
		hits []string
	)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits = append(hits, r.URL.Path)
		mu.Unlock()
		w.Header().Set("X-Upstream", "real")
		if r.URL.Path == "/stream" {
			io.WriteString(w, "first\n")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, "from upstream "+r.URL.Path+"\n")
	}))
	defer up.Close()

	s := start(t, Config{ProxyTo: up.URL, Faults: mustSpecs(t, "error:503,path=/fail", "latency:20ms,path=/slow")})
	c := newClient(t, 5*time.Second)

	tests := []struct {
		path, body, fault string
		status            int
		upstream          string
		min               time.Duration
	}{
		{path: "/hello", status: 200, body: "from upstream /hello\n", upstream: "real"},
		{path: "/slow", status: 200, body: "from upstream /slow\n", upstream: "real", fault: "latency", min: 20 * time.Millisecond},
		{path: "/fail", status: 503, body: `{"error":"injected fault","status":503}` + "\n", fault: "error"},
	}
	for _, tt := range tests {
		r := get(c, s.URL()+tt.path)
		if r.err != nil || r.status != tt.status || r.body != tt.body || r.fault != tt.fault ||
			r.header.Get("X-Upstream") != tt.upstream || r.elapsed < tt.min {
			t.Errorf("GET %s via proxy = %d %q fault %q upstream %q in %v (%v); want %d %q fault %q upstream %q in at least %v",
				tt.path, r.status, r.body, r.fault, r.header.Get("X-Upstream"), r.elapsed, r.err,
				tt.status, tt.body, tt.fault, tt.upstream, tt.min)
		}
	}
	mu.Lock()
	if want := []string{"/hello", "/slow"}; !cmp.Equal(hits, want) {
		t.Errorf("upstream saw %q; want %q (the injected error does no work)", hits, want)
	}
	mu.Unlock()

	// A streamed body passes through as it comes.
	resp, err := c.Get(s.URL() + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, len("first\n"))
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first\n" {
		t.Fatalf("first streamed chunk = %q, %v; want %q before the upstream finishes", buf, err, "first\n")
	}
	close(release)
	if rest, err := io.ReadAll(resp.Body); err != nil || string(rest) != "from upstream /stream\n" {
		t.Errorf("rest of stream = %q, %v", rest, err)
	}
}

func TestProxyUpstreamDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	s := start(t, Config{ProxyTo: dead})
	r := get(newClient(t, 5*time.Second), s.URL()+"/")
	if r.err != nil || r.status != 502 || !strings.Contains(r.body, `"error":"proxy: `) {
		t.Errorf("GET via proxy to a dead upstream = %d %q %v; want 502 with a JSON error", r.status, r.body, r.err)
	}
}

func TestNewErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		cfg  Config
		want string
		is   error
	}{
		{"data address in use", Config{Addr: busy.Addr().String()}, "listen on", syscall.EADDRINUSE},
		{"control address in use", Config{ControlAddr: busy.Addr().String()}, "control API", syscall.EADDRINUSE},
		{"negative service time", Config{ServiceTime: -time.Millisecond}, "service time -1ms: want a duration from 0 to the limit of 1h", nil},
		{"negative jitter", Config{Jitter: -time.Millisecond}, "jitter -1ms: want a duration", nil},
		{"service time over the limit", Config{ServiceTime: 61 * time.Minute}, "service time 1h1m0s: want a duration from 0 to the limit of 1h", nil},
		{"read timeout over the limit", Config{ReadTimeout: 2 * time.Hour}, "read timeout 2h0m0s", nil},
		{"negative idle timeout", Config{IdleTimeout: -1}, "idle timeout -1ns", nil},
		{"negative max conns", Config{MaxConns: -1}, "max conns -1: want a count from 1 to the limit of 1000000", nil},
		{"control max conns over the limit", Config{ControlMaxConns: MaxConnsLimit + 1}, "control max conns 1000001", nil},
		{"too many faults", Config{Faults: slices.Repeat(mustSpecs(t, "latency:1ms"), MaxFaults+1)}, "65 faults, over the limit of 64", nil},
		{"blank token", Config{ControlToken: "   "}, "control token is only whitespace", nil},
		{"token with a space", Config{ControlToken: "a b"}, "control token holds whitespace", nil},
		{"token with a tab", Config{ControlToken: "ab\t"}, "control token holds whitespace", nil},
		{"bad control host", Config{ControlHosts: []string{"host:80"}}, `control host "host:80": want a host name or IP without port`, nil},
		{"proxy not a URL", Config{ProxyTo: "localhost:80"}, "proxy target", nil},
		{"proxy bad scheme", Config{ProxyTo: "ftp://127.0.0.1/"}, "proxy target", nil},
	}
	for _, tt := range tests {
		s, err := New(tt.cfg)
		if err == nil {
			s.Close()
			t.Errorf("%s: New error = nil; want one containing %q", tt.name, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || (tt.is != nil && !errors.Is(err, tt.is)) {
			t.Errorf("%s: New error = %v; want one containing %q (is %v)", tt.name, err, tt.want, tt.is)
		}
	}
}

func TestDefaults(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || s.URL() != "http://"+s.Addr() {
		t.Errorf("URL() = %q, Addr() = %q; want loopback by default", s.URL(), s.Addr())
	}
	if s.ControlURL() != "" {
		t.Errorf("ControlURL() = %q; want none without ControlAddr", s.ControlURL())
	}
	if s.serviceTime != DefaultServiceTime {
		t.Errorf("service time = %v; want DefaultServiceTime", s.serviceTime)
	}
}

func BenchmarkDecide(b *testing.B) {
	specs := mustSpecs(b, "latency:100ms,jitter=20ms,rate=0.3", "error:503,rate=0.1,path=/api", "hang,rate=0.01")
	s, err := New(Config{Faults: specs, Jitter: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var buf [maxSteps]step
	b.ReportAllocs()
	for b.Loop() {
		s.decide("/api/users", buf[:0])
	}
}

// TestStatsSub checks that diffing snapshots taken at phase boundaries
// gives each phase's own counts, by kind.
func TestStatsSub(t *testing.T) {
	s := start(t, Config{Seed: 1})
	c := newClient(t, 5*time.Second)
	phase := func(specs []string, n int) Stats {
		before := s.Stats()
		if err := s.SetFaults(mustSpecs(t, specs...)); err != nil {
			t.Fatal(err)
		}
		for range n {
			get(c, s.URL()+"/")
		}
		return s.Stats().Sub(before)
	}
	first := phase([]string{"error:503"}, 5)
	second := phase([]string{"latency:1ms"}, 3)
	if first.Requests != 5 || first.Injected["error"] != 5 || first.Injected["latency"] != 0 {
		t.Errorf("first phase: requests %d, error %d, latency %d; want 5, 5, 0", first.Requests, first.Injected["error"], first.Injected["latency"])
	}
	if second.Requests != 3 || second.Injected["error"] != 0 || second.Injected["latency"] != 3 {
		t.Errorf("second phase: requests %d, error %d, latency %d; want 3, 0, 3", second.Requests, second.Injected["error"], second.Injected["latency"])
	}
	if len(second.Injected) != len(Kinds()) {
		t.Errorf("Sub kept %d kinds; want every kind, %d", len(second.Injected), len(Kinds()))
	}
}
