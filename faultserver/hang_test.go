package faultserver

import (
	"net/http"
	"testing"
	"time"
)

// releaseTolerance is how soon after its release a held request must be
// answered: "at once", with room for a loaded machine.
const releaseTolerance = time.Second

// hold starts n requests that the server will hold and waits until they all
// are in flight. Their results arrive on the returned channel.
func hold(t *testing.T, s *Server, c *http.Client, n int) <-chan result {
	t.Helper()
	out := make(chan result, n)
	base := s.Stats().InFlight
	for range n {
		go func() { out <- get(c, s.URL()+"/held") }()
	}
	waitFor(t, "requests to be held", 5*time.Second, func() bool { return s.Stats().InFlight == base+int64(n) })
	return out
}

func TestHangReleasedOnClear(t *testing.T) {
	s := start(t, Config{Faults: mustSpecs(t, "hang")})
	c := newClient(t, 10*time.Second)
	held := hold(t, s, c, 5)

	cleared := time.Now()
	s.SetFaults(nil)
	for range 5 {
		r := <-held
		if r.err != nil || r.status != 200 || r.fault != "hang" {
			t.Errorf("held GET = %d %q %v; want 200 with fault header \"hang\" once released", r.status, r.fault, r.err)
		}
	}
	if d := time.Since(cleared); d > releaseTolerance {
		t.Errorf("held requests answered %v after the clear; want at once (within %v)", d, releaseTolerance)
	}
}

func TestHangHoldEnds(t *testing.T) {
	s := start(t, Config{Faults: mustSpecs(t, "hang:150ms")})
	r := get(newClient(t, 10*time.Second), s.URL()+"/")
	if r.err != nil || r.status != 200 {
		t.Fatalf("GET = %d %v; want 200 after the hold", r.status, r.err)
	}
	if min, max := 150*time.Millisecond, 150*time.Millisecond+releaseTolerance; r.elapsed < min || r.elapsed > max {
		t.Errorf("hang:150ms held for %v; want %v to %v", r.elapsed, min, max)
	}
}

func TestHangReleasedOnClientGiveUp(t *testing.T) {
	s := start(t, Config{Faults: mustSpecs(t, "hang")})
	r := get(newClient(t, 100*time.Millisecond), s.URL()+"/")
	if r.err == nil {
		t.Fatalf("GET = %d; want a client timeout", r.status)
	}
	waitFor(t, "the server to drop the abandoned request", releaseTolerance, func() bool { return s.Stats().InFlight == 0 })
}

func TestHangReleasedOnClose(t *testing.T) {
	s, err := New(Config{Faults: mustSpecs(t, "hang")})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, 10*time.Second)
	held := hold(t, s, c, 5)

	closed := time.Now()
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	for range 5 {
		if r := <-held; r.err == nil {
			t.Errorf("held GET = %d; want an error as the server closed", r.status)
		}
	}
	if d := time.Since(closed); d > releaseTolerance {
		t.Errorf("Close and the held requests took %v; want at once (within %v)", d, releaseTolerance)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
}

func TestHangKeptWhenFaultStays(t *testing.T) {
	s := start(t, Config{Faults: mustSpecs(t, "hang,path=/held", "hang:1h")})
	c := newClient(t, 10*time.Second)
	held := hold(t, s, c, 3)

	// The same hang stays in the set: its requests stay held. The other
	// hang goes: nothing was held by it.
	s.SetFaults(mustSpecs(t, "latency:1ms", "hang,path=/held"))
	select {
	case r := <-held:
		t.Fatalf("held GET returned (%d %v) although its hang is still active", r.status, r.err)
	default:
	}
	if got := s.Stats().InFlight; got != 3 {
		t.Errorf("in flight after SetFaults kept the hang = %d; want 3", got)
	}
	s.SetFaults(mustSpecs(t, "latency:1ms"))
	for range 3 {
		if r := <-held; r.err != nil || r.status != 200 {
			t.Errorf("held GET = %d %v; want 200 once its hang was removed", r.status, r.err)
		}
	}
}

func TestOnHangEnd(t *testing.T) {
	type end struct {
		held    time.Duration
		endedBy string
	}
	tests := []struct {
		spec, want string
		clear      bool
	}{
		{"hang:100ms", "hold", false},
		{"hang", "cleared", true},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			ends := make(chan end, 1)
			s := start(t, Config{
				Faults:    mustSpecs(t, tt.spec),
				OnHangEnd: func(_ *http.Request, held time.Duration, endedBy string) { ends <- end{held, endedBy} },
			})
			c := newClient(t, 10*time.Second)
			held := hold(t, s, c, 1)
			if tt.clear {
				s.SetFaults(nil)
			}
			if r := <-held; r.err != nil || r.status != 200 {
				t.Fatalf("GET = %d %v; want 200", r.status, r.err)
			}
			select {
			case got := <-ends:
				if got.endedBy != tt.want || got.held <= 0 {
					t.Errorf("OnHangEnd(held %v, %q); want ended by %q after a positive hold", got.held, got.endedBy, tt.want)
				}
			default:
				t.Errorf("OnHangEnd not called before the response")
			}
		})
	}
}
