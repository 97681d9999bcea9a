package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cbload/cbload/reports"
)

// TestRunBadFlags feeds `cbload run` typical mistakes: each must exit 2 with
// one line that names the flag — no panic, no usage dump, no stack trace.
func TestRunBadFlags(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	out := t.TempDir()
	tests := []struct {
		args []string
		want string // a part of the one-line message
	}{
		{[]string{}, "--fault: required"},
		{[]string{"--fault", "latncy"}, "latncy"},
		{[]string{"--fault", "latency:fast"}, "latency"},
		{[]string{"--fault", "error:503,rate=2"}, "rate"},
		{[]string{"--fault", "latency", "--rate", "-5"}, "rate: -5 must be positive"},
		{[]string{"--fault", "latency", "--rate", "0"}, "rate: 0 must be positive"},
		{[]string{"--fault", "latency", "--rate", "1e9"}, "rate: 1e+09 is more than"},
		{[]string{"--fault", "latency", "--rate", "fast"}, `--rate "fast": `},
		{[]string{"--fault", "latency", "--phases", "5s,15s"}, "--phases"},
		{[]string{"--fault", "latency", "--phases", "5s,x,10s"}, `fault duration "x"`},
		{[]string{"--fault", "latency", "--phases", "5s,0s,10s"}, "phases[1] (fault): duration 0s is too short"},
		{[]string{"--fault", "latency", "--phases", "5s,1500ms,10s"}, "whole number of seconds"},
		{[]string{"--fault", "latency", "--arms", "breakr"}, `arms: unknown arm "breakr"`},
		{[]string{"--fault", "latency", "--arms", ""}, "arms"},
		{[]string{"--fault", "latency", "--collateral-share", "1.5"}, "collateral-share"},
		{[]string{"--fault", "latency", "--gateway-workers", "0"}, "gateway-workers"},
		{[]string{"--fault", "latency", "--queue-timeout", "0s"}, "queue-timeout"},
		{[]string{"--fault", "latency", "--call-timeout", "-1s"}, "call-timeout"},
		{[]string{"--fault", "latency", "--call-timeout", "500"}, `--call-timeout "500": `},
		{[]string{"--fault", "latency", "--client-timeout", "1s"}, "client-timeout, queue-timeout, call-timeout: 1s must exceed 1s + 500ms (1.5s)"},
		{[]string{"--fault", "latency", "--breaker-timeout", "0s"}, "breaker-timeout"},
		{[]string{"--fault", "latency", "--breaker-max-requests", "0"}, "breaker-max-requests"},
		{[]string{"--fault", "latency", "--breaker-max-requests", "-1"}, `--breaker-max-requests "-1": `},
		{[]string{"--fault", "latency", "--breaker-failure-ratio", "1.5"}, "breaker-failure-ratio"},
		{[]string{"--fault", "latency", "--breaker-bucket-period", "1m"}, "breaker-bucket-period"},
		{[]string{"--fault", "latency", "--service-time", "-1ms"}, "service-time"},
		{[]string{"--fault", "latency", "--service-time", "0s"}, "service-time: 0s must be positive"},
		{[]string{"--fault", "latency", "--progress", "sometimes"}, "--progress"},
		{[]string{"--fault", "latency", "--rate", "NaN"}, "rate: NaN must be positive"},
		{[]string{"--fault", "latency", "--collateral-share", "-0.1"}, "collateral-share"},
		{[]string{"--fault", "latency", "--collateral-share", "NaN"}, "collateral-share: NaN"},
		{[]string{"--fault", "latency", "--breaker-failure-ratio", "NaN"}, "breaker-failure-ratio: NaN"},
		{[]string{"--fault", "latency", "--breaker-failure-ratio", "50%"}, `--breaker-failure-ratio "50%": `},
		{[]string{"--fault", "latency", "--phases", ""}, "--phases"},
		{[]string{"--fault", "latency", "--phases", "5s,15s,100000000h"}, `recovery duration "100000000h"`},
		{[]string{"--fault", "latency", "--phases", "2000000h,2000000h,1s"}, `--phases "2000000h,2000000h,1s": phases[0] (baseline): duration 2000000h0m0s makes the schedule longer than the limit of 1h0m0s per arm`},
		{[]string{"--fault", "latency", "--shard", "3/3", "--seed", "1"}, `--shard "3/3": want INDEX/COUNT`},
		{[]string{"--fault", "latency", "--shard", "x", "--seed", "1"}, `--shard "x": want INDEX/COUNT`},
		{[]string{"--fault", "latency", "--shard", "0/0", "--seed", "1"}, `--shard "0/0"`},
		{[]string{"--fault", "latency", "--shard", "0/2"}, "--shard 0/2: needs --seed"},
		{[]string{"--fault", "latency", "--shard", "0/2", "--seed", "1"}, "shard: needs start-at"},
		{[]string{"--fault", "latency", "--shard", "0/2", "--seed", "1", "--start-at", "2099-01-01T00:00:00Z"}, "start-at 2099-01-01T00:00:00Z: "},
		{[]string{"--fault", "latency", "--start-at", "noon"}, `--start-at "noon": want an RFC 3339 time`},
		{[]string{"--fault", "latency", "--start-at", "2020-01-01T00:00:00Z"}, "the run's schedule ended at"},
		{[]string{"--fault", "latency", "--shard", "1/2", "--seed", "1", "--start-at", time.Now().Add(time.Minute).Format(time.RFC3339)}, "shard: needs targets"},
		{[]string{"--fault", "latency", "--shard", "1/2", "--seed", "1", "--start-at", time.Now().Add(time.Minute).Format(time.RFC3339), "--target", "a=http://127.0.0.1:1/api", "--upstream-addr", "127.0.0.1:9"}, "shard: needs upstream-external"},
		{[]string{"--fault", "latency", "--shard", "1/2", "--seed", "1", "--trials", "2", "--start-at", time.Now().Add(time.Minute).Format(time.RFC3339), "--target", "a=http://127.0.0.1:1/api"}, "trials: 2 with shard 1/2: not supported; cbload merge needs every second's raw data (the histograms), which a report keeps for its first trial only"},
		{[]string{"--fault", "latency", "--target", "a=http://127.0.0.1:1/api"}, "--upstream-addr: required with --target"},
		{[]string{"--fault", "latency", "--upstream-external"}, "--upstream-external: only used with --target"},
		{[]string{"--fault", "latency", "--target", "a=http://127.0.0.1:1/api", "--upstream-external", "--upstream-addr", "127.0.0.1:9"}, "upstream-external: not with upstream-addr"},
		{[]string{"--fault", "latency", "--target", "a=http://127.0.0.1:1/api", "--upstream-external", "--upstream-concurrency", "4"}, "upstream-concurrency: not with upstream-external"},
		{[]string{"--fault", "latency", "--run-id", "../x"}, `run-id "../x"`},
		{[]string{"--fault", "latency", "--gateway-workers", "1000000"}, "gateway-workers: 1000000"},
		{[]string{"--fault", "latency", "--gateway-workers", "-1"}, "gateway-workers: -1"},
		{[]string{"--fault", "latency", "--local-work", "-1ms"}, "local-work"},
		{[]string{"--fault", "latency", "--breaker-interval", "-1s"}, "breaker-interval"},
		{[]string{"--fault", "latency", "--breaker-consecutive-failures", "-1"}, `--breaker-consecutive-failures "-1": `},
		{[]string{"--fault", "latency", "--breaker-consecutive-failures", "0", "--breaker-failure-ratio", "0"}, "at least one trip rule"},
		{[]string{"--fault", "latency", "--breaker-min-requests", "x"}, `--breaker-min-requests "x": `},
		{[]string{"--fault", "latency", "--breaker-timeout", "2"}, `--breaker-timeout "2": `},
		{[]string{"--fault", "latency", "--breaker-timeout", "10ms"}, "breaker-timeout: 10ms must be at least 50ms"},
		{[]string{"--fault", "latency", "--jitter", "-1ms"}, "jitter"},
		{[]string{"--fault", "latency", "--client-timeout", "0s"}, "client-timeout: 0s must be positive"},
		{[]string{"--fault", "latency", "--seed", "x"}, `--seed "x": `},
		{[]string{"--fault", "latency", "--seed", "99999999999999999999"}, `--seed "99999999999999999999": `},
		{[]string{"--fault", ""}, "--fault: empty fault spec"},
		{[]string{"--fault", "latency", "--arms", "breaker,breaker"}, "listed twice"},
		{[]string{"--fault", "latency", "--arms", "throtle"}, `arms: unknown arm "throtle"; want one or more of breaker, no-breaker, retry-budget, throttle`},
		{[]string{"--fault", "latency", "--tiers", "0"}, "tiers: 0 must be between 1 and 5"},
		{[]string{"--fault", "latency", "--arm-mode", "parallel"}, `arm-mode: "parallel"; want sequential or concurrent`},
		{[]string{"--fault", "latency", "--arm-mode", "concurrent", "--target", "a=http://127.0.0.1:1/api", "--upstream-addr", "127.0.0.1:9"}, "arm-mode: concurrent runs cbload's own gateway only"},
		{[]string{"--fault", "latency", "--upstream-concurrency", "-1"}, "upstream-concurrency: -1 must be between 0 (unbounded) and 100000"},
		{[]string{"--fault", "latency", "--upstream-queue", "10"}, "upstream-queue: needs upstream-concurrency above 0"},
		{[]string{"--fault", "latency", "--upstream-concurrency", "4", "--upstream-queue", "-1"}, "upstream-queue: -1 must be between 0 and 1000000"},
		{[]string{"--fault", "latency", "--upstream-honor-cancel"}, "upstream-honor-cancel: needs upstream-concurrency above 0"},
		{[]string{"--fault", "latency", "--upstream-concurrency", "many"}, `--upstream-concurrency "many": `},
		{[]string{"--fault", "latency", "--tiers", "9"}, "tiers: 9 must be between 1 and 5"},
		{[]string{"--fault", "latency", "--tiers", "two"}, `--tiers "two": `},
		{[]string{"--fault", "latency", "--retries", "-1"}, "retries: -1 must be between 0 and 10"},
		{[]string{"--fault", "latency", "--retries", "100"}, "retries: 100 must be between 0 and 10"},
		{[]string{"--fault", "latency", "--retry-backoff", "-5ms"}, "retry-backoff: -5ms must be between 0"},
		{[]string{"--fault", "latency", "--retry-backoff", "1m"}, "retry-backoff: 1m0s must be between 0"},
		{[]string{"--fault", "latency", "--retry-backoff", "10"}, `--retry-backoff "10": `},
		{[]string{"--fault", "latency", "--retry-budget", "ten"}, `--retry-budget "ten": want a share of requests like 10% or 0.1`},
		{[]string{"--fault", "latency", "--retry-budget", "0%"}, "retry-budget: 0 must be a share of requests in (0, 1]"},
		{[]string{"--fault", "latency", "--retry-budget", "150%"}, "retry-budget: 1.5 must be a share of requests in (0, 1]"},
		{[]string{"--fault", "latency", "--retry-budget", "NaN"}, "retry-budget: NaN must be a share"},
		{[]string{"--fault", "latency", "--retry-budget-window", "100ms"}, "retry-budget-window: 100ms must be between 1s and 1h"},
		{[]string{"--fault", "latency", "--throttle-k", "0"}, "throttle-k: 0 must be between 1 and 10"},
		{[]string{"--fault", "latency", "--throttle-k", "NaN"}, "throttle-k: NaN must be between 1 and 10"},
		{[]string{"--fault", "latency", "--throttle-window", "0s"}, "throttle-window: 0s must be between 1s and 1h"},
		{[]string{"--fault", "latency", "--target", "svc=http://127.0.0.1:1/api", "--upstream-addr", "127.0.0.1:9", "--tiers", "2"}, "tiers: only used with cbload's own gateway"},
		{[]string{"--fault", "latency", "--target", "svc=http://127.0.0.1:1/api", "--upstream-addr", "127.0.0.1:9", "--retries", "2"}, "retries: only used with cbload's own gateway"},
		{[]string{"--fault", "latency", "--force=maybe"}, `--force "maybe": want true or false`},
		{[]string{"--fault", "latency", "--no-step-summary=maybe"}, `--no-step-summary "maybe": want true or false`},
		{[]string{"--fault", "latency", "--dry-run=maybe"}, `--dry-run "maybe": want true or false`},
		{[]string{"--fault", "latency", "--trace-sample", "2"}, `--trace-sample "2"`},
		{[]string{"--fault", "latency", "--trace-sample", "-0.1"}, `--trace-sample "-0.1"`},
		{[]string{"--fault", "latency", "--trace-sample", "NaN"}, `--trace-sample "NaN"`},
		{[]string{"--fault", "latency", "--trace-sample", ""}, `--trace-sample ""`},
		{[]string{"--fault", "latency", "--trace-sample", "10%"}, `--trace-sample "10%"`},
		{[]string{"--fault", "latency", "--otlp-endpoint", "ftp://127.0.0.1:4318"}, "otlp-endpoint"},
		{[]string{"--fault", "latency", "--otlp-endpoint", "http://[::1"}, "otlp-endpoint"},
		{[]string{"--fault", "latency", "--otlp-protocol", "grpcx"}, `--otlp-protocol "grpcx"`},
		{[]string{"--fault", "latency", "--otlp-endpoint", "127.0.0.1:4318", "--otlp-protocol", "http"}, `--otlp-protocol "http"`},
		{[]string{"--fault", "latency", "--jaeger-url", "localhost:16686"}, `--jaeger-url "localhost:16686"`},
		{[]string{"--fault", "latency", "--metrics-addr", "9464"}, `--metrics-addr "9464": want host:port`},
		{[]string{"--fault", "latency", "--metrics-addr", ":9464"}, `--metrics-addr ":9464": every interface`},
		{[]string{"--fault", "latency", "--metrics-addr", "192.0.2.1:9464"}, `--metrics-addr "192.0.2.1:9464"`},
		{[]string{"--fault", "latency", "--threshold", ""}, `--threshold: threshold "": empty`},
		{[]string{"--fault", "latency", "--threshold", "breaker.fault.api.requests >"}, "--threshold"},
		{[]string{"--fault", "latency", "--threshold", "breaker.fault.api.p99 < 5xs"}, "--threshold"},
		{[]string{"--fault", "latency", "--junit", out}, "--junit " + out + ": is a folder"},
		{[]string{"--fault", "latency", "--target", ""}, `--target "": want NAME=URL`},
		{[]string{"--fault", "latency", "--target", "svc"}, `--target "svc": want NAME=URL`},
		{[]string{"--fault", "latency", "--target", "svc=", "--upstream-addr", "127.0.0.1:9"}, `--target "svc="`},
		{[]string{"--fault", "latency", "--target", "svc=127.0.0.1:8080", "--upstream-addr", "127.0.0.1:9"}, "--target svc"},
		{[]string{"--fault", "latency", "--target", "svc=http://10.1.2.3/api", "--upstream-addr", "127.0.0.1:9"}, "not loopback"},
		{[]string{"--fault", "latency", "--target", "1svc=http://127.0.0.1:1/api", "--upstream-addr", "127.0.0.1:9"}, `targets[0].name "1svc"`},
		{[]string{"--fault", "latency", "--target", "verdict=http://127.0.0.1:1/api", "--upstream-addr", "127.0.0.1:9"}, `targets[0].name "verdict": reserved`},
		{[]string{"--fault", "latency", "--target", "a=http://127.0.0.1:1/", "--target", "a=http://127.0.0.1:2/", "--upstream-addr", "127.0.0.1:9"}, "used twice"},
		{[]string{"--fault", "latency", "--target", "svc=http://127.0.0.1:1/api", "--arms", "breaker", "--upstream-addr", "127.0.0.1:9"}, "--arms: not used with --target"},
		{[]string{"--fault", "latency", "--target", "svc=http://127.0.0.1:1/api"}, "--upstream-addr: required with --target"},
		{[]string{"--fault", "latency", "--target", "svc=http://127.0.0.1:1/api", "--upstream-addr", ""}, "--upstream-addr: required with --target"},
		{[]string{"--fault", "latency", "--target", "svc=http://127.0.0.1:1/api", "--upstream-addr", "127.0.0.1"}, `upstream-addr: "127.0.0.1"`},
		{[]string{"--fault", "latency", "--target", "svc=http://127.0.0.1:1/api", "--upstream-addr", "127.0.0.1:0"}, `upstream-addr: "127.0.0.1:0": port "0"`},
		{[]string{"--fault", "latency", "--target", "svc=http://127.0.0.1:1/api", "--upstream-addr", "127.0.0.1:99999"}, `upstream-addr: "127.0.0.1:99999": port "99999"`},
		{[]string{"--fault", "latency", "--target", "svc=http://127.0.0.1:1/api", "--upstream-addr", "127.0.0.1:-1"}, `upstream-addr: "127.0.0.1:-1": port "-1"`},
		{[]string{"--fault", "latency", "--target", "svc=http://127.0.0.1:1/api", "--upstream-addr", "10.0.0.1:80"}, "upstream-addr: \"10.0.0.1:80\": host 10.0.0.1 is not loopback"},
		{[]string{"--fault", "latency", "--target", "svc=http://127.0.0.1:1/api", "--upstream-addr", "127.0.0.1:9", "--collateral", "local"}, "--collateral: "},
		{[]string{"--fault", "latency", "--target", "svc=http://127.0.0.1:1/api", "--upstream-addr", "127.0.0.1:9", "--collateral", "http://10.0.0.1/local"}, "--collateral: "},
		{[]string{"--fault", "latency", "--target", "svc=http://127.0.0.1:1/api", "--upstream-addr", "127.0.0.1:9", "--breaker-state-url", "breaker"}, "--breaker-state-url: "},
		{[]string{"--fault", "latency", "--collateral", "/local"}, "--collateral: only used with --target"},
		{[]string{"--fault", "latency", "--breaker-state-url", "/breaker"}, "--breaker-state-url: only used with --target"},
		{[]string{"--fault", "latency", "--upstream-addr", "127.0.0.1:9090"}, "--upstream-addr: only used with --target"},
		{[]string{"--fault", "latency", "--scenario", filepath.Join(out, "missing.yaml")}, "--scenario: open "},
		{[]string{"--fault", "latency", "--scenario", out}, "scenario " + out + ": read "},
		{[]string{"--fault", "latency", "--nope"}, "unknown flag: --nope"},
		{[]string{"--fault", "latency", "extra"}, "run takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"run", "--out", filepath.Join(out, "never")}, tt.args...)
			code := run(args, &stdout, &stderr)
			msg := stderr.String()
			if code != exitUsage {
				t.Errorf("exit code = %d; want %d (stderr %q)", code, exitUsage, msg)
			}
			first, _, _ := strings.Cut(msg, "\n")
			if !strings.Contains(first, tt.want) {
				t.Errorf("first stderr line = %q; want it to contain %q", first, tt.want)
			}
			if strings.Contains(msg, "goroutine ") || strings.Contains(msg, "panic") {
				t.Errorf("stderr has a stack trace: %q", msg)
			}
			if lines := strings.Count(strings.TrimSpace(msg), "\n"); lines > 1 {
				t.Errorf("stderr has %d lines; want the error and at most a hint:\n%s", lines+1, msg)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(out, "never")); err == nil {
		t.Errorf("a rejected command created its output folder")
	}
}

func TestRunRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "report.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--fault", "latency", "--out", dir}, &stdout, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "--force") {
		t.Errorf("run into a folder with a report = %d, %q; want exit 2 naming --force", code, stderr.String())
	}
}

