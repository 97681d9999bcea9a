package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"
)

// Outcome classes the gateway reports in the X-Cbload-Outcome header, so the
// load runner can tell a breaker rejection from an upstream 5xx.
const (
	outcomeHeader        = "X-Cbload-Outcome"
	outcomeOK            = "ok"
	outcomeUpstreamError = "upstream_error"
	outcomeTimeout       = "timeout"
	outcomeRejected      = "rejected"
	outcomeSaturated     = "saturated"
)

// errClientGone marks a call abandoned because the gateway's own caller went
// away; it says nothing about the upstream's health.
var errClientGone = errors.New("client went away")

// upstreamStatusError is an upstream answer with a 5xx status: net/http does
// not treat it as an error, the breaker must.
type upstreamStatusError struct{ code int }

func (e *upstreamStatusError) Error() string { return fmt.Sprintf("upstream answered %d", e.code) }

// gateway is the system under test: an HTTP service with a fixed pool of
// workers shared by /api, which calls the upstream (through the breaker when
// there is one), and /local, which never does.
type gateway struct {
	cfg      GatewayConfig
	upstream string
	client   *http.Client
	idle     func()   // closes the upstream client's idle connections
	breaker  *breaker // nil in the no-breaker arm
	workers  chan struct{}
	tel      *gatewayTracing // nil when tracing is off

	inflight atomic.Int64
	peak     atomic.Int64

	// errLog receives the HTTP server's own log lines; resourceErrs counts
	// upstream calls that failed for lack of file descriptors or ports.
	errLog       serverLog
	resourceErrs atomic.Int64
	lastResource atomic.Pointer[string]

	// calls holds the latency of upstream calls since the last takeCalls.
	callsMu sync.Mutex
	calls   histogram

	ln  net.Listener
	srv *http.Server
	// served is closed when Serve returns.
	served chan struct{}
}

// newGateway starts a gateway on a free loopback port. The caller must call
// close.
func newGateway(cfg GatewayConfig, upstreamURL string, br *breaker) (*gateway, error) {
	return newTracedGateway(cfg, upstreamURL, br, nil)
}

// newTracedGateway is newGateway with tracing through tel, when not nil: its
// handler and upstream client are instrumented with otelhttp and its breaker
// traces each decision. The caller must call close.
func newTracedGateway(cfg GatewayConfig, upstreamURL string, br *breaker, tel *gatewayTracing) (*gateway, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("gateway listen: %w", err)
	}
	g := &gateway{
		cfg:      cfg,
		upstream: upstreamURL + "/work",
		breaker:  br,
		workers:  make(chan struct{}, cfg.Workers),
		client: &http.Client{
			Transport: &http.Transport{
				Proxy:               nil,
				DialContext:         (&net.Dialer{Timeout: cfg.CallTimeout}).DialContext,
				MaxIdleConnsPerHost: cfg.Workers,
				IdleConnTimeout:     30 * time.Second,
				DisableCompression:  true,
			},
			// A redirect is the upstream's answer; following it could take
			// the call to another address.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		ln:     ln,
		served: make(chan struct{}),
		tel:    tel,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api", g.withWorker(g.api))
	mux.HandleFunc("GET /local", g.withWorker(g.local))
	g.idle = g.client.Transport.(*http.Transport).CloseIdleConnections
	var h http.Handler = mux
	if tel != nil {
		h = tel.sampledOnly(otelhttp.NewHandler(mux, "gateway", tel.opts...), mux)
		g.client.Transport = sampledOnlyTransport{
			traced: otelhttp.NewTransport(g.client.Transport, tel.opts...),
			plain:  g.client.Transport,
			prop:   tel.prop,
		}
		if br != nil {
			br.traceWith(tel)
		}
	}
	// net/http logs each accept error raw (a flood of them when the
	// process runs out of file descriptors) and retries: errLog counts them
	// for the validity checks and never prints them.
	g.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: g.errLog.logger()}
	go func() {
		defer close(g.served)
		_ = g.srv.Serve(ln) // returns http.ErrServerClosed after close
	}()
	return g, nil
}

func (g *gateway) url() string { return "http://" + g.ln.Addr().String() }

// close stops the gateway, abandoning requests still in flight, and waits for
// its serving goroutine.
func (g *gateway) close() error {
	err := g.srv.Close()
	<-g.served
	g.idle()
	return err
}

// takeCalls merges the upstream call latencies measured since the last
// call into h.
func (g *gateway) takeCalls(h *histogram) {
	g.callsMu.Lock()
	defer g.callsMu.Unlock()
	h.merge(&g.calls)
	g.calls.reset()
}

