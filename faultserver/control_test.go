package faultserver

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cbload/cbload/internal/testenv"
)

// call makes one control API request and returns the status and body;
// every answer of the control API is JSON.
func call(t *testing.T, c *http.Client, method, url, token, body string) (int, string) {
	t.Helper()
	code, h, b := testenv.Request(t, c, method, url, token, body)
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type = %q; want application/json", method, url, ct)
	}
	return code, b
}

func TestControlAPI(t *testing.T) {
	s := start(t, Config{ControlAddr: "127.0.0.1:0", Faults: mustSpecs(t, "latency:1ms")})
	c := newClient(t, 5*time.Second)
	ctl := s.ControlURL()

	steps := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/faults", "", 200, `{"faults":["latency:1ms"]}`},
		{"PUT", "/faults", `{"faults": ["error:503,rate=1", "latency:200ms, jitter=0s"]}`, 200, `{"faults":["error:503","latency:200ms"]}`},
		{"GET", "/faults", "", 200, `{"faults":["error:503","latency:200ms"]}`},
		{"DELETE", "/faults", "", 200, `{"faults":[]}`},
		{"GET", "/faults", "", 200, `{"faults":[]}`},
		{"PUT", "/faults", `{"faults": []}`, 200, `{"faults":[]}`},
	}
	for _, st := range steps {
		status, body := call(t, c, st.method, ctl+st.path, "", st.body)
		if status != st.status || strings.TrimSpace(body) != st.want {
			t.Errorf("%s %s %s = %d %s; want %d %s", st.method, st.path, st.body, status, body, st.status, st.want)
		}
	}

	// A fault switched at runtime applies to the next data request.
	call(t, c, "PUT", ctl+"/faults", "", `{"faults":["error:502"]}`)
	if r := get(c, s.URL()+"/"); r.status != 502 {
		t.Errorf("GET after PUT error:502 = %d %v; want 502", r.status, r.err)
	}
	call(t, c, "DELETE", ctl+"/faults", "", "")
	if r := get(c, s.URL()+"/"); r.status != 200 {
		t.Errorf("GET after DELETE = %d %v; want 200", r.status, r.err)
	}

	status, body := call(t, c, "GET", ctl+"/stats", "", "")
	var st Stats
	if err := json.Unmarshal([]byte(body), &st); status != 200 || err != nil {
		t.Fatalf("GET /stats = %d %s (%v); want 200 with Stats JSON", status, body, err)
	}
	want := Stats{Requests: 2, Completed: 1, Injected: map[string]int64{"latency": 0, "error": 1, "hang": 0, "refuse": 0, "reset": 0, "slowbody": 0, "slowdown": 0, "truncate": 0, "empty": 0, "garbage": 0, "slowclose": 0, "slowupload": 0, "tls": 0, "grpc-error": 0}, InFlightPeak: 1}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("GET /stats (-want +got):\n%s", diff)
	}
}

func TestControlAPIBadInput(t *testing.T) {
	s := start(t, Config{ControlAddr: "127.0.0.1:0", Faults: mustSpecs(t, "latency:1ms")})
	c := newClient(t, 5*time.Second)
	tests := []struct {
		method, path, body string
		status             int
		want               string // in the error message
	}{
		{"PUT", "/faults", `{"faults": ["latency:1s", "bogus"]}`, 400, `unknown kind \"bogus\"`},
		{"PUT", "/faults", `{"faults": ["error:200"]}`, 400, `status \"200\"`},
		{"PUT", "/faults", `{"faults": "latency:1s"}`, 400, "bad body"},
		{"PUT", "/faults", `{"fault": ["latency:1s"]}`, 400, `unknown field \"fault\"`},
		{"PUT", "/faults", `{}`, 400, `no \"faults\" list`},
		{"PUT", "/faults", ``, 400, "bad body: EOF"},
		{"PUT", "/faults", `{"faults": []} {"faults": []}`, 400, "data after the JSON object"},
		{"PUT", "/faults", `{"faults": [` + strings.Repeat(`"latency:1s",`, 100000) + `"latency:1s"]}`, 413, "request body of 1300026 bytes is over the limit of 1048576"},
		{"PATCH", "/faults", `{"faults": []}`, 405, "method PATCH not allowed"},
		{"POST", "/faults", `{"faults": []}`, 400, `unknown field \"faults\"`},
		{"POST", "/faults", `{"name": "a"}`, 400, `\"name\" and \"fault\" are both required`},
		{"POST", "/faults", `{"name": "a b", "fault": "latency"}`, 400, `fault name \"a b\": want 1 to 64 letters`},
		{"POST", "/faults", `{"name": "-a", "fault": "latency"}`, 400, `fault name \"-a\"`},
		{"POST", "/faults", `{"name": "a", "fault": "bogus"}`, 400, `unknown kind \"bogus\"`},
		{"DELETE", "/faults/nope", ``, 404, `fault \"nope\": no active fault of that name`},
		{"GET", "/faults/nope", ``, 404, `no active fault of that name`},
		{"PUT", "/faults/nope", ``, 405, `method PUT not allowed on /faults/NAME`},
		{"DELETE", "/stats", ``, 405, "method DELETE not allowed"},
		{"GET", "/nope", ``, 404, `no such endpoint \"/nope\"`},
	}
	for _, tt := range tests {
		status, body := call(t, c, tt.method, s.ControlURL()+tt.path, "", tt.body)
		var e struct{ Error string }
		if status != tt.status || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(body, tt.want) ||
			strings.Count(strings.TrimSpace(body), "\n") != 0 {
			name := tt.body
			if len(name) > 40 {
				name = name[:40] + "..."
			}
			t.Errorf("%s %s %s = %d %s; want %d with a one-line JSON error containing %s",
				tt.method, tt.path, name, status, body, tt.status, tt.want)
		}
	}
	// Every bad PUT left the previous set in place.
	if _, body := call(t, c, "GET", s.ControlURL()+"/faults", "", ""); strings.TrimSpace(body) != `{"faults":["latency:1ms"]}` {
		t.Errorf("GET /faults after bad PUTs = %s; want the previous set", body)
	}
}

