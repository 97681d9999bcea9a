package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeScenario(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestScenarioErrors feeds scenario files with typical mistakes: each must
// exit 2 with one line naming the line and the field.
func TestScenarioErrors(t *testing.T) {
	const phases = "phases:\n  - {name: baseline, duration: 1s}\n  - {name: fault, duration: 1s, faults: [latency]}\n"
	tests := []struct {
		name, body, want string
	}{
		{"unknown top-level field", "seed: 1\nthreshold: [x]\n", `line 2: unknown field "threshold" in the top level; want one of: description, seed, trials, arm_mode, load`},
		{"unknown nested field", "load:\n  rate: 10\n  rps: 5\n", `line 3: unknown field "rps" in load; want one of: rate, collateral_share, client_timeout`},
		{"unknown tracing field", "tracing:\n  sampler: 0.1\n", `line 2: unknown field "sampler" in tracing; want one of: otlp_endpoint, otlp_protocol, sample, jaeger_url`},
		{"bad trace sample", "phases:\n  - {name: a, duration: 1s, faults: [hang]}\ntracing:\n  sample: lots\n", `line 4: tracing.sample "lots": want a fraction in [0,1] like 0.1, or auto`},
		{"bad otlp protocol", "phases:\n  - {name: a, duration: 1s, faults: [hang]}\ntracing:\n  otlp_protocol: udp\n", `line 4: tracing.otlp_protocol`},
		{"unknown phase field", "phases:\n  - {name: a, duration: 1s, fault: [hang]}\n", `line 2: unknown field "fault" in a phase; want one of: name, duration, faults, repeat, phases`},
		{"unknown target field", "targets:\n  - {name: a, url: http://127.0.0.1:1/, colateral: /x}\n", `line 2: unknown field "colateral" in a target`},
		{"mistyped number", "load:\n  rate: fast\n", `line 2: load.rate: "fast" is a string; want a number`},
		{"mistyped int", "gateway:\n  workers: 1.5\n", `line 2: gateway.workers: "1.5" is not a whole number`},
		{"mistyped list", "arms: breaker\n", `line 1: arms: "breaker" is a string; want a list`},
		{"bad duration", "gateway:\n\n  call_timeout: 500\n", `line 3: gateway.call_timeout: "500" is not a duration; want a Go duration like 250ms or 2s`},
		{"bad fault", "phases:\n  - name: fault\n    duration: 2s\n    faults:\n      - latncy\n", `line 5: phases[0].faults[0]: fault spec "latncy": unknown kind`},
		{"two errors", "load:\n  rate: x\n  share: 1\n", `line 2: load.rate: "x" is a string; want a number (and 1 more)`},
		{"syntax", "load: [\n", "line 1: did not find expected node content"},
		{"negative count", "breaker:\n  max_requests: -1\n", `line 2: breaker.max_requests: "-1" is not a whole number from 0 to 4294967295`},
		{"empty", "", "the file is empty"},
		{"repeat with name", "phases:\n  - {name: x, repeat: 2, phases: [{name: a, duration: 1s}]}\n", "phases[0] (line 2): a repeat group has only repeat and phases"},
		{"nested repeat", "phases:\n  - repeat: 2\n    phases:\n      - repeat: 2\n        phases: [{name: a, duration: 1s}]\n", "repeat groups do not nest"},
		{"repeat zero", "phases:\n  - repeat: 0\n    phases: [{name: a, duration: 1s}]\n", "repeat 0: want a count from 1 to 1000"},
		{"phase name", "phases:\n  - {name: 'fault 1', duration: 1s}\n", `name "fault 1": want a letter followed by`},
		{"phase name reserved", "phases:\n  - {name: figures, duration: 1s}\n", `name "figures" is reserved`},
		{"phase without duration", "phases:\n  - {name: a}\n", "phases[0] (line 2) (a): duration is required"},
		{"repeated names collide", "phases:\n  - {name: a-1, duration: 1s}\n  - repeat: 1\n    phases: [{name: a, duration: 1s, faults: [hang]}]\n", `"a-1" is used twice`},
		{"threshold path", phases + "thresholds:\n  - breaker.fault.api.sucess_ratio >= 99%\n", `line 5: threshold "breaker.fault.api.sucess_ratio >= 99%": unknown path`},
		{"threshold on a repeat's base name", "phases:\n  - repeat: 2\n    phases: [{name: down, duration: 1s, faults: [hang]}]\nthresholds: [breaker.down.api.requests > 0]\n", "down-1, down-2"},
		{"target not loopback", phases + "upstream: {addr: 127.0.0.1:9}\ntargets:\n  - {name: a, url: http://example.com/api}\n", "line 6: targets[0].url: \"http://example.com/api\": host example.com is not loopback"},
		{"target with arms", phases + "upstream: {addr: 127.0.0.1:9}\narms: [breaker]\ntargets:\n  - {name: a, url: http://127.0.0.1:1/api}\n", "line 5: arms: not used with --target"},
		{"target without upstream", phases + "targets:\n  - {name: a, url: http://127.0.0.1:1/api}\n", "--upstream-addr: required with --target"},
		{"target reserved name", phases + "upstream: {addr: 127.0.0.1:9}\ntargets:\n  - {name: verdict, url: http://127.0.0.1:1/api}\n", `"verdict": reserved`},
		{"progress", phases + "output: {progress: sometimes}\n", `line 4: output.progress "sometimes": want auto, always or never`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run([]string{"run", "--scenario", writeScenario(t, tt.body), "--dry-run"}, &stdout, &stderr)
			msg := strings.TrimSpace(stderr.String())
			if code != exitUsage || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("scenario %q = exit %d, stderr %q; want exit %d and one line containing %q", tt.body, code, msg, exitUsage, tt.want)
			}
		})
	}
}