// TestRunShort runs a real, short, one-arm experiment through the CLI and
// checks what a user sees: the summary, the report path and a valid report
// with the seed and a command that reproduces it.
func TestRunShort(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--fault", "error:503", "--phases", "1s,2s,1s", "--rate", "50",
		"--arms", "breaker", "--seed", "7", "--out", dir}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit code = %d; want 0\nstderr: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "seed 7") {
		t.Errorf("stderr %q does not print the seed", stderr.String())
	}
	for _, want := range []string{"/local success", "verdict: Inconclusive", "report: " + filepath.Join(dir, "report.json")} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout does not contain %q:\n%s", want, stdout.String())
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r reports.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Schema != reports.Schema || r.Seed != 7 || r.Partial || len(r.Arms) != 1 {
		t.Errorf("report schema=%q seed=%d partial=%v arms=%d; want %q, 7, false, 1", r.Schema, r.Seed, r.Partial, len(r.Arms), reports.Schema)
	}
	if !strings.Contains(r.Command, "--seed=7") || !strings.HasPrefix(r.Command, "cbload run ") || !strings.Contains(r.Command, " --fault error:503 ") || !strings.Contains(r.Command, " --arms=breaker ") {
		t.Errorf("repro command %q; want the fault and --seed=7", r.Command)
	}
}