func TestControlToken(t *testing.T) {
	s := start(t, Config{ControlAddr: "127.0.0.1:0", ControlToken: "s3cret"})
	c := newClient(t, 5*time.Second)
	tests := []struct {
		token  string
		status int
	}{
		{"", 401},
		{"wrong", 401},
		{"s3cret2", 401},
		{"s3cret", 200},
	}
	for _, tt := range tests {
		if status, body := call(t, c, "GET", s.ControlURL()+"/stats", tt.token, ""); status != tt.status {
			t.Errorf("GET /stats with token %q = %d %s; want %d", tt.token, status, body, tt.status)
		}
	}
}

// TestControlAPIWhileHanging checks the control API answers promptly while a
// thousand requests hang on the data port (Toxiproxy issues #159 and #558).
func TestControlAPIWhileHanging(t *testing.T) {
	const (
		n         = 1000
		tolerance = time.Second // "promptly", on a loaded 2-core machine with -race
	)
	s := start(t, Config{ControlAddr: "127.0.0.1:0", Faults: mustSpecs(t, "hang")})
	c := newClient(t, 10*time.Second)

	conns := holdRequests(t, s, n)

	// What a user notices is the typical answer: the median of a few calls
	// must be under 100 ms; each single call gets a looser bound, because
	// -race on a busy 2-core machine can stall any one of them.
	var took []time.Duration
	for range 9 {
		t0 := time.Now()
		if status, body := call(t, c, "GET", s.ControlURL()+"/stats", "", ""); status != 200 {
			t.Fatalf("GET /stats with %d requests held = %d %s", n, status, body)
		}
		took = append(took, time.Since(t0))
	}
	slices.Sort(took)
	if median := took[len(took)/2]; median > 100*time.Millisecond {
		t.Errorf("GET /stats with %d requests held: median %v over %d calls; want under 100ms", n, median, len(took))
	}
	for _, op := range []struct{ method, path, body string }{
		{"GET", "/faults", ""},
		{"PUT", "/faults", `{"faults": ["hang", "latency:1ms,path=/other"]}`},
		{"GET", "/stats", ""},
	} {
		t0 := time.Now()
		status, body := call(t, c, op.method, s.ControlURL()+op.path, "", op.body)
		if d := time.Since(t0); status != 200 || d > tolerance {
			t.Errorf("%s %s with %d requests held = %d in %v (%s); want 200 within %v", op.method, op.path, n, status, d, body, tolerance)
		}
	}

	t0 := time.Now()
	if status, body := call(t, c, "DELETE", s.ControlURL()+"/faults", "", ""); status != 200 {
		t.Fatalf("DELETE /faults = %d %s", status, body)
	}
	for i, conn := range conns {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("held request %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("held request %d = %d; want 200 once released", i, resp.StatusCode)
		}
	}
	if d := time.Since(t0); d > 5*tolerance {
		t.Errorf("releasing %d held requests took %v; want at once (within %v)", n, d, 5*tolerance)
	}
}

