package harness

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/policy"
	"github.com/cbload/cbload/reports"
)

func TestChooseSampler(t *testing.T) {
	ratio := func(v float64) *float64 { return &v }
	tests := []struct {
		name      string
		flag      *float64
		env, arg  string
		requests  float64
		wantName  string
		wantRatio float64
	}{
		{"default run", nil, "", "", 12000, "parentbased_traceidratio", 1},
		{"long run", nil, "", "", 200000, "parentbased_traceidratio", 0.1},
		{"flag", ratio(0.01), "always_on", "", 12000, "parentbased_traceidratio", 0.01},
		{"env ratio", nil, "parentbased_traceidratio", "0.25", 12000, "parentbased_traceidratio", 0.25},
		{"env off", nil, "always_off", "", 12000, "always_off", 0},
		{"env on", nil, "always_on", "", 1e9, "always_on", 1},
		{"env unknown", nil, "jaeger_remote", "", 12000, "parentbased_traceidratio", 1},
		{"env bad arg", nil, "traceidratio", "2", 12000, "traceidratio", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("OTEL_TRACES_SAMPLER", tt.env)
			t.Setenv("OTEL_TRACES_SAMPLER_ARG", tt.arg)
			got := chooseSampler(TracingConfig{SampleRatio: tt.flag}, tt.requests)
			if got.name != tt.wantName || got.ratio != tt.wantRatio || got.desc == "" {
				t.Errorf("chooseSampler = %s %v %q; want %s %v with a description", got.name, got.ratio, got.desc, tt.wantName, tt.wantRatio)
			}
		})
	}
}

func TestTracingExporting(t *testing.T) {
	for _, v := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER"} {
		t.Setenv(v, "")
	}
	if (TracingConfig{}).Exporting() {
		t.Errorf("Exporting() with no endpoint = true; want false")
	}
	if !(TracingConfig{Endpoint: "127.0.0.1:4318"}).Exporting() {
		t.Errorf("Exporting() with --otlp-endpoint = false; want true")
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	if !(TracingConfig{}).Exporting() {
		t.Errorf("Exporting() with OTEL_EXPORTER_OTLP_ENDPOINT = false; want true")
	}
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	if (TracingConfig{}).Exporting() {
		t.Errorf("Exporting() with OTEL_TRACES_EXPORTER=none = true; want false")
	}
}

// TestTracingBadCollector checks that a collector that refuses connections,
// or accepts them and never answers, neither fails nor stalls the run, and
// that the report says what was lost.
func TestTracingBadCollector(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	var held []net.Conn
	var mu sync.Mutex
	conns.Add(1)
	go func() {
		defer conns.Done()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		silent.Close()
		conns.Wait()
		for _, c := range held {
			c.Close()
		}
	}()
	refused := "http://" + freeAddr(t)

	tests := []struct{ name, endpoint, proto string }{
		{"refused/http", refused, "http/protobuf"},
		{"refused/grpc", refused, "grpc"},
		{"silent/http", "http://" + silent.Addr().String(), "http/protobuf"},
		{"silent/grpc", "http://" + silent.Addr().String(), "grpc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Seed = 7
			cfg.Rate = 100
			cfg.Arms = []string{reports.ArmNoBreaker}
			cfg.Phases = []Phase{{Name: "baseline", Duration: 2 * time.Second}}
			cfg.Tracing.Endpoint, cfg.Tracing.Protocol = tt.endpoint, tt.proto
			start := time.Now()
			r, err := Run(context.Background(), cfg)
			took := time.Since(start)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			// The arm takes 2 s; the flush may take 5 s more, not longer.
			if limit := cfg.TotalDuration() + 5*time.Second + time.Second; took > limit {
				t.Errorf("Run took %v; want at most %v with a bad collector", took, limit)
			}
			tr := r.Tracing
			if !tr.Enabled || tr.SpansExported != 0 || tr.SpansFailed+tr.SpansDropped == 0 {
				t.Errorf("report tracing = %+v; want enabled, nothing exported, spans failed or dropped", tr)
			}
			if ok := r.Arms[0].Summary["baseline"].API.SuccessRatio; ok < 0.99 {
				t.Errorf("/api success %v with a bad collector; want the run unaffected", ok)
			}
		})
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// testTracing returns a tracing whose three providers record into sr, and a
// function that shuts them down.
func testTracing(sr sdktrace.SpanProcessor, sampler sdktrace.Sampler) (*tracing, func()) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr), sdktrace.WithSampler(keepStateChanges{sampler}))
	t := &tracing{prop: propagation.TraceContext{}, loadgen: tp, gateway: tp, upstream: tp}
	return t, func() { _ = tp.Shutdown(context.Background()) }
}

