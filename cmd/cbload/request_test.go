package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cbload/cbload/internal/testenv"
)

func TestRequestFlagsBad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string { return testenv.WriteFile(t, dir, name, content) }
	badFile := write("bad.txt", "GET /a\nAccept application/json\n")
	goodFile := write("good.txt", "GET /a\n")
	big := write("big.bin", strings.Repeat("x", 1<<20+1))
	tgt := []string{"--fault", "latency", "--upstream-addr", "127.0.0.1:9", "--target", "svc=http://127.0.0.1:1/api"}
	t.Setenv("EMPTY_TOKEN", "")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--fault", "latency", "--header", "A: b"}, "--header: only used with --target"},
		{[]string{"--fault", "latency", "--expect", "status=200"}, "--expect: only used with --target"},
		{[]string{"--fault", "latency", "--upstream-tls", dir}, "--upstream-tls: only used with --target"},
		{append(tgt, "--header", "no colon"), `--header "no colon": want 'Name: value'`},
		{append(tgt, "--header", "Authorization Bearer x"), `--header "Authorization Bearer x"`},
		{append(tgt, "--header-env", "Authorization"), `--header-env "Authorization": want Name=ENV_VAR`},
		{append(tgt, "--header-env", "Authorization=NOT_SET_ANYWHERE_1"), "$NOT_SET_ANYWHERE_1 is not set or empty"},
		{append(tgt, "--header-env", "Authorization=EMPTY_TOKEN"), "$EMPTY_TOKEN is not set or empty"},
		{append(tgt, "--method", "post"), `--method "post": want an HTTP method in capitals`},
		{append(tgt, "--body", "x", "--body-file", goodFile), "--body, --body-file: give one or the other"},
		{append(tgt, "--body-file", filepath.Join(dir, "missing")), "--body-file: open "},
		{append(tgt, "--body-file", big), "larger than 1048576 bytes"},
		{append(tgt, "--targets", badFile), `--targets: ` + badFile + `:2: "Accept application/json": want a header`},
		{append(tgt, "--targets", filepath.Join(dir, "missing")), "--targets: open "},
		{append(tgt, "--targets", goodFile), "--target svc: with --targets the paths come from the request file; give the origin only, like http://127.0.0.1:1"},
		{[]string{"--fault", "latency", "--upstream-addr", "127.0.0.1:9", "--target", "svc=http://127.0.0.1:1", "--targets", goodFile, "--method", "POST"}, "--method: not used with --targets"},
		{[]string{"--fault", "latency", "--upstream-addr", "127.0.0.1:9", "--target", "svc=http://127.0.0.1:1", "--targets", goodFile, "--collateral", "/local"}, "--collateral: not used with --targets"},
		{append(tgt, "--expect", "status=ok"), `--expect "status=ok": status "ok" is not a code`},
		{append(tgt, "--expect", "json:source=x"), `--expect "json:source=x": path "source": starts with .`},
		{append(tgt, "--expect", "colateral:body-contains=ok"), `--expect "colateral:body-contains=ok": scope "colateral" is not api, collateral or all; want status=`},
		{append(tgt, "--expect", "collateral:body-contains=ok"), `expect "collateral:body-contains=ok": judges collateral answers, and no target has a collateral endpoint`},
		{append(tgt, "--ca-cert", goodFile), "ca-cert: no PEM certificate found"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"run", "--out", filepath.Join(dir, "never")}, tt.args...), &stdout, &stderr)
			first, _, _ := strings.Cut(stderr.String(), "\n")
			if code != exitUsage || !strings.Contains(first, tt.want) {
				t.Errorf("exit %d, first stderr line %q; want %d and %q", code, first, exitUsage, tt.want)
			}
		})
	}
}

