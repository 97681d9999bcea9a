package faultserver

import (
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptrace"
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

// TestResetSeenByKeepAliveClients checks that a keep-alive client — Go's
// default transport, which silently retries an idempotent request once
// when a reused connection fails before any response byte — sees resets at
// the spec's rate, and that the server got each request once (no silent
// retries): while the fault is active no connection carries a second
// request, and keep-alive is back once it clears.
func TestResetSeenByKeepAliveClients(t *testing.T) {
	const (
		n    = 600
		rate = 0.2
	)
	s := start(t, Config{Seed: 5})
	c := newClient(t, 5*time.Second) // keep-alive on, as clients have it
	reused := 0
	send := func() error {
		req, _ := http.NewRequest("GET", s.URL()+"/", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) {
				if i.Reused {
					reused++
				}
			},
		}))
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET = %d; want 200 or a failure", resp.StatusCode)
		}
		return nil
	}
	// Idle keep-alive connections from before the fault must not carry
	// requests once it is on.
	for range 4 {
		if err := send(); err != nil {
			t.Fatalf("warm-up GET: %v", err)
		}
	}
	if err := s.SetFaults(mustSpecs(t, "reset,rate=0.2")); err != nil {
		t.Fatal(err)
	}
	before := s.Stats().Requests
	failed := 0
	reused = 0
	for range n {
		if send() != nil {
			failed++
		}
	}
	mean, sd := n*rate, math.Sqrt(n*rate*(1-rate))
	if math.Abs(float64(failed)-mean) > 5*sd {
		t.Errorf("client saw %d failures in %d requests; want %v ± %.0f (the spec's rate)", failed, n, mean, 5*sd)
	}
	if got := s.Stats().Requests - before; got != n {
		t.Errorf("server got %d requests for %d sent; want each once (no silent retries)", got, n)
	}
	if got := s.Stats().Injected["reset"]; got != int64(failed) {
		t.Errorf("Injected[reset] = %d; want the %d failures the client saw", got, failed)
	}
	// The first request may pick the idle connection the server has just
	// closed, before the client noticed; the transport then retries it on
	// a new connection, and the server never saw the first try.
	if reused > 1 {
		t.Errorf("%d requests came on a reused connection while reset was active; want at most the one idle connection", reused)
	}

	s.SetFaults(nil)
	reused = 0
	for range 3 {
		if err := send(); err != nil {
			t.Fatal(err)
		}
	}
	if reused == 0 {
		t.Errorf("after the reset fault cleared no request reused a connection; want keep-alive back")
	}
}
