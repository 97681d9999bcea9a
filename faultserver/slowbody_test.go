package faultserver

import (
	"encoding/json"
	"io"
	"math"
	"testing"
	"time"
)

func TestSlowBody(t *testing.T) {
	const (
		bps  = 20 << 10
		size = 10 << 10
	)
	s := start(t, Config{Faults: mustSpecs(t, "slowbody:20KiB/s,size=10KiB")})
	c := newClient(t, 10*time.Second)

	t0 := time.Now()
	resp, err := c.Get(s.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	headers := time.Since(t0)
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	total := time.Since(t0)

	if len(body) != size {
		t.Errorf("body is %d bytes; want %d", len(body), size)
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("padded body is not JSON: %v", err)
	}
	if got := resp.Header.Get(FaultHeader); got != "slowbody" {
		t.Errorf("fault header = %q; want slowbody", got)
	}
	if headers > total/4 {
		t.Errorf("headers took %v of %v; want them promptly, before the body", headers, total)
	}
	got := float64(size) / (total - headers).Seconds()
	if math.Abs(got-bps)/bps > 0.15 {
		t.Errorf("body throughput = %.0f B/s; want %d B/s ± 15%%", got, bps)
	}
}

func TestSlowBodyClientGivesUp(t *testing.T) {
	s := start(t, Config{Faults: mustSpecs(t, "slowbody:512B/s,size=1MiB")})
	r := get(newClient(t, 200*time.Millisecond), s.URL()+"/")
	if r.err == nil {
		t.Fatalf("GET = %d with %d bytes; want a client timeout", r.status, len(r.body))
	}
	waitFor(t, "the server to stop trickling", releaseTolerance, func() bool { return s.Stats().InFlight == 0 })
}