// TestRequestFlagsSecretNeverWritten runs cbload against a service that
// needs a bearer token, given with --header-env, and checks the token is
// sent and appears in no output, report or repro command.
func TestRequestFlagsSecretNeverWritten(t *testing.T) {
	t.Parallel()
	const secret = "tok-3f9a1c"
	upstream := freeAddr(t)
	var authorized, unauthorized atomic.Int64
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Authorization") != "Bearer "+secret || r.Header.Get("X-Tenant") != "acme" || r.Method != http.MethodPut || string(body) != "payload" {
			unauthorized.Add(1)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		authorized.Add(1)
		if resp, err := client.Get("http://" + upstream + "/work"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		io.WriteString(w, "ok")
	}))
	defer svc.Close()
	out := t.TempDir()
	code, stdout, stderr := cbloadProc(t, []string{"SVC_TOKEN=Bearer " + secret}, "run", "--upstream-addr", upstream, "--fault", "latency:10ms",
		"--phases", "1s,1s,1s", "--rate", "20", "--seed", "3", "--progress", "never", "--out", out,
		"--target", "svc="+svc.URL+"/orders/1", "--method", "PUT", "--body", "payload",
		"--header-env", "Authorization=SVC_TOKEN", "--header", "X-Tenant: acme", "--header", "X-Api-Key: k-123")
	// What is checked here does not depend on timing: a run a loaded
	// machine made invalid (exit 4) writes the same reports.
	if code != exitOK && code != exitNotValid {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if authorized.Load() == 0 || unauthorized.Load() > 0 {
		t.Errorf("service saw %d requests with the method, headers and body, %d without", authorized.Load(), unauthorized.Load())
	}
	everything := stdout + stderr
	for _, name := range []string{"report.json", "report.md", "report.html"} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		everything += string(b)
	}
	if strings.Contains(everything, secret) || strings.Contains(everything, "k-123") {
		t.Errorf("a header's secret value appears in cbload's output or reports")
	}
	r := readReport(t, filepath.Join(out, "report.json"))
	if !strings.Contains(r.Command, "--header-env Authorization=SVC_TOKEN") || !strings.Contains(r.Command, "X-Tenant: acme") {
		t.Errorf("repro command %q; want the --header-env variable's name and the plain header", r.Command)
	}
}

// TestTypoPathExitsCouldNotRun checks that a typo in the target's path ends
// with exit 3 and a one-line cause, never a verdict.
func TestTypoPathExitsCouldNotRun(t *testing.T) {
	t.Parallel()
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api" {
			http.NotFound(w, r)
		}
	}))
	defer svc.Close()
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := cbloadProc(t, nil, "run", "--upstream-addr", freeAddr(t), "--fault", "latency",
		"--phases", "1s,1s,1s", "--progress", "never", "--out", out, "--target", "svc="+svc.URL+"/apii")
	want := "cbload: target svc: GET " + svc.URL + "/apii answered 404 Not Found — check the path and method"
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if last := lines[len(lines)-1]; code != exitCouldNotRun || !strings.HasPrefix(last, want) {
		t.Errorf("exit %d, last stderr line %q; want %d and %q", code, last, exitCouldNotRun, want)
	}
	if strings.Contains(stdout, "verdict") {
		t.Errorf("stdout %q has a verdict", stdout)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("the failed run left %s behind", out)
	}
}

