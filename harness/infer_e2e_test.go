package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cbload/cbload/reports"
)

// abandoningService is a user's service whose breaker gives up on a call
// after 250 ms without cancelling it (the call stays in flight until its
// upstream answers, as opossum's timeout leaves it), and which probes its
// dependency's /health every second, also without a timeout. Its breaker
// opens after 5 failures in a row, for 1.5 s, and logs when it first
// opened.
type abandoningService struct {
	*httptest.Server
	upstream string
	client   *http.Client

	mu        sync.Mutex
	fails     int
	openUntil time.Time
	firstOpen time.Time

	calls sync.WaitGroup // abandoned calls and probes
	stop  chan struct{}
}

func startAbandoningService(t *testing.T, upstreamAddr string) *abandoningService {
	t.Helper()
	tr := &http.Transport{Proxy: nil}
	s := &abandoningService{upstream: "http://" + upstreamAddr, client: &http.Client{Transport: tr}, stop: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api", s.api)
	mux.HandleFunc("GET /local", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("GET /actuator/prometheus", s.prometheus)
	s.Server = httptest.NewServer(mux)
	s.calls.Add(1)
	go func() {
		defer s.calls.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				s.call("/health", nil)
			}
		}
	}()
	t.Cleanup(func() {
		close(s.stop)
		s.Close()
		s.calls.Wait() // the run cleared the faults: held calls have ended
		tr.CloseIdleConnections()
	})
	return s
}

// call GETs path at the upstream in a goroutine of its own, with no
// timeout, and sends whether it succeeded on done unless done is nil.
func (s *abandoningService) call(path string, done chan<- bool) {
	s.calls.Add(1)
	go func() {
		defer s.calls.Done()
		resp, err := s.client.Get(s.upstream + path)
		ok := err == nil
		if ok {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ok = resp.StatusCode < 500
		}
		if done != nil {
			done <- ok
		}
	}()
}

// prometheus publishes the breaker's state as resilience4j does, one
// series per state, 1 for the current one, among 2,000 other series
// (a page of about 100 KB, as a real service's is).
func (s *abandoningService) prometheus(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	open := time.Now().Before(s.openUntil)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	io.WriteString(w, "# HELP jvm_threads_live_threads live threads\n# TYPE jvm_threads_live_threads gauge\n")
	for i := range 2000 {
		fmt.Fprintf(w, "jvm_threads_live_threads{pool=\"worker-%d\",area=\"heap\"} %d\n", i, i)
	}
	io.WriteString(w, "# HELP resilience4j_circuitbreaker_state The states of the circuit breaker\n# TYPE resilience4j_circuitbreaker_state gauge\n")
	for _, st := range []string{"closed", "disabled", "forced_open", "half_open", "metrics_only", "open"} {
		v := 0
		if (st == "open") == open && (st == "open" || st == "closed") {
			v = 1
		}
		fmt.Fprintf(w, "resilience4j_circuitbreaker_state{name=\"backend\",state=%q} %d\n", st, v)
		fmt.Fprintf(w, "resilience4j_circuitbreaker_state{name=\"other\",state=%q} %d\n", st, map[bool]int{true: 1}[st == "closed"])
	}
}

func (s *abandoningService) api(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	open := time.Now().Before(s.openUntil)
	s.mu.Unlock()
	if open {
		http.Error(w, "breaker open", http.StatusServiceUnavailable)
		return
	}
	done := make(chan bool, 1)
	s.call("/data", done)
	ok := false
	select {
	case ok = <-done:
	case <-time.After(250 * time.Millisecond): // the call goes on, abandoned
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		s.fails = 0
		io.WriteString(w, "ok")
		return
	}
	if s.fails++; s.fails >= 5 && !time.Now().Before(s.openUntil) {
		s.openUntil = time.Now().Add(1500 * time.Millisecond)
		if s.firstOpen.IsZero() {
			s.firstOpen = time.Now()
		}
	}
	http.Error(w, "dependency timed out", http.StatusGatewayTimeout)
}

