package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cbload/cbload/internal/testenv"
)

// syncBuffer is an io.Writer that a test can read while a command writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var listenRE = regexp.MustCompile(`(upstream|control|metrics)\s+((?:http|grpc)://127\.0\.0\.1:\d+\S*)`)

// startServe runs `cbload serve args...` until the test ends and returns the
// upstream and control URLs it printed.
func startServe(t *testing.T, args ...string) (upstream, control string, stdout *syncBuffer) {
	t.Helper()
	stdout = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		root := newRootCmd(stdout, io.Discard)
		root.SetArgs(append([]string{"serve", "--addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0"}, args...))
		done <- root.ExecuteContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v after cancel; want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("serve did not return within 10s of cancel")
		}
	})

	deadline := time.Now().Add(10 * time.Second)
	for {
		urls := map[string]string{}
		for _, m := range listenRE.FindAllStringSubmatch(stdout.String(), -1) {
			urls[m[1]] = m[2]
		}
		if urls["upstream"] != "" && urls["control"] != "" {
			return urls["upstream"], urls["control"], stdout
		}
		select {
		case err := <-done:
			t.Fatalf("serve returned %v before listening; output:\n%s", err, stdout)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve printed no addresses within 10s; output:\n%s", stdout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkLeaks fails the test if it leaves goroutines behind. It runs after
// every other cleanup, including the serve shutdown.
func checkLeaks(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
}

func do(t *testing.T, c *http.Client, method, url, token, body string) (int, string) {
	t.Helper()
	code, _, b := testenv.Request(t, c, method, url, token, body)
	return code, strings.TrimSpace(b)
}

func TestServe(t *testing.T) {
	checkLeaks(t)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	up, ctl, out := startServe(t, "--fault", "error:418", "--fault", "latency:1ms,path=/slow", "--seed", "7")
	if !strings.Contains(out.String(), "seed 7\n") || !strings.Contains(out.String(), "error:418  latency:1ms,path=/slow") {
		t.Errorf("serve output = %q; want the seed and the normalised faults", out)
	}
	if status, _ := do(t, c, "GET", up+"/", "", ""); status != 418 {
		t.Errorf("GET / with --fault error:418 = %d; want 418", status)
	}
	if status, body := do(t, c, "PUT", ctl+"/faults", "", `{"faults": ["error:502"]}`); status != 200 || body != `{"faults":["error:502"]}` {
		t.Errorf("PUT /faults = %d %s; want 200 and the new set", status, body)
	}
	if status, _ := do(t, c, "GET", up+"/", "", ""); status != 502 {
		t.Errorf("GET / after PUT error:502 = %d; want 502", status)
	}
	if status, _ := do(t, c, "DELETE", ctl+"/faults", "", ""); status != 200 {
		t.Errorf("DELETE /faults = %d; want 200", status)
	}
	if status, body := do(t, c, "GET", up+"/", "", ""); status != 200 || body != `{"status":"ok"}` {
		t.Errorf("GET / after DELETE = %d %s; want 200 {\"status\":\"ok\"}", status, body)
	}
}

func TestServeRandomSeedAndToken(t *testing.T) {
	checkLeaks(t)
	t.Setenv(controlTokenEnv, "from-env")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	_, ctl, out := startServe(t)
	if !regexp.MustCompile(`seed (\d+) \(random; pass --seed (\d+) to repeat\)`).MatchString(out.String()) {
		t.Errorf("serve output = %q; want the random seed printed", out)
	}
	if !strings.Contains(out.String(), "bearer token required") {
		t.Errorf("serve output = %q; want it to say the control API needs a token", out)
	}
	if status, _ := do(t, c, "GET", ctl+"/stats", "", ""); status != 401 {
		t.Errorf("GET /stats without token = %d; want 401", status)
	}
	if status, _ := do(t, c, "GET", ctl+"/stats", "from-env", ""); status != 200 {
		t.Errorf("GET /stats with $%s token = %d; want 200", controlTokenEnv, status)
	}
}

func TestServeBadInput(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve", "--fault", "bogus"}, exitUsage, `--fault: fault spec "bogus": unknown kind`},
		{[]string{"serve", "--fault", "latency:1s", "--fault", "error:200"}, exitUsage, `status "200"`},
		{[]string{"serve", "--service-time", "-1ms"}, exitUsage, "--service-time -1ms"},
		{[]string{"serve", "--jitter", "-1ms"}, exitUsage, "--jitter -1ms"},
		{[]string{"serve", "--service-time", "soon"}, exitUsage, "--service-time \"soon\": want a duration like 500ms"},
		{[]string{"serve", "--proxy-to", "localhost:9000"}, exitUsage, "--proxy-to"},
		{[]string{"serve", "--nope"}, exitUsage, "unknown flag"},
		{[]string{"serve", "extra"}, exitUsage, "serve takes no arguments"},
		{[]string{"serve", "--addr", "8081"}, exitUsage, `--addr "8081": want host:port`},
		{[]string{"serve", "--addr", ""}, exitUsage, `--addr "": want host:port`},
		{[]string{"serve", "--addr", "127.0.0.1:99999"}, exitUsage, `--addr "127.0.0.1:99999": port "99999"`},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--control-addr", "localhost"}, exitUsage, `--control-addr "localhost": want host:port`},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:http"}, exitUsage, `--control-addr "127.0.0.1:http": port "http"`},
		{[]string{"serve", "--seed", "x"}, exitUsage, `--seed "x": want a whole number`},
		{[]string{"serve", "--service-time", "0s"}, exitUsage, "--service-time 0s"},
		{[]string{"serve", "--proxy-to", "ftp://127.0.0.1:9000"}, exitUsage, "--proxy-to"},
		{[]string{"serve", "--service-time", "2h"}, exitUsage, "--service-time 2h0m0s: want a positive duration like 2ms, up to the limit of 1h"},
		{[]string{"serve", "--fault", "latency:2h"}, exitUsage, `delay "2h" is over the limit of 1h`},
		{[]string{"serve", "--fault", "slowbody:1KiB/s,size=2GiB"}, exitUsage, `size "2GiB": must be between 1B and the limit of 1GiB`},
		{[]string{"serve", "--read-timeout", "0s"}, exitUsage, "--read-timeout 0s: want a positive duration up to the limit of 1h"},
		{[]string{"serve", "--idle-timeout", "90m"}, exitUsage, "--idle-timeout 1h30m0s"},
		{[]string{"serve", "--read-header-timeout", "-1s"}, exitUsage, "--read-header-timeout -1s"},
		{[]string{"serve", "--stall-timeout", "0s"}, exitUsage, "--stall-timeout 0s: want a positive duration up to the limit of 1h"},
		{[]string{"serve", "--max-conns", "0"}, exitUsage, "--max-conns 0: want a count from 1 to the limit of 1000000"},
		{[]string{"serve", "--control-max-conns", "2000000"}, exitUsage, "--control-max-conns 2000000"},
		{[]string{"serve", "--control-token", "   "}, exitUsage, "cbload: --control-token: control token is only whitespace"},
		{[]string{"serve", "--control-token", "two words"}, exitUsage, "control token holds whitespace"},
		{[]string{"serve", "--control-host", "host:80"}, exitUsage, `--control-host: control host "host:80"`},
		{[]string{"serve", "--upstream-concurrency", "-1"}, exitUsage, "--upstream-concurrency -1: want a number of workers from 0 (unbounded) to the limit of 100000"},
		{[]string{"serve", "--upstream-concurrency", "4", "--upstream-queue", "2000000"}, exitUsage, "--upstream-queue 2000000"},
		{[]string{"serve", "--upstream-queue", "10"}, exitUsage, "need --upstream-concurrency above 0"},
		{[]string{"serve", "--upstream-honor-cancel"}, exitUsage, "need --upstream-concurrency above 0"},
		{[]string{"serve", "--upstream-concurrency", "4", "--proxy-to", "http://127.0.0.1:9000"}, exitUsage, "with --proxy-to your service's own capacity applies"},
		{[]string{"serve", "--proxy-to", "http://127.0.0.1:9000", "--fault", "slowdown:3x"}, exitUsage, "proxy mode has none"},
		{[]string{"serve", "--fault", "slowdown:0.5x"}, exitUsage, `factor "0.5x"`},
		{[]string{"serve", "--grpc", "--fault", "garbage"}, exitUsage, `fault "garbage:64B": garbage is an HTTP fault; a gRPC upstream takes latency, hang, reset, slowdown, truncate, grpc-error`},
		{[]string{"serve", "--fault", "grpc-error:UNAVAILABLE"}, exitUsage, "grpc-error needs a gRPC upstream (--grpc)"},
		{[]string{"serve", "--grpc", "--proxy-to", "http://127.0.0.1:9000"}, exitUsage, `proxy target "http://127.0.0.1:9000" is not a grpc://host:port URL`},
		{[]string{"serve", "--proxy-to", "grpc://127.0.0.1"}, exitUsage, `proxy target "grpc://127.0.0.1" is not a grpc://host:port URL`},
		{[]string{"serve", "--proxy-to", "grpc://10.1.2.3:50051"}, exitUsage, `--proxy-to "grpc://10.1.2.3:50051": `},
		{[]string{"serve", "--proxy-to", "ftp://127.0.0.1:9000"}, exitUsage, "want an http:// or https:// URL with a host, or grpc://host:port"},
		{[]string{"serve", "--fault", "tls:expired"}, exitUsage, "tls faults need an HTTPS upstream"},
		{[]string{"serve", "--addr", busy.Addr().String(), "--control-addr", ""}, exitCouldNotRun, "address already in use"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--control-addr", busy.Addr().String()}, exitCouldNotRun, "address already in use"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--control-addr", "", "--metrics-addr", "9464"}, exitUsage, `--metrics-addr "9464": want host:port`},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--control-addr", "", "--metrics-addr", "0.0.0.0:9464"}, exitUsage, `--metrics-addr "0.0.0.0:9464": every interface`},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--control-addr", "", "--metrics-addr", "10.1.2.3:9464"}, exitUsage, `--metrics-addr "10.1.2.3:9464"`},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--control-addr", "", "--metrics-addr", busy.Addr().String()}, exitCouldNotRun, "address already in use"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(tt.args, &stdout, &stderr)
		if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("cbload %q = exit %d, stderr %q; want exit %d, stderr containing %q",
				tt.args, code, stderr.String(), tt.code, tt.want)
		}
		// The error, and for a flag parse error a hint: no usage, no trace.
		if lines := strings.Count(strings.TrimSpace(stderr.String()), "\n"); lines > 1 {
			t.Errorf("cbload %q: stderr has %d lines; want the error and at most a hint:\n%s", tt.args, lines+1, stderr.String())
		}
	}
}

