package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveProc runs the built cbload binary's serve command with args in its
// own process (through bash when limit is not empty, e.g. "ulimit -v N"),
// and returns its upstream and control addresses. The process is stopped
// with SIGTERM at cleanup and must exit 0.
func serveProc(t *testing.T, limit string, env []string, args ...string) (data, control string) {
	t.Helper()
	bin := buildBinary(t, "github.com/cbload/cbload/cmd/cbload")
	args = append([]string{"serve", "--addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0"}, args...)
	var cmd *exec.Cmd
	if limit != "" {
		quoted := make([]string, len(args))
		for i, a := range args {
			quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		cmd = exec.Command("bash", "-c", limit+" && exec "+bin+" "+strings.Join(quoted, " "))
	} else {
		cmd = exec.Command(bin, args...)
	}
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	urls := make(chan [2]string, 1)
	go func() {
		var up, ctl string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				if m[1] == "upstream" {
					up = m[2]
				} else {
					ctl = m[2]
				}
				if up != "" && ctl != "" {
					urls <- [2]string{up, ctl}
				}
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("cbload serve exited with %v after SIGTERM; stderr:\n%s", err, stderr.String())
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("cbload serve did not exit within 15s of SIGTERM")
		}
	})
	select {
	case u := <-urls:
		return strings.TrimPrefix(u[0], "http://"), strings.TrimPrefix(u[1], "http://")
	case err := <-exited:
		t.Fatalf("cbload serve exited (%v) before listening; stderr:\n%s", err, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("cbload serve printed no addresses within 20s; stderr:\n%s", stderr.String())
	}
	return "", ""
}

// TestServeProcessHeldConnections holds a real `cbload serve` process's
// data connections up to --max-conns with hanging requests and checks that
// the next connection is closed at once, that the control API still
// answers, that a dripped header is cut at --read-header-timeout and that
// an unauthenticated client is cut after its 401 — and that the held
// requests were still held, as the hang fault says, throughout.
func TestServeProcessHeldConnections(t *testing.T) {
	const max = 200
	data, control := serveProc(t, "", []string{controlTokenEnv + "=s3cret"},
		"--fault", "hang", "--max-conns", fmt.Sprint(max), "--read-header-timeout", "300ms", "--read-timeout", "600ms")

	held := make([]net.Conn, 0, max)
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := range max {
		c, err := net.Dial("tcp", data)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		held = append(held, c)
		if _, err := io.WriteString(c, "GET /held HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	stats := func() string {
		_, body := do(t, hc, "GET", "http://"+control+"/stats", "s3cret", "")
		return body
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stats(), fmt.Sprintf(`"in_flight":%d`, max)) {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not hold %d requests within 20s: %s", max, stats())
		}
		time.Sleep(10 * time.Millisecond)
	}

	over, err := net.Dial("tcp", data)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	over.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(over, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	// Closed with the request unread, the connection may end in a RST.
	if b, err := io.ReadAll(over); (err != nil && !errors.Is(err, syscall.ECONNRESET)) || len(b) != 0 {
		t.Errorf("connection %d over --max-conns %d: read %q, %v; want it closed at once", max+1, max, b, err)
	}
	if body := stats(); !strings.Contains(body, `"conns_rejected":1`) {
		t.Errorf("/stats with the data port full = %s; want it answered, conns_rejected 1", body)
	}

	// A header dripped a line at a time on the control port is cut.
	drip, err := net.Dial("tcp", control)
	if err != nil {
		t.Fatal(err)
	}
	defer drip.Close()
	t0 := time.Now()
	io.WriteString(drip, "GET /stats HTTP/1.1\r\n")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if _, err := io.WriteString(drip, "X-Drip: 1\r\n"); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	drip.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(drip); err != nil {
		t.Errorf("dripped header on the control port: %v; want the connection closed", err)
	} else if d := time.Since(t0); d < 200*time.Millisecond || d > 2*time.Second {
		t.Errorf("dripped header cut after %v; want about the 300ms --read-header-timeout", d)
	}
	cancel()

	// Every request is still held.
	for i, c := range held[:5] {
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if n, err := c.Read(make([]byte, 1)); n != 0 || !os.IsTimeout(err) {
			t.Errorf("held request %d: read %d bytes, %v; want it still held", i, n, err)
		}
	}
}

// TestServeProcessLargeBodyUnderMemoryCap runs `cbload serve` with its
// address space capped below what building a 1 GiB body would take and
// serves that body: streamed, it arrives whole and the process lives on.
func TestServeProcessLargeBodyUnderMemoryCap(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 1 GiB through loopback")
	}
	// The process maps about 1.7 GiB of address space at start; building
	// the body took 2 GiB more.
	data, control := serveProc(t, "ulimit -v 3145728", nil, "--fault", "slowbody:1GiB/s,size=1GiB")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	resp, err := hc.Get("http://" + data + "/")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != 1<<30 {
		t.Errorf("GET with slowbody size=1GiB: %d bytes, %v; want 1 GiB", n, err)
	}
	if status, body := do(t, hc, "GET", "http://"+control+"/stats", "", ""); status != 200 {
		t.Errorf("GET /stats after the large body = %d %s; want the process still serving", status, body)
	}
}

// TestServeProcessBadEnvToken checks that a token from the environment that
// no client could send stops serve at startup with exit 2 and one line
// naming the variable, as env.go names run's, without the value.
func TestServeProcessBadEnvToken(t *testing.T) {
	for _, tt := range []struct{ value, want string }{
		{"  \t", "cbload: $CBLOAD_CONTROL_TOKEN (value not shown): control token is only whitespace"},
		{"s3cret two", "cbload: $CBLOAD_CONTROL_TOKEN (value not shown): control token holds whitespace or control characters"},
	} {
		code, _, stderr := cbloadProc(t, []string{controlTokenEnv + "=" + tt.value}, "serve", "--addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0")
		if code != exitUsage || !strings.HasPrefix(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || strings.Contains(stderr, "s3cret") {
			t.Errorf("serve with $%s=%q = exit %d, stderr %q; want exit 2 and one line starting %q, the value not shown", controlTokenEnv, tt.value, code, stderr, tt.want)
		}
	}
}