// TestAllowRemoteDryRun checks --allow-remote's validation with --dry-run,
// which sends nothing: a 10.x target is refused without it and accepted
// with 10.0.0.0/8; 127.0.0.3 is refused when only 127.0.0.2 is allowed.
func TestAllowRemoteDryRun(t *testing.T) {
	base := []string{"run", "--dry-run", "--fault", "latency", "--upstream-addr", "127.0.0.1:9"}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--target", "svc=http://10.1.2.3:8080/api"}, exitUsage, "--target svc: \"http://10.1.2.3:8080/api\": host 10.1.2.3 is not loopback; cbload sends only to 127.0.0.1, ::1 and localhost unless --allow-remote CIDR names its range"},
		{[]string{"--target", "svc=http://10.1.2.3:8080/api", "--allow-remote", "10.0.0.0/8", "--breaker-state-url", "/breaker"}, exitOK, "target svc: http://10.1.2.3:8080/api  breaker state http://10.1.2.3:8080/breaker"},
		{[]string{"--target", "svc=http://127.0.0.3:8080/api", "--allow-remote", "127.0.0.2/32"}, exitUsage, "host 127.0.0.3 is another loopback address than 127.0.0.1 and ::1 and not in --allow-remote 127.0.0.2/32"},
		{[]string{"--target", "svc=http://127.0.0.2:8080/api", "--allow-remote", "127.0.0.2", "--collateral", "http://127.0.0.3:8080/local"}, exitUsage, "--collateral: \"http://127.0.0.3:8080/local\": host 127.0.0.3"},
		{[]string{"--target", "svc=http://127.0.0.2:8080/api", "--allow-remote", "0.0.0.0/0"}, exitUsage, `--allow-remote "0.0.0.0/0": allows every address`},
		{[]string{"--allow-remote", "10.0.0.0/8"}, exitUsage, "--allow-remote: only used with --target"},
	} {
		var stdout, stderr bytes.Buffer
		args := append(append([]string{}, base...), tt.args...)
		if !strings.HasPrefix(tt.args[0], "--target") {
			args = append([]string{"run", "--dry-run", "--fault", "latency"}, tt.args...)
		}
		code := run(args, &stdout, &stderr)
		got := stderr.String() + stdout.String()
		if code != tt.code || !strings.Contains(got, tt.want) {
			t.Errorf("%v: exit %d, output %q; want %d and %q", tt.args, code, got, tt.code, tt.want)
		}
	}
}

