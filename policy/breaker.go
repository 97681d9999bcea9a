package policy

import (
	"errors"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/cbload/cbload/reports"
)

// BreakerConfig configures the circuit breaker (sony/gobreaker v2) and its
// trip rule.
type BreakerConfig struct {
	// Timeout is how long the breaker stays open before it lets probes through.
	Timeout time.Duration
	// MaxRequests is the number of probes admitted while half-open; that many
	// consecutive successes close the breaker.
	MaxRequests uint32
	// Interval is the rolling window over which counts are kept while closed;
	// BucketPeriod is its granularity.
	Interval     time.Duration
	BucketPeriod time.Duration
	// The breaker trips when ConsecutiveFailures calls in a row fail, or when
	// at least MinRequests calls completed in the window and the failure ratio
	// reaches FailureRatio. Zero disables a rule.
	ConsecutiveFailures uint32
	FailureRatio        float64
	MinRequests         uint32
}

// Breaker is a gobreaker two-step circuit breaker whose transitions are
// recorded at their true times.
//
// gobreaker calls OnStateChange with its mutex held, so the callback only
// appends to Breaker's own log under Breaker's own mutex and never calls back
// into gobreaker. gobreaker also moves open → half-open lazily, on the next
// call after the open timeout; the log dates that transition at the moment
// the timeout expired, which is when the breaker would have admitted a probe.
type Breaker struct {
	cb       *gobreaker.TwoStepCircuitBreaker[struct{}]
	timeout  time.Duration
	onChange func(Change)

	mu          sync.Mutex
	state       string
	openedAt    time.Time
	transitions []Change
}

// Rejections of a Breaker; they also match gobreaker's ErrOpenState and
// ErrTooManyRequests.
var (
	rejectedOpen = &Rejection{Outcome: "rejected_open", ErrorType: "circuit_breaker_open",
		Reason: "circuit breaker open", cause: gobreaker.ErrOpenState}
	rejectedHalfOpen = &Rejection{Outcome: "rejected_half_open", ErrorType: "too_many_requests",
		Reason: "circuit breaker half-open: probes in flight", cause: gobreaker.ErrTooManyRequests}
)

// NewBreaker returns a closed breaker named name. onChange, when not nil, is
// called on every transition with gobreaker's lock held: it must only record
// the change.
func NewBreaker(name string, cfg BreakerConfig, onChange func(Change)) *Breaker {
	b := &Breaker{timeout: cfg.Timeout, state: reports.StateClosed, onChange: onChange}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         name,
		MaxRequests:  cfg.MaxRequests,
		Interval:     cfg.Interval,
		BucketPeriod: cfg.BucketPeriod,
		Timeout:      cfg.Timeout,
		ReadyToTrip:  tripRule(cfg),
		// A caller that went away is not the upstream's fault.
		IsExcluded:    func(err error) bool { return errors.Is(err, ErrClientGone) },
		OnStateChange: b.onStateChange,
	})
	return b
}

// tripRule returns gobreaker's ReadyToTrip for cfg: consecutive failures, or
// a failure ratio over completed calls with a minimum count. Counts.Requests
// includes calls still in flight, so the ratio uses completed calls only.
func tripRule(cfg BreakerConfig) func(gobreaker.Counts) bool {
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

func (b *Breaker) onStateChange(_ string, from, to gobreaker.State) {
	now := time.Now()
	b.mu.Lock()
	at := now
	if from == gobreaker.StateOpen && to == gobreaker.StateHalfOpen {
		at = b.openedAt.Add(b.timeout)
	}
	if to == gobreaker.StateOpen {
		b.openedAt = now
	}
	b.state = stateName(to)
	c := Change{At: at, From: stateName(from), To: stateName(to)}
	b.transitions = append(b.transitions, c)
	b.mu.Unlock()
	if b.onChange != nil {
		b.onChange(c)
	}
}

// Allow asks gobreaker for admission; attempt does not matter to a breaker.
// A rejection is rejectedOpen or rejectedHalfOpen.
func (b *Breaker) Allow(_ time.Time, _ int) (func(error), error) {
	done, err := b.cb.Allow()
	switch {
	case errors.Is(err, gobreaker.ErrTooManyRequests):
		return nil, rejectedHalfOpen
	case err != nil:
		return nil, rejectedOpen
	}
	return done, nil
}

// State returns the breaker's state at time now, counting an expired open
// timeout as half-open even before gobreaker has noticed.
func (b *Breaker) State(now time.Time) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == reports.StateOpen && !now.Before(b.openedAt.Add(b.timeout)) {
		return reports.StateHalfOpen
	}
	return b.state
}

// Transitions returns the transitions up to now, including an open →
// half-open transition that is due but that gobreaker has not noticed yet.
func (b *Breaker) Transitions(now time.Time) []Change {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := append([]Change(nil), b.transitions...)
	if due := b.openedAt.Add(b.timeout); b.state == reports.StateOpen && !now.Before(due) {
		out = append(out, Change{At: due, From: reports.StateOpen, To: reports.StateHalfOpen})
	}
	return out
}
