package harness

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseAllowList(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{"10.1.2.3/8, 192.168.1.7", "10.0.0.0/8,192.168.1.7/32", ""},
		{"fd00::/8,::ffff:10.0.0.1", "fd00::/8,::ffff:10.0.0.1/128", ""},
		{"", "", `"": want CIDR ranges`},
		{strings.Repeat("10.0.0.1,", MaxAllowRanges) + "10.0.0.2", "", "lists 101 ranges; the limit is 100"},
		{"10.0.0.0/33", "", `"10.0.0.0/33": want CIDR ranges`},
		{"example.com", "", `"example.com": want CIDR`},
		{"0.0.0.0/0", "", "allows every address"},
		{"::/0", "", "allows every address"},
		{"fe80::1%eth0", "", "zones are not supported"},
	} {
		got, err := ParseAllowList(tt.in)
		if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) || (err == nil && got.String() != tt.want) {
			t.Errorf("ParseAllowList(%q) = %v, %v; want %q or an error containing %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// TestAllowListValidation checks which targets and listen addresses are
// accepted, without sending anything anywhere.
func TestAllowListValidation(t *testing.T) {
	one, _ := ParseAllowList("127.0.0.2/32")
	ten, _ := ParseAllowList("10.0.0.0/8")
	for _, tt := range []struct {
		url   string
		allow AllowList
		want  string // "" when accepted
	}{
		{"http://127.0.0.1:8080/api", nil, ""},
		{"http://localhost:8080/api", nil, ""},
		{"http://[::1]:8080/api", nil, ""},
		{"http://127.0.0.2:8080/api", nil, "host 127.0.0.2 is another loopback address than 127.0.0.1 and ::1; cbload sends only to 127.0.0.1, ::1 and localhost unless --allow-remote CIDR names its range"},
		{"http://10.1.2.3:8080/api", nil, "host 10.1.2.3 is not loopback"},
		{"http://svc.internal:8080/api", nil, "host svc.internal is not loopback"},
		{"http://127.0.0.2:8080/api", one, ""},
		{"http://127.0.0.3:8080/api", one, "host 127.0.0.3 is another loopback address than 127.0.0.1 and ::1 and not in --allow-remote 127.0.0.2/32"},
		{"http://127.0.0.1:8080/api", one, ""},
		{"http://10.1.2.3:8080/api", ten, ""}, // accepted by validation; never sent to in tests
		{"https://10.255.0.1/api", ten, ""},
		{"http://11.0.0.1/api", ten, "host 11.0.0.1 is not loopback and not in --allow-remote 10.0.0.0/8"},
		{"http://[::ffff:10.0.0.1]/api", ten, ""},
		{"http://svc.internal:8080/api", ten, ""}, // a name: checked as each connection is dialled
	} {
		err := CheckTargetURL(tt.url, tt.allow)
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("CheckTargetURL(%q, %v) = %v; want %q", tt.url, tt.allow, err, tt.want)
		}
	}

	cfg := DefaultConfig()
	cfg.Targets = []Target{{Name: "svc", URL: "http://10.1.2.3:8080/api", BreakerStateURL: "http://10.1.2.3:8080/breaker"}}
	cfg.UpstreamAddr = "10.0.0.5:9090"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "not loopback") {
		t.Errorf("Validate without --allow-remote = %v; want the remote target refused", err)
	}
	cfg.AllowRemote = ten
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate with --allow-remote 10.0.0.0/8 = %v; want it accepted", err)
	}
	cfg.UpstreamAddr = "0.0.0.0:9090"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "upstream-addr") {
		t.Errorf("Validate with upstream 0.0.0.0 = %v; want it refused (name an address of this machine)", err)
	}
	cfg = DefaultConfig()
	cfg.AllowRemote = ten
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "allow-remote: only used with --target") {
		t.Errorf("Validate with --allow-remote and no target = %v", err)
	}
}

// TestAllowListDial checks that the transport of every client of the
// user's service refuses, before connecting, an address outside the list:
// a server on 127.0.0.3 never sees a connection when only 127.0.0.2 is
// allowed, while one on 127.0.0.2 is reached.
func TestAllowListDial(t *testing.T) {
	listen := func(ip string) (string, *atomic.Int64) {
		ln, err := net.Listen("tcp", ip+":0")
		if err != nil {
			t.Skipf("cannot listen on %s on this machine: %v", ip, err)
		}
		var conns atomic.Int64
		srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
			ConnState: func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		return "http://" + ln.Addr().String(), &conns
	}
	allowed, allowedConns := listen("127.0.0.2")
	refused, refusedConns := listen("127.0.0.3")
	one, _ := ParseAllowList("127.0.0.2/32")
	tune, err := targetTransport(TargetTLS{}, one)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	tune(tr)
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	get := func(u string) error {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(allowed); err != nil || allowedConns.Load() != 1 {
		t.Errorf("GET %s = %v with %d connections; want it reached", allowed, err, allowedConns.Load())
	}
	err = get(refused)
	if err == nil || !strings.Contains(err.Error(), "not in --allow-remote 127.0.0.2/32") {
		t.Errorf("GET %s = %v; want it refused by the dialer", refused, err)
	}
	if n := refusedConns.Load(); n != 0 {
		t.Errorf("the server on 127.0.0.3 saw %d connections; want none", n)
	}
}
