package faultserver

import (
	"strings"
	"testing"
	"time"
)

func TestSlowdown(t *testing.T) {
	const service = 40 * time.Millisecond
	s := start(t, Config{ServiceTime: service, Faults: mustSpecs(t, "slowdown:5x,path=/slow", "slowdown:2x,path=/slow/er")})
	c := newClient(t, 5*time.Second)
	for _, tt := range []struct {
		path  string
		want  time.Duration
		fault string
	}{
		{"/", service, ""},
		{"/slow", 5 * service, "slowdown"},
		{"/slow/er", 10 * service, "slowdown,slowdown"}, // factors multiply
	} {
		r := get(c, s.URL()+tt.path)
		if r.err != nil || r.status != 200 || r.fault != tt.fault {
			t.Errorf("GET %s = %d fault %q (%v); want 200 fault %q", tt.path, r.status, r.fault, r.err, tt.fault)
		}
		if r.elapsed < tt.want || r.elapsed > tt.want+150*time.Millisecond {
			t.Errorf("GET %s took %v; want %v (+150ms)", tt.path, r.elapsed, tt.want)
		}
	}
}

// TestSlowdownCutsCapacity checks slowdown as the trigger it is meant to
// be: with finite workers it divides throughput by its factor.
func TestSlowdownCutsCapacity(t *testing.T) {
	const (
		service = 50 * time.Millisecond
		n       = 8
	)
	s := start(t, Config{ServiceTime: service, Concurrency: 2, Queue: n})
	took := func() time.Duration {
		t0 := time.Now()
		for _, r := range fire(t, s, n, 10*time.Second) {
			if r.err != nil || r.status != 200 {
				t.Fatalf("GET = %d %v", r.status, r.err)
			}
		}
		return time.Since(t0)
	}
	base := took()
	s.SetFaults(mustSpecs(t, "slowdown:4x"))
	slowed := took()
	// n requests on 2 workers: n/2 service times, 4× longer when slowed.
	if want := n / 2 * 4 * service; slowed < want || slowed > want+400*time.Millisecond {
		t.Errorf("%d requests under slowdown:4x took %v (%v without); want about %v", n, slowed, base, want)
	}
}

func TestSlowdownNotInProxyMode(t *testing.T) {
	s := start(t, Config{ProxyTo: "http://127.0.0.1:1"})
	err := s.SetFaults(mustSpecs(t, "latency:1ms", "slowdown:3x"))
	if err == nil || !strings.Contains(err.Error(), "proxy mode has none") {
		t.Errorf("SetFaults(slowdown) in proxy mode = %v; want an error", err)
	}
	if got := s.Faults(); len(got) != 0 {
		t.Errorf("Faults() after the refused set = %v; want it unchanged (none)", got)
	}
}
