package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/reports"
)

// Service names, one OpenTelemetry resource per tier.
const (
	serviceLoadgen  = "cbload-loadgen"
	serviceGateway  = "cbload-gateway"
	serviceUpstream = "cbload-upstream"
)

// Span attribute keys. No semantic convention exists for circuit breakers
// yet, so they live in cbload's namespace.
const (
	attrArm            = attribute.Key("cbload.arm")
	attrPhase          = attribute.Key("cbload.phase")
	attrOutcome        = attribute.Key("cbload.outcome")
	attrAttempts       = attribute.Key("cbload.gateway.attempts")
	attrAttempt        = attribute.Key("cbload.gateway.attempt")
	attrQueueWaitMS    = attribute.Key("cbload.gateway.queue_wait_ms")
	attrSaturated      = attribute.Key("cbload.gateway.saturated")
	attrBreakerName    = attribute.Key("cbload.breaker.name")
	attrBreakerState   = attribute.Key("cbload.breaker.state")
	attrBreakerOutcome = attribute.Key("cbload.breaker.outcome")
	attrBreakerFrom    = attribute.Key("cbload.breaker.from")
	attrBreakerTo      = attribute.Key("cbload.breaker.to")
	attrFaultKinds     = attribute.Key("cbload.fault.kinds")
	attrFaultSpecs     = attribute.Key("cbload.fault.specs")
	attrHeld           = attribute.Key("cbload.fault.hang.held_ms")
	attrHangEnd        = attribute.Key("cbload.fault.hang.ended_by")
	attrRunID          = attribute.Key("cbload.run_id")
)

// stateChangeSpan is the name of the span recorded for each breaker
// transition; such spans are always sampled.
const stateChangeSpan = "breaker state_change"

// traceIDHeader is set by the load runner's own transport on each response
// of a sampled request, so a vegeta result can be tied to its trace. It
// never travels on the wire.
const traceIDHeader = "X-Cbload-Trace-Id"

// Tracing timings: export batches often enough that Jaeger shows a run while
// it runs, give up on an export quickly, and flush within 5 s at the end.
const (
	traceQueueSize     = 16384
	traceBatchSize     = 1024
	traceBatchTimeout  = time.Second
	traceExportTimeout = 3 * time.Second
	traceFlushBudget   = 4 * time.Second
	traceAbortGrace    = 900 * time.Millisecond
	// After a signal: what a local collector takes in that time is
	// delivered; a slow or gone one loses the rest.
	traceFlushInterrupted = 400 * time.Millisecond
	traceAbortInterrupted = 150 * time.Millisecond
)

// runLabels holds the arm and phase that every span started now is stamped
// with. The run loop updates it; span processors read it.
type runLabels struct {
	v atomic.Pointer[[2]attribute.KeyValue]
}

func (l *runLabels) set(arm, phase string) {
	l.v.Store(&[2]attribute.KeyValue{attrArm.String(arm), attrPhase.String(phase)})
}

// labelProcessor stamps cbload.arm and cbload.phase on every recording span
// and hands sampled spans to the shared batch processor. Its Shutdown does
// nothing: the tracing that owns the batch processor shuts it down once,
// after all three providers.
type labelProcessor struct {
	labels *runLabels
	ended  *atomic.Int64
	next   sdktrace.SpanProcessor
}

func (p labelProcessor) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	if l := p.labels.v.Load(); l != nil {
		s.SetAttributes(l[:]...)
	}
}

func (p labelProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.SpanContext().IsSampled() {
		p.ended.Add(1)
		p.next.OnEnd(s)
	}
}

func (labelProcessor) Shutdown(context.Context) error   { return nil }
func (labelProcessor) ForceFlush(context.Context) error { return nil }

// countingExporter counts what the OTLP exporter accepted and what failed,
// and swallows the errors so an unreachable collector is reported once, in
// the report, instead of on stderr for every batch. Once abort is called,
// exports still pending fail at once.
type countingExporter struct {
	next      sdktrace.SpanExporter
	closeIdle func() // closes the HTTP exporter's idle connections; may be nil

	abortCtx context.Context
	abort    context.CancelFunc

	exported, failed atomic.Int64
	mu               sync.Mutex
	lastErr          error
	stopped          chan struct{} // closed when Shutdown has returned
}

