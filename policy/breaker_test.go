package policy

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/cbload/cbload/reports"
)

var errBoom = errors.New("boom")

func call(t *testing.T, p Policy, err error) error {
	t.Helper()
	done, aerr := p.Allow(time.Now(), 0)
	if aerr != nil {
		return aerr
	}
	done(err)
	return nil
}

func TestBreakerTripsAndRecovers(t *testing.T) {
	var seen []Change
	b := NewBreaker("t", BreakerConfig{Timeout: 50 * time.Millisecond, MaxRequests: 1, ConsecutiveFailures: 3},
		func(c Change) { seen = append(seen, c) })
	for range 3 {
		if err := call(t, b, errBoom); err != nil {
			t.Fatalf("closed breaker rejected: %v", err)
		}
	}
	opened := time.Now()
	err := call(t, b, nil)
	var rej *Rejection
	if !errors.As(err, &rej) || !errors.Is(err, ErrRejected) || !errors.Is(err, gobreaker.ErrOpenState) || rej.Outcome != "rejected_open" {
		t.Fatalf("call after 3 failures = %v; want a rejected_open Rejection matching ErrRejected and gobreaker.ErrOpenState", err)
	}
	if got := b.State(time.Now()); got != reports.StateOpen {
		t.Errorf("State = %s; want open", got)
	}

	// Past the timeout, gobreaker has not noticed yet, but State and
	// Transitions date the half-open at the timeout's expiry.
	time.Sleep(80 * time.Millisecond)
	now := time.Now()
	if got := b.State(now); got != reports.StateHalfOpen {
		t.Errorf("State after the open timeout = %s; want half-open", got)
	}
	tr := b.Transitions(now)
	if len(tr) != 2 || tr[1].From != reports.StateOpen || tr[1].To != reports.StateHalfOpen {
		t.Fatalf("Transitions = %v; want closed→open, open→half-open", tr)
	}
	if d := tr[1].At.Sub(tr[0].At); d < 50*time.Millisecond || d > 60*time.Millisecond {
		t.Errorf("half-open dated %v after open; want the 50ms timeout (±10ms)", d)
	}
	if d := tr[0].At.Sub(opened); d > 10*time.Millisecond || d < -10*time.Millisecond {
		t.Errorf("open dated %v from the tripping call; want within 10ms", d)
	}

	// The probe succeeds: closed again; the lazily noticed half-open keeps
	// its true date.
	if err := call(t, b, nil); err != nil {
		t.Fatalf("probe rejected: %v", err)
	}
	tr = b.Transitions(time.Now())
	want := []string{"closed→open", "open→half-open", "half-open→closed"}
	if got := changeNames(tr); !slices.Equal(got, want) {
		t.Fatalf("Transitions = %v; want %v", got, want)
	}
	if d := tr[1].At.Sub(tr[0].At); d < 50*time.Millisecond || d > 60*time.Millisecond {
		t.Errorf("recorded half-open dated %v after open; want the 50ms timeout (±10ms)", d)
	}
	if got := changeNames(seen); !slices.Equal(got, want) {
		t.Errorf("OnChange saw %v; want %v", got, want)
	}
}

func TestBreakerHalfOpenRejectsBeyondProbes(t *testing.T) {
	b := NewBreaker("t", BreakerConfig{Timeout: 10 * time.Millisecond, MaxRequests: 1, ConsecutiveFailures: 1}, nil)
	_ = call(t, b, errBoom)
	time.Sleep(20 * time.Millisecond)
	done, err := b.Allow(time.Now(), 0)
	if err != nil {
		t.Fatalf("probe rejected: %v", err)
	}
	_, err = b.Allow(time.Now(), 0)
	if !errors.Is(err, gobreaker.ErrTooManyRequests) || !errors.Is(err, ErrRejected) {
		t.Errorf("second call while the probe is in flight = %v; want a rejection matching ErrTooManyRequests", err)
	}
	done(nil)
}

func TestBreakerIgnoresClientGone(t *testing.T) {
	b := NewBreaker("t", BreakerConfig{Timeout: time.Hour, MaxRequests: 1, ConsecutiveFailures: 2}, nil)
	for range 5 {
		_ = call(t, b, ErrClientGone)
	}
	if got := b.State(time.Now()); got != reports.StateClosed {
		t.Errorf("State after 5 abandoned calls = %s; want closed", got)
	}
	_ = call(t, b, errBoom)
	_ = call(t, b, errBoom)
	if got := b.State(time.Now()); got != reports.StateOpen {
		t.Errorf("State after 2 failures = %s; want open", got)
	}
}

func TestTripRuleRatio(t *testing.T) {
	rule := tripRule(BreakerConfig{FailureRatio: 0.5, MinRequests: 4})
	tests := []struct {
		c    gobreaker.Counts
		want bool
	}{
		{gobreaker.Counts{TotalSuccesses: 1, TotalFailures: 2}, false},                // too few completed
		{gobreaker.Counts{Requests: 10, TotalSuccesses: 2, TotalFailures: 2}, true},   // in-flight calls ignored
		{gobreaker.Counts{Requests: 5, TotalSuccesses: 3, TotalFailures: 2}, false},   // 40%
		{gobreaker.Counts{Requests: 100, TotalSuccesses: 0, TotalFailures: 0}, false}, // nothing completed
	}
	for _, tt := range tests {
		if got := rule(tt.c); got != tt.want {
			t.Errorf("tripRule(%+v) = %v; want %v", tt.c, got, tt.want)
		}
	}
}

func changeNames(cs []Change) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.From + "→" + c.To
	}
	return out
}

// BenchmarkBreakerAllow measures one admitted call through the breaker.
func BenchmarkBreakerAllow(b *testing.B) {
	br := NewBreaker("bench", BreakerConfig{Timeout: time.Second, MaxRequests: 3, Interval: 10 * time.Second,
		BucketPeriod: time.Second, ConsecutiveFailures: 5, FailureRatio: 0.5, MinRequests: 20}, nil)
	for b.Loop() {
		done, err := br.Allow(time.Now(), 0)
		if err != nil {
			b.Fatal(err)
		}
		done(nil)
	}
}