// TestCloseWithThousandHeld checks that shutting down with a thousand
// requests held by a hang fault releases them all and returns promptly.
func TestCloseWithThousandHeld(t *testing.T) {
	const n = 1000
	s, err := New(Config{ServiceTime: fastService, Faults: mustSpecs(t, "hang")})
	if err != nil {
		t.Fatal(err)
	}
	holdRequests(t, s, n)
	t0 := time.Now()
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("Close() with %d requests held took %v; want under 2s", n, d)
	}
	if got := s.Stats().InFlight; got != 0 {
		t.Errorf("in flight after Close = %d; want 0", got)
	}
}

// holdRequests sends n requests to s on raw connections — which keeps the
// client side to one goroutine — and waits until s holds them all. The
// connections are closed at cleanup.
func holdRequests(t *testing.T, s *Server, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, conn := range conns {
			conn.Close()
		}
	})
	for i := range n {
		conn, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, conn)
		if _, err := io.WriteString(conn, "GET /held HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	waitFor(t, fmt.Sprintf("%d held requests", n), 20*time.Second, func() bool { return s.Stats().InFlight == int64(n) })
	return conns
}

// TestControlBodyLimit checks the documented 413 at exactly one byte over
// MaxControlBody, whatever the body holds — including a valid object padded
// with whitespace, which was once a 400 — and that the limit itself is
// accepted.
func TestControlBodyLimit(t *testing.T) {
	s := start(t, Config{ControlAddr: "127.0.0.1:0"})
	c := newClient(t, 5*time.Second)
	obj := `{"faults": ["latency:1ms"]}`
	for _, tt := range []struct {
		name   string
		body   string
		chunk  bool // send without Content-Length
		status int
	}{
		{"padded object at the limit", obj + strings.Repeat(" ", MaxControlBody-len(obj)), false, 200},
		{"padded object one byte over", obj + strings.Repeat(" ", MaxControlBody+1-len(obj)), false, 413},
		{"padded object one byte over, chunked", obj + strings.Repeat(" ", MaxControlBody+1-len(obj)), true, 413},
		{"garbage one byte over", strings.Repeat("x", MaxControlBody+1), false, 413},
	} {
		var body io.Reader = strings.NewReader(tt.body)
		if tt.chunk {
			body = io.MultiReader(body) // hides the length
		}
		req, _ := http.NewRequest("PUT", s.ControlURL()+"/faults", body)
		resp, err := c.Do(req)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || (tt.status == 413 && !strings.Contains(string(b), "over the limit of 1048576")) {
			t.Errorf("%s: PUT = %d %s; want %d", tt.name, resp.StatusCode, b, tt.status)
		}
	}
}

// TestControlHostCheck checks that without a token only requests naming
// this machine are answered — a DNS-rebinding page sends its own host name
// — and that Origin is checked the same way; with a token any host is
// answered (the token is the check).
func TestControlHostCheck(t *testing.T) {
	open := start(t, Config{ControlAddr: "127.0.0.1:0", ControlHosts: []string{"cbload.internal"}})
	locked := start(t, Config{ControlAddr: "127.0.0.1:0", ControlToken: "s3cret"})
	c := newClient(t, 5*time.Second)
	for _, tt := range []struct {
		srv          *Server
		host, origin string
		status       int
	}{
		{open, "", "", 200}, // the client's own 127.0.0.1:port
		{open, "localhost:8474", "", 200},
		{open, "LOCALHOST", "", 200},
		{open, "127.0.0.2:8474", "", 200},
		{open, "[::1]:8474", "", 200},
		{open, "cbload.internal:8474", "", 200},
		{open, "attacker.example:8474", "", 403},
		{open, "attacker.example", "", 403},
		{open, "127.0.0.1.attacker.example", "", 403},
		{open, "10.0.0.1:8474", "", 403},
		{open, "localhost.attacker.example:8474", "", 403},
		{open, "", "http://localhost:3000", 200},
		{open, "", "http://attacker.example", 403},
		{open, "", "null", 403},
		{locked, "attacker.example", "", 401},
	} {
		req, _ := http.NewRequest("GET", tt.srv.ControlURL()+"/faults", nil)
		if tt.host != "" {
			req.Host = tt.host
		}
		if tt.origin != "" {
			req.Header.Set("Origin", tt.origin)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("GET /faults Host %q Origin %q = %d %s; want %d", tt.host, tt.origin, resp.StatusCode, b, tt.status)
		}
		if tt.status == 403 && (!strings.Contains(string(b), "not allowed") || strings.Count(strings.TrimSpace(string(b)), "\n") > 0) {
			t.Errorf("403 body = %s; want one line saying what is allowed", b)
		}
	}
}

