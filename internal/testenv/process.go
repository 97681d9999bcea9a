package testenv

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// FreePort returns a loopback port that was free a moment ago, for a
// program that cannot be given port 0.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// SkipOrFail skips the test with msg, or fails it when CI is set: a
// program or asset a test needs is missing, and in CI a missing
// prerequisite must not pass silently.
func SkipOrFail(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Process is a program a test started. It is killed when the test ends,
// and its output, kept in a file in the test's temp dir, is logged if the
// test failed.
type Process struct {
	name   string
	log    string
	exited chan struct{}
}

// Start starts the program bin with args, its output going to a log file.
func Start(t testing.TB, bin string, args ...string) *Process {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), filepath.Base(bin)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf // a file: no copying goroutines
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", bin, err)
	}
	p := &Process{name: filepath.Base(bin), log: logf.Name(), exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
		logf.Close()
		if t.Failed() {
			t.Logf("%s log:\n%s", p.name, p.Log())
		}
	})
	return p
}

// Log returns what the program has written so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// WaitHTTP polls url until it answers 200, and fails the test if the
// program exits first or timeout passes.
func (p *Process) WaitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	defer c.CloseIdleConnections()
	var last error
	for deadline := time.Now().Add(timeout); ; {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		select {
		case <-p.exited:
			t.Fatalf("%s exited before %s answered 200 (last: %v):\n%s", p.name, url, last, p.Log())
		case <-time.After(50 * time.Millisecond): // polling the program's own readiness answer
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s did not answer 200 within %v (last: %v):\n%s", p.name, url, timeout, last, p.Log())
		}
	}
}
