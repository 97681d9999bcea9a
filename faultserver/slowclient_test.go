package faultserver

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Short limits for the slow-client tests, and how late a close may come on
// a loaded 2-core machine under -race.
const (
	shortTimeout = 300 * time.Millisecond
	closeSlack   = 1500 * time.Millisecond
)

// dial opens a raw connection to addr, closed at cleanup.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// drip writes pieces to c one every gap until c fails or stop is closed.
// It returns when it stops; the caller waits for it.
func drip(c net.Conn, gap time.Duration, stop <-chan struct{}, piece string) {
	for {
		if _, err := io.WriteString(c, piece); err != nil {
			return
		}
		select {
		case <-stop:
			return
		case <-time.After(gap):
		}
	}
}

// closedAfter reads c until the server closes it (or max passes) and
// returns how long that took and what was read.
func closedAfter(c net.Conn, max time.Duration) (time.Duration, string, bool) {
	t0 := time.Now()
	c.SetReadDeadline(t0.Add(max))
	b, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return time.Since(t0), string(b), false
	}
	return time.Since(t0), string(b), true
}

// TestSlowClientsAreCut holds connections the way a slow or hostile client
// does — a header dripped a line at a time, a body trickled a byte at a
// time, a keep-alive connection left idle — on both listeners, and checks
// the server closes each within its configured limit.
func TestSlowClientsAreCut(t *testing.T) {
	s := start(t, Config{
		ControlAddr:       "127.0.0.1:0",
		ReadHeaderTimeout: shortTimeout,
		ReadTimeout:       2 * shortTimeout,
		IdleTimeout:       shortTimeout,
	})
	ctl := strings.TrimPrefix(s.ControlURL(), "http://")
	tests := []struct {
		name, addr, start, piece string
		limit                    time.Duration
	}{
		{"data header drip", s.Addr(), "GET / HTTP/1.1\r\nHost: x\r\n", "X-Drip: 1\r\n", shortTimeout},
		{"control header drip", ctl, "GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\n", "X-Drip: 1\r\n", shortTimeout},
		{"data trickled body", s.Addr(), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", "x", 2 * shortTimeout},
		{"control trickled body", ctl, "PUT /faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n", " ", 2 * shortTimeout},
		{"data idle keep-alive", s.Addr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "", shortTimeout},
		{"control idle keep-alive", ctl, "GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "", shortTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, tt.addr)
			if _, err := io.WriteString(c, tt.start); err != nil {
				t.Fatal(err)
			}
			stop, done := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(done)
				if tt.piece != "" {
					drip(c, 20*time.Millisecond, stop, tt.piece)
				}
			}()
			took, _, closed := closedAfter(c, tt.limit+closeSlack)
			close(stop)
			<-done
			if !closed {
				t.Fatalf("connection still open after %v; want it closed at the %v limit", took, tt.limit)
			}
			if took < tt.limit/2 {
				t.Errorf("connection closed after %v; want it kept until about the %v limit", took, tt.limit)
			}
		})
	}
}

// TestHoldsOutlastReadTimeout checks that hang and slowbody, which hold a
// request on purpose, keep working past the read timeout, with and without
// a request body, synthetic and proxied. The proxied bodies are larger than
// net/http's read buffer; one is kept in memory during the hold, the other
// is too large to keep, so the forward must read its rest from the socket
// after the hold.
func TestHoldsOutlastReadTimeout(t *testing.T) {
	hold := 3 * shortTimeout
	big := strings.Repeat("b", 256<<10)
	huge := strings.Repeat("h", MaxHeldBody+100<<10) // kept in part, the rest read by the forward
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, `{"status":"ok","read":%d}`, n)
	}))
	defer backend.Close()
	synthetic := start(t, Config{ReadTimeout: shortTimeout, Faults: mustSpecs(t, "hang:"+hold.String())})
	proxied := start(t, Config{ReadTimeout: shortTimeout, ProxyTo: backend.URL, Faults: mustSpecs(t, "hang:"+hold.String())})
	// Reading a megabyte takes a loaded machine under -race more than
	// shortTimeout: this one has a longer read timeout, and holds longer.
	proxiedHuge := start(t, Config{ReadTimeout: time.Second, ProxyTo: backend.URL, Faults: mustSpecs(t, "hang:1500ms")})
	slow := start(t, Config{ReadTimeout: shortTimeout, Faults: mustSpecs(t, "slowbody:2KiB/s,size=2KiB")})
	c := newClient(t, 10*time.Second)
	for _, tt := range []struct {
		name, url, body, want string
		took                  time.Duration
	}{
		{"hang GET", synthetic.URL(), "", `{"status":"ok"}`, hold},
		{"hang POST", synthetic.URL(), "a small body", `{"status":"ok"}`, hold},
		{"proxied hang GET", proxied.URL(), "", `{"status":"ok","read":0}`, hold},
		{"proxied hang POST", proxied.URL(), big, fmt.Sprintf(`{"status":"ok","read":%d}`, len(big)), hold},
		{"proxied hang POST over MaxHeldBody", proxiedHuge.URL(), huge, fmt.Sprintf(`{"status":"ok","read":%d}`, len(huge)), 3 * time.Second / 2},
		{"slowbody GET", slow.URL(), "", `{"status":"ok"}`, time.Second},
	} {
		t0 := time.Now()
		resp, err := c.Post(tt.url+"/", "text/plain", strings.NewReader(tt.body))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(t0)
		if err != nil || resp.StatusCode != 200 || strings.TrimSpace(string(b)) != tt.want {
			t.Errorf("%s = %d %q (%v); want 200 %s", tt.name, resp.StatusCode, b, err, tt.want)
		}
		if took < tt.took-50*time.Millisecond {
			t.Errorf("%s took %v; want the full %v hold", tt.name, took, tt.took)
		}
	}
	if n := proxied.heldBytes.Load() + proxiedHuge.heldBytes.Load(); n != 0 {
		t.Errorf("held body bytes after every request ended = %d; want 0", n)
	}
}

