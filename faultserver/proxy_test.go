package faultserver

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestProxyDoesNotFollowRedirects points the proxy at a backend that
// redirects to another address (127.0.0.2 stands in for another host): the
// redirect goes back to the client as it is, and the other address gets
// nothing. Following it would carry the request past the loopback backend
// the user named.
func TestProxyDoesNotFollowRedirects(t *testing.T) {
	var elsewhere atomic.Int64
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
	}))
	other.Listener.Close()
	other.Listener = l
	other.Start()
	defer other.Close()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/stolen", http.StatusFound)
	}))
	defer backend.Close()

	s := start(t, Config{ProxyTo: backend.URL})
	c := newClient(t, 5*time.Second)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r := get(c, s.URL()+"/api")
	if r.err != nil || r.status != http.StatusFound || r.header.Get("Location") != other.URL+"/stolen" {
		t.Errorf("GET via a redirecting backend = %d Location %q (%v); want the 302 passed back as is", r.status, r.header.Get("Location"), r.err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests; want none", n)
	}
}
