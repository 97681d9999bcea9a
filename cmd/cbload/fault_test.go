package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cbload/cbload/faultserver"
)

// startFaultServer runs a faultserver with a control API on loopback for
// the test.
func startFaultServer(t *testing.T, token string) *faultserver.Server {
	t.Helper()
	s, err := faultserver.New(faultserver.Config{ControlAddr: "127.0.0.1:0", ControlToken: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// cbload runs the CLI in-process and returns its exit code and output.
func cbload(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestFaultCommand(t *testing.T) {
	checkLeaks(t)
	t.Setenv("MY_TOKEN", "s3cret")
	s := startFaultServer(t, "s3cret")
	ctl := []string{"--control", s.ControlURL(), "--token-env", "MY_TOKEN"}
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"fault", "list"}, "no faults (healthy)\n"},
		{[]string{"fault", "set", "latency:200ms", "error:503,rate=0.5"}, "NAME  FAULT\n-     latency:200ms\n-     error:503,rate=0.5\n"},
		{[]string{"fault", "add", "slow-api", "latency:300ms,path=/api"}, "NAME      FAULT\n-         latency:200ms\n-         error:503,rate=0.5\nslow-api  latency:300ms,path=/api\n"},
		{[]string{"fault", "remove", "slow-api"}, "NAME  FAULT\n-     latency:200ms\n-     error:503,rate=0.5\n"},
		{[]string{"fault", "add", "db", "error:502"}, "NAME  FAULT\n-     latency:200ms\n-     error:503,rate=0.5\ndb    error:502\n"},
		{[]string{"fault", "list"}, "NAME  FAULT\n-     latency:200ms\n-     error:503,rate=0.5\ndb    error:502\n"},
		{[]string{"fault", "clear"}, "no faults (healthy)\n"},
	}
	for _, st := range steps {
		code, stdout, stderr := cbload(append(st.args, ctl...)...)
		if code != 0 || stdout != st.want {
			t.Errorf("cbload %q = exit %d\n%s(stderr %q); want exit 0\n%s", st.args, code, stdout, stderr, st.want)
		}
	}
	if got := s.Faults(); len(got) != 0 {
		t.Errorf("server faults after clear = %v; want none", got)
	}
}

func TestFaultCommandErrors(t *testing.T) {
	checkLeaks(t)
	s := startFaultServer(t, "s3cret")
	open := startFaultServer(t, "")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	// A loopback server that redirects to the real control API: the
	// client must not follow it.
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer target.Close()
	redirect := httptest.NewServer(http.RedirectHandler(target.URL+"/faults", http.StatusTemporaryRedirect))
	defer redirect.Close()
	t.Setenv("GOOD", "s3cret")
	t.Setenv("BAD", "wrong-token-value")
	t.Setenv("BLANK", "  ")
	t.Setenv(controlTokenEnv, "")
	open.AddFault("taken", mustParse(t, "latency"))

	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"fault"}, exitUsage, "fault needs an action"},
		{[]string{"fault", "bogus"}, exitUsage, `unknown fault action "bogus"`},
		{[]string{"fault", "list", "extra"}, exitUsage, "list takes 0 argument(s), got 1"},
		{[]string{"fault", "add", "x"}, exitUsage, "form: fault add NAME SPEC"},
		{[]string{"fault", "add", "bad name", "latency"}, exitUsage, `add: fault name "bad name"`},
		{[]string{"fault", "add", "x", "latency:2h"}, exitUsage, `over the limit of 1h`},
		{[]string{"fault", "set"}, exitUsage, "use fault clear"},
		{[]string{"fault", "set", "bogus"}, exitUsage, `unknown kind "bogus"`},
		{[]string{"fault", "remove", "../stats"}, exitUsage, `remove: fault name "../stats"`},
		{[]string{"fault", "list", "--control", "127.0.0.1:8474"}, exitUsage, "--control: control URL"},
		{[]string{"fault", "list", "--control", open.ControlURL(), "--token-env", "UNSET_VAR_XYZ"}, exitUsage, "--token-env UNSET_VAR_XYZ: $UNSET_VAR_XYZ is not set"},
		{[]string{"fault", "list", "--control", open.ControlURL(), "--token-env", "BLANK"}, exitUsage, "$BLANK: control token is only whitespace"},
		{[]string{"fault", "list", "--control", s.ControlURL()}, exitUsage, "401 Unauthorized"},
		{[]string{"fault", "list", "--control", s.ControlURL(), "--token-env", "BAD"}, exitUsage, "401 Unauthorized"},
		{[]string{"fault", "add", "taken", "error:503", "--control", open.ControlURL()}, exitUsage, "409 Conflict"},
		{[]string{"fault", "remove", "nope", "--control", open.ControlURL()}, exitUsage, "404 Not Found"},
		{[]string{"fault", "list", "--control", dead}, exitCouldNotRun, "connection refused"},
		{[]string{"fault", "list", "--control", "http://10.0.0.7:8474"}, exitUsage,
			`--control "http://10.0.0.7:8474": host 10.0.0.7 is not loopback; want a control API on this machine, like http://127.0.0.1:8474`},
		{[]string{"fault", "clear", "--control", "https://example.com"}, exitUsage, "host example.com is not loopback"},
		{[]string{"fault", "list", "--control", "http://127.0.0.1:99999"}, exitUsage, `--control "http://127.0.0.1:99999": port "99999": want a number from 1 to 65535`},
		{[]string{"fault", "list", "--control", redirect.URL}, exitCouldNotRun, "redirect"},
	}
	for _, tt := range tests {
		code, stdout, stderr := cbload(tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) || stdout != "" {
			t.Errorf("cbload %q = exit %d, stdout %q, stderr %q; want exit %d, stderr containing %q", tt.args, code, stdout, stderr, tt.code, tt.want)
		}
		if lines := strings.Count(strings.TrimSpace(stderr), "\n"); lines > 1 {
			t.Errorf("cbload %q: stderr has %d lines; want one (and at most a hint)", tt.args, lines+1)
		}
		for _, secret := range []string{"s3cret", "wrong-token-value"} {
			if strings.Contains(stderr, secret) {
				t.Errorf("cbload %q printed the token: %q", tt.args, stderr)
			}
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the redirect's target got %d requests; want none", n)
	}
	if got := len(s.Faults()) + len(open.Faults()); got != 1 {
		t.Errorf("servers hold %d faults after only bad input; want the 1 set up", got)
	}
}

