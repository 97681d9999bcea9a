package faultserver

import (
	"math"
	"sync"
	"testing"
	"time"
)

func TestErrorRate(t *testing.T) {
	const (
		n    = 2000
		rate = 0.3
	)
	s := start(t, Config{Seed: 42, Faults: mustSpecs(t, "error:503,rate=0.3")})
	c := newClient(t, 5*time.Second)

	var (
		mu      sync.Mutex
		counts  = map[int]int{}
		badHdr  int
		wg      sync.WaitGroup
		next    = make(chan struct{})
		workers = 8
	)
	for range workers {
		wg.Go(func() {
			for range next {
				r := get(c, s.URL()+"/")
				mu.Lock()
				if r.err != nil {
					counts[-1]++
				} else {
					counts[r.status]++
					if (r.status == 503) != (r.fault == "error") {
						badHdr++
					}
				}
				mu.Unlock()
			}
		})
	}
	for range n {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()

	// Five standard deviations of a binomial: a false alarm is
	// vanishingly rare, a wrong rate (0.25 or 0.35) is caught.
	mean, sd := n*rate, math.Sqrt(n*rate*(1-rate))
	if got := float64(counts[503]); math.Abs(got-mean) > 5*sd {
		t.Errorf("503s = %v of %d; want %v ± %.0f", got, n, mean, 5*sd)
	}
	if counts[503]+counts[200] != n {
		t.Errorf("statuses = %v; want only 200 and 503, %d in all", counts, n)
	}
	if badHdr != 0 {
		t.Errorf("%d responses had a fault header that did not match their status", badHdr)
	}
	st := s.Stats()
	if st.Requests != n || st.Injected["error"] != int64(counts[503]) {
		t.Errorf("Stats() = %+v; want %d requests and %d errors injected", st, n, counts[503])
	}
}

func TestErrorResponse(t *testing.T) {
	tests := []struct {
		spec       string
		status     int
		retryAfter string
	}{
		{"error", 503, ""},
		{"error:500", 500, ""},
		{"error:429,retry-after=2s", 429, "2"},
	}
	for _, tt := range tests {
		s := start(t, Config{Faults: mustSpecs(t, tt.spec)})
		r := get(newClient(t, 5*time.Second), s.URL()+"/")
		if r.err != nil {
			t.Fatalf("%s: GET error: %v", tt.spec, r.err)
		}
		if r.status != tt.status || r.header.Get("Retry-After") != tt.retryAfter || r.fault != "error" {
			t.Errorf("%s: GET = %d, Retry-After %q, fault %q; want %d, %q, \"error\"",
				tt.spec, r.status, r.header.Get("Retry-After"), r.fault, tt.status, tt.retryAfter)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type = %q; want application/json", tt.spec, ct)
		}
	}
}