// TestRunStormRate checks the default rate of a chain of retrying tiers:
// divided by (1 + retries)^(tiers − 1) and said on stderr, unless --rate or
// the scenario sets it.
func TestRunStormRate(t *testing.T) {
	scen := writeScenario(t, "load: {rate: 40}\nphases: [{name: f, duration: 2s, faults: [error:503]}]\n")
	tests := []struct {
		args     []string
		wantLoad string
		wantNote bool
	}{
		{[]string{"--fault", "error:503", "--tiers", "3", "--retries", "3"}, "load: 12.5 req/s", true},
		{[]string{"--fault", "error:503", "--tiers", "2", "--retries", "1"}, "load: 100 req/s", true},
		{[]string{"--fault", "error:503", "--tiers", "3"}, "load: 200 req/s", false},
		{[]string{"--fault", "error:503", "--retries", "3"}, "load: 200 req/s", false},
		{[]string{"--fault", "error:503", "--tiers", "3", "--retries", "3", "--rate", "50"}, "load: 50 req/s", false},
		{[]string{"--scenario", scen, "--tiers", "3", "--retries", "3"}, "load: 40 req/s", false},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"run", "--dry-run"}, tt.args...), &stdout, &stderr); code != exitOK {
			t.Fatalf("run %v = %d, %s; want 0", tt.args, code, stderr.String())
		}
		if !strings.Contains(stdout.String(), tt.wantLoad) {
			t.Errorf("run %v: plan %q; want %q", tt.args, stdout.String(), tt.wantLoad)
		}
		if got := strings.Contains(stderr.String(), "--rate defaults to"); got != tt.wantNote {
			t.Errorf("run %v: stderr %q; want the default-rate note: %v", tt.args, stderr.String(), tt.wantNote)
		}
	}
}