// TestBreakerSpans drives a traced gateway through closed → open →
// half-open → closed and checks the breaker's spans and the exemplars.
func TestBreakerSpans(t *testing.T) {
	var fail atomic.Bool
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer up.Close()

	sr := tracetest.NewSpanRecorder()
	tel, stop := testTracing(sr, sdktrace.ParentBased(sdktrace.AlwaysSample()))
	defer stop()
	start := time.Now()
	ex := testExemplars(start, []Phase{{Name: "p", Duration: time.Hour}}, "http://jaeger")
	gtel := tel.forGateway(ex)
	_, adm := testPolicy(t, "breaker", BreakerConfig{Timeout: 100 * time.Millisecond, MaxRequests: 1, ConsecutiveFailures: 2}, gtel)
	gw, err := newGateway(GatewayConfig{Workers: 4, QueueTimeout: time.Second, CallTimeout: time.Second}, up.URL+"/work", false, adm, gtel, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tel.loadTransport(tr)}

	fail.Store(true)
	for range 2 {
		get(t, client, gw.url()+"/api") // trips on the second failure
	}
	if _, outcome := get(t, client, gw.url()+"/api"); outcome != outcomeRejected {
		t.Fatalf("third call outcome %s; want rejected", outcome)
	}
	fail.Store(false)
	time.Sleep(150 * time.Millisecond) // past the open timeout
	if _, outcome := get(t, client, gw.url()+"/api"); outcome != outcomeOK {
		t.Fatalf("probe outcome %s; want ok", outcome)
	}

	var outcomes, changes []string
	for _, s := range sr.Ended() {
		attrs := map[string]string{}
		for _, a := range s.Attributes() {
			attrs[string(a.Key)] = a.Value.Emit()
		}
		switch s.Name() {
		case "breaker up":
			outcomes = append(outcomes, attrs["cbload.breaker.state"]+":"+attrs["cbload.breaker.outcome"])
			rejected := attrs["cbload.breaker.outcome"] == breakerRejectedOpen
			if rejected && (s.Status().Code != codes.Error || attrs["error.type"] != "circuit_breaker_open") {
				t.Errorf("rejection span status %v error.type %q; want Error, circuit_breaker_open", s.Status(), attrs["error.type"])
			}
			var children int
			for _, c := range sr.Ended() {
				if c.Parent().SpanID() == s.SpanContext().SpanID() {
					children++
				}
			}
			if want := map[bool]int{true: 0, false: 1}[rejected]; children != want {
				t.Errorf("%s span has %d child spans; want %d (the upstream call only when admitted)", attrs["cbload.breaker.outcome"], children, want)
			}
		case stateChangeSpan:
			changes = append(changes, attrs["cbload.breaker.from"]+"→"+attrs["cbload.breaker.to"])
			if len(s.Links()) != 1 || !s.Links()[0].SpanContext.IsValid() {
				t.Errorf("state_change span links %v; want one, to the request that caused it", s.Links())
			}
		}
	}
	wantOutcomes := []string{"closed:failure", "closed:failure", "open:rejected_open", "half-open:success"}
	if !slices.Equal(outcomes, wantOutcomes) {
		t.Errorf("breaker span outcomes %v; want %v", outcomes, wantOutcomes)
	}
	wantChanges := []string{"closed→open", "open→half-open", "half-open→closed"}
	if !slices.Equal(changes, wantChanges) {
		t.Errorf("state_change spans %v; want %v", changes, wantChanges)
	}
	kinds := map[string]bool{}
	for _, e := range ex.list() {
		kinds[e.Kind] = true
		if e.URL != "http://jaeger/trace/"+e.TraceID {
			t.Errorf("exemplar URL %s; want http://jaeger/trace/%s", e.URL, e.TraceID)
		}
	}
	for _, k := range []string{"tripped_breaker", "first_rejection", "half_open_probe"} {
		if !kinds[k] {
			t.Errorf("exemplars %v; want a %s", ex.list(), k)
		}
	}
}

func TestExemplarsKeepBest(t *testing.T) {
	start := time.Now()
	ex := testExemplars(start, []Phase{{Name: "a", Duration: time.Second}, {Name: "b", Duration: time.Second}}, "")
	id := func(b byte) [16]byte { return [16]byte{15: b} }
	for i := range 1000 {
		at := start.Add(time.Duration(i) * time.Millisecond) // phase a
		ex.slowest(exSlowestAPI, at, id(byte(i%250+1)), time.Duration(i%250)*time.Millisecond)
		ex.first(exFirstRejection, start.Add(time.Second+time.Duration(1000-i)*time.Microsecond), id(byte(i%250+1)))
	}
	got := ex.list()
	want := []reports.Exemplar{
		{Phase: "a", Kind: "slowest_api", TraceID: "000000000000000000000000000000fa"},
		{Phase: "b", Kind: "first_rejection", TraceID: "000000000000000000000000000000fa"},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("exemplars = %+v; want %+v", got, want)
	}
}

