package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	otelprom "go.opentelemetry.io/contrib/bridges/prometheus"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
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
func (c TracingConfig) ExportingMetrics() bool {
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") ||
		strings.EqualFold(os.Getenv("OTEL_METRICS_EXPORTER"), "none") {
		return false
	}
	return c.metricsEndpoint() != ""
}

func (c TracingConfig) metricsEndpoint() string {
	for _, e := range []string{c.Endpoint, os.Getenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"), os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")} {
		if e != "" {
			return e
		}
	}
	return ""
}

func (c TracingConfig) metricsProtocol() string {
	for _, p := range []string{c.Protocol, os.Getenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"), os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")} {
		if p != "" {
			return p
		}
	}
	return "http/protobuf"
}

// metricsExport is a run's OTLP metrics pipeline. The caller must call
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
	c := cfg.Tracing
	if !c.ExportingMetrics() {
		return nil, nil
	}
	proto := c.metricsProtocol()
	if proto != "grpc" && proto != "http/protobuf" {
		return nil, fmt.Errorf("otlp metrics protocol %q: want grpc or http/protobuf", proto)
	}
	var endpoint string
	if c.Endpoint != "" {
		u, err := endpointURL(c.Endpoint)
		if err != nil {
			return nil, err
		}
		if proto == "http/protobuf" && (u.Path == "" || u.Path == "/") {
			u.Path = "/v1/metrics"
		}
		endpoint = u.String()
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
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	var readerOpts []sdkmetric.PeriodicReaderOption
	if os.Getenv("OTEL_METRIC_EXPORT_INTERVAL") == "" {
		readerOpts = append(readerOpts, sdkmetric.WithInterval(DefaultMetricsInterval))
	}
	readerOpts = append(readerOpts, sdkmetric.WithProducer(otelprom.NewMetricProducer(otelprom.WithGatherer(cfg.Metrics.reg))))
	res, _ := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(serviceLoadgen),
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