// TestScenarioFlagsOverride checks that flags given on the command line win
// over the file, lists included, and that the rest of the file applies.
func TestScenarioFlagsOverride(t *testing.T) {
	s := writeScenario(t, `
description: override test
seed: 9
load: {rate: 10, collateral_share: 0.5, client_timeout: 4s}
gateway: {workers: 4}
phases:
  - {name: warm, duration: 2s}
  - repeat: 2
    phases:
      - {name: down, duration: 1s, faults: [hang]}
      - {name: up, duration: 1s}
thresholds: [breaker.down-2.api.requests > 0]
tracing: {otlp_endpoint: "http://127.0.0.1:4318", otlp_protocol: http/protobuf, sample: 0.25}
`)
	tests := []struct {
		args []string
		want []string
	}{
		{nil, []string{"scenario " + s + ": override test", "load: 10 req/s, collateral share 0.5, client timeout 4s, seed 9",
			"gateway: 4 workers", "down-1", "up-2", "hang", "breaker.down-2.api.requests > 0", "(6s per arm)",
			"tracing: http://127.0.0.1:4318 (http/protobuf), sample 0.25"}},
		{[]string{"--trace-sample", "0.5", "--otlp-protocol", "grpc"}, []string{"tracing: http://127.0.0.1:4318 (grpc), sample 0.5"}},
		{[]string{"--rate", "20", "--seed", "3", "--gateway-workers", "6"}, []string{"load: 20 req/s, collateral share 0.5, client timeout 4s, seed 3", "gateway: 6 workers"}},
		{[]string{"--fault", "error:503"}, []string{"  down-1          2s – 3s    error:503\n", "  down-2          4s – 5s    error:503\n"}},
		{[]string{"--phases", "1s,3s,1s", "--threshold", "no-breaker.fault.api.requests > 1"}, []string{"  fault           1s – 4s    hang\n", "(5s per arm)", "thresholds:\n  no-breaker.fault.api.requests > 1\ndry run"}},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"run", "--scenario", s, "--dry-run"}, tt.args...), &stdout, &stderr)
		if code != exitOK {
			t.Errorf("--scenario with %q = exit %d: %s", tt.args, code, stderr.String())
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(stdout.String(), w) {
				t.Errorf("--scenario with %q: plan lacks %q:\n%s", tt.args, w, stdout.String())
			}
		}
	}
}

