package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// Secrets a run is given: in the userinfo of its URLs, through
// --header-env and in a credential --header.
const (
	secretPassword = "hunter2pw"
	secretUser     = "adminuser"
	secretToken    = "sekrit-token-42"
	secretCookie   = "cookiesecret"
)

// checkNoSecrets fails the test if any secret occurs in text, named what.
func checkNoSecrets(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range []string{secretPassword, secretUser, secretToken, secretCookie} {
		if i := strings.Index(text, s); i >= 0 {
			t.Errorf("%s holds the secret %q: …%s…", what, s, text[max(0, i-60):min(len(text), i+30)])
		}
	}
}

// TestSecretsNeverWritten runs cbload against a service on loopback with
// credentials in the target URLs' userinfo, a --header-env token and a
// cookie, and checks that no output — report.json/md/html, the results
// file, JUnit, the step summary, the --dry-run plan, stdout, stderr, the
// messages of bad input and of a target that cannot be reached — holds any
// of them. Half the api requests have their connection closed, so the
// error set and the results file quote the URL as net/http's errors do;
// the others echo the token, which a check's miss quotes.
func TestSecretsNeverWritten(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/breaker":
			w.Write([]byte("closed"))
		case "/api":
			switch i := n.Add(1); {
			case i == 1: // the probe
				w.Write([]byte(`{"source":"primary"}`))
			case i%2 == 0:
				if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
					c.Close()
				}
			default: // an answer that echoes the token, as a debug endpoint might
				json.NewEncoder(w).Encode(map[string]string{"source": r.Header.Get("Authorization")})
			}
		default:
			w.Write([]byte("ok"))
		}
	}))
	defer svc.Close()
	withCreds := func(u, path string) string {
		return strings.Replace(u, "http://", "http://"+secretUser+":"+secretPassword+"@", 1) + path
	}
	env := []string{"CBLOAD_TEST_TOKEN=Bearer " + secretToken}
	args := func(out, target string, extra ...string) []string {
		return append([]string{"run", "--fault", "latency", "--phases", "1s,2s,1s", "--rate", "40", "--seed", "3", "--progress", "never",
			"--out", out, "--upstream-addr", freeAddr(t), "--target", "svc=" + target, "--collateral", "/local",
			"--breaker-state-url", withCreds(svc.URL, "/breaker"),
			"--header-env", "Authorization=CBLOAD_TEST_TOKEN", "--header", "Cookie: sid=" + secretCookie,
			"--expect", "json:.source=primary"}, extra...)
	}

	t.Run("run", func(t *testing.T) {
		dir := t.TempDir()
		out := filepath.Join(dir, "out")
		results, junit, summary := filepath.Join(dir, "results.jsonl"), filepath.Join(dir, "junit.xml"), filepath.Join(dir, "summary.md")
		code, stdout, stderr := cbloadProc(t, append(env, stepSummaryEnv+"="+summary), args(out, withCreds(svc.URL, "/api"), "--results", results, "--junit", junit,
			"--threshold", "svc.fault.api.requests > 0")...)
		if code != exitOK && code != exitNotValid {
			t.Fatalf("exit %d; want %d or %d\nstdout:\n%s\nstderr:\n%s", code, exitOK, exitNotValid, stdout, stderr)
		}
		checkNoSecrets(t, "stdout", stdout)
		checkNoSecrets(t, "stderr", stderr)
		files := []string{results, junit, summary}
		for _, name := range []string{"report.json", "report.md", "report.html"} {
			files = append(files, filepath.Join(out, name))
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			checkNoSecrets(t, filepath.Base(f), string(b))
		}
		// The test can fail: the run did quote the URL in its errors.
		b, _ := os.ReadFile(results)
		if !strings.Contains(string(b), `"error":"Get \"http://xxxxx@`) {
			t.Errorf("results file has no error quoting the redacted URL; want the connections closed by the service to show as errors")
		}
		r := readReport(t, filepath.Join(out, "report.json"))
		if notes := strings.Join(r.Arms[0].Notes, "\n"); !strings.Contains(notes, `(the first got .source = "xxxxx")`) {
			t.Errorf("notes %q; want the check's miss quoting the echoed token as xxxxx", notes)
		}
		if len(r.Config.Targets) != 1 || !strings.HasPrefix(r.Config.Targets[0].URL, "http://xxxxx@127.0.0.1:") {
			t.Errorf("report targets %+v; want the URL with its userinfo redacted as xxxxx", r.Config.Targets)
		}
	})

	t.Run("dry-run", func(t *testing.T) {
		code, stdout, stderr := cbloadProc(t, env, args(filepath.Join(t.TempDir(), "out"), withCreds(svc.URL, "/api"),
			"--otlp-endpoint", secretUser+":"+secretPassword+"@127.0.0.1:4318", "--dry-run")...)
		if code != exitOK || !strings.Contains(stdout, "target svc: http://xxxxx@127.0.0.1:") {
			t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s\nwant 0 and the target's URL redacted", code, stdout, stderr)
		}
		checkNoSecrets(t, "--dry-run stdout", stdout)
		checkNoSecrets(t, "--dry-run stderr", stderr)
	})

	t.Run("bad input", func(t *testing.T) {
		creds := secretUser + ":" + secretPassword + "@"
		for _, args := range [][]string{
			{"run", "--fault", "latency", "--dry-run", "--target", "svc=http://" + creds + "127.0.0.1:99999/api", "--upstream-addr", "127.0.0.1:9"},
			{"run", "--fault", "latency", "--dry-run", "--target", "svc=http://" + secretUser + ":a " + secretPassword + "@127.0.0.1:1/api", "--upstream-addr", "127.0.0.1:9"},
			{"run", "--fault", "latency", "--dry-run", "--target", "svc=http://127.0.0.1:1/api", "--upstream-addr", creds + "127.0.0.1:9"},
			{"run", "--fault", "latency", "--dry-run", "--target", "svc=http://127.0.0.1:1/api", "--upstream", "p=http://" + creds + "127.0.0.1:9"},
			{"run", "--fault", "latency", "--dry-run", "--otlp-endpoint", "http://" + creds + "127.0.0.1:99999"},
			{"serve", "--proxy-to", "http://" + creds + "127.0.0.1:0"},
			{"serve", "--proxy-to", "ftp://" + creds + "127.0.0.1:1"},
		} {
			code, stdout, stderr := cbloadProc(t, nil, args...)
			if code != exitUsage || !strings.Contains(stderr, "xxxxx@") {
				t.Errorf("cbload %q = exit %d, stderr %q; want %d naming the redacted URL", args, code, stderr, exitUsage)
			}
			checkNoSecrets(t, "stdout", stdout)
			checkNoSecrets(t, "stderr", stderr)
		}
	})

	t.Run("probe quotes an echoed token", func(t *testing.T) {
		echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			json.NewEncoder(w).Encode(map[string]string{"source": r.Header.Get("Authorization")})
		}))
		defer echo.Close()
		code, stdout, stderr := cbloadProc(t, env, args(filepath.Join(t.TempDir(), "out"), echo.URL+"/api")...)
		if code != exitCouldNotRun || !strings.Contains(stderr, `got .source = "xxxxx"`) {
			t.Fatalf("exit %d, stderr:\n%s\nwant %d quoting the echoed token as xxxxx", code, stderr, exitCouldNotRun)
		}
		checkNoSecrets(t, "stdout", stdout)
		checkNoSecrets(t, "stderr", stderr)
	})

	t.Run("unreachable", func(t *testing.T) {
		closed := "http://" + freeAddr(t)
		code, stdout, stderr := cbloadProc(t, env, args(filepath.Join(t.TempDir(), "out"), withCreds(closed, "/api"))...)
		if code != exitCouldNotRun || !strings.Contains(stderr, "unreachable at http://xxxxx@") {
			t.Fatalf("exit %d, stderr:\n%s\nwant %d naming the redacted URL", code, stderr, exitCouldNotRun)
		}
		checkNoSecrets(t, "stdout", stdout)
		checkNoSecrets(t, "stderr", stderr)
	})
}
