package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/cbload/cbload/internal/pool"
	"github.com/cbload/cbload/policy"

	"github.com/cbload/cbload/reports"
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

// attemptsHeader carries, on every /api answer, the number of attempts that
// reached the upstream on behalf of the request, summed over the tiers
// below the one answering.
const attemptsHeader = "X-Cbload-Attempts"

// errClientGone marks a call abandoned because the gateway's own caller went
// away; it says nothing about the upstream's health.
var errClientGone = policy.ErrClientGone

// upstreamStatusError is an upstream answer with a 5xx status: net/http does
// not treat it as an error, the breaker must. outcome is a lower tier's
// X-Cbload-Outcome, empty from the upstream itself.
type upstreamStatusError struct {
	code    int
	outcome string
}

func (e *upstreamStatusError) Error() string {
	if e.outcome != "" {
		return fmt.Sprintf("upstream answered %d %s", e.code, e.outcome)
	}
	return fmt.Sprintf("upstream answered %d", e.code)
}

// gateway is the system under test: an HTTP service with a fixed pool of
// workers shared by /api, which calls the upstream through the arm's policy,
// and /local, which never does.
type gateway struct {
	cfg GatewayConfig
	// target is what /api calls: the upstream's /work, or the next tier's
	// /api when chained.
	target  string
	chained bool
	client  *http.Client
	idle    func() // closes the upstream client's idle connections
	admit   admitter
	pool    *pool.Pool
	tel     *gatewayTracing // nil when tracing is off

	jitterMu sync.Mutex
	jitter   *rand.Rand // retry backoff draws; guarded by jitterMu

	// errLog receives the HTTP server's own log lines; resourceErrs counts
	// upstream calls that failed for lack of file descriptors or ports.
	errLog       serverLog
	resourceErrs atomic.Int64
	lastResource atomic.Pointer[string]

	// calls holds the latency of upstream calls since the last takeCalls.
	callsMu sync.Mutex
	calls   reports.DenseHistogram

	ln  net.Listener
	srv *http.Server
	// served is closed when Serve returns.
	served chan struct{}
}