// TestScenarioFieldMistakes feeds every field of a scenario file its typical
// mistakes: negative, zero, huge, wrong unit, empty, wrong type, unknown key.
// Each must exit 2 with one line that names the line and the field — found
// while decoding or only when the values are checked together.
func TestScenarioFieldMistakes(t *testing.T) {
	// A case puts value at path, in block style, so the field's line is the
	// number of path segments. The message must name the line and the
	// field, and say want.
	tests := []struct {
		path, value, want string
	}{
		{"description", "{a: 1}", "got a mapping; want a string"},
		{"seed", "1.5", `"1.5" is not a whole number`},
		{"seed", `""`, "not a whole number"},
		{"seed", "99999999999999999999", "too large"},
		{"seed", "seven", "not a whole number"},
		{"load.rate", "-5", "-5 must be positive"},
		{"load.rate", "0", "0 must be positive"},
		{"load.rate", "1e9", "1e+09 is more than"},
		{"load.rate", ".nan", "NaN must be positive"},
		{"load.rate", "200rps", `"200rps" is a string; want a number`},
		{"load.rate", `""`, "want a number"},
		{"load.rate", "[200]", "got a list; want a number"},
		{"load.rps", "200", `unknown field "rps" in load`},
		{"load.collateral_share", "-0.1", "must be in [0, 1)"},
		{"load.collateral_share", "1", "must be in [0, 1)"},
		{"load.collateral_share", "20%", "want a number"},
		{"load.collateral_share", ".nan", "must be in [0, 1)"},
		{"load.client_timeout", "-1s", "must be positive"},
		{"load.client_timeout", "0s", "must be positive"},
		{"load.client_timeout", "2h", "2h0m0s must be positive and at most 1h0m0s"},
		{"load.client_timeout", "3", "not a duration"},
		{"load.client_timeout", "3 seconds", "not a duration"},
		{"load.client_timeout", "100000000h", "not a duration"},
		{"load.client_timeout", "1s", "must exceed 1s + 500ms (1.5s)"},
		{"load.client_timeout", `""`, "not a duration"},
		{"gateway.workers", "-1", "must be between 1 and 100000"},
		{"gateway.workers", "0", "must be between 1 and 100000"},
		{"gateway.workers", "1000000", "must be between 1 and 100000"},
		{"gateway.workers", "32.5", "not a whole number"},
		{"gateway.workers", `""`, "not a whole number"},
		{"gateway.worker", "32", `unknown field "worker" in gateway`},
		{"gateway.queue_timeout", "0s", "must be positive"},
		{"gateway.queue_timeout", "-1s", "must be positive"},
		{"gateway.queue_timeout", "1", "not a duration"},
		{"gateway.call_timeout", "-500ms", "must be positive"},
		{"gateway.call_timeout", "500", "not a duration"},
		{"gateway.local_work", "-1ms", "-1ms must be between 0 and 1h0m0s"},
		{"gateway.local_work", "1", "not a duration"},
		{"gateway.tiers", "0", "tiers: 0 must be between 1 and 5"},
		{"arm_mode", "parallel", `line 1: arm_mode: "parallel"; want sequential or concurrent`},
		{"arm_mode", "[concurrent]", "got a list; want a string"},
		{"gateway.tiers", "2.5", "not a whole number"},
		{"gateway.retries", "11", "retries: 11 must be between 0 and 10"},
		{"gateway.retry_backoff", "-1ms", "retry_backoff: -1ms must be between 0"},
		{"gateway.retry_backoff", "10", "not a duration"},
		{"retry_budget.ratio", "ten", `"ten" is not a share; want a percentage like 10% or a fraction like 0.1`},
		{"retry_budget.ratio", "0", "retry_budget.ratio: 0 must be a share of requests in (0, 1]"},
		{"retry_budget.ratio", "150%", "retry_budget.ratio: 1.5 must be a share of requests in (0, 1]"},
		{"retry_budget.window", "1ms", "retry_budget.window: 1ms must be between 1s and 1h"},
		{"retry_budget.share", "10%", `unknown field "share" in retry_budget; want one of: ratio, window`},
		{"throttle.k", "0.5", "throttle.k: 0.5 must be between 1 and 10"},
		{"throttle.k", "two", "want a number"},
		{"throttle.window", "0s", "throttle.window: 0s must be between 1s and 1h"},
		{"throttle.K", "2", `unknown field "K" in throttle; want one of: k, window`},
		{"upstream.concurrency", "-4", "upstream.concurrency: -4 must be between 0 (unbounded) and 100000"},
		{"upstream.concurrency", "4.5", "not a whole number"},
		{"upstream.queue", "5", "upstream.queue: needs upstream-concurrency above 0"},
		{"upstream.honor_cancel", "maybe", "want"},
		{"breaker.timeout", "0s", "must be at least 50ms"},
		{"breaker.timeout", "20ms", "must be at least 50ms"},
		{"breaker.timeout", "2", "not a duration"},
		{"breaker.max_requests", "0", "0 must be between 1 and 1000000"},
		{"breaker.min_requests", "2000000", "2000000 must be between 0 and 1000000"},
		{"breaker.max_requests", "-1", "not a whole number from 0 to 4294967295"},
		{"breaker.max_requests", "4294967296", "not a whole number from 0 to 4294967295"},
		{"breaker.max_requests", "three", "not a whole number"},
		{"breaker.interval", "-1s", "-1s must be between 0 (keep counts until the state changes) and 1h0m0s"},
		{"breaker.timeout", "2h", "2h0m0s must be at most 1h0m0s"},
		{"breaker.interval", "10", "not a duration"},
		{"breaker.bucket_period", "1m", "must be between 0 and breaker-interval"},
		{"breaker.bucket_period", "-1s", "must be between 0 and breaker-interval"},
		{"breaker.consecutive_failures", "-5", "not a whole number"},
		{"breaker.consecutive_failures", "5.5", "not a whole number"},
		{"breaker.failure_ratio", "-0.5", "must be in [0, 1]"},
		{"breaker.failure_ratio", "50%", "want a number"},
		{"breaker.failure_ratio", "1.5", "must be in [0, 1]"},
		{"breaker.failure_ratio", ".nan", "must be in [0, 1]"},
		{"breaker.min_requests", "-1", "not a whole number"},
		{"breaker.min_request", "20", `unknown field "min_request" in breaker`},
		{"upstream.service_time", "-1ms", "must be positive"},
		{"upstream.service_time", "0s", "use 1us for a near-instant upstream"},
		{"upstream.service_time", "2", "not a duration"},
		{"upstream.jitter", "-1ms", "-1ms must be between 0 and 1h0m0s"},
		{"upstream.service_time", "2h", "2h0m0s must be at most 1h0m0s"},
		{"upstream.addr", "127.0.0.1:9090", "only used with --target"},
		{"upstream.addr", "[1]", "got a list; want a string"},
		{"arms", "[breakr]", `unknown arm "breakr"`},
		{"arms", "[]", "need at least one"},
		{"arms", "[breaker, breaker]", "listed twice"},
		{"arms", "breaker", "want a list"},
		{"collateral", "/local", "only used with --target"},
		{"breaker_state_url", "/breaker", "only used with --target"},
		{"thresholds", "breaker.fault.api.requests > 0", "want a list"},
		{"output.progress", "sometimes", "want auto, always or never"},
		{"output.progress", `""`, "want auto, always or never"},
		{"output.force", "maybe", "want true or false"},
		{"output.step_summary", "1", "want true or false"},
		{"output.dir", "[a]", "want a string"},
		{"output.junit", "{a: 1}", "want a string"},
		{"output.format", "md", `unknown field "format" in output`},
		{"threshold", "[x]", `unknown field "threshold" in the top level`},
	}
	for _, tt := range tests {
		keys := strings.Split(tt.path, ".")
		var body strings.Builder
		for i, k := range keys {
			body.WriteString(strings.Repeat("  ", i) + k + ":")
			if i == len(keys)-1 {
				body.WriteString(" " + tt.value)
			}
			body.WriteString("\n")
		}
		field := fmt.Sprintf("line %d: %s", len(keys), tt.path)
		if strings.HasPrefix(tt.want, "unknown field") {
			field = fmt.Sprintf("line %d: %s", len(keys), tt.want)
		}
		t.Run(tt.path+"="+tt.value, func(t *testing.T) {
			checkScenarioError(t, body.String(), field, "--fault", "latency")
			checkScenarioError(t, body.String(), tt.want, "--fault", "latency")
		})
	}
}

