package faultserver

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cbload/cbload/internal/testenv"
)

// seen is what a real Go client saw of one request: the error of Do, the
// status, the error reading the body, and how many body bytes came.
type seen struct {
	doErr, readErr error
	status         int
	body           int
	headers, total time.Duration
}

// call sends one request with a real net/http client and reads the whole
// answer, as a service calling its dependency does.
func call1(c *http.Client, method, url string, body io.Reader) seen {
	t0 := time.Now()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return seen{doErr: err}
	}
	resp, err := c.Do(req)
	if err != nil {
		return seen{doErr: err, total: time.Since(t0)}
	}
	defer resp.Body.Close()
	s := seen{status: resp.StatusCode, headers: time.Since(t0)}
	n, err := io.Copy(io.Discard, resp.Body)
	s.body, s.readErr, s.total = int(n), err, time.Since(t0)
	return s
}

// statusBreakerFails is what a breaker around Do that counts errors and 5xx
// — gobreaker's usual wrapper, which never reads the body — records.
func (s seen) statusBreakerFails() bool { return s.doErr != nil || s.status >= 500 }

// bodyBreakerFails is what a breaker around Do plus reading the body
// records (cbload's own gateway reads it inside the breaker).
func (s seen) bodyBreakerFails() bool { return s.statusBreakerFails() || s.readErr != nil }

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestBrokenResponsesSeenByGoClient drives Go's net/http client through
// each broken-response kind, synthetic and proxied, and checks the symptom
// each promises: where the error surfaces (Do, or reading the body), what
// it says, and whether a breaker that looks only at Do's error and the
// status would count a failure.
func TestBrokenResponsesSeenByGoClient(t *testing.T) {
	lengthBackend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "8192")
		w.Write(bytes.Repeat([]byte("L"), 8192))
	}))
	defer lengthBackend.Close()
	chunkedBackend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 8 {
			w.Write(bytes.Repeat([]byte("C"), 1024))
			http.NewResponseController(w).Flush()
		}
	}))
	defer chunkedBackend.Close()

	tests := []struct {
		name, spec, proxy string
		method, body      string
		doErr, readErr    string // substrings; "" means none
		wantBody          int    // -1: any
		statusFails       bool   // a breaker looking at Do and the status counts a failure
	}{
		{name: "truncate length", spec: "truncate:100B", method: "GET", readErr: "unexpected EOF", wantBody: 100},
		{name: "truncate chunked", spec: "truncate:100B,framing=chunked", method: "GET", readErr: "unexpected EOF", wantBody: 100},
		{name: "truncate 0B", spec: "truncate:0B", method: "GET", readErr: "unexpected EOF", wantBody: 0},
		{name: "truncate POST", spec: "truncate:1KiB,size=8KiB", method: "POST", body: strings.Repeat("p", 100<<10), readErr: "unexpected EOF", wantBody: 1024},
		{name: "proxied truncate length", spec: "truncate:1KiB", proxy: lengthBackend.URL, method: "GET", readErr: "unexpected EOF", wantBody: 1024},
		{name: "proxied truncate chunked", spec: "truncate:1KiB", proxy: chunkedBackend.URL, method: "GET", readErr: "unexpected EOF", wantBody: 1024},
		{name: "proxied truncate framing=chunked", spec: "truncate:1KiB,framing=chunked", proxy: lengthBackend.URL, method: "GET", readErr: "unexpected EOF", wantBody: 1024},
		{name: "empty", spec: "empty", method: "GET", doErr: "EOF", statusFails: true},
		{name: "empty POST", spec: "empty", method: "POST", body: strings.Repeat("p", 100<<10), doErr: "EOF", statusFails: true},
		{name: "proxied empty", spec: "empty", proxy: lengthBackend.URL, method: "GET", doErr: "EOF", statusFails: true},
		{name: "garbage", spec: "garbage", method: "GET", doErr: "malformed HTTP response", statusFails: true},
		{name: "garbage POST", spec: "garbage:1KiB", method: "POST", body: strings.Repeat("p", 100<<10), doErr: "malformed HTTP response", statusFails: true},
		{name: "proxied garbage", spec: "garbage", proxy: lengthBackend.URL, method: "GET", doErr: "malformed HTTP response", statusFails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, Config{ProxyTo: tt.proxy, Faults: mustSpecs(t, tt.spec)})
			c := newClient(t, 5*time.Second)
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			got := call1(c, tt.method, s.URL()+"/api", body)
			t.Logf("Do: %v; status %d; read %d bytes: %v", got.doErr, got.status, got.body, got.readErr)
			if !matches(got.doErr, tt.doErr) {
				t.Errorf("Do error = %q; want one containing %q", errText(got.doErr), tt.doErr)
			}
			if tt.doErr == "" {
				if got.status != 200 {
					t.Errorf("status = %d; want the 200 the fault promises", got.status)
				}
				if !matches(got.readErr, tt.readErr) || (tt.readErr == "unexpected EOF" && !errors.Is(got.readErr, io.ErrUnexpectedEOF)) {
					t.Errorf("reading the body: error = %q; want one containing %q", errText(got.readErr), tt.readErr)
				}
				if tt.wantBody >= 0 && got.body != tt.wantBody {
					t.Errorf("read %d body bytes before the cut; want %d", got.body, tt.wantBody)
				}
			}
			if got.statusBreakerFails() != tt.statusFails {
				t.Errorf("a breaker counting Do errors and 5xx counts a failure: %v; want %v", got.statusBreakerFails(), tt.statusFails)
			}
			if !got.bodyBreakerFails() {
				t.Errorf("a breaker that reads the body counts a success; want a failure")
			}
			if n := s.Stats().Injected[strings.SplitN(strings.SplitN(tt.spec, ":", 2)[0], ",", 2)[0]]; n != 1 {
				t.Errorf("injected count = %d; want 1", n)
			}
			waitFor(t, "the request to end", releaseTolerance, func() bool { return s.Stats().InFlight == 0 })
		})
	}
}

