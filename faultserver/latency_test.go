package faultserver

import (
	"slices"
	"testing"
	"time"
)

// latencySlack is how much later than the fault's delay a median response
// may arrive: loopback, scheduling and the race detector on a busy 2-core
// machine.
const latencySlack = 25 * time.Millisecond

func TestLatency(t *testing.T) {
	tests := []struct {
		spec     string
		min, max time.Duration // bounds on every response, and on the median
		spread   time.Duration // the slowest minus the fastest must reach this
	}{
		{spec: "latency:100ms", min: 100 * time.Millisecond, max: 100*time.Millisecond + latencySlack},
		{spec: "latency:60ms,jitter=20ms", min: 40 * time.Millisecond, max: 80*time.Millisecond + latencySlack, spread: 10 * time.Millisecond},
		{spec: "latency:40ms,jitter=10ms,dist=exp", min: 40 * time.Millisecond, max: 40*time.Millisecond + 10*10*time.Millisecond + latencySlack},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			t.Parallel()
			s := start(t, Config{Seed: 1, Faults: mustSpecs(t, tt.spec)})
			c := newClient(t, 5*time.Second)
			var got []time.Duration
			for range 15 {
				r := get(c, s.URL()+"/x")
				if r.err != nil || r.status != 200 || r.fault != "latency" {
					t.Fatalf("GET = %d %q %v; want 200 with fault header \"latency\"", r.status, r.fault, r.err)
				}
				got = append(got, r.elapsed)
			}
			slices.Sort(got)
			if got[0] < tt.min {
				t.Errorf("fastest response took %v; want at least %v", got[0], tt.min)
			}
			if med := got[len(got)/2]; med > tt.max {
				t.Errorf("median response took %v; want at most %v", med, tt.max)
			}
			if sp := got[len(got)-1] - got[0]; sp < tt.spread {
				t.Errorf("responses spread over %v; want at least %v (jitter)", sp, tt.spread)
			}
		})
	}
}

func TestHealthyServiceTime(t *testing.T) {
	s := start(t, Config{Seed: 1, ServiceTime: 30 * time.Millisecond, Jitter: 10 * time.Millisecond})
	c := newClient(t, 5*time.Second)
	var got []time.Duration
	for range 15 {
		r := get(c, s.URL()+"/")
		if r.err != nil || r.status != 200 || r.fault != "" || r.body != healthyBody {
			t.Fatalf("GET = %d %q %q %v; want 200 %q with no fault header", r.status, r.fault, r.body, r.err, healthyBody)
		}
		got = append(got, r.elapsed)
	}
	slices.Sort(got)
	if min := 20 * time.Millisecond; got[0] < min {
		t.Errorf("fastest healthy response took %v; want at least %v", got[0], min)
	}
	if med, max := got[len(got)/2], 40*time.Millisecond+latencySlack; med > max {
		t.Errorf("median healthy response took %v; want at most %v", med, max)
	}
}
