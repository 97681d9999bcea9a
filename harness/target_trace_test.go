package harness

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/cbload/cbload/internal/testenv"
	"github.com/cbload/cbload/reports"
)

// tracedServiceName is the OpenTelemetry service name of the instrumented
// test service.
const tracedServiceName = "traced-service"

// tracedService is a user's service instrumented with OpenTelemetry as
// one usually is: otelhttp on its handler and on the client that calls its
// dependency, W3C trace context, exporting to a collector when given one.
// GET /api calls the dependency's /data; GET /local answers at once.
type tracedService struct {
	*httptest.Server
	// requests counts the requests it served; withParent those that came
	// with a traceparent header.
	requests, withParent atomic.Int64
}

// startTracedService starts the service calling its dependency at
// upstreamAddr, exporting its spans over OTLP/HTTP to collector unless it
// is "". It stops, flushing its spans, when the test ends.
func startTracedService(t *testing.T, upstreamAddr, collector string) *tracedService {
	t.Helper()
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(tracedServiceName))),
	}
	if collector != "" {
		exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(collector+"/v1/traces"))
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(200*time.Millisecond)))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	otel := []otelhttp.Option{
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(propagation.TraceContext{}),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
	}
	tr := &http.Transport{Proxy: nil}
	client := &http.Client{Transport: otelhttp.NewTransport(tr, otel...), Timeout: 300 * time.Millisecond}
	s := &tracedService{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api", func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, "http://"+upstreamAddr+"/data", nil)
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, "dependency: "+err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode >= 500 {
			http.Error(w, "dependency failed", http.StatusBadGateway)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	})
	mux.HandleFunc("GET /local", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"ok":true}`) })
	h := otelhttp.NewHandler(mux, "service", append(otel, otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
		return r.Method + " " + r.URL.Path
	}))...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.Header.Get("Traceparent") != "" {
			s.withParent.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		s.Close()
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(ctx)
	})
	return s
}

// tracedTargetConfig is a short run against svc, whose dependency is
// cbload's upstream at upAddr, traced to collector.
func tracedTargetConfig(t *testing.T, svc *tracedService, upAddr, collector string) Config {
	t.Helper()
	cfg := testConfig(t, "latency:500ms")
	cfg.Rate = 50
	cfg.Phases[0].Duration, cfg.Phases[1].Duration, cfg.Phases[2].Duration = 2*time.Second, 3*time.Second, 2*time.Second
	cfg.Targets = []Target{{Name: "svc", URL: svc.URL + "/api", Collateral: svc.URL + "/local"}}
	cfg.UpstreamAddr = upAddr
	cfg.Tracing = TracingConfig{Endpoint: collector, Protocol: "http/protobuf", JaegerURL: "http://jaeger.example:16686", Version: "e2e"}
	return cfg
}

// TestTargetTraceContext checks that with an OTLP endpoint every request
// to a user's service carries W3C trace context, that cbload's spans are
// exported, and that the report has exemplars and its tracing section, as
// for cbload's own gateway. The collector here only counts what it gets;
// the Jaeger test follows one trace through the service.
func TestTargetTraceContext(t *testing.T) {
	var batches atomic.Int64
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/v1/traces" {
			batches.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	upAddr := freeAddr(t)
	svc := startTracedService(t, upAddr, "")
	cfg := tracedTargetConfig(t, svc, upAddr, collector.URL)
	// Validity (stalls of a busy machine) does not matter here.
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}

	if n, p := svc.requests.Load(), svc.withParent.Load(); n < 100 || p != n-int64(len(cfg.Targets[0].requests())) {
		// The probe before the load sends each request once, untraced.
		t.Errorf("the service got %d requests, %d with a traceparent; want every request of the load traced (all but the %d probes)", n, p, len(cfg.Targets[0].requests()))
	}
	tr := r.Tracing
	// A starved machine can time an export out: spans exported is the
	// claim, not that none failed.
	if tr == nil || !tr.Enabled || tr.SpansExported == 0 || batches.Load() == 0 {
		t.Fatalf("report tracing = %+v (collector got %d batches); want enabled, spans exported", tr, batches.Load())
	}
	a := r.Arm("svc")
	for _, kind := range []string{"slowest_api", "slowest_local"} {
		for _, phase := range []string{"baseline", "fault"} {
			id := exemplarID(t, a, phase, kind)
			if len(id) != 32 {
				t.Errorf("exemplar %s/%s trace id %q; want 32 hex digits", phase, kind, id)
			}
		}
	}
	var md bytes.Buffer
	if err := reports.WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### Exemplar traces", "http://jaeger.example:16686/trace/" + exemplarID(t, a, "fault", "slowest_api"), "Tracing: "} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report.md has no %q", want)
		}
	}
}

// TestJaegerTargetEndToEnd runs the instrumented service as the target
// with the real Jaeger as the collector of both cbload and the service:
// one trace shows the load runner's request, the service's own server and
// client spans, and cbload's upstream, each the parent of the next, and
// Jaeger's web UI opens it from the report's exemplar link.
func TestJaegerTargetEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Jaeger and a 7-second experiment")
	}
	ui, uiMissing := jaegerUIAssets()
	j := startJaeger(t, ui)
	upAddr := freeAddr(t)
	svc := startTracedService(t, upAddr, j.otlpHTTP)
	cfg := tracedTargetConfig(t, svc, upAddr, j.otlpHTTP)
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tr := r.Tracing; tr == nil || tr.SpansExported == 0 {
		t.Fatalf("report tracing = %+v; want spans exported", tr)
	}
	a := r.Arm("svc")
	id := exemplarID(t, a, "fault", "slowest_api")
	chain := []struct{ service, name string }{
		{serviceLoadgen, "GET /api"},
		{tracedServiceName, "GET /api"},
		{tracedServiceName, "HTTP GET"},
		{serviceUpstream, "GET"},
	}
	// The service flushes its spans every 200 ms: wait for the whole chain.
	deadline := time.Now().Add(15 * time.Second)
	var spans []otlpSpan
	for {
		spans = j.trace(t, id)
		if len(spans) >= len(chain) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	var parent string
	for i, want := range chain {
		var got *otlpSpan
		for _, s := range spans {
			if s.service == want.service && strings.HasPrefix(s.Name, want.name) && s.ParentSpanID == parent {
				got = &s
				break
			}
		}
		if got == nil {
			t.Fatalf("no %s span %q whose parent is %q (step %d); spans: %v", want.service, want.name, parent, i, describe(spans))
		}
		parent = got.SpanID
		switch want.service {
		case serviceLoadgen:
			if got.attrs["cbload.arm"] != "svc" || got.attrs["cbload.phase"] != "fault" || got.res["cbload.run_id"] != r.RunID {
				t.Errorf("load runner span attributes %v, resource %v; want cbload.arm svc, cbload.phase fault, cbload.run_id %s", got.attrs, got.res, r.RunID)
			}
		case serviceUpstream:
			if !strings.HasPrefix(got.attrs["cbload.fault.specs"], "latency:500ms") {
				t.Errorf("upstream span attributes %v; want cbload.fault.specs latency:500ms", got.attrs)
			}
		}
	}

	t.Run("ui", func(t *testing.T) {
		if uiMissing != "" {
			testenv.SkipOrFail(t, uiMissing+"; the Jaeger UI test did not run")
		}
		checkTargetTraceUI(t, j, a)
	})
}

// checkTargetTraceUI opens the fault phase's slowest /api exemplar of arm
// a in Jaeger's UI, by the path of the report's link, and reads its span
// tree: load runner → the service's server span → its client span →
// cbload's upstream, each one level deeper.
func checkTargetTraceUI(t *testing.T, j *jaeger, a *reports.Arm) {
	ctx := browser(t)
	wait := chromedp.WithPollingTimeout(30 * time.Second)
	var link *url.URL
	for _, e := range a.Exemplars {
		if e.Phase == "fault" && e.Kind == "slowest_api" {
			u, err := url.Parse(e.URL)
			if err != nil || u.Path != "/trace/"+e.TraceID {
				t.Fatalf("exemplar link %q; want <jaeger-url>/trace/%s", e.URL, e.TraceID)
			}
			link = u
		}
	}
	if link == nil {
		t.Fatal("no slowest_api exemplar in the fault phase")
	}
	page := j.query + link.Path
	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatalf("open %s: %v", page, err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Poll[[]uiRow](`(() => {
	  const rows = `+spanRows+`;
	  return rows.some(r => r.service === "`+serviceUpstream+`") ? rows : false;
	})()`, wait))
	if err != nil {
		t.Fatalf("trace page %s never showed a %s span: %v", page, serviceUpstream, err)
	}
	screenshot(t, ctx, "jaeger-ui-target-trace")
	want := []string{serviceLoadgen, tracedServiceName, tracedServiceName, serviceUpstream}
	if len(rows) != len(want) {
		t.Fatalf("trace page rows %+v; want %d rows: %v", rows, len(want), want)
	}
	for i, row := range rows {
		if row.Service != want[i] || (i > 0 && row.Depth <= rows[i-1].Depth) {
			t.Errorf("trace page row %d = %+v; want service %s one level below the row above (rows %+v)", i, row, want[i], rows)
		}
	}
}