// TestWriteSummaryLayout checks the terminal summary about a user's service:
// every column is wider than its widest cell, so an inferred figure never
// runs into the next arm's, and the per-phase detail names the service's
// own paths, without a collateral line when it has no collateral endpoint.
func TestWriteSummaryLayout(t *testing.T) {
	open, recover := 0.2, 0.3
	r := &reports.Report{
		Config: reports.Config{Targets: []reports.Target{
			{Name: "breaker", URL: "http://127.0.0.1:8081/orders", Requests: []string{"POST http://127.0.0.1:8081/orders"}},
			{Name: "no-breaker", URL: "http://127.0.0.1:8082/orders", Requests: []string{"POST http://127.0.0.1:8082/orders"}},
		}},
		Phases: []reports.Phase{{Name: "baseline", EndS: 1}, {Name: "fault", StartS: 1, EndS: 2, Faults: []string{"latency:1s"}}},
		Arms: []reports.Arm{
			{Name: "breaker", BreakerFigures: reports.BreakerInferred, Breaker: true,
				Figures: reports.Figures{TimeToOpenS: &open, TimeToRecoverS: &recover}, Summary: map[string]reports.PhaseSummary{"fault": {}}},
			{Name: "no-breaker", BreakerFigures: reports.BreakerInferred, Summary: map[string]reports.PhaseSummary{"fault": {}}},
		},
		Validity: &reports.Validity{Valid: true},
	}
	var b strings.Builder
	_ = reports.WriteTerminal(&b, r)
	out := b.String()
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "time to open") || strings.HasPrefix(line, "time to recover") {
			if strings.Contains(line, ")0") || strings.Contains(line, ")n") {
				t.Errorf("summary line %q: the cells run together", line)
			}
		}
	}
	if !strings.Contains(out, "0.20 s (inferred)  ") && !strings.Contains(out, "0.20 s (inferred) ") {
		t.Errorf("summary:\n%s\nwant the inferred time to open followed by a space", out)
	}
	if strings.Contains(out, "/local") || strings.Contains(out, "/api ") {
		t.Errorf("summary:\n%s\nwant no /local or /api: the service's path is /orders and it has no collateral endpoint", out)
	}
	if !strings.Contains(out, "breaker      /orders") {
		t.Errorf("summary:\n%s\nwant the detail lines to name /orders", out)
	}
}