// TestControlBearerScheme checks that the scheme name is case-insensitive
// (RFC 7235) while the token is compared exactly.
func TestControlBearerScheme(t *testing.T) {
	s := start(t, Config{ControlAddr: "127.0.0.1:0", ControlToken: "s3cret"})
	c := newClient(t, 5*time.Second)
	for _, tt := range []struct {
		auth   string
		status int
	}{
		{"Bearer s3cret", 200},
		{"bearer s3cret", 200},
		{"BEARER s3cret", 200},
		{"Bearer  s3cret", 200},
		{"Bearer S3CRET", 401},
		{"Basic s3cret", 401},
		{"Bearers3cret", 401},
		{"s3cret", 401},
		{"Bearer", 401},
		{"Bearer s3cret extra", 401},
	} {
		req, _ := http.NewRequest("GET", s.ControlURL()+"/stats", nil)
		req.Header.Set("Authorization", tt.auth)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("Authorization %q = %d; want %d", tt.auth, resp.StatusCode, tt.status)
		}
		if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: 401 without WWW-Authenticate", tt.auth)
		}
	}
}

// TestControlNamedFaults adds and removes named faults one at a time and
// checks that the others — and the requests a named hang holds — are left
// alone, while PUT and DELETE /faults still replace everything.
func TestControlNamedFaults(t *testing.T) {
	s := start(t, Config{ControlAddr: "127.0.0.1:0", Faults: mustSpecs(t, "latency:1ms,path=/x")})
	c := newClient(t, 10*time.Second)
	ctl := s.ControlURL()
	steps := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/faults", `{"name": "slow-api", "fault": "latency:200ms,path=/api"}`, 201,
			`{"faults":["latency:1ms,path=/x","latency:200ms,path=/api"],"names":["","slow-api"]}`},
		{"POST", "/faults", `{"name": "stuck", "fault": "hang,path=/held"}`, 201,
			`{"faults":["latency:1ms,path=/x","latency:200ms,path=/api","hang,path=/held"],"names":["","slow-api","stuck"]}`},
		{"POST", "/faults", `{"name": "slow-api", "fault": "error:503"}`, 409, ""},
		{"GET", "/faults/slow-api", "", 200, `{"name":"slow-api","fault":"latency:200ms,path=/api"}`},
	}
	for _, st := range steps {
		status, body := call(t, c, st.method, ctl+st.path, "", st.body)
		if status != st.status || (st.want != "" && strings.TrimSpace(body) != st.want) {
			t.Errorf("%s %s %s = %d %s; want %d %s", st.method, st.path, st.body, status, body, st.status, st.want)
		}
	}

	held := hold(t, s, c, 1) // GETs /held
	// Removing another fault leaves the hang's request held.
	if status, body := call(t, c, "DELETE", ctl+"/faults/slow-api", "", ""); status != 200 ||
		strings.TrimSpace(body) != `{"faults":["latency:1ms,path=/x","hang,path=/held"],"names":["","stuck"]}` {
		t.Errorf("DELETE /faults/slow-api = %d %s", status, body)
	}
	select {
	case r := <-held:
		t.Fatalf("removing slow-api released the request stuck holds: %d %v", r.status, r.err)
	case <-time.After(100 * time.Millisecond):
	}
	if r := get(c, s.URL()+"/api"); r.fault != "" {
		t.Errorf("GET /api after removing slow-api: fault %q; want none", r.fault)
	}
	// Removing the hang releases its request at once.
	if status, body := call(t, c, "DELETE", ctl+"/faults/stuck", "", ""); status != 200 || strings.TrimSpace(body) != `{"faults":["latency:1ms,path=/x"]}` {
		t.Errorf("DELETE /faults/stuck = %d %s", status, body)
	}
	select {
	case r := <-held:
		if r.status != 200 {
			t.Errorf("released request = %d %v; want 200", r.status, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("removing stuck did not release its request")
	}
	// PUT replaces everything, named faults included.
	call(t, c, "POST", ctl+"/faults", "", `{"name": "n", "fault": "error:502"}`)
	if status, body := call(t, c, "PUT", ctl+"/faults", "", `{"faults": ["error:500"]}`); status != 200 || strings.TrimSpace(body) != `{"faults":["error:500"]}` {
		t.Errorf("PUT after POST = %d %s; want only the PUT set", status, body)
	}

	// The cap holds for additions too.
	s.SetFaults(slices.Repeat(mustSpecs(t, "latency:1ms"), MaxFaults))
	if status, body := call(t, c, "POST", ctl+"/faults", "", `{"name": "one-more", "fault": "error:503"}`); status != 400 || !strings.Contains(body, "65 faults, over the limit of 64") {
		t.Errorf("POST at %d faults = %d %s; want 400 naming the limit", MaxFaults, status, body)
	}
}
