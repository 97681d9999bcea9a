package faultserver

import (
	"encoding/json"
	"io"
	"math"
	"runtime"
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

// TestSlowBodyStreamsLargeBodies checks that a large synthetic body is
// streamed, not built: a 256 MiB body costs the process far less than its
// size in allocations (building it took twice its size, and size=1GiB ran
// the process out of memory).
func TestSlowBodyStreamsLargeBodies(t *testing.T) {
	const size = 256 << 20
	s := start(t, Config{Faults: mustSpecs(t, "slowbody:1GiB/s,size=256MiB")})
	c := newClient(t, time.Minute)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	resp, err := c.Get(s.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	runtime.ReadMemStats(&after)
	if err != nil || n != size {
		t.Fatalf("body: %d bytes, error %v; want %d bytes", n, err, size)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/8 {
		t.Errorf("serving a %d MiB body allocated %d MiB; want under %d MiB (streamed)", size>>20, alloc>>20, size/8>>20)
	}
}
