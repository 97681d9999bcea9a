package harness

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/cbload/cbload/internal/testenv"
)

// TestOTLPMetrics runs a short experiment with OTEL_EXPORTER_OTLP_METRICS_ENDPOINT
// pointing at a test receiver: exports arrive while it runs, and the last
// one holds the same values as the Prometheus registry.
func TestOTLPMetrics(t *testing.T) {
	recv := &testenv.MetricsReceiver{}
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

	n, arrivals, got := recv.Exports()
	var during int
	for _, at := range arrivals {
		if at.Before(r.FinishedAt) && at.After(begin) {
			during++
		}
	}
	if during < 5 {
		t.Errorf("%d OTLP exports during a %v run; want one a second", during, r.FinishedAt.Sub(begin).Round(time.Second))
	}
	if n == 0 {
		t.Fatal("no OTLP metrics export received")
	}
	fams := gather(t, m)
	var compared int
	for name, f := range fams {
		for _, mt := range f.GetMetric() {
			attrs := map[string]string{}
			for _, l := range mt.GetLabel() {
				attrs[l.GetName()] = l.GetValue()
			}
			want, _ := value(map[string]*dto.MetricFamily{name: f}, name, attrs)
			k := testenv.Key(name, attrs)
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
		testenv.Key("cbload_requests_total", map[string]string{"arm": "breaker", "endpoint": "local", "outcome": "ok"}),
		testenv.Key("cbload_request_duration_seconds", map[string]string{"arm": "no-breaker", "endpoint": "api"}),
		testenv.Key("cbload_breaker_transitions_total", map[string]string{"arm": "breaker"}),
	} {
		if got[k] == 0 {
			t.Errorf("OTLP %s = 0; want the run's count", k)
		}
	}
}

// exportTo starts the metrics export of a run to a collector answering
// /v1/metrics with answer (the body read first), stopped when the test
// ends.
func exportTo(t *testing.T, answer http.HandlerFunc) *metricsExport {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", srv.URL+"/v1/metrics")
	cfg := testConfig(t, "hang")
	e, err := startMetricsExport(context.Background(), &cfg)
	if err != nil || e == nil {
		t.Fatalf("startMetricsExport = %v, %v; want a pipeline", e, err)
	}
	t.Cleanup(e.shutdown)
	return e
}

// TestMetricsExportErrorSignal checks that a failed OTLP metrics export
// reaches the SDK's error handler as the metrics signal's error
// (SignalError), so it is labelled metrics, not tracing.
func TestMetricsExportErrorSignal(t *testing.T) {
	e := exportTo(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad request", http.StatusBadRequest) // not retried
	})
	err := e.mp.ForceFlush(context.Background())
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
	e := exportTo(t, func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		http.NotFound(w, r)
	})
	err := e.mp.ForceFlush(context.Background())
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

// TestMetricsInterval checks the export interval: the variable's
// milliseconds, else the default.
func TestMetricsInterval(t *testing.T) {
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", " 2500 ")
	if got := MetricsInterval(); got != 2500*time.Millisecond {
		t.Errorf("MetricsInterval() with 2500 = %v; want 2.5s", got)
	}
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "")
	if got := MetricsInterval(); got != DefaultMetricsInterval {
		t.Errorf("MetricsInterval() unset = %v; want %v", got, DefaultMetricsInterval)
	}
}
