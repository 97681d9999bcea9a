package harness

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cbload/cbload/reports"
)

// slotsOf builds per-slot counts: api requests at a constant rate, and
// upstream arrivals at ratio × api except in the shed slots [from, to).
func slotsOf(n int, api int64, ratio float64, shed ...[2]int) (a, u []int64) {
	a, u = make([]int64, n), make([]int64, n)
	for i := range n {
		a[i] = api
		u[i] = int64(float64(api) * ratio)
		for _, s := range shed {
			if i >= s[0] && i < s[1] {
				u[i] = 0
				if i == s[0]+5 {
					u[i] = 1 // a half-open probe
				}
			}
		}
	}
	return a, u
}

func TestInferBreaker(t *testing.T) {
	// 10 s at 100 ms: baseline 0–2 s, the breaker open 3.0–6.5 s and
	// 7.2–8.0 s; the service calls the upstream twice per /api request.
	a, u := slotsOf(100, 10, 2, [2]int{30, 65}, [2]int{72, 80})
	got := inferBreaker(a, u, nil, 20)
	want := []reports.Transition{
		{T: 3.0, From: reports.StateClosed, To: reports.StateOpen},
		{T: 6.5, From: reports.StateOpen, To: reports.StateClosed},
		{T: 7.2, From: reports.StateClosed, To: reports.StateOpen},
		{T: 8.0, From: reports.StateOpen, To: reports.StateClosed},
	}
	if !got.ok || got.baselineRatio != 2 {
		t.Fatalf("inferBreaker = %+v; want an inference with baseline ratio 2", got)
	}
	if diff := cmp.Diff(want, got.transitions); diff != "" {
		t.Errorf("transitions (-want +got):\n%s", diff)
	}
	if s := got.stateAt(5); s != reports.StateOpen {
		t.Errorf("stateAt(5) = %s; want open", s)
	}
	if s := got.stateAt(9); s != reports.StateClosed {
		t.Errorf("stateAt(9) = %s; want closed", s)
	}

	// Retries (4 calls per request) and a slowed upstream letting a third
	// through are not a breaker.
	a, u = slotsOf(100, 10, 1)
	for i := 30; i < 60; i++ {
		u[i] = 40
	}
	for i := 60; i < 80; i++ {
		u[i] = 3
	}
	if got := inferBreaker(a, u, nil, 20); !got.ok || len(got.transitions) != 0 {
		t.Errorf("retries and a partial slowdown: %+v; want no transitions", got)
	}

	// A one-slot gap is jitter, not an open breaker.
	a, u = slotsOf(100, 10, 1, [2]int{40, 41})
	if got := inferBreaker(a, u, nil, 20); len(got.transitions) != 0 {
		t.Errorf("one empty slot: %+v; want no transitions", got.transitions)
	}

	// A concurrency limit (a bulkhead of 10 calls held by a latency fault)
	// lets one call in 20 through, with 10 always in flight at the
	// upstream: not a breaker. When the breaker behind it opens at 6.0 s,
	// the calls in flight drain and the arrivals stop: an open.
	a, u = slotsOf(100, 10, 1)
	inflight := make([]int64, 100)
	for i := 30; i < 80; i++ {
		u[i], inflight[i] = int64(i%2), 10
	}
	for i := 60; i < 80; i++ {
		u[i], inflight[i] = 0, max(0, 8-2*int64(i-60))
	}
	got = inferBreaker(a, u, inflight, 20)
	want = []reports.Transition{{T: 6.0, From: reports.StateClosed, To: reports.StateOpen}, {T: 8.0, From: reports.StateOpen, To: reports.StateClosed}}
	if diff := cmp.Diff(want, got.transitions); diff != "" {
		t.Errorf("a bulkhead, then its breaker opening: transitions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]heldOpen{{From: 3.0, T: 6.0}}, got.held); diff != "" {
		t.Errorf("a bulkhead, then its breaker opening: the span the open may lie in (-want +got):\n%s", diff)
	}
	// Unsampled slots (-1) do not hold an open back.
	for i := range inflight {
		inflight[i] = -1
	}
	a, u = slotsOf(100, 10, 1, [2]int{30, 65})
	if got := inferBreaker(a, u, inflight, 20); len(got.transitions) != 2 || got.transitions[0].T != 3.0 {
		t.Errorf("no in-flight samples: %+v; want the open at 3.0 s and the close", got.transitions)
	}

	// Nothing to learn from: no baseline, or an upstream never called.
	if got := inferBreaker(a, u, nil, 0); got.ok || got.stateAt(1) != reports.StateUnknown {
		t.Errorf("no baseline: %+v; want no inference and state unknown", got)
	}
	if got := inferBreaker(a, make([]int64, 100), nil, 20); got.ok {
		t.Errorf("upstream never called: %+v; want no inference", got)
	}
}

func TestSlotCounter(t *testing.T) {
	start := time.Unix(1000, 0)
	c := newSlotCounter(start, time.Second)
	for _, off := range []time.Duration{-time.Millisecond, 0, 50 * time.Millisecond, 150 * time.Millisecond, 999 * time.Millisecond, 2 * time.Second} {
		c.add(start.Add(off))
	}
	if got, want := c.slots(11), []int64{2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0}; !cmp.Equal(got, want) {
		t.Errorf("slots = %v; want %v", got, want)
	}
}