// inferHang runs a hang (4 s, then 3 s of recovery) at rate against the
// service at url, whose dependency is the upstream at upAddr, and checks
// the open inferred from outside against the service's own log
// (firstOpen, read after the run): within 0.5 s, and inside the span it
// is shown with. It returns the report, the service's arm and the open
// from the log, in seconds from the fault phase's start.
func inferHang(t *testing.T, url, upAddr string, rate float64, firstOpen func() time.Time) (*reports.Report, *reports.Arm, float64) {
	t.Helper()
	cfg := testConfig(t, "hang")
	cfg.Rate = rate
	cfg.Phases[1].Duration = 4 * time.Second
	cfg.Phases[2].Duration = 3 * time.Second
	cfg.Targets = []Target{{Name: "svc", URL: url + "/api", Collateral: url + "/local"}}
	cfg.UpstreamAddr = upAddr
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := r.Arm("svc")
	first := firstOpen()
	if first.IsZero() {
		t.Fatal("the service's breaker never opened")
	}
	truth := first.Sub(a.StartedAt).Seconds() - r.Phases[1].StartS
	got, span := a.Figures.TimeToOpenS, a.Figures.TimeToOpenSpanS
	if a.BreakerFigures != reports.BreakerInferred || got == nil || len(span) != 2 {
		t.Fatalf("breaker figures %s, time to open %v, span %v; want an inferred open with its span (notes %q)", a.BreakerFigures, got, span, a.Notes)
	}
	if d := *got - truth; d < -0.5 || d > 0.5 {
		t.Errorf("time to open %.2f s (inferred); the service's log says %.2f s: want within 0.5 s (notes %q)", *got, truth, a.Notes)
	}
	// The span is the claim: it holds the truth, to a slot.
	if truth < span[0]-0.1 || truth > span[1]+0.1 {
		t.Errorf("time to open span %.1f–%.1f s does not hold the service's %.2f s", span[0], span[1], truth)
	}
	return r, a, truth
}

// TestInferOpenWithCallsInFlight runs a hang against a service that keeps
// its calls in flight — abandoned calls, and a health probe every second
// on another path — and checks that the open inferred from outside is
// within 0.5 s of the service's own log, that the span it is shown with
// holds it, and that the probes are counted apart.
func TestInferOpenWithCallsInFlight(t *testing.T) {
	upAddr := freeAddr(t)
	svc := startAbandoningService(t, upAddr)
	r, a, truth := inferHang(t, svc.URL, upAddr, 50, func() time.Time {
		svc.mu.Lock()
		defer svc.mu.Unlock()
		return svc.firstOpen
	})
	if !hasNote(a.Notes, "other paths than the service's dependency calls (/health: ") {
		t.Errorf("notes %q; want the health probes counted apart", a.Notes)
	}
	var md bytes.Buffer
	if err := reports.WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if want := reports.TimeToOpenInferred(a); !strings.Contains(want, "(inferred, ") || !strings.Contains(md.String(), want) {
		t.Errorf("report.md does not show the time to open as %q", want)
	}
	t.Logf("time to open %s; the service's log %.2f s", reports.TimeToOpenInferred(a), truth)
}

// TestPrometheusBreakerState reads the service's breaker state from its
// resilience4j-form Prometheus page: measured, its first open within a
// poll of the service's own log. A selector that matches no series, or
// two breakers, and a page given without a selector, are refused at the
// probe before any load, in one line that quotes no page.
func TestPrometheusBreakerState(t *testing.T) {
	upAddr := freeAddr(t)
	svc := startAbandoningService(t, upAddr)
	sm, err := ParseStateMetric(`resilience4j_circuitbreaker_state{name="backend"}`, "label:state")
	if err != nil {
		t.Fatal(err)
	}
	target := Target{Name: "svc", URL: svc.URL + "/api", Collateral: svc.URL + "/local", BreakerStateURL: svc.URL + "/actuator/prometheus"}
	for _, tt := range []struct {
		selector, mapping string
		want              string
	}{
		{"", "", "answered a Prometheus text page (2 metrics), not JSON state; name the series that holds the state with --breaker-state-metric"},
		{`resilience4j_circuitbreaker_state{name="backnd"}`, "label:state", `has no resilience4j_circuitbreaker_state series with labels resilience4j_circuitbreaker_state{name="backnd"}`},
		{`resilience4j_circuitbreaker_state`, "label:state", "has 2 series matching resilience4j_circuitbreaker_state with a value other than 0, want one (the current state)"},
		{`resilience4j_circuitbreaker_state{name="backend"}`, "", "has 6 series matching"},
		{`resilience4j_circuit_breaker_state`, "label:state", "has no metric resilience4j_circuit_breaker_state (2 metrics on the page; similar: resilience4j_circuitbreaker_state)"},
	} {
		bad := target
		if tt.selector != "" {
			if bad.StateMetric, err = ParseStateMetric(tt.selector, tt.mapping); err != nil {
				t.Fatal(err)
			}
		}
		cfg := testConfig(t, "hang")
		cfg.Targets, cfg.UpstreamAddr = []Target{bad}, upAddr
		r, err := Run(context.Background(), cfg)
		var se *SetupError
		if !errors.As(err, &se) || r != nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") || len(err.Error()) > 600 {
			t.Errorf("Run with state metric %q %q = %v; want a one-line SetupError containing %q, no page", tt.selector, tt.mapping, err, tt.want)
		}
	}

	target.StateMetric = sm
	cfg := testConfig(t, "hang")
	cfg.Rate = 50
	cfg.Phases[1].Duration = 3 * time.Second
	cfg.Phases[2].Duration = 3 * time.Second
	cfg.Targets, cfg.UpstreamAddr = []Target{target}, upAddr
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := r.Arm("svc")
	svc.mu.Lock()
	first := svc.firstOpen
	svc.mu.Unlock()
	if a.BreakerFigures != reports.BreakerMeasured || !a.Breaker || a.Figures.TimeToOpenS == nil || first.IsZero() {
		t.Fatalf("breaker figures %s, breaker %v, time to open %v; want measured from the page (notes %q)", a.BreakerFigures, a.Breaker, a.Figures.TimeToOpenS, a.Notes)
	}
	truth := first.Sub(a.StartedAt).Seconds() - r.Phases[1].StartS
	if d := *a.Figures.TimeToOpenS - truth; d < -0.05 || d > 2*statePollInterval.Seconds()+0.1 {
		t.Errorf("time to open %.2f s from the page; the service's log %.2f s: want within a poll or two after", *a.Figures.TimeToOpenS, truth)
	}
	for _, n := range a.Notes {
		if len(n) > 600 || strings.Contains(n, "jvm_threads") {
			t.Errorf("note quotes the page: %.200q", n)
		}
	}
	if !hasNote(a.Notes, `(Prometheus series resilience4j_circuitbreaker_state{name="backend"})`) {
		t.Errorf("notes %q; want the series the state was read from", a.Notes)
	}
}

