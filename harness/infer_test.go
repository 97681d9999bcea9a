package harness

import (
	"strings"
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
	got := inferBreaker(a, nil, nil, u, 20)
	want := []reports.Transition{
		{T: 3.0, From: reports.StateClosed, To: reports.StateOpen, EarliestS: ptr(2.9), LatestS: ptr(3.1)},
		{T: 6.5, From: reports.StateOpen, To: reports.StateClosed},
		{T: 7.2, From: reports.StateClosed, To: reports.StateOpen, EarliestS: ptr(7.1), LatestS: ptr(7.3)},
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

	// Calls coming back a window before the close is confirmed (half the
	// calls in the last window of the open) are the close, not a
	// concurrency limit: the open stands.
	a, u = slotsOf(100, 10, 2, [2]int{30, 65})
	u[64] = 10
	allFast, noneHeld := make([]int64, 100), make([]int64, 100)
	for i := range allFast {
		allFast[i] = 10 // an error fault: every answer fast, none held
	}
	if got := inferBreaker(a, allFast, noneHeld, u, 20); len(got.transitions) != 2 || got.transitions[0].T != 3.0 || got.limited {
		t.Errorf("calls back as the breaker closes: %+v; want the open at 3.0 s and its close, no limit", got.transitions)
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
	if got := inferBreaker(a, nil, nil, u, 20); !got.ok || len(got.transitions) != 0 {
		t.Errorf("retries and a partial slowdown: %+v; want no transitions", got)
	}

	// A one-slot gap is jitter, not an open breaker.
	a, u = slotsOf(100, 10, 1, [2]int{40, 41})
	if got := inferBreaker(a, nil, nil, u, 20); len(got.transitions) != 0 {
		t.Errorf("one empty slot: %+v; want no transitions", got.transitions)
	}

	// A concurrency limit (a bulkhead of 10 calls held by a latency fault)
	// lets one call in 20 through and holds the answers: not a breaker,
	// whatever stays in flight. When the breaker behind it opens at 6.0 s,
	// the answers come back fast: an open, at 6.0 s, between the last
	// window of held answers and the first whole window of fast ones.
	a, u = slotsOf(100, 10, 1)
	fast := make([]int64, 100)
	for i := range fast {
		fast[i] = 10
	}
	for i := 30; i < 80; i++ {
		u[i], fast[i] = int64(i%2), 0
	}
	for i := 60; i < 80; i++ {
		u[i], fast[i] = 0, 10
	}
	got = inferBreaker(a, fast, nil, u, 20)
	want = []reports.Transition{{T: 6.0, From: reports.StateClosed, To: reports.StateOpen, EarliestS: ptr(5.9), LatestS: ptr(6.1)}, {T: 8.0, From: reports.StateOpen, To: reports.StateClosed}}
	if diff := cmp.Diff(want, got.transitions); diff != "" {
		t.Errorf("a bulkhead, then its breaker opening: transitions (-want +got):\n%s", diff)
	}
	// Without the answers' speed, the arrivals decide alone.
	if got := inferBreaker(a, nil, nil, u, 20); len(got.transitions) != 2 || got.transitions[0].T != 3.0 {
		t.Errorf("no answer speeds: %+v; want the open at 3.0 s and the close", got.transitions)
	}

	// A concurrency limit that rejects fast while full (hystrix's
	// MaxConcurrentRequests): from 3.0 s the service holds 10 calls for
	// 400 ms, answers the rest fast, and starts 10 new calls as the held
	// ones end; its breaker opens as the held calls of 4.2 s end, at
	// 4.6 s: no new call takes their place. The quiet stretches before are
	// the limit full, not an open.
	a, u = slotsOf(100, 10, 1)
	fast, freed := make([]int64, 100), make([]int64, 100)
	for i := range fast {
		fast[i] = 10
	}
	for i := 30; i < 70; i++ {
		u[i] = 0
		if i <= 42 && (i-30)%4 == 0 {
			u[i], fast[i] = 10, 0
		}
		if i >= 34 && i <= 46 && (i-30)%4 == 0 {
			freed[i] = 10
		}
	}
	got = inferBreaker(a, fast, freed, u, 20)
	want = []reports.Transition{{T: 4.6, From: reports.StateClosed, To: reports.StateOpen, EarliestS: ptr(4.2), LatestS: ptr(4.7)}, {T: 7.0, From: reports.StateOpen, To: reports.StateClosed}}
	if diff := cmp.Diff(want, got.transitions); diff != "" || !got.limited {
		t.Errorf("a full concurrency limit, then its breaker opening: limited %v, transitions (-want +got):\n%s", got.limited, diff)
	}
	// The limit alone, its calls starting again until the fault ends, is
	// no open at all.
	for i := 43; i < 70; i++ {
		if (i-30)%4 == 0 {
			u[i], fast[i], freed[i] = 10, 0, 10
		}
	}
	if got := inferBreaker(a, fast, freed, u, 20); len(got.transitions) != 0 {
		t.Errorf("a full concurrency limit throughout: %+v; want no transitions", got.transitions)
	}

	// At 8 requests a second (0.8 per slot) a slot says nothing: the
	// window widens to 500 ms, and the open at 3.0 s is dated at that
	// resolution.
	a, u = slotsOf(100, 0, 1)
	for i := range a {
		if i%10 != 0 && i%10 != 5 {
			a[i], u[i] = 1, 1
		}
		if i >= 30 && i < 65 {
			u[i] = 0
		}
	}
	got = inferBreaker(a, nil, nil, u, 20)
	if got.window != 500*time.Millisecond || len(got.transitions) != 2 || got.transitions[0].T != 3.0 ||
		*got.transitions[0].EarliestS != 2.5 || *got.transitions[0].LatestS != 3.5 {
		t.Errorf("8 requests a second: window %v, transitions %+v; want 500ms, an open at 3.0 s between 2.5 and 3.5 s, and a close", got.window, got.transitions)
	}
	// At 1 request a second nothing is inferred, and the reason says so.
	a, u = slotsOf(100, 0, 1)
	for i := 0; i < 100; i += 10 {
		a[i], u[i] = 1, 1
	}
	if got := inferBreaker(a, nil, nil, u, 20); got.ok || !strings.Contains(got.why, "too few") {
		t.Errorf("1 request a second: %+v; want no inference, too few calls", got)
	}

	// Nothing to learn from: no baseline, or an upstream never called.
	if got := inferBreaker(a, nil, nil, u, 0); got.ok || got.stateAt(1) != reports.StateUnknown {
		t.Errorf("no baseline: %+v; want no inference and state unknown", got)
	}
	if got := inferBreaker(a, nil, nil, make([]int64, 100), 20); got.ok {
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
