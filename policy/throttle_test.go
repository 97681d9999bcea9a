package policy

import (
	"math"
	"testing"
	"time"
)

func TestThrottleProbability(t *testing.T) {
	t0 := time.Unix(1000, 0)
	th := NewThrottle(ThrottleConfig{K: 2, Window: 10 * time.Second}, t0, 1)
	if p := th.RejectProbability(t0); p != 0 {
		t.Fatalf("fresh throttle rejects with probability %v; want 0", p)
	}
	// 100 requests, all failing: p = 100/101.
	rejected := 0
	for range 100 {
		done, err := th.Allow(t0, 0)
		if err != nil {
			rejected++
			continue
		}
		done(errBoom)
	}
	if got, want := th.RejectProbability(t0), 100.0/101; math.Abs(got-want) > 1e-9 {
		t.Errorf("after 100 failed requests p = %v; want %v", got, want)
	}
	if rejected < 50 {
		t.Errorf("rejected %d of 100 requests to a failing upstream; want most", rejected)
	}
	// Past the window, with successes: 10 requests, 10 accepts → p = max(0, (10−20)/11) = 0.
	t1 := t0.Add(20 * time.Second)
	for range 10 {
		done, err := th.Allow(t1, 0)
		if err != nil {
			t.Fatalf("request rejected with p = %v", th.RejectProbability(t1))
		}
		done(nil)
	}
	if p := th.RejectProbability(t1); p != 0 {
		t.Errorf("after 10 successes p = %v; want 0", p)
	}
}

func TestThrottleFormulaAndSeed(t *testing.T) {
	// requests 30, accepts 10: p = (30 − 20)/31.
	t0 := time.Unix(0, 0)
	run := func(seed uint64) []bool {
		th := NewThrottle(ThrottleConfig{K: 2, Window: time.Minute}, t0, seed)
		th.w.add(t0, 30, 10)
		if got, want := th.RejectProbability(t0), 10.0/31; math.Abs(got-want) > 1e-9 {
			t.Errorf("p with 30 requests and 10 accepts = %v; want %v", got, want)
		}
		var out []bool
		for range 200 {
			done, err := th.Allow(t0, 0)
			out = append(out, err != nil)
			if err == nil {
				done(ErrClientGone) // uncounted: p drifts only with the rejections
			}
		}
		return out
	}
	a, b := run(7), run(7)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("seed 7 gave different decisions at %d; want the same sequence", i)
		}
	}
	c := run(8)
	same := true
	for i := range a {
		same = same && a[i] == c[i]
	}
	if same {
		t.Errorf("seeds 7 and 8 gave the same 200 decisions; want the seed to matter")
	}
}

func TestThrottleClientGoneUncounted(t *testing.T) {
	t0 := time.Unix(0, 0)
	th := NewThrottle(ThrottleConfig{K: 2, Window: time.Minute}, t0, 1)
	for range 50 {
		done, err := th.Allow(t0, 0)
		if err != nil {
			t.Fatalf("rejected with p = %v; want 0 while every call is uncounted", th.RejectProbability(t0))
		}
		done(ErrClientGone)
	}
	if p := th.RejectProbability(t0); p != 0 {
		t.Errorf("after 50 abandoned calls p = %v; want 0", p)
	}
}

func BenchmarkThrottleAllow(b *testing.B) {
	th := NewThrottle(ThrottleConfig{K: 2, Window: 10 * time.Second}, time.Now(), 1)
	for b.Loop() {
		done, err := th.Allow(time.Now(), 0)
		if err == nil {
			done(nil)
		}
	}
}
