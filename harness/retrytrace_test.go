package harness

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestRetriedRequestTrace sends one traced request through 2 tiers, each
// retrying twice over a failing upstream: one trace holds every attempt of
// every tier as a client span, each labelled with its attempt number under
// the server span of the request it retries, and the request is the
// phase's most_attempts exemplar.
func TestRetriedRequestTrace(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer up.Close()
	sr := tracetest.NewSpanRecorder()
	tel, stop := testTracing(sr, sdktrace.ParentBased(sdktrace.AlwaysSample()))
	defer stop()
	start := time.Now()
	ex := testExemplars(start, []Phase{{Name: "p", Duration: time.Hour}}, "")
	cfg := DefaultConfig()
	cfg.Tiers, cfg.Gateway.Retries = 2, 2
	ch, err := startChain(&cfg, "no-breaker", up.URL, tel.forGateway(ex))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tel.loadTransport(tr)}
	resp, err := client.Get(ch.top().url() + "/api")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got := resp.Header.Get(attemptsHeader); got != "9" {
		t.Fatalf("%s = %q; want 9 (3 × 3)", attemptsHeader, got)
	}

	var toUpstream, toTier2 int
	traces := map[string]bool{}
	// The attempt numbers of the client spans, by the span they retry under.
	attemptsUnder := map[string][]int64{}
	for _, s := range sr.Ended() {
		traces[s.SpanContext().TraceID().String()] = true
		if s.SpanKind().String() != "client" {
			continue
		}
		switch s.Name() {
		case "GET /work":
			toUpstream++
		case "GET /api":
			toTier2++
		}
		for _, kv := range s.Attributes() {
			if kv.Key == attrAttempt {
				parent := s.Parent().SpanID().String()
				attemptsUnder[parent] = append(attemptsUnder[parent], kv.Value.AsInt64())
			}
		}
	}
	// Tier 1 retries the one request 3 times; tier 2 each of those 3.
	if len(attemptsUnder) != 1+3 {
		t.Errorf("attempt-labelled spans under %d parents; want 4 (tier 1's request, and tier 2's 3)", len(attemptsUnder))
	}
	for parent, got := range attemptsUnder {
		slices.Sort(got)
		if !slices.Equal(got, []int64{1, 2, 3}) {
			t.Errorf("attempts under span %s: %v; want 1, 2, 3", parent, got)
		}
	}
	// The load runner's own client span is a GET /api too.
	if toUpstream != 9 || toTier2 != 1+3 || len(traces) != 1 {
		t.Errorf("%d client spans to the upstream, %d to /api, in %d traces; want 9, 4 (the load runner's and 3 attempts at tier 2), in 1", toUpstream, toTier2, len(traces))
	}

	ex.observe(&vegeta.Result{Code: 502, Timestamp: start, Headers: resp.Header}, false)
	var kinds []string
	for _, e := range ex.list() {
		kinds = append(kinds, e.Kind)
	}
	if !slices.Equal(kinds, []string{"slowest_api", "most_attempts"}) {
		t.Errorf("exemplar kinds %v; want slowest_api, most_attempts", kinds)
	}
}
