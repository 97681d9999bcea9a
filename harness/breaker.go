package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/cbload/cbload/reports"
)

// breaker wraps a gobreaker two-step circuit breaker and records its
// transitions at their true times.
//
// gobreaker calls OnStateChange with its mutex held, so the callback only
// appends to breaker's own log under breaker's own mutex and never calls back
// into gobreaker. gobreaker also moves open → half-open lazily, on the next
// call after the open timeout; the log dates that transition at the moment
// the timeout expired, which is when the breaker would have admitted a probe.
type breaker struct {
	cb      *gobreaker.TwoStepCircuitBreaker[struct{}]
	timeout time.Duration
	start   time.Time

	mu          sync.Mutex
	state       string
	openedAt    time.Time
	transitions []reports.Transition

	// Tracing, when tel is set by traceWith. Every call into gobreaker then
	// holds callMu, so onStateChange — which runs inside such a call — knows
	// the call that caused the transition. gobreaker serialises its calls on
	// its own mutex anyway, so callMu adds no contention.
	name    string
	tel     *gatewayTracing
	callMu  sync.Mutex
	changed []stateChange // transitions during the current call; guarded by callMu
}

// stateChange is a transition seen during one call into gobreaker.
type stateChange struct {
	at       time.Time
	from, to string
}

// errRejected is returned by breaker.allow when the breaker fails a call fast;
// the error also matches gobreaker's ErrOpenState or ErrTooManyRequests.
var (
	errRejected         = errors.New("circuit breaker rejected the call")
	errRejectedOpen     = fmt.Errorf("%w: %w", errRejected, gobreaker.ErrOpenState)
	errRejectedHalfOpen = fmt.Errorf("%w: %w", errRejected, gobreaker.ErrTooManyRequests)
)

func newBreaker(name string, cfg BreakerConfig, start time.Time) *breaker {
	b := &breaker{timeout: cfg.Timeout, start: start, state: reports.StateClosed, name: name}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         name,
		MaxRequests:  cfg.MaxRequests,
		Interval:     cfg.Interval,
		BucketPeriod: cfg.BucketPeriod,
		Timeout:      cfg.Timeout,
		ReadyToTrip:  tripPolicy(cfg),
		// A caller that went away is not the upstream's fault.
		IsExcluded:    func(err error) bool { return errors.Is(err, errClientGone) },
		OnStateChange: b.onStateChange,
	})
	return b
}

// tripPolicy returns gobreaker's ReadyToTrip for cfg: consecutive failures, or
// a failure ratio over completed calls with a minimum count. Counts.Requests
// includes calls still in flight, so the ratio uses completed calls only.
func tripPolicy(cfg BreakerConfig) func(gobreaker.Counts) bool {
	return func(c gobreaker.Counts) bool {
		if cfg.ConsecutiveFailures > 0 && c.ConsecutiveFailures >= cfg.ConsecutiveFailures {
			return true
		}
		done := c.TotalSuccesses + c.TotalFailures
		return cfg.FailureRatio > 0 && done >= cfg.MinRequests && done > 0 &&
			float64(c.TotalFailures)/float64(done) >= cfg.FailureRatio
	}
}

func stateName(s gobreaker.State) string {
	switch s {
	case gobreaker.StateOpen:
		return reports.StateOpen
	case gobreaker.StateHalfOpen:
		return reports.StateHalfOpen
	default:
		return reports.StateClosed
	}
}

func (b *breaker) onStateChange(_ string, from, to gobreaker.State) {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	at := now
	if from == gobreaker.StateOpen && to == gobreaker.StateHalfOpen {
		at = b.openedAt.Add(b.timeout)
	}
	if to == gobreaker.StateOpen {
		b.openedAt = now
	}
	b.state = stateName(to)
	b.transitions = append(b.transitions, reports.Transition{
		T: at.Sub(b.start).Seconds(), From: stateName(from), To: stateName(to),
	})
	if b.tel != nil {
		b.changed = append(b.changed, stateChange{at: at, from: stateName(from), to: stateName(to)})
	}
}

// allow asks the breaker for admission. On success the caller must call done
// with the call's error (nil for success); on rejection it returns errRejected
// and the state the call was decided in.
func (b *breaker) allow(now time.Time) (done func(error), state string, err error) {
	done, err = b.cb.Allow()
	state = b.stateAt(now)
	switch {
	case errors.Is(err, gobreaker.ErrTooManyRequests):
		return nil, state, errRejectedHalfOpen
	case err != nil:
		return nil, state, errRejectedOpen
	}
	return done, state, nil
}

// stateAt returns the breaker's state at time now, counting an expired open
// timeout as half-open even before gobreaker has noticed.
func (b *breaker) stateAt(now time.Time) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == reports.StateOpen && !now.Before(b.openedAt.Add(b.timeout)) {
		return reports.StateHalfOpen
	}
	return b.state
}