// resourceErrors returns how many times the gateway ran out of file
// descriptors or ports — accepting connections or calling the upstream —
// and the last such error.
func (g *gateway) resourceErrors() (int64, string) {
	n, last := g.errLog.resourceErrors()
	if p := g.lastResource.Load(); p != nil {
		last = *p
	}
	return n + g.resourceErrs.Load(), last
}

// takePeak returns the most requests held at once since the last call.
func (g *gateway) takePeak() int64 {
	return g.peak.Swap(g.inflight.Load())
}

// withWorker admits a request into the bounded pool: it waits up to the
// queue timeout for a worker and answers 503 "saturated" otherwise.
func (g *gateway) withWorker(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := g.inflight.Add(1)
		defer g.inflight.Add(-1)
		for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
		}

		select {
		case g.workers <- struct{}{}:
		default:
			var wait trace.Span
			if g.tel != nil {
				wait = g.tel.startWait(r.Context())
			}
			start := time.Now()
			t := time.NewTimer(g.cfg.QueueTimeout)
			select {
			case g.workers <- struct{}{}:
				t.Stop()
				endWait(r.Context(), wait, time.Since(start), false)
			case <-t.C:
				endWait(r.Context(), wait, time.Since(start), true)
				reply(w, http.StatusServiceUnavailable, outcomeSaturated, "no worker free within the queue timeout")
				return
			case <-r.Context().Done():
				t.Stop()
				endWait(r.Context(), wait, time.Since(start), false)
				return
			}
		}
		defer func() { <-g.workers }()
		h(w, r)
	}
}

func (g *gateway) local(w http.ResponseWriter, r *http.Request) {
	if g.cfg.LocalWork > 0 {
		t := time.NewTimer(g.cfg.LocalWork)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	reply(w, http.StatusOK, outcomeOK, "local")
}

func (g *gateway) api(w http.ResponseWriter, r *http.Request) {
	if g.tel != nil {
		g.apiTraced(w, r)
		return
	}
	var err error
	if g.breaker == nil {
		err = g.call(r.Context())
	} else {
		done, _, aerr := g.breaker.allow(time.Now())
		if aerr != nil {
			reply(w, http.StatusServiceUnavailable, outcomeRejected, "circuit breaker open")
			return
		}
		err = g.call(r.Context())
		done(err)
	}
	answer(w, err)
}

// apiTraced is api with the breaker's decision traced and the outcome noted
// on the server span.
func (g *gateway) apiTraced(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	server := trace.SpanFromContext(ctx)
	var err error
	if g.breaker == nil {
		err = g.call(ctx)
	} else {
		callCtx, d, aerr := g.breaker.decide(ctx, time.Now())
		if aerr != nil {
			server.SetAttributes(attrOutcome.String(outcomeRejected))
			reply(w, http.StatusServiceUnavailable, outcomeRejected, "circuit breaker open")
			return
		}
		err = g.call(callCtx)
		d.finish(err)
	}
	server.SetAttributes(attrOutcome.String(answer(w, err)))
}

// answer replies to /api after an upstream call that returned err, and
// returns the outcome class.
func answer(w http.ResponseWriter, err error) string {
	switch {
	case err == nil:
		reply(w, http.StatusOK, outcomeOK, "upstream ok")
		return outcomeOK
	case errors.Is(err, errClientGone):
		return "client_gone"
	case errors.Is(err, context.DeadlineExceeded):
		reply(w, http.StatusGatewayTimeout, outcomeTimeout, "upstream call timed out")
		return outcomeTimeout
	default:
		reply(w, http.StatusBadGateway, outcomeUpstreamError, err.Error())
		return outcomeUpstreamError
	}
}

// call makes one upstream call, reading the body, within the call timeout.
func (g *gateway) call(parent context.Context) error {
	ctx, cancel := context.WithTimeout(parent, g.cfg.CallTimeout)
	defer cancel()
	t0 := time.Now()
	err := g.do(ctx)
	if err != nil && parent.Err() != nil {
		return errClientGone
	}
	if err != nil && isResourceError(err.Error()) {
		g.resourceErrs.Add(1)
		msg := err.Error()
		g.lastResource.Store(&msg)
	}
	took := time.Since(t0)
	g.callsMu.Lock()
	g.calls.record(took)
	g.callsMu.Unlock()
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("upstream: %w", context.DeadlineExceeded)
	}
	return err
}

func (g *gateway) do(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.upstream, nil)
	if err != nil {
		return err
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)); err != nil {
		return err
	}
	if resp.StatusCode >= 500 {
		return &upstreamStatusError{code: resp.StatusCode}
	}
	return nil
}

func reply(w http.ResponseWriter, code int, outcome, msg string) {
	w.Header().Set(outcomeHeader, outcome)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, "{\"outcome\":%q,\"message\":%q}\n", outcome, msg)
}