// newGateway starts a gateway on a free loopback port whose /api calls
// target — an upstream's /work, or with chained another gateway's /api —
// through adm. Retry backoffs are drawn from seed. With tel not nil it is
// traced: its handler and upstream client are instrumented with otelhttp
// (adm is then the traced policy). The caller must call close.
func newGateway(cfg GatewayConfig, target string, chained bool, adm admitter, tel *gatewayTracing, seed uint64) (*gateway, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("gateway listen: %w", err)
	}
	g := &gateway{
		cfg:     cfg,
		target:  target,
		chained: chained,
		jitter:  rand.New(rand.NewPCG(seed, 0x6a69_7474_6572)), // "jitter"
		admit:   adm,
		pool:    pool.New(cfg.Workers, cfg.QueueTimeout),
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
			traced: otelhttp.NewTransport(attemptTransport{g.client.Transport}, tel.opts...),
			plain:  g.client.Transport,
			prop:   tel.prop,
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
func (g *gateway) takeCalls(h *reports.DenseHistogram) {
	g.callsMu.Lock()
	defer g.callsMu.Unlock()
	h.Merge(&g.calls)
	g.calls.Reset()
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

// api serves /api: up to 1 + Retries attempts at the upstream, each
// admitted by the policy, retrying after a failure the breaker would count
// (any error but the caller going away) with a full-jitter backoff. The
// answer is the last attempt's; a rejection of the first attempt is a
// rejection, of a later one ends the retries. The answer's X-Cbload-Attempts
// header counts the attempts that reached the upstream below this tier.
func (g *gateway) api(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	attempts, err := g.try(ctx, g.call)
	w.Header().Set(attemptsHeader, strconv.FormatInt(attempts, 10))
	var outcome string
	if errors.Is(err, policy.ErrRejected) {
		outcome = outcomeRejected
		reply(w, http.StatusServiceUnavailable, outcomeRejected, err.Error())
	} else {
		outcome = answer(w, err)
	}
	if g.tel != nil {
		trace.SpanFromContext(ctx).SetAttributes(attrOutcome.String(outcome), attrAttempts.Int64(attempts))
	}
}

// try makes up to 1 + Retries attempts of call, each admitted by the
// policy, and returns the attempts that reached the upstream and the error
// to answer with: the last attempt's, or the policy's rejection of the
// first.
func (g *gateway) try(ctx context.Context, call func(context.Context) (int64, error)) (attempts int64, err error) {
	for attempt := 0; attempt <= g.cfg.Retries; attempt++ {
		if attempt > 0 && !g.backoff(ctx, attempt) {
			return attempts, errClientGone
		}
		callCtx, done, aerr := g.admit.admit(ctx, time.Now(), attempt)
		if aerr != nil {
			if attempt == 0 {
				err = aerr
			}
			return attempts, err
		}
		if g.tel != nil && trace.SpanFromContext(callCtx).IsRecording() {
			callCtx = context.WithValue(callCtx, attemptKey{}, attempt+1)
		}
		var n int64
		n, err = call(callCtx)
		attempts += n
		done(err)
		if err == nil || errors.Is(err, errClientGone) {
			return attempts, err
		}
	}
	return attempts, err
}

// attemptKey carries, in a traced call's context, which attempt of its
// request the call is: 1 for the first, 2 … for the retries.
type attemptKey struct{}

// attemptTransport runs inside otelhttp's client transport and labels the
// call's client span with its attempt number (cbload.gateway.attempt), so
// that in a retried request's trace each attempt's span says which it is.
type attemptTransport struct{ next http.RoundTripper }

func (t attemptTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if n, ok := r.Context().Value(attemptKey{}).(int); ok {
		trace.SpanFromContext(r.Context()).SetAttributes(attrAttempt.Int(n))
	}
	return t.next.RoundTrip(r)
}

// backoff waits backoffDelay(attempt) before a retry. It returns false when
// the caller went away first.
func (g *gateway) backoff(ctx context.Context, attempt int) bool {
	d := g.backoffDelay(attempt)
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// backoffDelay draws the wait before retry number attempt (1, 2, …)
// uniformly from [0, RetryBackoff·2^(attempt−1)): "full jitter", so that
// retries of requests that failed together do not arrive together.
func (g *gateway) backoffDelay(attempt int) time.Duration {
	if g.cfg.RetryBackoff <= 0 {
		return 0
	}
	ceil := g.cfg.RetryBackoff << (attempt - 1)
	g.jitterMu.Lock()
	defer g.jitterMu.Unlock()
	return time.Duration(g.jitter.Int64N(int64(ceil)))
}

// answer replies to /api after an upstream call that returned err, and
// returns the outcome class. A lower tier's outcome class is passed on, so
// the client sees where in the chain the call failed.
func answer(w http.ResponseWriter, err error) string {
	var se *upstreamStatusError
	switch {
	case err == nil:
		reply(w, http.StatusOK, outcomeOK, "upstream ok")
		return outcomeOK
	case errors.Is(err, errClientGone):
		return "client_gone"
	case errors.Is(err, context.DeadlineExceeded):
		reply(w, http.StatusGatewayTimeout, outcomeTimeout, "upstream call timed out")
		return outcomeTimeout
	case errors.As(err, &se) && (se.outcome == outcomeRejected || se.outcome == outcomeSaturated):
		reply(w, http.StatusServiceUnavailable, se.outcome, err.Error())
		return se.outcome
	case errors.As(err, &se) && se.outcome == outcomeTimeout:
		reply(w, http.StatusGatewayTimeout, outcomeTimeout, err.Error())
		return outcomeTimeout
	default:
		reply(w, http.StatusBadGateway, outcomeUpstreamError, err.Error())
		return outcomeUpstreamError
	}
}

// call makes one upstream call, reading the body, within the call timeout.
// It returns the attempts that reached the upstream: 1 when the target is
// the upstream itself, a lower tier's X-Cbload-Attempts otherwise (0 when
// that tier's answer was lost, so the count is a lower bound).
func (g *gateway) call(parent context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(parent, g.cfg.CallTimeout)
	defer cancel()
	t0 := time.Now()
	n, err := g.do(ctx)
	if !g.chained {
		n = 1
	}
	if err != nil && parent.Err() != nil {
		return n, errClientGone
	}
	if err != nil && isResourceError(err.Error()) {
		g.resourceErrs.Add(1)
		msg := err.Error()
		g.lastResource.Store(&msg)
	}
	took := time.Since(t0)
	g.callsMu.Lock()
	g.calls.Record(took)
	g.callsMu.Unlock()
	if err != nil && ctx.Err() != nil {
		return n, fmt.Errorf("upstream: %w", context.DeadlineExceeded)
	}
	return n, err
}

// do sends one request to the target and reads the answer; n is the
// answer's X-Cbload-Attempts, 0 without one.
func (g *gateway) do(ctx context.Context) (n int64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.target, nil)
	if err != nil {
		return 0, err
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if v := resp.Header.Get(attemptsHeader); v != "" {
		n, _ = strconv.ParseInt(v, 10, 64) // a lower tier's; a bad value counts 0
	}
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)); err != nil {
		return n, err
	}
	if resp.StatusCode >= 500 {
		return n, &upstreamStatusError{code: resp.StatusCode, outcome: resp.Header.Get(outcomeHeader)}
	}
	return n, nil
}

func reply(w http.ResponseWriter, code int, outcome, msg string) {
	w.Header().Set(outcomeHeader, outcome)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, "{\"outcome\":%q,\"message\":%q}\n", outcome, msg)
}
