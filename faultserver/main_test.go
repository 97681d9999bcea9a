package faultserver

import (
	"io"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fastService keeps healthy responses near-instant so tests measure faults.
const fastService = time.Microsecond

// start runs a Server for the test and closes it at cleanup.
func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.ServiceTime == 0 {
		cfg.ServiceTime = fastService
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v) error: %v", cfg, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return s
}

// mustSpecs parses specs or fails the test.
func mustSpecs(t testing.TB, ss ...string) []Spec {
	t.Helper()
	specs, err := ParseSpecs(ss)
	if err != nil {
		t.Fatalf("ParseSpecs(%q) error: %v", ss, err)
	}
	return specs
}

// newClient returns a client with its own transport, closed at cleanup so
// no connection goroutines outlive the test.
func newClient(t *testing.T, timeout time.Duration) *http.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}
}

// result is what a test needs from one response.
type result struct {
	status  int
	fault   string
	header  http.Header
	body    string
	elapsed time.Duration
	err     error
}

// get fetches url and reads the whole body.
func get(c *http.Client, url string) result {
	t0 := time.Now()
	resp, err := c.Get(url)
	if err != nil {
		return result{err: err, elapsed: time.Since(t0)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{
		status:  resp.StatusCode,
		fault:   resp.Header.Get(FaultHeader),
		header:  resp.Header,
		body:    string(b),
		elapsed: time.Since(t0),
		err:     err,
	}
}

// waitFor polls cond until it holds or the deadline passes. Tests use it to
// wait for server-side state, never as a fixed sleep.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