// TestRequestScenario checks the scenario file's request, expect, tls,
// allow_remote and upstream.tls_dir sections, and that an error in one names
// the file's line.
func TestRequestScenario(t *testing.T) {
	dir := t.TempDir()
	reqs := filepath.Join(dir, "requests.txt")
	if err := os.WriteFile(reqs, []byte("POST /orders\n\n# cbload: collateral\nGET /health\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SCENARIO_TOKEN", "Bearer xyz-secret")
	body := `phases:
  - {name: baseline, duration: 1s}
  - {name: fault, duration: 1s, faults: [latency]}
upstream: {addr: "10.9.9.9:9090", tls_dir: ` + filepath.Join(dir, "tls") + `}
targets: [{name: svc, url: "http://10.1.2.3:8080"}]
request:
  headers: {Accept: application/json}
  header_env: {Authorization: SCENARIO_TOKEN}
  targets_file: ` + reqs + `
expect: ["status=200-299", "json:.source=primary"]
allow_remote: [10.0.0.0/8]
tls: {insecure: true}
`
	path := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--dry-run", "--scenario", path}, &stdout, &stderr)
	out := stdout.String()
	for _, want := range []string{
		"api        POST http://10.1.2.3:8080/orders  headers Accept, Authorization",
		"collateral GET http://10.1.2.3:8080/health  headers Accept, Authorization",
		"expect: json:.source=primary",
		"upstream TLS: created " + filepath.Join(dir, "tls", "upstream-ca.pem") + "; your service must trust it",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if code != exitOK || strings.Contains(out+stderr.String(), "xyz-secret") {
		t.Errorf("exit %d (stderr %q); want 0 and the token nowhere", code, stderr.String())
	}

	bad := strings.Replace(body, `"json:.source=primary"`, `"json:source=primary"`, 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	code = run([]string{"run", "--dry-run", "--scenario", path}, &stdout, &stderr)
	if want := "scenario " + path + ": line 10: expect"; code != exitUsage || !strings.Contains(stderr.String(), want) {
		t.Errorf("bad expect in a scenario: exit %d, %q; want %d and %q", code, stderr.String(), exitUsage, want)
	}
	stderr.Reset()
	code = run([]string{"run", "--dry-run", "--scenario", path, "--expect", "status=ok"}, &stdout, &stderr)
	if want := `--expect "status=ok"`; code != exitUsage || !strings.Contains(stderr.String(), want) {
		t.Errorf("--expect overriding the file: exit %d, %q; want the flag named", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "tls", "upstream-ca.pem")); err != nil {
		t.Errorf("the dry run did not create the upstream's CA for the service to trust: %v", err)
	}
}

// TestSeveralUpstreamsFlags checks --upstream NAME=ADDR with faults named
// by upstream, and the scenario's upstreams and NAME=SPEC faults.
func TestSeveralUpstreamsFlags(t *testing.T) {
	base := []string{"run", "--dry-run", "--target", "svc=http://127.0.0.1:8080/api", "--phases", "1s,2s,1s"}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--upstream", "payments=127.0.0.1:3001", "--upstream", "search=127.0.0.1:3002", "--fault", "payments=latency:1s", "--fault", "search=error:503,rate=0.5"},
			exitOK, "upstream payments: 127.0.0.1:3001 (your service calls it)\nupstream search: 127.0.0.1:3002 (your service calls it)"},
		{[]string{"--upstream", "payments=127.0.0.1:3001", "--upstream", "search=127.0.0.1:3002", "--fault", "payments=latency:1s", "--fault", "search=error:503,rate=0.5"},
			exitOK, "fault           1s – 3s    payments=latency:1s search=error:503,rate=0.5"},
		{[]string{"--upstream", "payments=127.0.0.1:3001", "--upstream", "search=127.0.0.1:3002", "--fault", "latency"}, exitUsage, "say which upstream it is for, like payments=latency:1s"},
		{[]string{"--upstream", "payments=127.0.0.1:3001", "--fault", "billing=latency"}, exitUsage, `fault for upstream "billing": no such upstream`},
		{[]string{"--upstream", "payments", "--fault", "latency"}, exitUsage, `--upstream "payments": want NAME=ADDR`},
		{[]string{"--upstream", "payments=127.0.0.1:3001", "--upstream-addr", "127.0.0.1:3002", "--fault", "latency"}, exitUsage, "not both"},
		{[]string{"--upstream-addr", "127.0.0.1:3002", "--fault", "payments=latency"}, exitUsage, `fault for upstream "payments": no such upstream`},
		{[]string{"--fault", "pay ments=latency", "--upstream-addr", "127.0.0.1:3002"}, exitUsage, `--fault: upstream "pay ments"`},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append(append([]string{}, base...), tt.args...), &stdout, &stderr)
		if got := stdout.String() + stderr.String(); code != tt.code || !strings.Contains(got, tt.want) {
			t.Errorf("%v: exit %d, output %q; want %d and %q", tt.args, code, got, tt.code, tt.want)
		}
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "s.yaml")
	body := `upstreams: {payments: "127.0.0.1:3001", search: "127.0.0.1:3002"}
targets: [{name: svc, url: "http://127.0.0.1:8080/api"}]
phases:
  - {name: baseline, duration: 1s}
  - {name: fault, duration: 2s, faults: ["payments=latency:1s", "search=refuse"]}
`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--dry-run", "--scenario", path}, &stdout, &stderr)
	if want := "payments=latency:1s search=refuse"; code != exitOK || !strings.Contains(stdout.String(), want) || !strings.Contains(stdout.String(), "upstream search: 127.0.0.1:3002") {
		t.Errorf("scenario with upstreams: exit %d, %q %q; want %q", code, stdout.String(), stderr.String(), want)
	}
	bad := strings.Replace(body, `"search=refuse"`, `"billing=refuse"`, 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	code = run([]string{"run", "--dry-run", "--scenario", path}, &stdout, &stderr)
	if want := "line 5: phases[1] (fault): fault for upstream \"billing\": no such upstream"; code != exitUsage || !strings.Contains(stderr.String(), want) {
		t.Errorf("scenario with a fault for an unknown upstream: exit %d, %q; want %q", code, stderr.String(), want)
	}
}

// TestServeAllowRemote checks that cbload serve follows cbload run's rule
// for its listeners and --proxy-to: this machine's loopback, other
// addresses only with --allow-remote, every interface never.
func TestServeAllowRemote(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--addr", "0.0.0.0:8081"}, `--addr "0.0.0.0:8081": every interface: name one address`},
		{[]string{"--addr", ":8081"}, `--addr ":8081": every interface`},
		{[]string{"--addr", "127.0.0.1:0", "--control-addr", "[::]:0"}, `--control-addr "[::]:0": every interface`},
		{[]string{"--addr", "10.0.0.5:8081"}, `--addr "10.0.0.5:8081": host 10.0.0.5 is not loopback; cbload sends only to 127.0.0.1, ::1 and localhost unless --allow-remote`},
		{[]string{"--addr", "127.0.0.1:0", "--proxy-to", "http://127.0.0.3:9000"}, `--proxy-to "http://127.0.0.3:9000": host 127.0.0.3 is another loopback address`},
		{[]string{"--addr", "127.0.0.1:0", "--proxy-to", "http://127.0.0.3:9000", "--allow-remote", "127.0.0.2/32"}, "not in --allow-remote 127.0.0.2/32"},
		{[]string{"--addr", "127.0.0.1:0", "--proxy-to", "http://backend.internal:9000"}, "host backend.internal is not loopback"},
		{[]string{"--addr", "127.0.0.1:0", "--allow-remote", "0.0.0.0/0"}, "allows every address"},
	} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"serve", "--control-addr", ""}, tt.args...)
		if slices.Contains(tt.args, "--control-addr") {
			args = append([]string{"serve"}, tt.args...)
		}
		code := run(args, &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("serve %v: exit %d, %q; want %d and %q", tt.args, code, stderr.String(), exitUsage, tt.want)
		}
		stderr.Reset()
	}

	// Allowed: proxying to a backend on 127.0.0.2, dialled through the
	// allow list.
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "backend") }))
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	backend.Listener = ln
	backend.Start()
	defer backend.Close()
	upstream, _, _ := startServe(t, "--proxy-to", backend.URL, "--allow-remote", "127.0.0.2/32")
	resp, err := http.Get(upstream + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "backend" {
		t.Errorf("through the proxy: %q; want the backend's answer", b)
	}
}