func matches(err error, want string) bool {
	if want == "" {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want)
}

// TestEmptyNotRetriedSilently checks that a keep-alive client sees every
// empty answer: net/http retries an idempotent request once when a reused
// connection closes before any byte, which would hide the fault, so the
// server turns keep-alive off while it is active.
func TestEmptyNotRetriedSilently(t *testing.T) {
	s := start(t, Config{Seed: 3, Faults: mustSpecs(t, "empty,rate=0.5")})
	c := newClient(t, 5*time.Second)
	failed := 0
	const n = 40
	for range n {
		if got := call1(c, "GET", s.URL()+"/", nil); got.doErr != nil {
			failed++
		}
	}
	st := s.Stats()
	if int64(failed) != st.Injected["empty"] || st.Requests != n {
		t.Errorf("client saw %d failures in %d GETs; server received %d requests and injected %d empties; want every empty seen and no retry", failed, n, st.Requests, st.Injected["empty"])
	}
	if failed == 0 || failed == n {
		t.Errorf("%d of %d failed at rate 0.5; want some of each", failed, n)
	}
}

// TestGarbageIsSeeded reads garbage's bytes twice from servers with the
// same seed: they must be the same, and differ for another seed.
func TestGarbageIsSeeded(t *testing.T) {
	raw := func(seed int64) string {
		s := start(t, Config{Seed: seed, Faults: mustSpecs(t, "garbage:32B")})
		c := dial(t, s.Addr())
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		_, got, closed := closedAfter(c, 5*time.Second)
		if !closed || len(got) != 32 || strings.HasPrefix(got, "H") {
			t.Fatalf("garbage:32B sent %q (closed %v); want 32 bytes not starting an HTTP status line, then the close", got, closed)
		}
		return got
	}
	a, b, other := raw(7), raw(7), raw(8)
	if a != b {
		t.Errorf("seed 7 sent %q, then %q; want the same bytes", a, b)
	}
	if a == other {
		t.Errorf("seeds 7 and 8 sent the same bytes %q", a)
	}
}