func newCountingExporter(next sdktrace.SpanExporter, closeIdle func()) *countingExporter {
	ctx, cancel := context.WithCancel(context.Background())
	return &countingExporter{next: next, closeIdle: closeIdle, abortCtx: ctx, abort: cancel, stopped: make(chan struct{})}
}

func (e *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	n := int64(len(spans))
	if e.abortCtx.Err() != nil {
		e.failed.Add(n)
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(e.abortCtx, cancel)
	defer stop()
	if err := e.next.ExportSpans(ctx, spans); err != nil {
		e.failed.Add(n)
		e.mu.Lock()
		e.lastErr = err
		e.mu.Unlock()
		return nil
	}
	e.exported.Add(n)
	return nil
}

func (e *countingExporter) Shutdown(ctx context.Context) error {
	defer close(e.stopped)
	err := e.next.Shutdown(ctx)
	if e.closeIdle != nil {
		e.closeIdle()
	}
	return err
}

// tracing is one run's OpenTelemetry setup: a tracer provider per tier,
// sharing one bounded batch processor and exporter. The caller must call
// shutdown.
type tracing struct {
	loadgen, gateway, upstream *sdktrace.TracerProvider
	prop                       propagation.TextMapPropagator
	labels                     runLabels
	jaegerURL                  string

	bsp      sdktrace.SpanProcessor
	exporter *countingExporter
	ended    atomic.Int64
	info     reports.Tracing
}

// newTracing sets up tracing for a run offering requests requests in total,
// or returns nil when nothing is to be exported.
func newTracing(ctx context.Context, c TracingConfig, runID string, requests float64) (*tracing, error) {
	if !c.Exporting() {
		return nil, nil
	}
	proto := c.protocol(signalTraces)
	exp, closeIdle, err := newExporter(ctx, c, proto)
	if err != nil {
		return nil, err
	}
	choice := chooseSampler(c, requests)
	t := &tracing{
		prop:      propagation.TraceContext{},
		jaegerURL: strings.TrimRight(RedactURL(c.JaegerURL), "/"),
		exporter:  newCountingExporter(exp, closeIdle),
		info: reports.Tracing{
			Enabled:     true,
			Endpoint:    RedactURL(c.endpoint(signalTraces)),
			Protocol:    proto,
			Sampler:     choice.name,
			SamplerArg:  choice.ratio,
			Description: choice.desc,
			JaegerURL:   RedactURL(c.JaegerURL),
		},
	}
	t.bsp = sdktrace.NewBatchSpanProcessor(t.exporter,
		sdktrace.WithMaxQueueSize(traceQueueSize),
		sdktrace.WithMaxExportBatchSize(traceBatchSize),
		sdktrace.WithBatchTimeout(traceBatchTimeout),
		sdktrace.WithExportTimeout(traceExportTimeout),
	)
	sampler := choice.sampler()
	provider := func(service string) *sdktrace.TracerProvider {
		res, _ := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL,
			semconv.ServiceName(service),
			semconv.ServiceNamespace("cbload"),
			semconv.ServiceVersion(c.Version),
			attrRunID.String(runID),
		))
		return sdktrace.NewTracerProvider(
			sdktrace.WithResource(res),
			sdktrace.WithSampler(sampler),
			sdktrace.WithSpanProcessor(labelProcessor{labels: &t.labels, ended: &t.ended, next: t.bsp}),
		)
	}
	t.loadgen = provider(serviceLoadgen)
	t.gateway = provider(serviceGateway)
	t.upstream = provider(serviceUpstream)
	return t, nil
}