// TestScenarioListMistakes covers the fields inside lists: phases and
// targets, with the line of the entry or of the value.
func TestScenarioListMistakes(t *testing.T) {
	const up = "upstream: {addr: 127.0.0.1:9}\n"
	const phases = "phases:\n  - {name: baseline, duration: 1s}\n  - {name: fault, duration: 1s, faults: [latency]}\n"
	tests := []struct {
		name, body, want string
	}{
		{"phases empty", "phases: []\n", "phases is empty"},
		{"phases not a list", "phases: baseline\n", `line 1: phases: "baseline" is a string; want a list`},
		{"phase unknown key", "phases:\n  - {name: a, duration: 1s, fautls: [hang]}\n", `line 2: unknown field "fautls" in a phase`},
		{"phase name empty", "phases:\n  - {name: '', duration: 1s}\n", "phases[0] (line 2): name is required"},
		{"phase name missing", "phases:\n  - {duration: 1s}\n", "phases[0] (line 2): name is required"},
		{"phase duration zero", "phases:\n  - {name: a, duration: 0s}\n", "phases[0] (line 2) (a): duration is required"},
		{"phase duration negative", "phases:\n  - {name: a, duration: 1s}\n  - {name: b, duration: -1s, faults: [hang]}\n", "line 3: phases[1] (b): duration -1s is too short"},
		{"phase duration fraction", "phases:\n  - {name: a, duration: 1500ms, faults: [hang]}\n", "line 2: phases[0] (a): duration 1.5s must be a whole number of seconds"},
		{"phase duration unit", "phases:\n  - name: a\n    duration: 5\n", `line 3: phases[0].duration: "5" is not a duration`},
		{"phase duration huge", "phases:\n  - {name: a, duration: 2000000h, faults: [hang]}\n  - {name: b, duration: 2000000h}\n", "line 2: phases[0] (a): duration 2000000h0m0s makes the schedule longer than the limit of 1h0m0s per arm"},
		{"phase duration empty", "phases:\n  - name: a\n    duration: ''\n", `line 3: phases[0].duration: "" is not a duration`},
		{"phase faults not a list", "phases:\n  - name: a\n    duration: 1s\n    faults: hang\n", `line 4: phases[0].faults: "hang" is a string; want a list`},
		{"phase fault empty", "phases:\n  - name: a\n    duration: 1s\n    faults: ['']\n", `line 4: phases[0].faults[0]: fault spec "": empty`},
		{"phase fault bad arg", "phases:\n  - name: a\n    duration: 1s\n    faults: ['latency:-1s']\n", `line 4: phases[0].faults[0]: fault spec "latency:-1s"`},
		{"phase fault rate", "phases:\n  - name: a\n    duration: 1s\n    faults: ['error:503,rate=2']\n", `line 4: phases[0].faults[0]: fault spec "error:503,rate=2"`},
		{"phase fault not a string", "phases:\n  - name: a\n    duration: 1s\n    faults: [{kind: hang}]\n", "line 4: a fault is a spec string"},
		{"repeat negative", "phases:\n  - repeat: -1\n    phases: [{name: a, duration: 1s}]\n", "repeat -1: want a count from 1 to 1000"},
		{"repeat huge", "phases:\n  - repeat: 1001\n    phases: [{name: a, duration: 1s}]\n", "repeat 1001: want a count from 1 to 1000"},
		{"repeat not a number", "phases:\n  - repeat: twice\n    phases: [{name: a, duration: 1s}]\n", `line 2: phases[0].repeat: "twice" is not a whole number`},
		{"repeat without phases", "phases:\n  - repeat: 2\n", "phases[0] (line 2): a repeat group needs phases"},
		{"threshold empty", phases + "thresholds: ['']\n", `line 4: threshold "": empty`},
		{"threshold unknown key", phases + "thresholds: [{a: 1}]\n", `line 4: unknown field "a" in a threshold; want an expression, or a mapping like {check: `},
		{"threshold without check", phases + "thresholds: [{abort_on_fail: true}]\n", "line 4: a threshold mapping needs check: the expression"},
		{"threshold abort not a bool", phases + "thresholds:\n  - {check: 'breaker.fault.api.requests > 0', abort_on_fail: yes}\n", `line 5: thresholds[0].abort_on_fail: "yes": want true or false`},
		{"threshold a list", phases + "thresholds: [[a]]\n", "line 4: want an expression, or a mapping"},
		{"threshold mapping bad path", phases + "thresholds:\n  - {check: 'breaker.fault.api.sucess_ratio >= 99%', abort_on_fail: true}\n", `line 5: threshold "breaker.fault.api.sucess_ratio >= 99%": unknown path`},
		{"target unknown key", up + "targets:\n  - {name: a, url: http://127.0.0.1:1/api, urls: x}\n", `line 3: unknown field "urls" in a target`},
		{"target without url", phases + up + "targets:\n  - {name: a}\n", "line 6: targets[0]: name and url are required"},
		{"target name", phases + up + "targets:\n  - {name: 1a, url: http://127.0.0.1:1/api}\n", `line 6: targets[0].name "1a": want a letter`},
		{"target name twice", phases + up + "targets:\n  - {name: a, url: http://127.0.0.1:1/api}\n  - {name: a, url: http://127.0.0.1:2/api}\n", `line 7: targets[1].name "a": used twice`},
		{"target url", phases + up + "targets:\n  - {name: a, url: 127.0.0.1:1/api}\n", "line 6: targets[0].url: "},
		{"target collateral", phases + up + "targets:\n  - {name: a, url: http://127.0.0.1:1/api, collateral: local}\n", "line 6: targets[0].collateral: "},
		{"target state url", phases + up + "targets:\n  - {name: a, url: http://127.0.0.1:1/api, breaker_state_url: 'http://10.0.0.1/b'}\n", "line 6: targets[0].breaker_state_url: "},
		{"targets not a list", phases + up + "targets: http://127.0.0.1:1/api\n", "line 5: targets: "},
		{"upstream addr no port", phases + "upstream: {addr: 127.0.0.1}\ntargets:\n  - {name: a, url: http://127.0.0.1:1/api}\n", `line 4: upstream.addr: "127.0.0.1": want a loopback host:port`},
		{"upstream addr port", phases + "upstream:\n  addr: 127.0.0.1:99999\ntargets:\n  - {name: a, url: http://127.0.0.1:1/api}\n", `line 5: upstream.addr: "127.0.0.1:99999": port "99999"`},
		{"upstream addr not loopback", phases + "upstream:\n  addr: 10.0.0.1:80\ntargets:\n  - {name: a, url: http://127.0.0.1:1/api}\n", `line 5: upstream.addr: "10.0.0.1:80": host 10.0.0.1 is not loopback`},
		{"collateral", phases + up + "collateral: local\ntargets:\n  - {name: a, url: http://127.0.0.1:1/api}\n", "line 5: collateral: "},
		{"breaker state url", phases + up + "breaker_state_url: 'ftp://127.0.0.1/b'\ntargets:\n  - {name: a, url: http://127.0.0.1:1/api}\n", "line 5: breaker_state_url: "},
		{"junit folder", phases + "output: {junit: /}\n", "line 4: output.junit /: is a folder"},
		{"not a mapping", "- a\n- b\n", `line 1: got a list; want a mapping`},
		{"a bare word", "hello\n", `line 1: "hello" is a string; want a mapping`},
		{"tabs", "load:\n\trate: 1\n", "line 2: found character that cannot start any token"},
		{"duplicate key", "load:\n  rate: 1\n  rate: 2\n", `mapping key "rate" already defined`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkScenarioError(t, tt.body, tt.want)
		})
	}
}