// TestUpstreamGRPCFlag checks --upstream-grpc and the scenario's
// upstream.grpc: gRPC faults taken, HTTP-only kinds refused naming the
// fault and the flag, and the flag kept to --target runs.
func TestUpstreamGRPCFlag(t *testing.T) {
	base := []string{"run", "--dry-run", "--target", "svc=http://127.0.0.1:8080/api", "--phases", "1s,2s,1s", "--upstream-addr", "127.0.0.1:50051"}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--upstream-grpc", "--fault", "grpc-error:UNAVAILABLE,rate=0.5"}, exitOK, "upstream: 127.0.0.1:50051 (gRPC; your service calls it)"},
		{[]string{"--upstream-grpc", "--fault", "latency:1s"}, exitOK, "fault           1s – 3s    latency:1s"},
		{[]string{"--upstream-grpc", "--fault", "garbage"}, exitUsage, `fault "garbage:64B": garbage is an HTTP fault, and --upstream-grpc serves gRPC; it takes latency, hang, reset, slowdown, truncate, grpc-error`},
		{[]string{"--fault", "grpc-error:DEADLINE_EXCEEDED"}, exitUsage, "needs a gRPC upstream: give --upstream-grpc"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append(append([]string{}, base...), tt.args...), &stdout, &stderr)
		if got := stdout.String() + stderr.String(); code != tt.code || !strings.Contains(got, tt.want) {
			t.Errorf("%v: exit %d, output %q; want %d and %q", tt.args, code, got, tt.code, tt.want)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", "--dry-run", "--upstream-grpc", "--fault", "latency"}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "--upstream-grpc: only used with --target") {
		t.Errorf("--upstream-grpc without --target: exit %d, %q; want %d naming the flag", code, stderr.String(), exitUsage)
	}

	path := filepath.Join(t.TempDir(), "s.yaml")
	body := `upstream: {addr: "127.0.0.1:50051", grpc: true}
targets: [{name: svc, url: "http://127.0.0.1:8080/api"}]
phases:
  - {name: baseline, duration: 1s}
  - {name: fault, duration: 2s, faults: ["grpc-error:RESOURCE_EXHAUSTED"]}
`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"run", "--dry-run", "--scenario", path}, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "(gRPC; your service calls it)") {
		t.Errorf("scenario with upstream.grpc: exit %d, %q %q; want a gRPC upstream", code, stdout.String(), stderr.String())
	}
}

