package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	otelprom "go.opentelemetry.io/contrib/bridges/prometheus"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/cbload/cbload/faultserver"
)

// OTLP metrics export the instruments of Metrics — the same ones the
// Prometheus endpoint serves, read from its registry through the
// OpenTelemetry Prometheus bridge — to the OTLP endpoint the traces go to,
// as the run goes.

// DefaultMetricsInterval is how often OTLP metrics are exported unless
// OTEL_METRIC_EXPORT_INTERVAL says otherwise: often enough to watch a run
// whose phases last seconds.
const DefaultMetricsInterval = 5 * time.Second

// metricsFlushBudget bounds the final export at the end of a run.
const metricsFlushBudget = 4 * time.Second

// ExportingMetrics reports whether OTLP metrics are exported: an endpoint is
// set by c (--otlp-endpoint) or by OTEL_EXPORTER_OTLP_METRICS_ENDPOINT or
// OTEL_EXPORTER_OTLP_ENDPOINT, and neither OTEL_SDK_DISABLED nor
// OTEL_METRICS_EXPORTER=none turns them off.
func (c TracingConfig) ExportingMetrics() bool { return c.exporting(signalMetrics) }

// MetricsTarget returns where OTLP metrics go, as the exporter will send
// them — the URL, /v1/metrics added where the SDK adds it, with any
// credentials redacted — and the protocol; "" when none are exported.
func (c TracingConfig) MetricsTarget() (endpoint, protocol string) {
	if !c.ExportingMetrics() {
		return "", ""
	}
	proto := c.protocol(signalMetrics)
	e := c.endpoint(signalMetrics)
	switch {
	case c.Endpoint != "":
		u, err := c.flagMetricsURL(proto)
		if err != nil {
			return RedactURL(c.Endpoint), proto
		}
		e = u
	case os.Getenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") == "" && proto == "http/protobuf":
		e = strings.TrimRight(e, "/") + "/v1/metrics"
	}
	return RedactURL(e), proto
}

// flagMetricsURL is --otlp-endpoint as the metrics exporter is given it:
// host:port means http://, and http/protobuf gets /v1/metrics when the URL
// has no path.
func (c TracingConfig) flagMetricsURL(proto string) (string, error) {
	u, err := endpointURL(c.Endpoint)
	if err != nil {
		return "", err
	}
	if proto == "http/protobuf" && (u.Path == "" || u.Path == "/") {
		u.Path = "/v1/metrics"
	}
	return u.String(), nil
}

// metricsExport is an OTLP metrics pipeline. The caller must call
// shutdown, which exports the final values.
type metricsExport struct {
	mp        *sdkmetric.MeterProvider
	closeIdle func()
	once      sync.Once
	done      chan struct{}
}

// startMetricsExport starts exporting cfg.Metrics over OTLP when an
// endpoint is set, creating cfg.Metrics if the caller gave none; it
// returns nil when nothing is to be exported.
func startMetricsExport(ctx context.Context, cfg *Config) (*metricsExport, error) {
	if !cfg.Tracing.ExportingMetrics() {
		return nil, nil
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	return newMetricsExport(ctx, cfg.Tracing, cfg.Metrics.reg, serviceLoadgen)
}

// newMetricsExport exports what g gathers over OTLP as service, as c and
// the environment say. The caller has checked c.ExportingMetrics.
func newMetricsExport(ctx context.Context, c TracingConfig, g prometheus.Gatherer, service string) (*metricsExport, error) {
	proto := c.protocol(signalMetrics)
	if proto != "grpc" && proto != "http/protobuf" {
		return nil, fmt.Errorf("otlp metrics protocol %q: want grpc or http/protobuf", proto)
	}
	var endpoint string
	if c.Endpoint != "" {
		u, err := c.flagMetricsURL(proto)
		if err != nil {
			return nil, err
		}
		endpoint = u
	}
	var (
		exp       sdkmetric.Exporter
		closeIdle func()
		err       error
	)
	if proto == "grpc" {
		opts := []otlpmetricgrpc.Option{otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{
			Enabled: true, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second, MaxElapsedTime: 2 * time.Second,
		})}
		if endpoint != "" {
			opts = append(opts, otlpmetricgrpc.WithEndpointURL(endpoint))
		}
		exp, err = otlpmetricgrpc.New(ctx, opts...)
	} else {
		tr := &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			TLSHandshakeTimeout: 2 * time.Second,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     30 * time.Second,
		}
		opts := []otlpmetrichttp.Option{
			otlpmetrichttp.WithHTTPClient(&http.Client{Transport: tr}),
			otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{
				Enabled: true, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second, MaxElapsedTime: 2 * time.Second,
			}),
		}
		if endpoint != "" {
			opts = append(opts, otlpmetrichttp.WithEndpointURL(endpoint))
		}
		exp, err = otlpmetrichttp.New(ctx, opts...)
		closeIdle = tr.CloseIdleConnections
	}
	if err != nil {
		return nil, fmt.Errorf("otlp metrics exporter: %w", err)
	}
	var readerOpts []sdkmetric.PeriodicReaderOption
	if os.Getenv("OTEL_METRIC_EXPORT_INTERVAL") == "" {
		readerOpts = append(readerOpts, sdkmetric.WithInterval(DefaultMetricsInterval))
	}
	readerOpts = append(readerOpts, sdkmetric.WithProducer(otelprom.NewMetricProducer(otelprom.WithGatherer(g))))
	res, _ := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(service),
		semconv.ServiceNamespace("cbload"),
		semconv.ServiceVersion(c.Version),
	))
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricsExporter{Exporter: exp, refused: new(atomic.Bool)}, readerOpts...)),
	)
	return &metricsExport{mp: mp, closeIdle: closeIdle, done: make(chan struct{})}, nil
}

