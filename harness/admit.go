package harness

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/cbload/cbload/policy"
	"github.com/cbload/cbload/reports"
)

// admitter is a policy as the gateway uses it: with the request's context,
// so that a traced policy can open a span around its decision that is the
// parent of the upstream call made with the returned context. On admission
// the caller must call done exactly once with the call's error; a rejection
// is a *policy.Rejection.
type admitter interface {
	admit(ctx context.Context, now time.Time, attempt int) (callCtx context.Context, done func(error), err error)
}

// plainAdmitter admits through a policy without tracing.
type plainAdmitter struct{ p policy.Policy }

func (a plainAdmitter) admit(ctx context.Context, now time.Time, attempt int) (context.Context, func(error), error) {
	done, err := a.p.Allow(now, attempt)
	return ctx, done, err
}

// Policy outcomes as spans report them in cbload.breaker.outcome; a
// rejection's outcome comes from its *policy.Rejection.
const (
	breakerSuccess      = "success"
	breakerFailure      = "failure"
	breakerExcluded     = "excluded"
	breakerRejectedOpen = "rejected_open"
)

// tracedPolicy decorates a policy with tracing: an INTERNAL span
// "<kind> <name>" around each decision of a recorded request, and a
// "breaker state_change" span, always sampled, for each transition.
//
// Every call into the policy holds callMu, so the policy's OnChange hook —
// which runs inside such a call — knows the call that caused the transition.
// gobreaker serialises its calls on its own mutex anyway, so callMu adds no
// contention for the breaker.
type tracedPolicy struct {
	next     policy.Policy
	spanName string
	name     string
	tel      *gatewayTracing

	callMu  sync.Mutex
	changed []policy.Change // transitions during the current call; guarded by callMu
}

// newTracedPolicy returns the decorator for the policy of arm kind named
// name. Build the policy with OnChange set to the decorator's onChange and
// then set next, before first use.
func newTracedPolicy(kind, name string, tel *gatewayTracing) *tracedPolicy {
	return &tracedPolicy{spanName: kind + " " + name, name: name, tel: tel}
}

// onChange is the policy's OnChange hook; it runs during a call that holds
// callMu.
func (t *tracedPolicy) onChange(c policy.Change) { t.changed = append(t.changed, c) }

// admit is the policy's Allow with tracing. When the request is recorded it
// opens a span around the decision; a rejection ends the span with status
// Error and error.type set.
func (t *tracedPolicy) admit(ctx context.Context, now time.Time, attempt int) (context.Context, func(error), error) {
	var span trace.Span
	if trace.SpanFromContext(ctx).IsRecording() {
		ctx, span = t.tel.tracer.Start(ctx, t.spanName,
			trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrBreakerName.String(t.name)))
	}
	cause := trace.SpanContextFromContext(ctx)
	t.callMu.Lock()
	done, err := t.next.Allow(now, attempt)
	changes := t.takeChanged()
	t.callMu.Unlock()
	state := t.next.State(now)
	t.traceChanges(changes, cause, span)

	if err != nil {
		outcome, errType := breakerRejectedOpen, "rejected"
		var rej *policy.Rejection
		if errors.As(err, &rej) {
			outcome, errType = rej.Outcome, rej.ErrorType
		}
		if span != nil {
			span.SetAttributes(attrBreakerState.String(state), attrBreakerOutcome.String(outcome), semconv.ErrorTypeKey.String(errType))
			span.SetStatus(codes.Error, err.Error())
			span.End()
		}
		if cause.IsSampled() {
			t.tel.exemplars.first(exFirstRejection, now, cause.TraceID())
		}
		return ctx, nil, err
	}
	if state == reports.StateHalfOpen && cause.IsSampled() {
		t.tel.exemplars.first(exHalfOpenProbe, now, cause.TraceID())
	}
	return ctx, func(err error) { t.finish(done, err, state, cause, span) }, nil
}

// finish reports the admitted call's result to the policy and ends the
// decision span.
func (t *tracedPolicy) finish(done func(error), err error, state string, cause trace.SpanContext, span trace.Span) {
	t.callMu.Lock()
	done(err)
	changes := t.takeChanged()
	t.callMu.Unlock()
	t.traceChanges(changes, cause, span)
	if span == nil {
		return
	}
	outcome := breakerSuccess
	switch {
	case err == nil:
	case errors.Is(err, errClientGone):
		outcome = breakerExcluded
	default:
		outcome = breakerFailure
		span.SetStatus(codes.Error, err.Error())
	}
	span.SetAttributes(attrBreakerState.String(state), attrBreakerOutcome.String(outcome))
	span.End()
}

// takeChanged returns and clears the transitions of the current call. The
// caller must hold callMu.
func (t *tracedPolicy) takeChanged() []policy.Change {
	c := t.changed
	t.changed = nil
	return c
}

// traceChanges records each transition twice: as an event on the decision
// span that caused it (when recorded), and as a "breaker state_change" span
// of its own, always sampled, dated at the transition's true time and linked
// to the request that caused it. It runs after the policy's lock is released.
func (t *tracedPolicy) traceChanges(changes []policy.Change, cause trace.SpanContext, span trace.Span) {
	for _, c := range changes {
		attrs := []attribute.KeyValue{attrBreakerName.String(t.name), attrBreakerFrom.String(c.From), attrBreakerTo.String(c.To)}
		if span != nil {
			span.AddEvent("state_change", trace.WithTimestamp(c.At), trace.WithAttributes(attrs...))
		}
		opts := []trace.SpanStartOption{
			trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithTimestamp(c.At), trace.WithAttributes(attrs...),
		}
		if cause.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: cause}))
		}
		_, s := t.tel.tracer.Start(context.Background(), stateChangeSpan, opts...)
		s.End(trace.WithTimestamp(c.At))
		if c.To == reports.StateOpen {
			id := s.SpanContext().TraceID()
			if cause.IsSampled() {
				id = cause.TraceID()
			}
			t.tel.exemplars.first(exTrippedBreaker, c.At, id)
		}
	}
}

// newPolicy builds the policy of arm for a gateway's upstream calls, with
// rolling windows from epoch and draws from seed, traced through tel when
// tel is not nil and the policy decides anything.
func newPolicy(arm, name string, cfg *Config, tel *gatewayTracing, epoch time.Time, seed uint64) (policy.Policy, admitter, error) {
	opts := policy.Options{Name: name, Breaker: cfg.Breaker, RetryBudget: cfg.RetryBudget, Throttle: cfg.Throttle, Epoch: epoch, Seed: seed}
	var tp *tracedPolicy
	if tel != nil {
		tp = newTracedPolicy(arm, name, tel)
		opts.OnChange = tp.onChange
	}
	p, err := policy.New(arm, opts)
	if err != nil {
		return nil, nil, err
	}
	if _, none := p.(policy.None); none || tp == nil {
		return p, plainAdmitter{p}, nil
	}
	tp.next = p
	return p, tp, nil
}

// transitions converts a policy's changes to report transitions, in
// seconds from start.
func transitions(changes []policy.Change, start time.Time) []reports.Transition {
	out := make([]reports.Transition, len(changes))
	for i, c := range changes {
		out[i] = reports.Transition{T: c.At.Sub(start).Seconds(), From: c.From, To: c.To}
	}
	return out
}
