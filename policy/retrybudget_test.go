package policy

import (
	"errors"
	"testing"
	"time"
)

func TestRetryBudget(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := NewRetryBudget(RetryBudgetConfig{Ratio: 0.1, Window: 10 * time.Second}, t0)
	admitted := func(at time.Time, attempt int) bool {
		done, err := r.Allow(at, attempt)
		if err != nil {
			if !errors.Is(err, ErrRejected) {
				t.Fatalf("Allow error %v; want a Rejection", err)
			}
			return false
		}
		done(errBoom)
		return true
	}
	// 9 requests: 0.9 retries allowed, so none.
	for range 9 {
		if !admitted(t0, 0) {
			t.Fatal("a first attempt was rejected")
		}
	}
	if admitted(t0, 1) {
		t.Errorf("retry admitted with 9 requests in the window; want rejected (budget 0.9)")
	}
	// The 10th request makes room for exactly one retry.
	admitted(t0, 0)
	if !admitted(t0, 1) {
		t.Errorf("retry rejected with 10 requests and no retries; want admitted")
	}
	if admitted(t0, 2) {
		t.Errorf("second retry admitted with 10 requests; want rejected")
	}
	// 100 more requests: 11 retries in all.
	for range 100 {
		admitted(t0.Add(time.Second), 0)
	}
	n := 0
	for range 50 {
		if admitted(t0.Add(time.Second), 1) {
			n++
		}
	}
	if n != 10 {
		t.Errorf("retries admitted with 110 requests and 1 retry so far = %d; want 10", n)
	}
	// Past the window everything has left: requests must come again first.
	later := t0.Add(12 * time.Second)
	if admitted(later, 1) {
		t.Errorf("retry admitted after the window emptied; want rejected")
	}
}

func BenchmarkRetryBudgetAllow(b *testing.B) {
	r := NewRetryBudget(RetryBudgetConfig{Ratio: 0.1, Window: 10 * time.Second}, time.Now())
	i := 0
	for b.Loop() {
		i++
		done, err := r.Allow(time.Now(), i%10)
		if err == nil {
			done(nil)
		}
	}
}
