package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cbload/cbload/internal/testenv"
)

// TestHeaderControlCharacters runs cbload with a CR, LF or NUL in a header
// value given every way there is — --header, --header-env, a request file
// in either format, a scenario — and checks each is exit 2 with one line
// naming where it came from, before any request is sent, and without the
// value (which may be a credential) in the message. net/http would refuse
// such a header only as the probe is sent: "target unreachable", exit 3.
func TestHeaderControlCharacters(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer svc.Close()
	dir := t.TempDir()
	write := func(name, content string) string { return testenv.WriteFile(t, dir, name, content) }
	httpFile := write("reqs.txt", "GET /api\nX-Trace: secret\rinjected\n\n# cbload: collateral\nGET /local\n")
	nulFile := write("nul.txt", "GET /api\nX-Trace: secret\x00injected\n")
	jsonFile := write("reqs.json", `{"method":"GET","url":"/api","header":{"X-Trace":["secret\r\ninjected"]}}`+"\n")
	scenarioFile := write("s.yaml", "request:\n  headers: {X-Trace: \"secret\\ninjected\"}\n")

	base := func(extra ...string) []string {
		return append([]string{"run", "--fault", "latency", "--phases", "1s,1s,1s", "--progress", "never",
			"--out", filepath.Join(t.TempDir(), "out"), "--upstream-addr", freeAddr(t), "--target", "svc=" + svc.URL}, extra...)
	}
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"header CR", nil, base("--header", "X-Trace: secret\rinjected"), "--header X-Trace: the value holds a control character"},
		{"header LF", nil, base("--header", "X-Trace: secret\ninjected"), "--header X-Trace: the value holds a control character"},
		{"header NUL", nil, base("--header", "X-Trace: secret\x01injected"), "--header X-Trace: the value holds a control character"},
		{"header-env", []string{"CBLOAD_TEST_TRACE=secret\r\ninjected"}, base("--header-env", "X-Trace=CBLOAD_TEST_TRACE"),
			"--header-env X-Trace=CBLOAD_TEST_TRACE: $CBLOAD_TEST_TRACE: the value holds a control character"},
		{"targets http", nil, base("--targets", httpFile), "reqs.txt:2: header X-Trace: the value holds a control character"},
		{"targets http NUL", nil, base("--targets", nulFile), "nul.txt:2: header X-Trace: the value holds a control character"},
		{"targets json", nil, base("--targets", jsonFile), "reqs.json:1: header X-Trace: the value holds a control character"},
		{"scenario", nil, base("--scenario", scenarioFile, "--collateral", "/local"), "X-Trace: the value holds a control character"},
	}
	for _, tt := range tests {
		for _, dry := range []bool{false, true} {
			args := tt.args
			if dry {
				args = append(args[:len(args):len(args)], "--dry-run")
			}
			t.Run(fmt.Sprintf("%s dry-run=%v", tt.name, dry), func(t *testing.T) {
				code, stdout, stderr := cbloadProc(t, tt.env, args...)
				lines := strings.Split(strings.TrimSpace(stderr), "\n")
				if code != exitUsage || len(lines) != 1 || !strings.Contains(stderr, tt.want) {
					t.Fatalf("exit %d, stderr %q; want %d and one line containing %q\nstdout:\n%s", code, stderr, exitUsage, tt.want, stdout)
				}
				if strings.Contains(stderr, "secret") || strings.Contains(stdout, "secret") {
					t.Errorf("the header's value is echoed: stdout %q, stderr %q", stdout, stderr)
				}
			})
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the service got %d requests; want none", n)
	}
}