// checkScenarioError runs `cbload run --dry-run` on a scenario file with
// body and wants exit 2 and one line containing want.
func checkScenarioError(t *testing.T, body, want string, args ...string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"run", "--scenario", writeScenario(t, body), "--dry-run"}, args...), &stdout, &stderr)
	msg := strings.TrimSpace(stderr.String())
	if code != exitUsage || !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
		t.Errorf("scenario %q = exit %d, stderr %q; want exit %d and one line containing %q", body, code, msg, exitUsage, want)
	}
}

// TestLimits asks for more than each documented limit, in a scenario file
// and with flags: each must exit 2 with one line naming the field and the
// limit. A huge repeat is refused before it is expanded.
func TestLimits(t *testing.T) {
	phases := func(n int, faults int) string {
		var b strings.Builder
		b.WriteString("phases:\n")
		f := strings.TrimSuffix(strings.Repeat("hang, ", faults), ", ")
		for i := range n {
			fmt.Fprintf(&b, "  - {name: p%d, duration: 1s, faults: [%s]}\n", i, f)
		}
		return b.String()
	}
	repeat := func(times, n int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "phases:\n  - {name: warm, duration: 1s}\n  - repeat: %d\n    phases:\n", times)
		for i := range n {
			fmt.Fprintf(&b, "      - {name: p%d, duration: 1s, faults: [hang]}\n", i)
		}
		return b.String()
	}
	list := func(key, item string, n int) string {
		return phases(1, 1) + key + ":\n" + strings.Repeat("  - "+item+"\n", n)
	}
	up := "upstream: {addr: 127.0.0.1:9}\n"
	tests := []struct {
		name, body, want string
	}{
		{"repeat × phases", repeat(1000, 300), "line 3: phases[1].repeat: 1000 × 300 phases make 300000 phases; the limit is 200 phases in all, after repeat"},
		{"repeat × phases just over", repeat(100, 2), "line 3: phases[1]: the phases up to here make 201 phases; the limit is 200"},
		{"phases", phases(201, 1), "line 202: phases[200]: the phases up to here make 201 phases; the limit is 200"},
		{"phases after repeat", "phases:\n  - repeat: 150\n    phases: [{name: a, duration: 1s, faults: [hang]}]\n  - repeat: 60\n    phases: [{name: b, duration: 1s}]\n", "line 4: phases[1]: the phases up to here make 210 phases; the limit is 200"},
		{"faults", phases(1, 17), "line 2: phases[0].faults: 17 faults in one phase; the limit is 16"},
		{"faults in a repeat", "phases:\n  - repeat: 2\n    phases:\n      - {name: a, duration: 1s, faults: [" + strings.TrimSuffix(strings.Repeat("hang, ", 17), ", ") + "]}\n", "phases[0].phases[0].faults: 17 faults in one phase; the limit is 16"},
		{"thresholds", list("thresholds", "breaker.p0.api.requests > 0", 101), "thresholds: 101 thresholds; the limit is 100"},
		{"targets", up + list("targets", "{name: a, url: 'http://127.0.0.1:1/'}", 9), "targets: 9 targets; the limit is 8"},
		{"headers", "request:\n  headers:\n" + headerLines(101), "request.headers: 101 headers (headers and header_env together); the limit is 100"},
		{"expect", list("expect", "status=200", 101), "expect: 101 checks; the limit is 100"},
		{"duration", "phases:\n  - {name: a, duration: 50m, faults: [hang]}\n  - {name: b, duration: 11m}\n", "line 3: phases[1] (b): duration 11m0s makes the schedule longer than the limit of 1h0m0s per arm"},
		{"duration in a repeat", "phases:\n  - repeat: 100\n    phases: [{name: a, duration: 1m, faults: [hang]}]\n", "line 3: phases[60] (a-61): duration 1m0s makes the schedule longer than the limit of 1h0m0s"},
		{"file size", "description: " + strings.Repeat("x", 1<<20) + "\n", "the file is larger than the 1 MiB limit for scenario files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkScenarioError(t, tt.body, tt.want)
		})
	}

	flags := func(flag, value string, n int) []string {
		var out []string
		for range n {
			out = append(out, flag, value)
		}
		return out
	}
	flagTests := []struct {
		name string
		args []string
		want string
	}{
		{"--fault", flags("--fault", "hang", 17), "--fault: given 17 times; the limit is 16 faults in one phase"},
		{"--threshold", append(flags("--threshold", "breaker.fault.api.requests > 0", 101), "--fault", "hang"), "--threshold: given 101 times; the limit is 100 thresholds"},
		{"--target", append(flags("--target", "a=http://127.0.0.1:1/", 9), "--fault", "hang", "--upstream-addr", "127.0.0.1:9"), "--target: given 9 times; the limit is 8 targets"},
		{"--header", append(flags("--header", "X-A: v", 101), "--fault", "hang"), "--header: given 101 times; the limit is 100 headers (--header and --header-env together)"},
		{"--header-env", append(append(flags("--header", "X-A: v", 50), flags("--header-env", "X-B=HOME", 51)...), "--fault", "hang"), "--header, --header-env: given 101 times; the limit is 100 headers"},
		{"--expect", append(flags("--expect", "status=200", 101), "--fault", "hang"), "--expect: given 101 times; the limit is 100 checks"},
		{"--phases", []string{"--fault", "hang", "--phases", "1s,3600s,1s"}, `--phases "1s,3600s,1s": phases[1] (fault): duration 1h0m0s makes the schedule longer than the limit of 1h0m0s per arm`},
	}
	for _, tt := range flagTests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"run", "--dry-run"}, tt.args...), &stdout, &stderr)
			msg := strings.TrimSpace(stderr.String())
			if code != exitUsage || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("run %s ×n = exit %d, stderr %q; want exit %d and one line containing %q", tt.name, code, msg, exitUsage, tt.want)
			}
		})
	}
}

