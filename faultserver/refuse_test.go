package faultserver

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

func TestRefuse(t *testing.T) {
	s := start(t, Config{})
	c := newClient(t, 5*time.Second)
	if r := get(c, s.URL()+"/"); r.err != nil || r.status != 200 {
		t.Fatalf("GET before refuse = %d %v; want 200", r.status, r.err)
	}
	addr := s.Addr()

	s.SetFaults(mustSpecs(t, "refuse"))
	if conn, err := net.Dial("tcp", addr); !errors.Is(err, syscall.ECONNREFUSED) {
		if conn != nil {
			conn.Close()
		}
		t.Fatalf("Dial(%s) while refusing: error = %v; want connection refused", addr, err)
	}
	// The client's kept-alive connection from before is dropped too, and
	// its retry on a new connection is refused.
	if r := get(c, s.URL()+"/"); r.err == nil {
		t.Errorf("GET while refusing = %d; want an error", r.status)
	}

	s.SetFaults(nil)
	if s.Addr() != addr {
		t.Errorf("Addr() after refuse = %s; want the same %s", s.Addr(), addr)
	}
	if r := get(c, s.URL()+"/"); r.err != nil || r.status != 200 {
		t.Errorf("GET after refuse cleared = %d %v; want 200 on the same address", r.status, r.err)
	}
}

func TestRefuseFromStart(t *testing.T) {
	s := start(t, Config{Faults: mustSpecs(t, "refuse")})
	if conn, err := net.Dial("tcp", s.Addr()); !errors.Is(err, syscall.ECONNREFUSED) {
		if conn != nil {
			conn.Close()
		}
		t.Fatalf("Dial while refusing from the start: error = %v; want connection refused", err)
	}
	s.SetFaults(mustSpecs(t, "latency:1ms"))
	if r := get(newClient(t, 5*time.Second), s.URL()+"/"); r.err != nil || r.status != 200 {
		t.Errorf("GET after refuse cleared = %d %v; want 200", r.status, r.err)
	}
}

// TestRefuseReopenRetries covers an address taken by someone else while the
// listener was closed: the server keeps retrying and serves once it is free.
func TestRefuseReopenRetries(t *testing.T) {
	s := start(t, Config{Faults: mustSpecs(t, "refuse")})
	squatter, err := net.Listen("tcp", s.Addr())
	if err != nil {
		t.Fatalf("taking the refused address: %v", err)
	}
	s.SetFaults(nil)
	squatter.Close()
	c := newClient(t, 5*time.Second)
	waitFor(t, "the listener to reopen", 5*time.Second, func() bool {
		r := get(c, s.URL()+"/")
		return r.err == nil && r.status == 200
	})
}
