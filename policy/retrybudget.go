package policy

import (
	"sync"
	"time"

	"github.com/cbload/cbload/reports"
)

// RetryBudgetConfig configures the retry-budget arm.
type RetryBudgetConfig struct {
	// Ratio is the most retries allowed, as a share of requests over the
	// window: 0.1 lets retries be at most 10% of requests (Google SRE
	// book, ch. 21).
	Ratio float64
	// Window is the rolling window over which requests and retries are
	// counted.
	Window time.Duration
}

// RetryBudget admits every first attempt and a retry only while retries stay
// within Ratio of the first attempts over the rolling window. It has no
// states and does not learn from outcomes: a retry budget bounds the extra
// load retries add, it does not stop failing calls.
type RetryBudget struct {
	ratio float64

	mu sync.Mutex
	w  window // a: requests (first attempts), b: retries admitted
}

var rejectedBudget = &Rejection{Outcome: "rejected_retry_budget", ErrorType: "retry_budget_exhausted",
	Reason: "retry budget exhausted"}

// NewRetryBudget returns a retry budget whose window starts at epoch.
func NewRetryBudget(cfg RetryBudgetConfig, epoch time.Time) *RetryBudget {
	return &RetryBudget{ratio: cfg.Ratio, w: newWindow(cfg.Window, epoch)}
}

// Allow admits attempt 0 always, and a retry when one more retry keeps
// retries ≤ Ratio × requests over the window.
func (r *RetryBudget) Allow(now time.Time, attempt int) (func(error), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if attempt == 0 {
		r.w.add(now, 1, 0)
		return noop, nil
	}
	reqs, retries := r.w.sums(now)
	if retries+1 > r.ratio*reqs {
		return nil, rejectedBudget
	}
	r.w.add(now, 0, 1)
	return noop, nil
}

// State is reports.StateNone.
func (*RetryBudget) State(time.Time) string { return reports.StateNone }

// Transitions is empty.
func (*RetryBudget) Transitions(time.Time) []Change { return nil }
