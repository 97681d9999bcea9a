package harness

import (
	"errors"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

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
}

// errRejected is returned by breaker.allow when the breaker fails a call fast.
var errRejected = errors.New("circuit breaker rejected the call")

func newBreaker(name string, cfg BreakerConfig, start time.Time) *breaker {
	b := &breaker{timeout: cfg.Timeout, start: start, state: reports.StateClosed}
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
}

// allow asks the breaker for admission. On success the caller must call done
// with the call's error (nil for success); on rejection it returns errRejected
// and the state the call was decided in.
func (b *breaker) allow(now time.Time) (done func(error), state string, err error) {
	done, err = b.cb.Allow()
	state = b.stateAt(now)
	if err != nil {
		return nil, state, errRejected
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