// begin starts the final export, within metricsFlushBudget (after an
// interrupt, the traces' shorter traceFlushInterrupted: the partial report
// must not wait on a collector), and the pipeline's stop, in the
// background: the run's end calls it before it flushes its traces, so that
// the two flushes overlap. It is nil-safe, and only the first call does
// anything.
func (e *metricsExport) begin(interrupted bool) {
	if e == nil {
		return
	}
	e.once.Do(func() {
		go func() {
			defer close(e.done)
			budget := metricsFlushBudget
			if interrupted {
				budget = traceFlushInterrupted
			}
			ctx, cancel := context.WithTimeout(context.Background(), budget)
			defer cancel()
			_ = e.mp.Shutdown(ctx)
			if e.closeIdle != nil {
				e.closeIdle()
			}
		}()
	})
}

// shutdown exports the final values, if begin has not, and waits until
// the pipeline has stopped. It is nil-safe. A collector that is gone costs
// the run the budget, not an error: metrics are a view of the run, the
// report is its record.
func (e *metricsExport) shutdown() {
	if e == nil {
		return
	}
	e.begin(false)
	<-e.done
}

// SignalError is an error of the OpenTelemetry pipeline that exports one
// signal ("metrics"), which the SDK reports through its global error
// handler: the handler names the signal by it, not as tracing.
type SignalError struct {
	// Signal is the signal the failed export carried: "metrics".
	Signal string
	Err    error
}

func (e *SignalError) Error() string { return e.Err.Error() }
func (e *SignalError) Unwrap() error { return e.Err }

// metricsExporter tags the errors of the metrics exporter it wraps as the
// metrics signal's. A collector that takes traces but no metrics — Jaeger,
// the one the docs start, answers 404 on /v1/metrics (gRPC: Unimplemented)
// — is told once, in words, and not asked again in the run.
type metricsExporter struct {
	sdkmetric.Exporter
	refused *atomic.Bool
}

func (m metricsExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	if m.refused != nil && m.refused.Load() {
		return nil
	}
	if err := m.Exporter.Export(ctx, rm); err != nil {
		if m.refused != nil && takesNoMetrics(err) {
			m.refused.Store(true)
			return &SignalError{Signal: "metrics", Err: fmt.Errorf("the collector takes no OTLP metrics (as Jaeger, which stores traces only): traces are exported all the same, metrics are not sent again this run; OTEL_METRICS_EXPORTER=none skips them: %w", err)}
		}
		return &SignalError{Signal: "metrics", Err: err}
	}
	return nil
}

// takesNoMetrics says an export error is the collector saying it has no
// metrics endpoint: HTTP 404 or 501, gRPC Unimplemented.
func takesNoMetrics(err error) bool {
	s := err.Error()
	return strings.Contains(s, "404 Not Found") || strings.Contains(s, "501 Not Implemented") ||
		strings.Contains(s, "code = Unimplemented")
}

func (m metricsExporter) ForceFlush(ctx context.Context) error {
	if err := m.Exporter.ForceFlush(ctx); err != nil {
		return &SignalError{Signal: "metrics", Err: err}
	}
	return nil
}

func (m metricsExporter) Shutdown(ctx context.Context) error {
	if err := m.Exporter.Shutdown(ctx); err != nil {
		return &SignalError{Signal: "metrics", Err: err}
	}
	return nil
}

// UpstreamExport exports a standalone upstream's counters (cbload serve)
// as OTLP metrics. The caller must call Close.
type UpstreamExport struct{ e *metricsExport }

// ExportUpstreamMetrics starts exporting the counters UpstreamMetrics
// serves, read from stats, to the OTLP endpoint c or the environment names
// (as for a run: see TracingConfig.ExportingMetrics), from the
// cbload-upstream service, every DefaultMetricsInterval unless
// OTEL_METRIC_EXPORT_INTERVAL says otherwise. It returns nil when no
// metrics are to be exported.
func ExportUpstreamMetrics(ctx context.Context, c TracingConfig, stats func() faultserver.Stats) (*UpstreamExport, error) {
	if !c.ExportingMetrics() {
		return nil, nil
	}
	e, err := newMetricsExport(ctx, c, upstreamRegistry(stats), serviceUpstream)
	if err != nil {
		return nil, err
	}
	return &UpstreamExport{e: e}, nil
}

// Close exports the final values and stops the export: within a few
// seconds, or, when interrupted (a signal stops serve), the short budget
// that keeps a gone collector from holding the exit. A collector that
// takes nothing costs the budget, not an error. It is nil-safe.
func (u *UpstreamExport) Close(interrupted bool) {
	if u == nil {
		return
	}
	u.e.begin(interrupted)
	<-u.e.done
}

// MetricsInterval is how often OTLP metrics are exported:
// $OTEL_METRIC_EXPORT_INTERVAL (checked by CheckEnv), or else
// DefaultMetricsInterval.
func MetricsInterval() time.Duration {
	if ms, err := strconv.Atoi(strings.TrimSpace(os.Getenv("OTEL_METRIC_EXPORT_INTERVAL"))); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return DefaultMetricsInterval
}
