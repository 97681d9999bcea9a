package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cbload/cbload/policy"
)

func get(t testing.TB, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get(outcomeHeader)
}

func TestGatewayOutcomes(t *testing.T) {
	var status int
	var delay time.Duration
	var mu sync.Mutex
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		s, d := status, delay
		mu.Unlock()
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(s)
	}))
	defer up.Close()
	set := func(s int, d time.Duration) { mu.Lock(); status, delay = s, d; mu.Unlock() }

	cfg := GatewayConfig{Workers: 2, QueueTimeout: 100 * time.Millisecond, CallTimeout: 100 * time.Millisecond}
	pol, adm := testPolicy(t, "breaker", BreakerConfig{Timeout: time.Hour, MaxRequests: 1, ConsecutiveFailures: 3}, nil)
	gw, err := newGateway(cfg, up.URL+"/work", false, adm, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.close()
	client := &http.Client{}
	defer client.CloseIdleConnections()

	tests := []struct {
		status      int
		delay       time.Duration
		path        string
		wantCode    int
		wantOutcome string
	}{
		{200, 0, "/api", 200, outcomeOK},
		{200, 0, "/local", 200, outcomeOK},
		{500, 0, "/api", 502, outcomeUpstreamError},
		{200, time.Second, "/api", 504, outcomeTimeout},
		{503, 0, "/api", 502, outcomeUpstreamError},
		// Three failures in a row: the breaker is open now.
		{200, 0, "/api", 503, outcomeRejected},
		{200, 0, "/local", 200, outcomeOK},
	}
	for i, tt := range tests {
		set(tt.status, tt.delay)
		code, outcome := get(t, client, gw.url()+tt.path)
		if code != tt.wantCode || outcome != tt.wantOutcome {
			t.Errorf("step %d: GET %s with upstream %d after %v = %d %s; want %d %s", i, tt.path, tt.status, tt.delay, code, outcome, tt.wantCode, tt.wantOutcome)
		}
	}
	if got := pol.Transitions(time.Now()); len(got) != 1 || got[0].To != "open" {
		t.Errorf("transitions = %v; want one, to open", got)
	}
}

func TestGatewaySaturates(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer up.Close()
	defer close(release)
	cfg := GatewayConfig{Workers: 1, QueueTimeout: 50 * time.Millisecond, CallTimeout: 5 * time.Second}
	gw, err := newGateway(cfg, up.URL+"/work", false, plainAdmitter{policy.None{}}, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.close()
	client := &http.Client{}
	defer client.CloseIdleConnections()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	busy := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, gw.url()+"/api", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		busy <- err
	}()
	for gw.pool.InFlight() == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	code, outcome := get(t, client, gw.url()+"/local")
	waited := time.Since(start)
	if code != 503 || outcome != outcomeSaturated {
		t.Errorf("GET /local with the only worker busy = %d %s; want 503 saturated", code, outcome)
	}
	if waited < 50*time.Millisecond || waited > 500*time.Millisecond {
		t.Errorf("saturated answer after %v; want after the 50ms queue timeout", waited)
	}
	if peak := gw.pool.TakePeak(); peak != 2 {
		t.Errorf("in-flight peak = %d; want 2", peak)
	}
	cancel()
	<-busy
}

// testPolicy builds the policy of arm with breaker settings bc, traced
// through tel when not nil.
func testPolicy(t testing.TB, arm string, bc BreakerConfig, tel *gatewayTracing) (policy.Policy, admitter) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Breaker = bc
	pol, adm, err := newPolicy(arm, "up", &cfg, tel, time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	return pol, adm
}

// BenchmarkGatewayAPI measures the gateway's per-request overhead — worker
// pool, policy and recording — over a real loopback upstream.
func BenchmarkGatewayAPI(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer up.Close()
	for _, arm := range policy.Arms() {
		b.Run(arm, func(b *testing.B) {
			_, adm := testPolicy(b, arm, DefaultConfig().Breaker, nil)
			gw, err := newGateway(GatewayConfig{Workers: 64, QueueTimeout: time.Second, CallTimeout: time.Second}, up.URL+"/work", false, adm, nil, 1)
			if err != nil {
				b.Fatal(err)
			}
			defer gw.close()
			start := time.Now()
			rec := testRecorder(start, []Phase{{Name: "p", Duration: time.Hour}}, 200, time.Second, arm == "breaker")
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer client.CloseIdleConnections()
			url := gw.url() + "/api"
			b.ResetTimer()
			for b.Loop() {
				t0 := time.Now()
				resp, err := client.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				rec.add(result(start, t0.Sub(start), time.Since(t0), uint16(resp.StatusCode), resp.Header.Get(outcomeHeader)), false)
			}
		})
	}
}

// BenchmarkGatewayTry measures the gateway's own per-request cost of the
// policy and the retry loop, without HTTP: every arm's policy, with a call
// that succeeds at once and one that fails twice before it succeeds
// (3 attempts, 2 of them retries; the retry-budget arm admits fewer).
func BenchmarkGatewayTry(b *testing.B) {
	bc := BreakerConfig{Timeout: time.Second, MaxRequests: 1, ConsecutiveFailures: 1 << 30}
	errFail := errors.New("fail")
	for _, arm := range policy.Arms() {
		for _, failures := range []int{0, 2} {
			b.Run(fmt.Sprintf("%s/failures=%d", arm, failures), func(b *testing.B) {
				_, adm := testPolicy(b, arm, bc, nil)
				g := &gateway{cfg: GatewayConfig{Retries: 3}, admit: adm}
				ctx := context.Background()
				n := 0
				call := func(context.Context) (int64, error) {
					n++
					if n%(failures+1) != 0 {
						return 1, errFail
					}
					return 1, nil
				}
				for b.Loop() {
					n = 0
					if _, err := g.try(ctx, call); err != nil && !errors.Is(err, errFail) && !errors.Is(err, policy.ErrRejected) {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
