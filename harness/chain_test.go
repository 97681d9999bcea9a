package harness

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// countingUpstream answers /work with status and counts the requests.
func countingUpstream(t *testing.T, status *atomic.Int64) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(up.Close)
	return up, &n
}

func getAttempts(t *testing.T, client *http.Client, url string) (code int, outcome string, attempts int64) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	attempts, err = strconv.ParseInt(resp.Header.Get(attemptsHeader), 10, 64)
	if err != nil {
		t.Fatalf("%s = %q; want a count", attemptsHeader, resp.Header.Get(attemptsHeader))
	}
	return resp.StatusCode, resp.Header.Get(outcomeHeader), attempts
}

func TestGatewayRetries(t *testing.T) {
	var status atomic.Int64
	status.Store(http.StatusServiceUnavailable)
	up, seen := countingUpstream(t, &status)
	client := &http.Client{}
	defer client.CloseIdleConnections()
	cfg := GatewayConfig{Workers: 4, QueueTimeout: time.Second, CallTimeout: time.Second, Retries: 3}

	tests := []struct {
		arm          string
		breaker      BreakerConfig
		wantCode     int
		wantOutcome  string
		wantAttempts int64
	}{
		// Every attempt fails: 1 + 3 retries.
		{"no-breaker", BreakerConfig{}, 502, outcomeUpstreamError, 4},
		// The breaker trips on the second failure and rejects the third
		// attempt: the retries stop, the answer is the last failure's.
		{"breaker", BreakerConfig{Timeout: time.Hour, MaxRequests: 1, ConsecutiveFailures: 2}, 502, outcomeUpstreamError, 2},
		// One request in the budget's window allows 0.1 retries: none.
		{"retry-budget", BreakerConfig{}, 502, outcomeUpstreamError, 1},
	}
	for _, tt := range tests {
		t.Run(tt.arm, func(t *testing.T) {
			_, adm := testPolicy(t, tt.arm, tt.breaker, nil)
			gw, err := newGateway(cfg, up.URL+"/work", false, adm, nil, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer gw.close()
			before := seen.Load()
			code, outcome, attempts := getAttempts(t, client, gw.url()+"/api")
			if code != tt.wantCode || outcome != tt.wantOutcome || attempts != tt.wantAttempts {
				t.Errorf("GET /api = %d %s, %d attempts; want %d %s, %d attempts", code, outcome, attempts, tt.wantCode, tt.wantOutcome, tt.wantAttempts)
			}
			if got := seen.Load() - before; got != tt.wantAttempts {
				t.Errorf("upstream saw %d requests; want %d, as the header says", got, tt.wantAttempts)
			}
		})
	}

	// A success ends the retries.
	_, adm := testPolicy(t, "no-breaker", BreakerConfig{}, nil)
	gw, err := newGateway(cfg, up.URL+"/work", false, adm, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.close()
	status.Store(http.StatusOK)
	if code, _, attempts := getAttempts(t, client, gw.url()+"/api"); code != 200 || attempts != 1 {
		t.Errorf("GET /api with a healthy upstream = %d, %d attempts; want 200, 1", code, attempts)
	}
}

func TestGatewayBackoffDelay(t *testing.T) {
	newGW := func(seed uint64) *gateway {
		gw, err := newGateway(GatewayConfig{Workers: 1, QueueTimeout: time.Second, CallTimeout: time.Second, RetryBackoff: 100 * time.Millisecond},
			"http://127.0.0.1:1/work", false, plainAdmitter{nil}, nil, seed)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { gw.close() })
		return gw
	}
	a, b, c := newGW(5), newGW(5), newGW(6)
	var sum [4]time.Duration
	differs := false
	const n = 400
	for range n {
		for attempt := 1; attempt <= 3; attempt++ {
			d := a.backoffDelay(attempt)
			if ceil := 100 * time.Millisecond << (attempt - 1); d < 0 || d >= ceil {
				t.Fatalf("backoffDelay(%d) = %v; want in [0, %v)", attempt, d, ceil)
			}
			if d2 := b.backoffDelay(attempt); d2 != d {
				t.Fatalf("same seed: backoffDelay(%d) = %v and %v; want equal", attempt, d, d2)
			}
			differs = differs || c.backoffDelay(attempt) != d
			sum[attempt] += d
		}
	}
	if !differs {
		t.Errorf("seeds 5 and 6 drew the same %d delays; want the seed to matter", 3*n)
	}
	// Full jitter: the mean is half the ceiling (±15%).
	for attempt := 1; attempt <= 3; attempt++ {
		mean, want := sum[attempt]/n, 50*time.Millisecond<<(attempt-1)
		if mean < want*85/100 || mean > want*115/100 {
			t.Errorf("mean delay before retry %d = %v; want about %v", attempt, mean, want)
		}
	}
	zero := GatewayConfig{}
	if d := (&gateway{cfg: zero}).backoffDelay(1); d != 0 {
		t.Errorf("backoffDelay with no backoff = %v; want 0", d)
	}
}

// TestChainAmplification is the SRE book's example: 3 retries at each of 3
// tiers over a failing upstream give 4³ = 64 attempts per request without
// breakers, and a handful in all once each tier's breaker has tripped.
func TestChainAmplification(t *testing.T) {
	var status atomic.Int64
	status.Store(http.StatusServiceUnavailable)
	client := &http.Client{}
	defer client.CloseIdleConnections()
	for _, tt := range []struct {
		arm     string
		maxSeen int64 // over 10 requests
		minSeen int64
	}{
		{"no-breaker", 640, 640},
		{"breaker", 20, 1},
	} {
		t.Run(tt.arm, func(t *testing.T) {
			up, seen := countingUpstream(t, &status)
			cfg := DefaultConfig()
			cfg.Tiers = 3
			cfg.Gateway.Retries = 3
			cfg.Breaker.Timeout = time.Hour
			ch, err := startChain(&cfg, tt.arm, up.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ch.close()
			var headers int64
			for i := range 10 {
				_, outcome, attempts := getAttempts(t, client, ch.top().url()+"/api")
				headers += attempts
				if i == 0 && tt.arm == "no-breaker" && (attempts != 64 || outcome != outcomeUpstreamError) {
					t.Errorf("first request: %d attempts, outcome %s; want 64, upstream_error", attempts, outcome)
				}
				// Once a lower tier's breaker rejects, the top tier passes
				// that outcome on.
				if i > 0 && tt.arm == "breaker" && outcome != outcomeRejected {
					t.Errorf("request %d: outcome %s; want rejected", i+1, outcome)
				}
			}
			got := seen.Load()
			if got < tt.minSeen || got > tt.maxSeen {
				t.Errorf("upstream saw %d requests for 10; want %d–%d", got, tt.minSeen, tt.maxSeen)
			}
			if headers != got {
				t.Errorf("%s summed to %d; want the %d the upstream saw", attemptsHeader, headers, got)
			}
		})
	}
}