// TestScenarioDocuments checks that a scenario file is exactly one YAML
// document: a second one is an error, even an empty one or one that would
// itself be wrong, and an empty first document is not read as "no settings".
func TestScenarioDocuments(t *testing.T) {
	tests := []struct{ body, want string }{
		{"seed: 1\n---\nseed: 2\n", "line 2: a second YAML document (after ---); a scenario file holds one document"},
		{"seed: 1\n---\nfoo: 2\n", "line 2: a second YAML document"},
		{"---\n---\nseed: 1\n", "line 2: a second YAML document"},
		{"---\nseed: 1\n---\n", "line 3: a second YAML document"},
		{"seed: 1\n---\nload: [\n", "line 3: did not find expected node content"},
		{"---\n", "the file is empty"},
		{"~\n", "the file is empty"},
		{"# only a comment\n", "the file is empty"},
	}
	for _, tt := range tests {
		checkScenarioError(t, tt.body, tt.want, "--fault", "hang")
	}
}

// headerLines is n distinct headers of a scenario's request.headers map.
func headerLines(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "    X-%d: v\n", i)
	}
	return b.String()
}

// TestScenarioRuleOverSeveralFields checks that an error of a rule over
// several settings names each by where it came from: the file's path for
// those the file set, with the line of the first, and the flag for those
// given on the command line.
func TestScenarioRuleOverSeveralFields(t *testing.T) {
	body := "breaker:\n  interval: 1h\n  bucket_period: 1ns\n"
	checkScenarioError(t, body, "line 2: breaker.interval, breaker.bucket_period: 1h0m0s in buckets of 1ns is more than 10000 buckets", "--fault", "latency")
	checkScenarioError(t, "breaker:\n  interval: 1h\n", "line 2: breaker.interval, breaker-bucket-period: 1h0m0s in buckets of 1ns", "--fault", "latency", "--breaker-bucket-period", "1ns")
	checkScenarioError(t, "seed: 1\nbreaker:\n  bucket_period: 1ns\n", "line 3: breaker-interval, breaker.bucket_period: 1h0m0s in buckets of 1ns", "--fault", "latency", "--breaker-interval", "1h")
	// The client's timeout against the gateway's two, given in the file
	// or not: the line of the first the file gave.
	checkScenarioError(t, "seed: 1\ngateway:\n  queue_timeout: 1h\n  call_timeout: 1h\n", "line 3: client-timeout, gateway.queue_timeout, gateway.call_timeout: 3s must exceed 1h0m0s + 1h0m0s (2h0m0s)", "--fault", "latency")
	checkScenarioError(t, "seed: 1\nload:\n  client_timeout: 1s\n", "line 3: load.client_timeout, queue-timeout, call-timeout: 1s must exceed", "--fault", "latency")
}