// BenchmarkGatewayTracing measures the whole traced path — load runner
// client, gateway with breaker, upstream — with tracing off, sampled at 1%
// and at 100%. Spans go to a batch processor with a no-op exporter, so the
// cost measured is instrumentation and span handling, not OTLP encoding.
func BenchmarkGatewayTracing(b *testing.B) {
	for _, bc := range []struct {
		name  string
		ratio float64 // < 0: tracing off
	}{{"off", -1}, {"sampled-1pct", 0.01}, {"sampled-100pct", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			var (
				tel  *tracing
				gtel *gatewayTracing
				stop = func() {}
			)
			var upH http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, `{"ok":true}`)
			})
			if bc.ratio >= 0 {
				bsp := sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter(), sdktrace.WithMaxQueueSize(traceQueueSize))
				tel, stop = testTracing(bsp, samplerChoice{name: "parentbased_traceidratio", ratio: bc.ratio}.sampler())
				gtel = tel.forGateway(testExemplars(time.Now(), []Phase{{Name: "p", Duration: time.Hour}}, ""))
				upH = otelhttp.NewHandler(upH, "upstream", tel.httpOptions(tel.upstream)...)
			}
			defer stop()
			up := httptest.NewServer(upH)
			defer up.Close()
			_, adm := testPolicy(b, "breaker", DefaultConfig().Breaker, gtel)
			gw, err := newGateway(GatewayConfig{Workers: 64, QueueTimeout: time.Second, CallTimeout: time.Second}, up.URL+"/work", false, adm, gtel, 1)
			if err != nil {
				b.Fatal(err)
			}
			defer gw.close()
			tr := &http.Transport{MaxIdleConnsPerHost: 64}
			defer tr.CloseIdleConnections()
			var rt http.RoundTripper = tr
			if tel != nil {
				rt = tel.loadTransport(tr)
			}
			client := &http.Client{Transport: rt}
			url := gw.url() + "/api"
			b.ResetTimer()
			for b.Loop() {
				resp, err := client.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}

// TestUnsampledRequestsSkipInstrumentation checks the fast path for requests
// the load runner did not sample: no tier records a span, and the decision
// still travels to the upstream, so it does not start traces of its own.
func TestUnsampledRequestsSkipInstrumentation(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tel, stop := testTracing(sr, samplerChoice{name: "parentbased_traceidratio", ratio: 0}.sampler())
	defer stop()
	upCfg := faultserver.Config{ServiceTime: time.Microsecond}
	tel.instrumentUpstream(&upCfg)
	var unsampledParents atomic.Int64
	traced := upCfg.Middleware
	upCfg.Middleware = func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tp := r.Header.Get("traceparent"); strings.HasSuffix(tp, "-00") {
				unsampledParents.Add(1)
			}
			traced(h).ServeHTTP(w, r)
		})
	}
	up, err := faultserver.New(upCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	gw, err := newGateway(GatewayConfig{Workers: 4, QueueTimeout: time.Second, CallTimeout: time.Second}, up.URL()+"/work", false, plainAdmitter{policy.None{}}, tel.forGateway(nil), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tel.loadTransport(tr)}
	const n = 20
	for range n {
		resp, err := client.Get(gw.url() + "/api")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /api = %d; want 200", resp.StatusCode)
		}
	}
	if got := unsampledParents.Load(); got != n {
		t.Errorf("upstream saw %d requests with an unsampled traceparent; want %d", got, n)
	}
	if spans := sr.Ended(); len(spans) != 0 {
		t.Errorf("%d spans recorded at sampling ratio 0 (first: %q); want none", len(spans), spans[0].Name())
	}
}

// The default exemplar links open the UI that make jaeger-up starts.
func TestDefaultJaegerURLIsMakeJaegerUp(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join("..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`extensions\.jaeger_query\.http\.endpoint=(\S+)`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile: jaeger-up sets no extensions.jaeger_query.http.endpoint")
	}
	u, err := url.Parse(DefaultJaegerURL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "http" || u.Host != string(m[1]) || u.Path != "" {
		t.Errorf("DefaultJaegerURL = %s; want http://%s, where make jaeger-up serves the UI", DefaultJaegerURL, m[1])
	}
}