// log returns the transitions up to now, including an open → half-open
// transition that is due but that gobreaker has not noticed yet.
func (b *breaker) log(now time.Time) []reports.Transition {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := append([]reports.Transition(nil), b.transitions...)
	if due := b.openedAt.Add(b.timeout); b.state == reports.StateOpen && !now.Before(due) {
		out = append(out, reports.Transition{
			T: due.Sub(b.start).Seconds(), From: reports.StateOpen, To: reports.StateHalfOpen,
		})
	}
	return out
}

// traceWith makes the breaker trace its decisions and transitions through
// t. It must be called before the breaker is first used; the gateway must
// then use decide, not allow.
func (b *breaker) traceWith(t *gatewayTracing) { b.tel = t }

// Breaker outcomes as spans report them in cbload.breaker.outcome.
const (
	breakerSuccess          = "success"
	breakerFailure          = "failure"
	breakerExcluded         = "excluded"
	breakerRejectedOpen     = "rejected_open"
	breakerRejectedHalfOpen = "rejected_half_open"
)

// decision is one traced breaker decision. The caller must call finish on a
// decision that admitted the call.
type decision struct {
	b     *breaker
	span  trace.Span // nil when the request is not recorded
	cause trace.SpanContext
	state string
	done  func(error)
}

// decide is allow for a traced breaker. When the request is recorded it
// opens an INTERNAL span around the decision; the returned context carries
// it, so the upstream call made with it is its child. A rejection ends the
// span with status Error and error.type set, and returns the rejection.
func (b *breaker) decide(ctx context.Context, now time.Time) (context.Context, decision, error) {
	d := decision{b: b}
	if trace.SpanFromContext(ctx).IsRecording() {
		ctx, d.span = b.tel.tracer.Start(ctx, "breaker "+b.name,
			trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrBreakerName.String(b.name)))
	}
	d.cause = trace.SpanContextFromContext(ctx)
	b.callMu.Lock()
	done, state, err := b.allow(now)
	changes := b.takeChanged()
	b.callMu.Unlock()
	d.state, d.done = state, done
	b.traceChanges(changes, d.cause, d.span)

	if err != nil {
		outcome, errType := breakerRejectedOpen, "circuit_breaker_open"
		if errors.Is(err, errRejectedHalfOpen) {
			outcome, errType = breakerRejectedHalfOpen, "too_many_requests"
		}
		if d.span != nil {
			d.span.SetAttributes(attrBreakerState.String(state), attrBreakerOutcome.String(outcome), semconv.ErrorTypeKey.String(errType))
			d.span.SetStatus(codes.Error, err.Error())
			d.span.End()
		}
		if d.cause.IsSampled() {
			b.tel.exemplars.first(exFirstRejection, now, d.cause.TraceID())
		}
		return ctx, d, err
	}
	if state == reports.StateHalfOpen && d.cause.IsSampled() {
		b.tel.exemplars.first(exHalfOpenProbe, now, d.cause.TraceID())
	}
	return ctx, d, nil
}

// finish reports the admitted call's result to the breaker and ends the
// decision span.
func (d decision) finish(err error) {
	b := d.b
	b.callMu.Lock()
	d.done(err)
	changes := b.takeChanged()
	b.callMu.Unlock()
	b.traceChanges(changes, d.cause, d.span)
	if d.span == nil {
		return
	}
	outcome := breakerSuccess
	switch {
	case err == nil:
	case errors.Is(err, errClientGone):
		outcome = breakerExcluded
	default:
		outcome = breakerFailure
		d.span.SetStatus(codes.Error, err.Error())
	}
	d.span.SetAttributes(attrBreakerState.String(d.state), attrBreakerOutcome.String(outcome))
	d.span.End()
}

// takeChanged returns and clears the transitions of the current call. The
// caller must hold callMu.
func (b *breaker) takeChanged() []stateChange {
	c := b.changed
	b.changed = nil
	return c
}

// traceChanges records each transition twice: as an event on the decision
// span that caused it (when recorded), and as a "breaker state_change" span
// of its own, always sampled, dated at the transition's true time and linked
// to the request that caused it. It runs after gobreaker's lock is released.
func (b *breaker) traceChanges(changes []stateChange, cause trace.SpanContext, span trace.Span) {
	for _, c := range changes {
		attrs := []attribute.KeyValue{attrBreakerName.String(b.name), attrBreakerFrom.String(c.from), attrBreakerTo.String(c.to)}
		if span != nil {
			span.AddEvent("state_change", trace.WithTimestamp(c.at), trace.WithAttributes(attrs...))
		}
		opts := []trace.SpanStartOption{
			trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithTimestamp(c.at), trace.WithAttributes(attrs...),
		}
		if cause.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: cause}))
		}
		_, s := b.tel.tracer.Start(context.Background(), stateChangeSpan, opts...)
		s.End(trace.WithTimestamp(c.at))
		if c.to == reports.StateOpen {
			id := s.SpanContext().TraceID()
			if cause.IsSampled() {
				id = cause.TraceID()
			}
			b.tel.exemplars.first(exTrippedBreaker, c.at, id)
		}
	}
}