// newExporter builds the OTLP exporter. Options given here override the
// OTEL_EXPORTER_OTLP_* variables; everything else (headers, TLS, timeouts)
// comes from them.
func newExporter(ctx context.Context, c TracingConfig, proto string) (sdktrace.SpanExporter, func(), error) {
	// Retry briefly: a batch that cannot be sent within the export timeout is
	// counted as failed rather than held.
	if proto == "grpc" {
		opts := []otlptracegrpc.Option{otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{
			Enabled: true, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second, MaxElapsedTime: 2 * time.Second,
		})}
		if c.Endpoint != "" {
			u, err := endpointURL(c.Endpoint)
			if err != nil {
				return nil, nil, err
			}
			opts = append(opts, otlptracegrpc.WithEndpointURL(u.String()))
		}
		exp, err := otlptracegrpc.New(ctx, opts...)
		if err != nil {
			return nil, nil, fmt.Errorf("otlp grpc exporter: %w", err)
		}
		return exp, nil, nil
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		TLSHandshakeTimeout: 2 * time.Second,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
	}
	opts := []otlptracehttp.Option{
		otlptracehttp.WithHTTPClient(&http.Client{Transport: tr}),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{
			Enabled: true, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second, MaxElapsedTime: 2 * time.Second,
		}),
	}
	if c.Endpoint != "" {
		u, err := endpointURL(c.Endpoint)
		if err != nil {
			return nil, nil, err
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("otlp http exporter: %w", err)
	}
	return exp, tr.CloseIdleConnections, nil
}

// setPhase stamps spans started from now on with arm and phase.
func (t *tracing) setPhase(arm, phase string) {
	if t != nil {
		t.labels.set(arm, phase)
	}
}

// shutdown flushes what is queued within about 5 s (half a second after a
// signal, interrupted, which must end cbload within a second), abandons
// the rest, and returns what was traced. Every goroutine of the exporter
// has stopped when it returns, unless the exporter itself ignores
// cancellation.
func (t *tracing) shutdown(interrupted bool) *reports.Tracing {
	budget, grace := traceFlushBudget, traceAbortGrace
	if interrupted {
		budget, grace = traceFlushInterrupted, traceAbortInterrupted
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	for _, tp := range []*sdktrace.TracerProvider{t.loadgen, t.gateway, t.upstream} {
		_ = tp.Shutdown(ctx) // only marks it stopped: its processor does not own the batch processor
	}
	if err := t.bsp.Shutdown(ctx); err != nil {
		// The collector is slow or gone: fail what is left at once.
		t.exporter.abort()
	}
	select {
	case <-t.exporter.stopped:
	case <-time.After(grace):
	}
	t.exporter.abort()

	info := t.info
	info.SpansExported = t.exporter.exported.Load()
	info.SpansFailed = t.exporter.failed.Load()
	info.SpansDropped = max(0, t.ended.Load()-info.SpansExported-info.SpansFailed)
	t.exporter.mu.Lock()
	if err := t.exporter.lastErr; err != nil {
		info.LastError = RedactText(err.Error())
	}
	t.exporter.mu.Unlock()
	return &info
}

func (t *tracing) httpOptions(tp trace.TracerProvider) []otelhttp.Option {
	return []otelhttp.Option{
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(t.prop),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(spanName),
	}
}

// spanName names HTTP spans "GET /api": cbload's paths are few and fixed.
func spanName(_ string, r *http.Request) string {
	switch p := r.URL.Path; p {
	case "/api", "/local", "/work":
		return r.Method + " " + p
	}
	return r.Method
}

// loadTransport wraps the load runner's transport: otelhttp starts a client
// span per request (a trace root, as vegeta's requests carry no context)
// and sends its W3C trace context (traceparent) with the request — to
// cbload's gateway, or to a user's service, which joins the trace when it
// is instrumented — and the inner transport stamps the sampled trace id
// on the response. The spans are named by method and path ("GET /api"):
// the load's requests are few and fixed.
func (t *tracing) loadTransport(next http.RoundTripper) http.RoundTripper {
	opts := append(t.httpOptions(t.loadgen), otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
		return r.Method + " " + r.URL.Path
	}))
	return otelhttp.NewTransport(traceIDTransport{next}, opts...)
}

type traceIDTransport struct{ next http.RoundTripper }