// TestSlowClose checks that every byte of a slowclose answer arrives at
// once while the answer ends only at the close, the delay later, and that
// a client timeout shorter than the delay fails reading the body after a
// 200 — a failure a breaker looking at the status does not count.
func TestSlowClose(t *testing.T) {
	const delay = 500 * time.Millisecond
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"status":"ok","from":"backend"}`)
	}))
	defer backend.Close()
	for _, proxy := range []string{"", backend.URL} {
		s := start(t, Config{ProxyTo: proxy, Faults: mustSpecs(t, "slowclose:500ms")})
		got := call1(newClient(t, 5*time.Second), "GET", s.URL()+"/", nil)
		if got.doErr != nil || got.readErr != nil || got.status != 200 || got.body == 0 {
			t.Fatalf("proxy %q: slowclose GET = %d, %d bytes, %v %v; want the whole answer", proxy, got.status, got.body, got.doErr, got.readErr)
		}
		if got.headers > delay/2 {
			t.Errorf("proxy %q: headers after %v; want them at once", proxy, got.headers)
		}
		if got.total < delay || got.total > delay+releaseTolerance {
			t.Errorf("proxy %q: answer ended after %v; want the %v close delay", proxy, got.total, delay)
		}

		impatient := call1(newClient(t, 200*time.Millisecond), "GET", s.URL()+"/", nil)
		if impatient.doErr != nil || impatient.status != 200 || !matches(impatient.readErr, "Client.Timeout or context cancellation while reading body") {
			t.Errorf("proxy %q: GET with a 200ms timeout = %d, %v, reading %v; want 200, then a timeout reading the body", proxy, impatient.status, impatient.doErr, impatient.readErr)
		}
		if impatient.statusBreakerFails() || !impatient.bodyBreakerFails() {
			t.Errorf("proxy %q: breaker by status fails %v, by body %v; want false, true", proxy, impatient.statusBreakerFails(), impatient.bodyBreakerFails())
		}
		waitFor(t, "the held close to end once the client left", releaseTolerance, func() bool { return s.Stats().InFlight == 0 })
	}
}

// TestSlowUpload posts a body through slowupload: the answer comes
// size/bandwidth late, the backend gets the whole body, and a client whose
// timeout is shorter gives up with a timeout that the server notices.
func TestSlowUpload(t *testing.T) {
	const size, bps = 10 << 10, 20 << 10 // half a second
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, `{"read":%d}`, n)
	}))
	defer backend.Close()
	for _, proxy := range []string{"", backend.URL} {
		s := start(t, Config{ProxyTo: proxy, Faults: mustSpecs(t, "slowupload:20KiB/s")})
		got := call1(newClient(t, 5*time.Second), "POST", s.URL()+"/", strings.NewReader(strings.Repeat("u", size)))
		if got.doErr != nil || got.status != 200 {
			t.Fatalf("proxy %q: slow upload = %d %v; want 200", proxy, got.status, got.doErr)
		}
		want := time.Duration(float64(size) / bps * float64(time.Second))
		if got.total < want-slowTick || got.total > want+releaseTolerance {
			t.Errorf("proxy %q: a %d-byte upload at %d B/s took %v; want about %v", proxy, size, bps, got.total, want)
		}
		if fast := call1(newClient(t, 5*time.Second), "GET", s.URL()+"/", nil); fast.total > want/2 {
			t.Errorf("proxy %q: a GET without a body took %v; want it not slowed", proxy, fast.total)
		}
		if proxy != "" {
			var resp *http.Response
			resp, err := newClient(t, 5*time.Second).Post(s.URL()+"/", "text/plain", strings.NewReader(strings.Repeat("u", 2<<10)))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != `{"read":2048}` {
				t.Errorf("backend answered %q; want it to read the whole 2048-byte body", b)
			}
		}
		impatient := call1(newClient(t, 200*time.Millisecond), "POST", s.URL()+"/", strings.NewReader(strings.Repeat("u", size)))
		if !matches(impatient.doErr, "Client.Timeout exceeded") || !impatient.statusBreakerFails() {
			t.Errorf("proxy %q: upload with a 200ms timeout: %v; want a client timeout from Do, a breaker failure", proxy, impatient.doErr)
		}
		waitFor(t, "the server to drop the upload its caller left", releaseTolerance, func() bool { return s.Stats().InFlight == 0 })
	}
}

// tlsClient trusts pool, verifying the server as serverName ("" for the
// URL's host).
func tlsClient(t *testing.T, pool *x509.CertPool, serverName string) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: serverName}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

// TestTLSFaultsSeenByGoClient checks each tls mode against a Go client
// that trusts the upstream's CA: each fails the handshake with its own
// error, before any request reaches the server, and a healthy handshake
// still works once the fault clears.
func TestTLSFaultsSeenByGoClient(t *testing.T) {
	ca := testenv.NewCA(t, "test upstream")
	cert, pool := ca.Cert, ca.Pool
	tests := []struct {
		spec, serverName, want string
	}{
		{"tls:handshake", "", "remote error: tls: internal error"},
		{"tls:expired", "", "x509: certificate has expired or is not yet valid"},
		{"tls:expired", "localhost", "x509: certificate has expired or is not yet valid"},
		{"tls:wrongname", "", "x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs"},
		{"tls:wrongname", "localhost", "x509: certificate is valid for wrong-name.invalid, not localhost"},
	}
	for _, tt := range tests {
		t.Run(tt.spec+"/"+tt.serverName, func(t *testing.T) {
			s := start(t, Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Faults: mustSpecs(t, tt.spec)})
			c := tlsClient(t, pool, tt.serverName)
			got := call1(c, "GET", s.URL()+"/", nil)
			if !matches(got.doErr, tt.want) {
				t.Errorf("GET = %d, %v; want an error containing %q", got.status, got.doErr, tt.want)
			}
			if !got.statusBreakerFails() {
				t.Errorf("a breaker around Do counts a success; want a failure")
			}
			st := s.Stats()
			if st.Requests != 0 || st.Injected["tls"] != 1 {
				t.Errorf("server: %d requests, %d tls faults injected; want 0 and 1", st.Requests, st.Injected["tls"])
			}
			s.SetFaults(nil)
			if ok := call1(c, "GET", s.URL()+"/", nil); ok.doErr != nil || ok.status != 200 {
				t.Errorf("GET once the fault cleared = %d, %v; want 200", ok.status, ok.doErr)
			}
		})
	}
}

// TestTLSFaultRatePerRequest checks that with rate= the handshake fault
// hits about that share of a keep-alive client's requests, because
// keep-alive is off while it is active, and that it needs an HTTPS
// upstream.
func TestTLSFaultRatePerRequest(t *testing.T) {
	ca := testenv.NewCA(t, "test upstream")
	cert, pool := ca.Cert, ca.Pool
	s := start(t, Config{Seed: 5, TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Faults: mustSpecs(t, "tls:expired,rate=0.5")})
	c := tlsClient(t, pool, "")
	const n = 40
	failed := 0
	for range n {
		if got := call1(c, "GET", s.URL()+"/", nil); got.doErr != nil {
			failed++
		}
	}
	st := s.Stats()
	if int64(failed) != st.Injected["tls"] || st.Requests != int64(n-failed) {
		t.Errorf("client saw %d failures in %d GETs; server injected %d and answered %d; want them to match", failed, n, st.Injected["tls"], st.Requests)
	}
	if failed < n/5 || failed > n-n/5 {
		t.Errorf("%d of %d GETs failed at rate 0.5; want about half", failed, n)
	}

	plain := start(t, Config{})
	if err := plain.SetFaults(mustSpecs(t, "tls:expired")); err == nil || !strings.Contains(err.Error(), "need an HTTPS upstream") {
		t.Errorf("SetFaults(tls) on plain HTTP = %v; want an error saying it needs HTTPS", err)
	}
	if _, err := New(Config{Faults: mustSpecs(t, "tls")}); err == nil {
		t.Errorf("New with a tls fault on plain HTTP succeeded; want an error")
	}
}