// TestScenarioTargetFieldMistakes covers the settings checked with the
// targets, after the file was read: a bad value names the file's line and
// the field, not the flag the user did not give.
func TestScenarioTargetFieldMistakes(t *testing.T) {
	const head = "targets:\n  - {name: svc, url: \"http://127.0.0.1:8080/api\"}\nbreaker_state_url: /metrics\nupstream: {addr: \"127.0.0.1:9090\"}\n"
	tmpl := filepath.Join(t.TempDir(), "missing.tmpl")
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ body, want string }{
		{`breaker_state_metric: "foo{bar"` + "\n", `line 5: breaker_state_metric "foo{bar": want a metric name`},
		{`breaker_state_metric: "m{a=b}"` + "\n", `line 5: breaker_state_metric "m{a=b}": label "a=b"`},
		{"breaker_state_metric: m\nbreaker_state_map: \"0=shut\"\n", `line 6: breaker_state_map "0=shut": "0=shut": want VALUE=STATE pairs`},
		{"output:\n  summary_template: " + tmpl + "\n", "line 6: output.summary_template: open " + tmpl},
		{"tls:\n  ca_cert: " + notPEM + "\n", "line 6: tls.ca_cert: no PEM certificate found in " + notPEM},
		{`expect: ["collateral:status=200"]` + "\n", `line 5: expect "collateral:status=200": judges collateral answers`},
	} {
		checkScenarioError(t, head+tt.body, tt.want, "--fault", "hang")
	}
	// Named upstreams, a mapping in the file: the line where it starts.
	const named = "targets:\n  - {name: svc, url: \"http://127.0.0.1:8080/api\"}\nupstreams:\n"
	for _, tt := range []struct{ body, want string }{
		{`  "1pay": "127.0.0.1:9090"` + "\n", `line 4: upstreams "1pay": want a letter`},
		{`  a: "127.0.0.1:9090"` + "\n" + `  b: "127.0.0.1:9090"` + "\n", `line 4: upstreams "127.0.0.1:9090": also the address of a`},
		{`  a: "nothost"` + "\n", `line 4: upstreams: "nothost": want a loopback host:port`},
	} {
		checkScenarioError(t, named+tt.body, tt.want, "--fault", "a=hang")
	}
	// A file where the upstream's certificate folder should be.
	checkScenarioError(t, "targets:\n  - {name: svc, url: \"http://127.0.0.1:8080/api\"}\nupstream:\n  addr: \"127.0.0.1:9090\"\n  tls_dir: "+notPEM+"\n",
		"line 5: upstream.tls_dir: "+notPEM+" is not a folder", "--fault", "hang")
	// Given as flags, the same values name the flags.
	checkScenarioError(t, head, `--breaker-state-metric "foo{bar": want a metric name`, "--fault", "hang", "--breaker-state-metric", "foo{bar")
	checkScenarioError(t, head, "--summary-template: open "+tmpl, "--fault", "hang", "--summary-template", tmpl)
	checkScenarioError(t, head, "--ca-cert: no PEM certificate found in "+notPEM, "--fault", "hang", "--ca-cert", notPEM)
	checkScenarioError(t, head, "--upstream-tls: "+notPEM+" is not a folder", "--fault", "hang", "--upstream-tls", notPEM)
	checkScenarioError(t, head, `--expect "collateral:status=200": judges collateral answers`, "--fault", "hang", "--expect", "collateral:status=200")
}