// TestConnectionCap holds the data listener's connections up to its cap
// with hanging requests and checks that the next connection is closed at
// once, that the control API still answers, and that a freed slot is
// usable again.
func TestConnectionCap(t *testing.T) {
	const max = 20
	s := start(t, Config{ControlAddr: "127.0.0.1:0", MaxConns: max, ControlMaxConns: 2, Faults: mustSpecs(t, "hang")})
	conns := holdRequests(t, s, max)

	over := dial(t, s.Addr())
	io.WriteString(over, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if took, got, closed := closedAfter(over, 5*time.Second); !closed || got != "" {
		t.Errorf("connection %d: closed=%v after %v with %q; want it closed at once with nothing written", max+1, closed, took, got)
	}
	c := newClient(t, 5*time.Second)
	if st, body := call(t, c, "GET", s.ControlURL()+"/stats", "", ""); st != 200 || !strings.Contains(body, `"conns_rejected":1`) {
		t.Errorf("GET /stats at the data cap = %d %s; want 200 with conns_rejected 1", st, body)
	}

	// The control listener has its own cap.
	held := []net.Conn{dial(t, strings.TrimPrefix(s.ControlURL(), "http://")), dial(t, strings.TrimPrefix(s.ControlURL(), "http://"))}
	extra := dial(t, strings.TrimPrefix(s.ControlURL(), "http://"))
	if took, _, closed := closedAfter(extra, 5*time.Second); !closed {
		t.Errorf("control connection 3 of cap 2: still open after %v; want it closed at once", took)
	}
	for _, h := range held {
		h.Close()
	}

	conns[0].Close()
	waitFor(t, "a freed slot", 5*time.Second, func() bool { return s.Stats().InFlight == max-1 })
	again := dial(t, s.Addr())
	io.WriteString(again, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(t, "the new connection's request held", 5*time.Second, func() bool { return s.Stats().InFlight == max })
	if got := s.Stats().ConnsRejected; got != 1 {
		t.Errorf("conns_rejected = %d after a slot was freed; want still 1", got)
	}
}

// TestAuthFailureClosesConnection sends an unauthenticated PUT whose body
// trickles: the server must answer 401 and close the connection, not drain
// the body first.
func TestAuthFailureClosesConnection(t *testing.T) {
	s := start(t, Config{ControlAddr: "127.0.0.1:0", ControlToken: "s3cret"})
	c := dial(t, strings.TrimPrefix(s.ControlURL(), "http://"))
	fmt.Fprintf(c, "PUT /faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n{")
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		drip(c, 20*time.Millisecond, stop, " ")
	}()
	defer func() { close(stop); <-done }()

	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	t0 := time.Now()
	_, err = io.ReadAll(resp.Body) // the body ends where the connection does
	resp.Body.Close()
	if resp.StatusCode != 401 || !resp.Close {
		t.Errorf("unauthenticated PUT = %d, close %v; want 401 and Connection: close", resp.StatusCode, resp.Close)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("connection still open %v after the 401; want it closed at once", time.Since(t0))
	} else if d := time.Since(t0); d > closeSlack {
		t.Errorf("connection closed %v after the 401; want at once", d)
	}
}

// TestStalledReaderIsCut asks for a large body and never reads it: once the
// socket buffers are full the server must give up after the stall timeout
// rather than hold the request forever. A client that reads slowly but
// steadily, for longer than the stall timeout in all, is not cut.
func TestStalledReaderIsCut(t *testing.T) {
	s := start(t, Config{StallTimeout: shortTimeout, Faults: mustSpecs(t, "slowbody:1GiB/s,size=1GiB,path=/big", "slowbody:2KiB/s,size=2KiB,path=/slow")})
	c := dial(t, s.Addr())
	io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(t, "the request to start", 5*time.Second, func() bool { return s.Stats().InFlight == 1 })
	waitFor(t, "the stalled request to be cut", 20*time.Second, func() bool { return s.Stats().InFlight == 0 })

	t0 := time.Now()
	r := get(newClient(t, 10*time.Second), s.URL()+"/slow")
	if r.err != nil || r.status != 200 || len(r.body) != 2<<10 {
		t.Errorf("slowbody over %v = %d, %d bytes, %v; want the whole body", time.Since(t0), r.status, len(r.body), r.err)
	}
	if d := time.Since(t0); d < 3*shortTimeout {
		t.Errorf("slow body took %v; want it to outlast the %v stall timeout", d, shortTimeout)
	}
}
