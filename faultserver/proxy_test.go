package faultserver

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
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

// TestProxyBlamesTheBackend checks that in proxy mode a failed forward is
// the backend's: a prompt 502 with BackendErrorHeader and no FaultHeader,
// counted in BackendErrors and not as the slowbody that had nothing to
// slow; a backend 5xx is counted as such; and a slowbody that did trickle
// a backend's answer is counted.
func TestProxyBlamesTheBackend(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	c := newClient(t, 10*time.Second)

	down := start(t, Config{ProxyTo: dead, Faults: mustSpecs(t, "latency:1ms", "slowbody:100B/s")})
	r := get(c, down.URL()+"/")
	if r.err != nil || r.status != 502 || r.fault != "" || !strings.HasPrefix(r.header.Get(BackendErrorHeader), "proxy: ") {
		t.Errorf("GET via a dead backend = %d fault %q backend error %q (%v); want 502, no %s, %s set",
			r.status, r.fault, r.header.Get(BackendErrorHeader), r.err, FaultHeader, BackendErrorHeader)
	}
	if r.elapsed > time.Second {
		t.Errorf("the 502 took %v; want it at once, not trickled at 100B/s", r.elapsed)
	}
	st := down.Stats()
	if st.BackendErrors != 1 || st.Injected["slowbody"] != 0 || st.Injected["latency"] != 1 {
		t.Errorf("Stats after a failed forward: backend_errors %d, slowbody %d, latency %d; want 1, 0 (nothing slowed), 1 (it did wait)",
			st.BackendErrors, st.Injected["slowbody"], st.Injected["latency"])
	}

	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/broken" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	up := start(t, Config{ProxyTo: backend.URL, Faults: mustSpecs(t, "slowbody:1KiB/s,path=/slow")})
	if r := get(c, up.URL()+"/broken"); r.status != 500 || r.fault != "" {
		t.Errorf("GET of a backend 500 = %d fault %q; want the 500 passed through, no fault named", r.status, r.fault)
	}
	if r := get(c, up.URL()+"/slow"); r.status != 200 || r.fault != "slowbody" || r.body != "ok" {
		t.Errorf("GET /slow = %d fault %q body %q; want 200 slowbody ok", r.status, r.fault, r.body)
	}
	if st := up.Stats(); st.Backend5xx != 1 || st.BackendErrors != 0 || st.Injected["slowbody"] != 1 {
		t.Errorf("Stats: backend_5xx %d, backend_errors %d, slowbody %d; want 1, 0, 1", st.Backend5xx, st.BackendErrors, st.Injected["slowbody"])
	}
}
