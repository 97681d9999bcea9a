package policy

import (
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/cbload/cbload/reports"
)

// ThrottleConfig configures the throttle arm.
type ThrottleConfig struct {
	// K is the multiplier of accepts: the client sends up to K times as many
	// requests as the upstream accepts before it starts rejecting locally
	// (2 in the Google SRE book, ch. 21).
	K float64
	// Window is the rolling window over which requests and accepts are
	// counted (2 minutes in the book).
	Window time.Duration
}

// Throttle is Google SRE client-side adaptive throttling: each call is
// rejected locally with probability
//
//	max(0, (requests − K·accepts) / (requests + 1))
//
// where requests counts every call the client attempted over the rolling
// window, rejected locally or not, and accepts those the upstream answered
// successfully. The draws come from a source seeded by the caller.
type Throttle struct {
	k float64

	mu  sync.Mutex
	w   window // a: requests, b: accepts
	rng *rand.Rand
}

var rejectedThrottled = &Rejection{Outcome: "rejected_throttled", ErrorType: "throttled",
	Reason: "rejected locally by client-side throttling"}

// NewThrottle returns a throttle whose window starts at epoch and whose
// draws come from seed.
func NewThrottle(cfg ThrottleConfig, epoch time.Time, seed uint64) *Throttle {
	return &Throttle{k: cfg.K, w: newWindow(cfg.Window, epoch), rng: rand.New(rand.NewPCG(seed, 0x7468_726f_7474_6c65))} // "throttle"
}

// RejectProbability returns the probability that a call at now is rejected.
func (t *Throttle) RejectProbability(now time.Time) float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.probability(now)
}

func (t *Throttle) probability(now time.Time) float64 {
	reqs, accepts := t.w.sums(now)
	return max(0, (reqs-t.k*accepts)/(reqs+1))
}

// Allow counts the call as a request and rejects it with the throttle's
// probability. An admitted call that succeeds counts as an accept; one
// abandoned by its caller is uncounted, as it says nothing either way.
func (t *Throttle) Allow(now time.Time, _ int) (func(error), error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.probability(now)
	t.w.add(now, 1, 0)
	if p > 0 && t.rng.Float64() < p {
		return nil, rejectedThrottled
	}
	return func(err error) {
		switch {
		case err == nil:
			t.mu.Lock()
			t.w.add(now, 0, 1)
			t.mu.Unlock()
		case errors.Is(err, ErrClientGone):
			t.mu.Lock()
			t.w.add(now, -1, 0)
			t.mu.Unlock()
		}
	}, nil
}

// State is reports.StateNone.
func (*Throttle) State(time.Time) string { return reports.StateNone }

// Transitions is empty.
func (*Throttle) Transitions(time.Time) []Change { return nil }