func (t traceIDTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err == nil {
		if sc := trace.SpanContextFromContext(r.Context()); sc.IsSampled() {
			resp.Header.Set(traceIDHeader, sc.TraceID().String())
		}
	}
	return resp, err
}

// sampledOnly serves a request whose W3C parent says "not sampled" with
// plain, the parent on its context so that calls further down propagate the
// same decision, and every other request with traced. The load runner makes
// the sampling decision; at a low ratio most requests then skip otelhttp's
// per-request work in the gateway and the upstream.
func (t *tracing) sampledOnly(traced, plain http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && !sc.IsSampled() {
			plain.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		traced.ServeHTTP(w, r)
	})
}

// sampledOnlyTransport is sampledOnly for a client: a request whose context
// carries an unsampled span only has that span's context injected.
type sampledOnlyTransport struct {
	traced, plain http.RoundTripper
	prop          propagation.TextMapPropagator
}

func (s sampledOnlyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if sc := trace.SpanContextFromContext(r.Context()); sc.IsValid() && !sc.IsSampled() {
		r = r.Clone(r.Context()) // a RoundTripper must not change its request
		s.prop.Inject(r.Context(), propagation.HeaderCarrier(r.Header))
		return s.plain.RoundTrip(r)
	}
	return s.traced.RoundTrip(r)
}

// forGateway returns the gateway's tracing, reporting exemplars to ex.
func (t *tracing) forGateway(ex *exemplars) *gatewayTracing {
	return &gatewayTracing{
		tracing:   t,
		opts:      t.httpOptions(t.gateway),
		tracer:    t.gateway.Tracer("github.com/cbload/cbload/harness"),
		exemplars: ex,
	}
}

// upstream fills the faultserver's hooks: otelhttp server spans, the faults
// applied to each request as attributes, and an event when a hang ends.
func (t *tracing) instrumentUpstream(cfg *faultserver.Config) {
	opts := t.httpOptions(t.upstream)
	cfg.Middleware = func(h http.Handler) http.Handler {
		return t.sampledOnly(otelhttp.NewHandler(h, "upstream", opts...), h)
	}
	cfg.OnApplied = func(r *http.Request, applied []faultserver.Spec) {
		span := trace.SpanFromContext(r.Context())
		if !span.IsRecording() || len(applied) == 0 {
			return
		}
		kinds := make([]string, len(applied))
		specs := make([]string, len(applied))
		for i, s := range applied {
			kinds[i], specs[i] = s.Kind, s.String()
		}
		span.SetAttributes(attrFaultKinds.StringSlice(kinds), attrFaultSpecs.StringSlice(specs))
	}
	cfg.OnHangEnd = func(r *http.Request, held time.Duration, endedBy string) {
		span := trace.SpanFromContext(r.Context())
		if !span.IsRecording() {
			return
		}
		span.AddEvent("hang released", trace.WithAttributes(
			attrHeld.Float64(float64(held.Microseconds())/1000), attrHangEnd.String(endedBy)))
	}
}

// gatewayTracing is what the gateway and its breaker need to trace.
type gatewayTracing struct {
	*tracing
	opts      []otelhttp.Option
	tracer    trace.Tracer
	exemplars *exemplars
}

// startWait opens the worker-wait span of a request that found no worker
// free, or returns nil when the request is not recorded.
func (g *gatewayTracing) startWait(ctx context.Context) trace.Span {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return nil
	}
	_, s := g.tracer.Start(ctx, "wait for worker", trace.WithSpanKind(trace.SpanKindInternal))
	return s
}

// endWait closes a worker-wait span and notes the wait on the server span.
func endWait(ctx context.Context, s trace.Span, waited time.Duration, saturated bool) {
	if s == nil {
		return
	}
	server := trace.SpanFromContext(ctx)
	server.SetAttributes(attrQueueWaitMS.Float64(float64(waited.Microseconds()) / 1000))
	if saturated {
		s.SetAttributes(attrSaturated.Bool(true))
		s.SetStatus(codes.Error, "no worker free within the queue timeout")
		server.SetAttributes(attrSaturated.Bool(true), attrOutcome.String(outcomeSaturated))
	}
	s.End()
}
