package harness

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"
)

// otlpMetricsReceiver is an OTLP/HTTP metrics receiver that keeps every
// export it decodes.
type otlpMetricsReceiver struct {
	mu      sync.Mutex
	exports []*colmetricpb.ExportMetricsServiceRequest
	at      []time.Time
}

func (r *otlpMetricsReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil || req.URL.Path != "/v1/metrics" || req.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want a protobuf export on /v1/metrics", http.StatusBadRequest)
		return
	}
	var ex colmetricpb.ExportMetricsServiceRequest
	if err := proto.Unmarshal(body, &ex); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.exports = append(r.exports, &ex)
	r.at = append(r.at, time.Now())
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&colmetricpb.ExportMetricsServiceResponse{})
	w.Write(out)
}

// otlpKey names a data point: metric name and sorted attributes.
func otlpKey(name string, attrs map[string]string) string {
	var parts []string
	for k, v := range attrs {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return name + "{" + strings.Join(parts, ",") + "}"
}

// otlpValues returns the values in an export: sums and gauges by value,
// histograms by count.
func otlpValues(ex *colmetricpb.ExportMetricsServiceRequest) map[string]float64 {
	out := map[string]float64{}
	for _, rm := range ex.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				switch d := m.GetData().(type) {
				case *metricpb.Metric_Sum:
					for _, p := range d.Sum.GetDataPoints() {
						out[otlpKey(m.GetName(), pbAttrs(p.GetAttributes()))] = p.GetAsDouble() + float64(p.GetAsInt())
					}
				case *metricpb.Metric_Gauge:
					for _, p := range d.Gauge.GetDataPoints() {
						out[otlpKey(m.GetName(), pbAttrs(p.GetAttributes()))] = p.GetAsDouble() + float64(p.GetAsInt())
					}
				case *metricpb.Metric_ExponentialHistogram:
					for _, p := range d.ExponentialHistogram.GetDataPoints() {
						out[otlpKey(m.GetName(), pbAttrs(p.GetAttributes()))] = float64(p.GetCount())
					}
				case *metricpb.Metric_Histogram:
					for _, p := range d.Histogram.GetDataPoints() {
						out[otlpKey(m.GetName(), pbAttrs(p.GetAttributes()))] = float64(p.GetCount())
					}
				}
			}
		}
	}
	return out
}

func pbAttrs(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	return m
}

// TestOTLPMetrics runs a short experiment with OTEL_EXPORTER_OTLP_METRICS_ENDPOINT
// pointing at a test receiver: exports arrive while it runs, and the last
// one holds the same values as the Prometheus registry.
func TestOTLPMetrics(t *testing.T) {
	recv := &otlpMetricsReceiver{}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", srv.URL+"/v1/metrics")
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "1000")

	cfg := testConfig(t, "latency:1s")
	cfg.Phases[0].Duration, cfg.Phases[1].Duration, cfg.Phases[2].Duration = time.Second, 2*time.Second, 2*time.Second
	m := NewMetrics()
	cfg.Metrics = m
	begin := time.Now()
	r := runOrFail(t, cfg)

	recv.mu.Lock()
	defer recv.mu.Unlock()
	var during int
	for _, at := range recv.at {
		if at.Before(r.FinishedAt) && at.After(begin) {
			during++
		}
	}
	if during < 5 {
		t.Errorf("%d OTLP exports during a %v run; want one a second", during, r.FinishedAt.Sub(begin).Round(time.Second))
	}
	if len(recv.exports) == 0 {
		t.Fatal("no OTLP metrics export received")
	}
	got := otlpValues(recv.exports[len(recv.exports)-1])
	fams := gather(t, m)
	var compared int
	for name, f := range fams {
		for _, mt := range f.GetMetric() {
			attrs := map[string]string{}
			for _, l := range mt.GetLabel() {
				attrs[l.GetName()] = l.GetValue()
			}
			want, _ := value(map[string]*dto.MetricFamily{name: f}, name, attrs)
			k := otlpKey(name, attrs)
			if v, ok := got[k]; !ok || v != want {
				t.Errorf("OTLP %s = %v (present %v); Prometheus has %v", k, v, ok, want)
			}
			compared++
		}
	}
	if compared < 50 {
		t.Errorf("compared %d series; want every series of the run", compared)
	}
	for _, k := range []string{
		otlpKey("cbload_requests_total", map[string]string{"arm": "breaker", "endpoint": "local", "outcome": "ok"}),
		otlpKey("cbload_request_duration_seconds", map[string]string{"arm": "no-breaker", "endpoint": "api"}),
		otlpKey("cbload_breaker_transitions_total", map[string]string{"arm": "breaker"}),
	} {
		if got[k] == 0 {
			t.Errorf("OTLP %s = 0; want the run's count", k)
		}
	}
}

// TestMetricsExportErrorSignal checks that a failed OTLP metrics export
// reaches the SDK's error handler as the metrics signal's error
// (SignalError), so it is labelled metrics, not tracing.
func TestMetricsExportErrorSignal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.Error(w, "bad request", http.StatusBadRequest) // not retried
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", srv.URL+"/v1/metrics")
	cfg := testConfig(t, "hang")
	e, err := startMetricsExport(context.Background(), &cfg)
	if err != nil || e == nil {
		t.Fatalf("startMetricsExport = %v, %v; want a pipeline", e, err)
	}
	defer e.shutdown()
	err = e.mp.ForceFlush(context.Background())
	var se *SignalError
	if !errors.As(err, &se) || se.Signal != "metrics" {
		t.Errorf("ForceFlush against a refusing collector = %v; want a SignalError of the metrics signal", err)
	}
}

// A collector that takes traces but no metrics (Jaeger answers 404 on
// /v1/metrics) is told once, in words that say traces still go, and not
// asked again in the run.
func TestMetricsExportCollectorWithoutMetrics(t *testing.T) {
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		posts.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", srv.URL+"/v1/metrics")
	cfg := testConfig(t, "hang")
	e, err := startMetricsExport(context.Background(), &cfg)
	if err != nil || e == nil {
		t.Fatalf("startMetricsExport = %v, %v; want a pipeline", e, err)
	}
	defer e.shutdown()
	err = e.mp.ForceFlush(context.Background())
	var se *SignalError
	if !errors.As(err, &se) || se.Signal != "metrics" || !strings.Contains(err.Error(), "the collector takes no OTLP metrics") || !strings.Contains(err.Error(), "traces are exported all the same") {
		t.Errorf("ForceFlush against a collector without metrics = %v; want the metrics signal's error saying so", err)
	}
	n := posts.Load()
	if err := e.mp.ForceFlush(context.Background()); err != nil {
		t.Errorf("second ForceFlush = %v; want nothing more said", err)
	}
	if got := posts.Load(); got != n {
		t.Errorf("the collector was asked %d more times after it said it takes no metrics; want 0", got-n)
	}
}
