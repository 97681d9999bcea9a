package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
		{"unknown top-level field", "seed: 1\nthreshold: [x]\n", `line 2: unknown field "threshold" in the top level; want one of: description, seed, load`},
		{"unknown nested field", "load:\n  rate: 10\n  rps: 5\n", `line 3: unknown field "rps" in load; want one of: rate, collateral_share, client_timeout`},
		{"unknown phase field", "phases:\n  - {name: a, duration: 1s, fault: [hang]}\n", `line 2: unknown field "fault" in a phase; want one of: name, duration, faults, repeat, phases`},
		{"unknown target field", "targets:\n  - {name: a, url: http://127.0.0.1:1/, colateral: /x}\n", `line 2: unknown field "colateral" in a target`},
		{"mistyped number", "load:\n  rate: fast\n", `line 2: "fast" is a string; want a number`},
		{"mistyped int", "gateway:\n  workers: 1.5\n", `line 2: "1.5" is not a whole number`},
		{"mistyped list", "arms: breaker\n", `line 1: "breaker" is a string; want a list`},
		{"bad duration", "gateway:\n\n  call_timeout: 500\n", `line 3: "500" is not a duration; want a Go duration like 250ms or 2s`},
		{"bad fault", "phases:\n  - name: fault\n    duration: 2s\n    faults:\n      - latncy\n", `line 5: fault spec "latncy": unknown kind`},
		{"two errors", "load:\n  rate: x\n  share: 1\n", `line 2: "x" is a string; want a number (and 1 more)`},
		{"syntax", "load: [\n", "line 1: did not find expected node content"},
		{"negative count", "breaker:\n  max_requests: -1\n", `line 2: "-1" is not a whole number from 0 to 4294967295`},
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
		{"target with arms", phases + "upstream: {addr: 127.0.0.1:9}\narms: [breaker]\ntargets:\n  - {name: a, url: http://127.0.0.1:1/api}\n", "--arms: not used with --target"},
		{"target without upstream", phases + "targets:\n  - {name: a, url: http://127.0.0.1:1/api}\n", "--upstream-addr: required with --target"},
		{"target reserved name", phases + "upstream: {addr: 127.0.0.1:9}\ntargets:\n  - {name: verdict, url: http://127.0.0.1:1/api}\n", `"verdict": reserved`},
		{"progress", phases + "output: {progress: sometimes}\n", `--progress "sometimes"`},
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
`)
	tests := []struct {
		args []string
		want []string
	}{
		{nil, []string{"scenario " + s + ": override test", "load: 10 req/s, collateral share 0.5, client timeout 4s, seed 9",
			"gateway: 4 workers", "down-1", "up-2", "hang", "breaker.down-2.api.requests > 0", "(6s per arm)"}},
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

func TestHarnessPhasesRepeat(t *testing.T) {
	s, err := decodeScenario("x", strings.NewReader(`
phases:
  - {name: baseline, duration: 2s}
  - repeat: 3
    phases:
      - {name: down, duration: 3s, faults: [refuse, "latency:200ms,rate=0.5"]}
      - {name: up, duration: 1s}
`))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := s.harnessPhases()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String()+"/"+p.Duration.String())
	}
	want := "baseline/2s down-1 [refuse latency:200ms,rate=0.5]/3s up-1/1s down-2 [refuse latency:200ms,rate=0.5]/3s up-2/1s down-3 [refuse latency:200ms,rate=0.5]/3s up-3/1s"
	if strings.Join(got, " ") != want {
		t.Errorf("harnessPhases = %q; want %q", strings.Join(got, " "), want)
	}
	if ps[1].Duration != 3*time.Second {
		t.Errorf("down-1 duration %v; want 3s", ps[1].Duration)
	}
}
