package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rawLines returns the lines of stderr that are not cbload's own messages,
// which all start "cbload: " or "cbload serve: ": what a library logged on
// its own (net/http's "2026/12/01 12:00:00 http: Accept error: …", gRPC's
// or OpenTelemetry's log lines).
func rawLines(stderr string) []string {
	var raw []string
	for _, l := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		if l != "" && !strings.HasPrefix(l, "cbload: ") && !strings.HasPrefix(l, "cbload serve: ") {
			raw = append(raw, l)
		}
	}
	return raw
}

// TestNoRawLibraryLogs runs `cbload run` as a real process where the
// libraries under it have something to complain about — a collector that
// refuses connections, over each OTLP protocol, and a file-descriptor limit
// so low that the gateway's accept loop fails over and over — and checks
// that nothing but cbload's own one-line messages reaches stderr (issue 12,
// class 10).
func TestNoRawLibraryLogs(t *testing.T) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Fatalf("prlimit (util-linux) is needed to lower the child's file limit: %v", err)
	}
	collector := "http://" + freeAddr(t)
	tests := []struct {
		name  string
		limit string   // prlimit's --nofile, or ""
		env   []string // more environment
		args  []string
		want  string // a line of cbload's own that shows the case happened, if it prints one
	}{
		{"collector refuses, http/protobuf", "", nil, []string{"--fault", "latency:50ms", "--otlp-endpoint", collector, "--otlp-protocol", "http/protobuf"}, "cbload: traces: last export error"},
		{"collector refuses, grpc", "", nil, []string{"--fault", "latency:50ms", "--otlp-endpoint", collector, "--otlp-protocol", "grpc"}, "cbload: traces: last export error"},
		// 300 hanging requests a second need far more than 48 files.
		// gRPC logs its connection failures when these ask it to.
		{"collector refuses, grpc, gRPC's own logging on", "", []string{"GRPC_GO_LOG_SEVERITY_LEVEL=info", "GRPC_GO_LOG_VERBOSITY_LEVEL=2"},
			[]string{"--fault", "latency:50ms", "--otlp-endpoint", collector, "--otlp-protocol", "grpc"}, "cbload: traces: last export error"},
		{"accept errors, 48 files", "48", nil, []string{"--fault", "hang", "--rate", "300"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string{"run", "--arms", "breaker", "--phases", "1s,1s,1s", "--rate", "60", "--seed", "5", "--progress", "never", "--out", out}, tt.args...)
			var code int
			var stderr string
			if tt.limit != "" {
				bin := buildBinary(t, "github.com/cbload/cbload/cmd/cbload")
				code, _, stderr = runCmd(t, exec.Command("prlimit", append([]string{"--nofile=" + tt.limit + ":" + tt.limit, bin}, args...)...))
			} else {
				code, _, stderr = cbloadProc(t, tt.env, args...)
			}
			if raw := rawLines(stderr); len(raw) > 0 {
				t.Errorf("exit %d; stderr has %d raw library lines, first %q; want only cbload's own messages:\n%s", code, len(raw), raw[0], stderr)
			}
			if tt.want != "" && !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d; stderr lacks %q (did the case happen?):\n%s", code, tt.want, stderr)
			}
		})
	}
}

// TestServeNoRawLibraryLogs floods a real `cbload serve` whose file limit
// is lower than the connections offered, so that its accept loops fail
// over and over, and checks that nothing but its own lines reaches stderr.
func TestServeNoRawLibraryLogs(t *testing.T) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Fatalf("prlimit (util-linux) is needed to lower the child's file limit: %v", err)
	}
	bin := buildBinary(t, "github.com/cbload/cbload/cmd/cbload")
	cmd := exec.Command("prlimit", "--nofile=32:32", bin, "serve", "--addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0", "--fault", "hang")
	cmd.Env = os.Environ()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan string, 2)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil && m[1] == "upstream" {
				addrs <- strings.TrimPrefix(m[2], "http://")
			}
		}
	}()
	exited := make(chan error, 1)
	var data string
	select {
	case data = <-addrs:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("serve printed no address within 20s; stderr:\n%s", &stderr)
	}
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range 80 {
		c, err := net.DialTimeout("tcp", data, time.Second)
		if err != nil {
			continue // the backlog is full: the flood has done its work
		}
		held = append(held, c)
		c.Write([]byte("GET /held HTTP/1.1\r\nHost: x\r\n\r\n"))
	}
	time.Sleep(500 * time.Millisecond) // let the accept loop fail and retry a while
	go func() { exited <- cmd.Wait() }()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("serve did not exit within 15s of SIGTERM; stderr:\n%s", &stderr)
	}
	if raw := rawLines(stderr.String()); len(raw) > 0 {
		t.Errorf("stderr has %d raw library lines, first %q; want only cbload's own messages:\n%s", len(raw), raw[0], &stderr)
	}
}
