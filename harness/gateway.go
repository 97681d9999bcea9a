package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/cbload/cbload/internal/pool"
	"github.com/cbload/cbload/policy"
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
var errClientGone = policy.ErrClientGone

// upstreamStatusError is an upstream answer with a 5xx status: net/http does
// not treat it as an error, the breaker must.
type upstreamStatusError struct{ code int }

func (e *upstreamStatusError) Error() string { return fmt.Sprintf("upstream answered %d", e.code) }

// gateway is the system under test: an HTTP service with a fixed pool of
// workers shared by /api, which calls the upstream through the arm's policy,
// and /local, which never does.
type gateway struct {
	cfg      GatewayConfig
	upstream string
	client   *http.Client
	idle     func() // closes the upstream client's idle connections
	admit    admitter
	pool     *pool.Pool
	tel      *gatewayTracing // nil when tracing is off

	// calls holds the latency of upstream calls since the last takeCalls.
	callsMu sync.Mutex
	calls   histogram

	ln  net.Listener
	srv *http.Server
	// served is closed when Serve returns.
	served chan struct{}
}

// newGateway starts a gateway on a free loopback port whose upstream calls
// go through adm. With tel not nil it is traced: its handler and upstream
// client are instrumented with otelhttp (adm is then the traced policy).
// The caller must call close.
func newGateway(cfg GatewayConfig, upstreamURL string, adm admitter, tel *gatewayTracing) (*gateway, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("gateway listen: %w", err)
	}
	g := &gateway{
		cfg:      cfg,
		upstream: upstreamURL + "/work",
		admit:    adm,
		pool:     pool.New(cfg.Workers, cfg.QueueTimeout),
		client: &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: cfg.CallTimeout}).DialContext,
			MaxIdleConnsPerHost: cfg.Workers,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		}},
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
	}
	g.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
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

// withWorker admits a request into the bounded pool: it waits up to the
// queue timeout for a worker and answers 503 "saturated" otherwise.
func (g *gateway) withWorker(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		leave := g.pool.Enter()
		defer leave()
		var onWait func() func(time.Duration, error)
		if g.tel != nil {
			onWait = func() func(time.Duration, error) {
				wait := g.tel.startWait(r.Context())
				return func(d time.Duration, err error) { endWait(r.Context(), wait, d, errors.Is(err, pool.ErrTimeout)) }
			}
		}
		switch err := g.pool.Acquire(r.Context(), onWait); {
		case errors.Is(err, pool.ErrTimeout):
			reply(w, http.StatusServiceUnavailable, outcomeSaturated, "no worker free within the queue timeout")
			return
		case err != nil: // the caller went away
			return
		}
		defer g.pool.Release()
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
	ctx := r.Context()
	callCtx, done, err := g.admit.admit(ctx, time.Now(), 0)
	var outcome string
	if err != nil {
		outcome = outcomeRejected
		reply(w, http.StatusServiceUnavailable, outcomeRejected, err.Error())
	} else {
		err = g.call(callCtx)
		done(err)
		outcome = answer(w, err)
	}
	if g.tel != nil {
		trace.SpanFromContext(ctx).SetAttributes(attrOutcome.String(outcome))
	}
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