// limitService is a user's service with a concurrency limit in front of
// its breaker, as hystrix's MaxConcurrentRequests: at most 10 calls held
// at once, the rest answered 503 at once; a held call is given up after
// 600 ms without being cancelled (its ticket returns, the call goes on),
// and the breaker opens, for 2 s, after 25 calls given up since the last
// success. Until it opens, new calls start as the held ones are given up.
type limitService struct {
	*httptest.Server
	upstream string
	client   *http.Client
	tickets  chan struct{}

	mu        sync.Mutex
	fails     int
	openUntil time.Time
	firstOpen time.Time

	calls sync.WaitGroup // abandoned calls
}

func startLimitService(t *testing.T, upstreamAddr string) *limitService {
	t.Helper()
	tr := &http.Transport{Proxy: nil}
	s := &limitService{upstream: "http://" + upstreamAddr, client: &http.Client{Transport: tr}, tickets: make(chan struct{}, 10)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api", s.api)
	mux.HandleFunc("GET /local", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	s.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		s.Close()
		s.calls.Wait() // the run cleared the faults: held calls have ended
		tr.CloseIdleConnections()
	})
	return s
}

func (s *limitService) api(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	open := time.Now().Before(s.openUntil)
	s.mu.Unlock()
	if open {
		http.Error(w, "circuit open", http.StatusServiceUnavailable)
		return
	}
	select {
	case s.tickets <- struct{}{}:
	default:
		http.Error(w, "max concurrency", http.StatusServiceUnavailable)
		return
	}
	done := make(chan bool, 1)
	s.calls.Add(1)
	go func() {
		defer s.calls.Done()
		resp, err := s.client.Get(s.upstream + "/data")
		ok := err == nil
		if ok {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ok = resp.StatusCode < 500
		}
		done <- ok
	}()
	ok := false
	select {
	case ok = <-done:
	case <-time.After(600 * time.Millisecond): // given up, not cancelled
	}
	<-s.tickets
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		s.fails = 0
		io.WriteString(w, "ok")
		return
	}
	if s.fails++; s.fails >= 25 && !time.Now().Before(s.openUntil) {
		s.openUntil = time.Now().Add(2 * time.Second)
		if s.firstOpen.IsZero() {
			s.firstOpen = time.Now()
		}
	}
	http.Error(w, "timeout", http.StatusGatewayTimeout)
}

// TestInferOpenBehindConcurrencyLimit runs a hang against a service whose
// full concurrency limit answers fast long before its breaker opens, and
// checks that the quiet stretches of the full limit are not read as the
// open: the inferred open is within 0.5 s of the service's own log, its
// span holds it, and a note says a limit was seen.
func TestInferOpenBehindConcurrencyLimit(t *testing.T) {
	upAddr := freeAddr(t)
	svc := startLimitService(t, upAddr)
	_, a, truth := inferHang(t, svc.URL, upAddr, 100, func() time.Time {
		svc.mu.Lock()
		defer svc.mu.Unlock()
		return svc.firstOpen
	})
	if !hasNote(a.Notes, "breaker state: a concurrency limit") {
		t.Errorf("notes %q; want the concurrency limit named", a.Notes)
	}
	t.Logf("time to open %s; the service's log %.2f s", reports.TimeToOpenInferred(a), truth)
}