// TestTargetClientTimeoutDefault checks the load runner's timeout against
// a user's service: 15 s by default, past a service's own 1, 3, 5 or 10 s
// timeout, and whatever --client-timeout says when given; cbload's own
// gateway keeps its 3 s default. A target at the upstream's own address is
// refused.
func TestTargetClientTimeoutDefault(t *testing.T) {
	target := []string{"run", "--dry-run", "--fault", "latency", "--upstream-addr", "127.0.0.1:9", "--target", "svc=http://127.0.0.1:8080/api"}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{target, exitOK, "client timeout 15s"},
		{append(append([]string{}, target...), "--client-timeout", "4s"), exitOK, "client timeout 4s"},
		{[]string{"run", "--dry-run", "--fault", "latency"}, exitOK, "client timeout 3s"},
		{[]string{"run", "--dry-run", "--fault", "latency", "--upstream-addr", "127.0.0.1:8080", "--target", "svc=http://localhost:8080/api"}, exitUsage, "is cbload's own upstream (--upstream-addr 127.0.0.1:8080)"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tt.args, &stdout, &stderr)
		if got := stderr.String() + stdout.String(); code != tt.code || !strings.Contains(got, tt.want) {
			t.Errorf("%v: exit %d, output %q; want %d and %q", tt.args, code, got, tt.code, tt.want)
		}
	}
}

// TestScenarioStateMetric checks that a scenario carries the Prometheus
// state selector as it carries the state URL: breaker_state_metric and
// breaker_state_map reach the plan, and a map without a metric is refused
// as the flag is.
func TestScenarioStateMetric(t *testing.T) {
	scen := writeScenario(t, "targets: [{name: svc, url: http://127.0.0.1:8080/api}]\nbreaker_state_url: /actuator/prometheus\n"+
		"breaker_state_metric: 'resilience4j_circuitbreaker_state{name=\"backend\"}'\nbreaker_state_map: label:state\n"+
		"upstream: {addr: 127.0.0.1:9}\nphases: [{name: b, duration: 1s}, {name: f, duration: 2s, faults: [hang]}, {name: r, duration: 1s}]\n")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", "--dry-run", "--scenario", scen}, &stdout, &stderr); code != exitOK {
		t.Fatalf("dry run = exit %d: %s", code, stderr.String())
	}
	if want := `breaker state http://127.0.0.1:8080/actuator/prometheus (Prometheus series resilience4j_circuitbreaker_state{name="backend"})`; !strings.Contains(stdout.String(), want) {
		t.Errorf("plan %q; want %q", stdout.String(), want)
	}
	scen = writeScenario(t, "targets: [{name: svc, url: http://127.0.0.1:8080/api}]\nbreaker_state_url: /state\nbreaker_state_map: label:state\n"+
		"upstream: {addr: 127.0.0.1:9}\nphases: [{name: f, duration: 2s, faults: [hang]}]\n")
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"run", "--dry-run", "--scenario", scen}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "line 3: breaker_state_map: only used with --breaker-state-metric") {
		t.Errorf("a map without a metric = exit %d, %q; want exit %d saying so", code, stderr.String(), exitUsage)
	}
}
