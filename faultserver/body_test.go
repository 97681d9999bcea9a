package faultserver

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestCallerLeavingIsNoticed sends requests with and without a body to
// every fault that holds a request, from a real client that gives up
// after 200ms: the server must notice the caller leaving and drop the
// request at once, whether or not it had a body. net/http sees a
// connection close only once the handler has read the request body, so a
// held request with an unread body used to stay in flight until its fault
// cleared.
func TestCallerLeavingIsNoticed(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"status":"ok"}`)
	}))
	defer backend.Close()
	bodies := []struct {
		name string
		body func() io.Reader // nil: no body
	}{
		{"GET", nil},
		{"POST small", func() io.Reader { return strings.NewReader("x") }},
		// A reader that is not a *strings.Reader is sent chunked.
		{"POST chunked", func() io.Reader { return io.MultiReader(strings.NewReader(strings.Repeat("c", 70<<10))) }},
	}
	servers := []struct {
		name string
		cfg  Config
	}{
		{"hang", Config{Faults: mustSpecs(t, "hang")}},
		{"latency", Config{Faults: mustSpecs(t, "latency:5s")}},
		{"slowbody", Config{Faults: mustSpecs(t, "slowbody:100B/s,size=10KiB")}},
		{"slowdown", Config{ServiceTime: 10 * time.Millisecond, Faults: mustSpecs(t, "slowdown:1000x")}},
		{"slowdown queued", Config{ServiceTime: 10 * time.Millisecond, Concurrency: 1, Queue: 10, HonorCancel: true, Faults: mustSpecs(t, "slowdown:1000x")}},
		{"proxied hang", Config{ProxyTo: backend.URL, Faults: mustSpecs(t, "hang")}},
		{"proxied latency", Config{ProxyTo: backend.URL, Faults: mustSpecs(t, "latency:5s")}},
	}
	for _, sv := range servers {
		t.Run(sv.name, func(t *testing.T) {
			s := start(t, sv.cfg)
			c := newClient(t, 200*time.Millisecond)
			for _, b := range bodies {
				method, body := http.MethodGet, io.Reader(nil)
				if b.body != nil {
					method, body = http.MethodPost, b.body()
				}
				req, err := http.NewRequest(method, s.URL()+"/held", body)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := c.Do(req)
				if err == nil {
					// slowbody answers headers at once: the client gives
					// up while reading the trickled body.
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				if err == nil {
					t.Fatalf("%s: got the whole answer; want the client to give up", b.name)
				}
				gaveUp := time.Now()
				waitFor(t, fmt.Sprintf("%s: the server to drop the request its caller left", b.name), releaseTolerance, func() bool { return s.Stats().InFlight == 0 })
				t.Logf("%s: dropped %v after the client gave up", b.name, time.Since(gaveUp).Round(time.Millisecond))
			}
		})
	}
}
