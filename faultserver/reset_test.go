package faultserver

import (
	"errors"
	"math"
	"net/http"
	"syscall"
	"testing"
	"time"
)

func TestReset(t *testing.T) {
	s := start(t, Config{Seed: 3, Faults: mustSpecs(t, "reset")})
	// No keep-alive: each request is on a fresh connection, so the
	// transport reports the reset instead of retrying.
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	r := get(c, s.URL()+"/")
	if !errors.Is(r.err, syscall.ECONNRESET) {
		t.Fatalf("GET with reset: error = %v; want connection reset by peer", r.err)
	}

	s.SetFaults(mustSpecs(t, "reset,rate=0.5"))
	const n = 400
	resets := 0
	for range n {
		r := get(c, s.URL()+"/")
		switch {
		case errors.Is(r.err, syscall.ECONNRESET):
			resets++
		case r.err != nil || r.status != 200:
			t.Fatalf("GET = %d %v; want 200 or a reset", r.status, r.err)
		}
	}
	mean, sd := n*0.5, math.Sqrt(n*0.25)
	if math.Abs(float64(resets)-mean) > 5*sd {
		t.Errorf("resets = %d of %d; want %v ± %.0f", resets, n, mean, 5*sd)
	}
	if got, want := s.Stats().Injected["reset"], int64(resets+1); got != want {
		t.Errorf("Stats().Injected[reset] = %d; want %d", got, want)
	}
}
