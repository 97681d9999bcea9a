// Package policy decides, call by call, whether a gateway may call its
// upstream, and learns from each call's outcome. An experiment's arms are
// policies: each is one small implementation of Policy, chosen by the arm's
// name from a closed table (see New).
//
// The interface has the shape of gobreaker's two-step breaker: Allow admits
// a call or rejects it, and the caller reports the admitted call's outcome
// through the done function Allow returned.
package policy

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Policy admits calls to an upstream and records their outcomes. A Policy is
// safe for concurrent use.
type Policy interface {
	// Allow asks whether a call may go to the upstream at now. attempt is 0
	// for a request's first call and 1, 2, … for its retries. When the call
	// is admitted, the caller must call done exactly once with the call's
	// error: nil for a success, an error matching ErrClientGone for a call
	// abandoned because the caller's own caller went away (it says nothing
	// about the upstream), any other error for a failure. When the call is
	// rejected, done is nil and err is a *Rejection.
	Allow(now time.Time, attempt int) (done func(err error), err error)
	// State returns the policy's state at now, as reports names it
	// (reports.StateClosed, …), or reports.StateNone for a policy without
	// states.
	State(now time.Time) string
	// Transitions returns the state changes up to now, oldest first, dated
	// at their true times.
	Transitions(now time.Time) []Change
}

// Change is one state change of a policy.
type Change struct {
	At       time.Time
	From, To string
}

// ErrClientGone marks a call abandoned because the caller's own caller went
// away. Policies do not count it for or against the upstream.
var ErrClientGone = errors.New("client went away")

// ErrRejected is matched, with errors.Is, by every *Rejection.
var ErrRejected = errors.New("rejected by policy")

// Rejection is a call that a policy failed fast, without calling the
// upstream.
type Rejection struct {
	// Outcome names the rejection in traces: "rejected_open", …
	Outcome string
	// ErrorType is the rejection's error.type attribute in traces.
	ErrorType string
	// Reason says why, for people: "circuit breaker open", …
	Reason string
	// cause, when set, is the library error behind the rejection
	// (gobreaker's ErrOpenState, say), matched by errors.Is.
	cause error
}

func (r *Rejection) Error() string { return r.Reason }

// Is makes every rejection match ErrRejected.
func (r *Rejection) Is(target error) bool { return target == ErrRejected }

// Unwrap returns the library error behind the rejection, if any.
func (r *Rejection) Unwrap() error { return r.cause }

// Options is what New needs to build any policy: each policy reads its own
// settings and ignores the others'.
type Options struct {
	// Name names the policy instance, e.g. "upstream"; traces use it.
	Name        string
	Breaker     BreakerConfig
	RetryBudget RetryBudgetConfig
	Throttle    ThrottleConfig
	// Epoch is when rolling windows start; Seed drives a policy's random
	// draws.
	Epoch time.Time
	Seed  uint64
	// OnChange, when set, is called on every state change. It may run while
	// the policy holds its own lock: it must only record the change and
	// return, never call back into the policy.
	OnChange func(Change)
}

// kind is one row of the policy table.
type kind struct {
	arm string
	new func(Options) Policy
}

// kinds is the closed table of policies, by the arm name that selects them.
var kinds = []kind{
	{"breaker", func(o Options) Policy { return NewBreaker(o.Name, o.Breaker, o.OnChange) }},
	{"no-breaker", func(Options) Policy { return None{} }},
	{"retry-budget", func(o Options) Policy { return NewRetryBudget(o.RetryBudget, o.Epoch) }},
	{"throttle", func(o Options) Policy { return NewThrottle(o.Throttle, o.Epoch, o.Seed) }},
}

// Arms returns the arm names New accepts, in the table's order.
func Arms() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.arm
	}
	return out
}

// New returns the policy of the arm named arm.
func New(arm string, o Options) (Policy, error) {
	for _, k := range kinds {
		if k.arm == arm {
			return k.new(o), nil
		}
	}
	return nil, fmt.Errorf("unknown arm %q; want %s", arm, strings.Join(Arms(), ", "))
}
