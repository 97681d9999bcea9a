package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// evil is a status reason, fault name or run id that would clear the
// screen, set the window title and forge a line of cbload's output if it
// reached a terminal raw.
const evil = "\x1b]0;pwned\x07\x1b[2J\r\ncbload: all good"

// rawControl reports the first control character other than a line break
// or a tab in s, as a terminal would take it: -1 when there is none.
func rawControl(s string) int {
	return strings.IndexFunc(s, func(r rune) bool {
		return r != '\n' && r != '\t' && (r < ' ' || r == 0x7f || r >= 0x80 && r < 0xa0)
	})
}

// evilService answers its first request (cbload's probe) 200 and every
// later one 503 with evil as the status reason, which net/http's server
// cannot send: it writes its answers by hand. Its cleanup closes it.
func evilService(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		n  atomic.Int64
		wg sync.WaitGroup
		mu sync.Mutex
		cs []net.Conn
	)
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range cs {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			cs = append(cs, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					answer := "HTTP/1.1 503 " + strings.ReplaceAll(evil, "\r\n", " ") + "\r\nContent-Length: 0\r\n\r\n"
					if n.Add(1) == 1 {
						answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
					}
					if _, err := io.WriteString(c, answer); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

// TestTerminalStatusReason runs cbload against a service whose status
// reason carries ESC sequences, then merges the run's report with the
// sequences put back into its error texts and a run id holding them and a
// line break: nothing cbload prints may carry them raw, and the reason
// is shown, escaped.
func TestTerminalStatusReason(t *testing.T) {
	svc := evilService(t)
	out := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--target", "a=" + svc + "/api", "--shard", "0/2", "--start-at", time.Now().Add(500 * time.Millisecond).UTC().Format(time.RFC3339Nano), "--phases", "1s,1s,1s", "--fault", "hang",
		"--rate", "20", "--seed", "2", "--progress", "always", "--no-step-summary", "--out", out}, &stdout, &stderr)
	if code != exitOK && code != exitNotValid {
		t.Fatalf("run against the service: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for name, s := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String()} {
		if i := rawControl(s); i >= 0 {
			t.Errorf("run %s has a raw control character %q at %d:\n%q", name, s[i], i, s)
		}
	}
	if want := `503 \x1b]0;pwned\a\x1b[2J cbload: all good`; !strings.Contains(stdout.String(), want) {
		t.Errorf("run stdout does not show the status reason escaped, %s:\n%s", want, stdout.String())
	}

	// The report as a tampered (or older) file: raw ESC in its error
	// texts, and in a run id with a line break.
	path := filepath.Join(out, "report.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	doc["run_id"] = "run" + evil
	tampered, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	tampered = bytes.ReplaceAll(tampered, []byte(`\\x1b`), []byte(`\u001b`))
	if err := os.WriteFile(path, tampered, 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	code = run([]string{"merge", "--no-step-summary", "--out", filepath.Join(t.TempDir(), "merged"), path}, &stdout, &stderr)
	for name, s := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String()} {
		if i := rawControl(s); i >= 0 {
			t.Errorf("merge (exit %d) %s has a raw control character %q at %d:\n%q", code, name, s[i], i, s)
		}
		for _, line := range strings.Split(s, "\n") {
			if strings.HasPrefix(line, "cbload: all good") {
				t.Errorf("merge %s has a line forged by the run id: %q", name, line)
			}
		}
	}
}

// TestTerminalFaultClient runs cbload fault against a control API whose
// fault names, specs and error messages carry ESC sequences and line
// breaks: they are printed escaped, on their own line.
func TestTerminalFaultClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusConflict)
			json.NewEncoder(w).Encode(map[string]string{"error": "taken" + evil})
			return
		}
		json.NewEncoder(w).Encode(map[string][]string{"faults": {"latency:1s" + evil}, "names": {"slow" + evil}})
	}))
	defer srv.Close()
	for _, args := range [][]string{
		{"fault", "list", "--control", srv.URL},
		{"fault", "add", "slow", "latency:1s", "--control", srv.URL},
	} {
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if i := rawControl(out); i >= 0 {
			t.Errorf("cbload %v (exit %d) printed a raw control character %q at %d:\n%q", args, code, out[i], i, out)
		}
		if strings.Contains(out, "\ncbload: all good") {
			t.Errorf("cbload %v printed a line forged by the server: %q", args, out)
		}
		if !strings.Contains(out, `\x1b]0;pwned\a\x1b[2J\r\ncbload: all good`) {
			t.Errorf("cbload %v does not show the server's text escaped: %q", args, out)
		}
	}
}