// TestFaultCommandProcess runs the built binary against a real server, the
// token coming from the default variable.
func TestFaultCommandProcess(t *testing.T) {
	s := startFaultServer(t, "s3cret")
	code, stdout, stderr := cbloadProc(t, []string{controlTokenEnv + "=s3cret"}, "fault", "add", "stuck", "hang", "--control", s.ControlURL())
	if code != 0 || !strings.Contains(stdout, "stuck  hang") {
		t.Errorf("cbload fault add = exit %d, stdout %q, stderr %q; want exit 0 and the fault listed", code, stdout, stderr)
	}
	if nf := s.NamedFaults(); len(nf) != 1 || nf[0].Name != "stuck" {
		t.Errorf("server faults = %v; want stuck", nf)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + l.Addr().String()
	l.Close()
	if code, _, stderr := cbloadProc(t, nil, "fault", "list", "--control", dead); code != exitCouldNotRun || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("cbload fault list against nothing = exit %d, stderr %q; want exit 3 and one line", code, stderr)
	}
	// A control API failing on its side is exit 3, as one that cannot be
	// reached: the change was not made.
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"error":"store unavailable"}`))
	}))
	defer failing.Close()
	for _, action := range [][]string{{"list"}, {"set", "latency"}, {"clear"}} {
		args := append(append([]string{"fault"}, action...), "--control", failing.URL)
		code, stdout, stderr := cbloadProc(t, nil, args...)
		if code != exitCouldNotRun || !strings.Contains(stderr, "store unavailable") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || stdout != "" {
			t.Errorf("cbload %q against a control API answering 500 = exit %d, stdout %q, stderr %q; want exit %d and one line with its error", args, code, stdout, stderr, exitCouldNotRun)
		}
	}
}

func mustParse(t *testing.T, s string) faultserver.Spec {
	t.Helper()
	sp, err := faultserver.ParseSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}
