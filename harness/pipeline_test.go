package harness

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/cbload/cbload/faultserver"
)

// The pipeline benchmarks measure closed-loop throughput — a fixed number of
// vegeta workers, each sending as soon as its last answer came back — of
// cbload's own path against a baseline of the same shape built from plain
// parts. Compare them in one run (make bench prints the ratio); ns/op is the
// time per request at that concurrency.

const pipelineWorkers = 64

// closedLoop sends b.N requests to url from pipelineWorkers workers and
// passes each result to record; wrap, when set, wraps the load runner's
// transport (for tracing).
func closedLoop(b *testing.B, target string, wrap func(http.RoundTripper) http.RoundTripper, record func(*vegeta.Result)) {
	b.Helper()
	lr := newLoadRunner(0, 5*time.Second, nil, wrap)
	defer lr.close()
	var sent atomic.Int64
	n := int64(b.N)
	tr := func(t *vegeta.Target) error {
		if sent.Add(1) > n {
			return vegeta.ErrNoTargets
		}
		t.Method, t.URL = http.MethodGet, target
		return nil
	}
	atk := vegeta.NewAttacker(vegeta.Workers(pipelineWorkers), vegeta.MaxWorkers(pipelineWorkers),
		vegeta.MaxBody(0), vegeta.Client(lr.client))
	b.ResetTimer()
	var errs int
	for res := range atk.Attack(tr, vegeta.Rate{}, 0, "bench") {
		if res.Error == vegeta.ErrNoTargets.Error() {
			continue // a worker found the count reached
		}
		if res.Code != http.StatusOK {
			errs++
		}
		record(res)
	}
	b.StopTimer()
	if errs > b.N/1000 {
		b.Fatalf("%d of %d requests failed", errs, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkPipelineCbload is vegeta → gateway (worker pool, breaker) →
// faultserver with no fault, every result recorded, and 1% of requests
// traced through all three tiers to a no-op exporter.
func BenchmarkPipelineCbload(b *testing.B) {
	bsp := sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter(), sdktrace.WithMaxQueueSize(traceQueueSize))
	tel, stop := testTracing(bsp, samplerChoice{name: "parentbased_traceidratio", ratio: 0.01}.sampler())
	defer stop()
	upCfg := faultserver.Config{ServiceTime: time.Microsecond}
	tel.instrumentUpstream(&upCfg)
	up, err := faultserver.New(upCfg)
	if err != nil {
		b.Fatal(err)
	}
	defer up.Close()
	start := time.Now()
	ex := testExemplars(start, []Phase{{Name: "p", Duration: time.Hour}}, "")
	gtel := tel.forGateway(ex)
	_, adm := testPolicy(b, "breaker", DefaultConfig().Breaker, gtel)
	gw, err := newGateway(GatewayConfig{Workers: 256, QueueTimeout: time.Second, CallTimeout: time.Second}, up.URL()+"/work", false, adm, gtel, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer gw.close()
	rec := testRecorder(start, []Phase{{Name: "p", Duration: time.Hour}}, 200, time.Second, true)
	closedLoop(b, gw.url()+"/api", tel.loadTransport, func(r *vegeta.Result) {
		rec.add(r, false)
		ex.observe(r, false)
	})
}

// BenchmarkPipelineBaseline is vegeta → httputil.ReverseProxy → a trivial
// handler: the same two hops with nothing of cbload's.
func BenchmarkPipelineBaseline(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256}
	proxy := httptest.NewServer(rp)
	defer proxy.Close()
	defer rp.Transport.(*http.Transport).CloseIdleConnections()
	closedLoop(b, proxy.URL+"/api", nil, func(*vegeta.Result) {})
}