// TestServeCapacity runs serve with two workers and no queue: of three
// concurrent requests one is turned away at once with 503, and /stats
// shows the work.
func TestServeCapacity(t *testing.T) {
	checkLeaks(t)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	up, ctl, out := startServe(t, "--upstream-concurrency", "2", "--service-time", "300ms", "--jitter", "0s")
	if !strings.Contains(out.String(), "2 workers, queue 0, work for callers that gave up is done anyway") {
		t.Errorf("serve output = %q; want the capacity described", out)
	}
	codes := make(chan int, 3)
	for range 3 {
		go func() {
			resp, err := c.Get(up + "/")
			if err != nil {
				codes <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	got := map[int]int{}
	for range 3 {
		got[<-codes]++
	}
	if got[200] != 2 || got[503] != 1 {
		t.Errorf("3 requests to 2 workers without a queue: %v; want two 200 and one 503", got)
	}
	if _, body := do(t, c, "GET", ctl+"/stats", "", ""); !strings.Contains(body, `"completed":2`) || !strings.Contains(body, `"rejected":1`) {
		t.Errorf("/stats = %s; want completed 2, rejected 1", body)
	}
}

// TestServeMetrics checks that serve --metrics-addr exposes the upstream's
// counters as they are when scraped: requests and injected faults per kind.
func TestServeMetrics(t *testing.T) {
	checkLeaks(t)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	up, _, out := startServe(t, "--fault", "error:503,path=/bad", "--seed", "7", "--metrics-addr", "127.0.0.1:0")
	m := regexp.MustCompile(`metrics\s+(http://127\.0\.0\.1:\d+/metrics)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("serve printed no metrics URL:\n%s", out)
	}
	for _, p := range []string{"/bad", "/bad", "/good"} {
		do(t, c, "GET", up+p, "", "")
	}
	status, body := do(t, c, "GET", m[1], "", "")
	if status != 200 {
		t.Fatalf("GET %s = %d; want 200", m[1], status)
	}
	for _, want := range []string{"cbload_upstream_requests_total 3", `cbload_upstream_faults_injected_total{kind="error"} 2`, `cbload_upstream_faults_injected_total{kind="hang"} 0`, "cbload_upstream_in_flight_requests 0"} {
		if !strings.Contains(body+"\n", want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

// TestRunMetricsAllowRemote checks that --allow-remote lets --metrics-addr
// listen beyond loopback without --target (where it is otherwise only for
// targets).
func TestRunMetricsAllowRemote(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--fault", "latency", "--metrics-addr", "10.1.2.3:9464", "--allow-remote", "10.0.0.0/8", "--dry-run"}, &stdout, &stderr)
	if code != 0 {
		t.Errorf("run --metrics-addr 10.1.2.3:9464 --allow-remote 10.0.0.0/8 --dry-run = exit %d, stderr %q; want 0", code, stderr.String())
	}
	code = run([]string{"run", "--fault", "latency", "--allow-remote", "10.0.0.0/8", "--dry-run"}, &stdout, &stderr)
	if code != exitUsage {
		t.Errorf("run --allow-remote without --target or --metrics-addr = exit %d; want %d", code, exitUsage)
	}
}
