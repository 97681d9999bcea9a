package faultserver

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// newTestClient returns a Client of s's control API, closed at cleanup.
func newTestClient(t *testing.T, url, token string) *Client {
	t.Helper()
	c, err := NewClient(url, token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestClient(t *testing.T) {
	s := start(t, Config{ControlAddr: "127.0.0.1:0", ControlToken: "s3cret"})
	c := newTestClient(t, s.ControlURL()+"/", "s3cret")
	ctx := context.Background()

	steps := []struct {
		name string
		do   func() ([]Fault, error)
		want []Fault
	}{
		{"Faults", func() ([]Fault, error) { return c.Faults(ctx) }, []Fault{}},
		{"SetFaults", func() ([]Fault, error) { return c.SetFaults(ctx, []string{"latency:1000ms", "error:503,rate=0.5"}) },
			[]Fault{{Spec: "latency:1s"}, {Spec: "error:503,rate=0.5"}}},
		{"AddFault", func() ([]Fault, error) { return c.AddFault(ctx, "slow", "hang:1s,path=/h") },
			[]Fault{{Spec: "latency:1s"}, {Spec: "error:503,rate=0.5"}, {Name: "slow", Spec: "hang:1s,path=/h"}}},
		{"RemoveFault", func() ([]Fault, error) { return c.RemoveFault(ctx, "slow") },
			[]Fault{{Spec: "latency:1s"}, {Spec: "error:503,rate=0.5"}}},
		{"SetFaults(nil)", func() ([]Fault, error) { return c.SetFaults(ctx, nil) }, []Fault{}},
	}
	for _, st := range steps {
		got, err := st.do()
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", st.name, diff)
		}
	}
	c.AddFault(ctx, "e", "error:502")
	if err := c.ClearFaults(ctx); err != nil || len(s.Faults()) != 0 {
		t.Errorf("ClearFaults = %v, faults left %v; want none", err, s.Faults())
	}
	if st, err := c.Stats(ctx); err != nil || st.Injected == nil {
		t.Errorf("Stats = %+v, %v; want the counters", st, err)
	}
}

func TestClientErrors(t *testing.T) {
	s := start(t, Config{ControlAddr: "127.0.0.1:0", ControlToken: "s3cret"})
	ctx := context.Background()
	c := newTestClient(t, s.ControlURL(), "s3cret")
	c.AddFault(ctx, "taken", "latency")

	apiErr := func(err error) int {
		var ae *APIError
		if errors.As(err, &ae) {
			if ae.Message == "" || strings.Contains(ae.Error(), "\n") {
				t.Errorf("APIError %q: want a one-line message", ae.Error())
			}
			return ae.Status
		}
		return 0
	}
	_, err := c.AddFault(ctx, "taken", "error:503")
	if got := apiErr(err); got != 409 {
		t.Errorf("AddFault of a taken name: %v; want an APIError 409", err)
	}
	if _, err := c.RemoveFault(ctx, "nope"); apiErr(err) != 404 {
		t.Errorf("RemoveFault(nope): %v; want an APIError 404", err)
	}
	if _, err := c.SetFaults(ctx, []string{"bogus"}); apiErr(err) != 400 || !strings.Contains(err.Error(), `unknown kind "bogus"`) {
		t.Errorf("SetFaults(bogus): %v; want an APIError 400 naming it", err)
	}
	if _, err := c.RemoveFault(ctx, "a/../../stats"); err == nil || apiErr(err) != 0 {
		t.Errorf("RemoveFault with a path in the name: %v; want it refused before sending", err)
	}
	wrong := newTestClient(t, s.ControlURL(), "t0ken-xyz")
	if _, err := wrong.Faults(ctx); apiErr(err) != 401 || strings.Contains(err.Error(), "t0ken-xyz") {
		t.Errorf("Faults with a wrong token: %v; want an APIError 401 that does not echo the token", err)
	}

	// Unreachable: a plain error, not an APIError.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + l.Addr().String()
	l.Close()
	if _, err := newTestClient(t, dead, "").Faults(ctx); err == nil || apiErr(err) != 0 {
		t.Errorf("Faults of a dead address: %v; want a connection error", err)
	}

	// A redirect is not followed.
	var followed atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed.Add(1) }))
	defer target.Close()
	redirect := httptest.NewServer(http.RedirectHandler(target.URL+"/faults", http.StatusFound))
	defer redirect.Close()
	if _, err := newTestClient(t, redirect.URL, "").Faults(ctx); err == nil || !strings.Contains(err.Error(), "redirect") || followed.Load() != 0 {
		t.Errorf("Faults of a redirecting server: %v, target hit %d times; want an error and no hit", err, followed.Load())
	}

	for _, bad := range []string{"127.0.0.1:8474", "ftp://127.0.0.1", "http://", "http://h/?q=1"} {
		if _, err := NewClient(bad, ""); err == nil {
			t.Errorf("NewClient(%q) = nil error; want one", bad)
		}
	}
	if _, err := NewClient("http://127.0.0.1:1", " "); err == nil {
		t.Error("NewClient with a blank token = nil error; want one")
	}
}
