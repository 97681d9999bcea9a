package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/cbload/cbload/harness"
)

// TestURLPorts gives every flag and field that takes a URL or address a
// port out of range, zero or empty: each must fail validation with exit 2
// and one line, as --upstream-addr does, not exit 3 as "unreachable".
func TestURLPorts(t *testing.T) {
	base := []string{"run", "--dry-run", "--fault", "hang"}
	tgt := []string{"--upstream-addr", "127.0.0.1:9"}
	tests := []struct {
		args []string
		want string
	}{
		{append(tgt, "--target", "a=http://127.0.0.1:99999/api"), `--target a: "http://127.0.0.1:99999/api": port "99999": want a number from 1 to 65535`},
		{append(tgt, "--target", "a=http://127.0.0.1:0/api"), `port "0"`},
		{append(tgt, "--target", "a=http://127.0.0.1:/api"), `empty port`},
		{append(tgt, "--target", "a=http://[::1]:70000/api"), `port "70000"`},
		{append(tgt, "--target", "a=https://localhost:65536/"), `port "65536"`},
		{append(tgt, "--target", "a=http://127.0.0.1:1/api", "--collateral", "http://127.0.0.1:99999/local"), `--collateral: "http://127.0.0.1:99999/local": port "99999"`},
		{append(tgt, "--target", "a=http://127.0.0.1:1/api", "--breaker-state-url", "http://127.0.0.1:123456/b"), `--breaker-state-url: "http://127.0.0.1:123456/b": port "123456"`},
		{[]string{"--otlp-endpoint", "127.0.0.1:99999"}, `--otlp-endpoint "127.0.0.1:99999": want a URL like http://127.0.0.1:4318 with a port from 1 to 65535`},
		{[]string{"--otlp-endpoint", "http://127.0.0.1:0"}, `--otlp-endpoint "http://127.0.0.1:0"`},
		{[]string{"--otlp-endpoint", ":::"}, `--otlp-endpoint ":::"`},
		{[]string{"--jaeger-url", "http://127.0.0.1:99999"}, `--jaeger-url "http://127.0.0.1:99999"`},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(append(append([]string{}, base...), tt.args...), &stdout, &stderr)
		msg := strings.TrimSpace(stderr.String())
		if code != exitUsage || !strings.Contains(msg, tt.want) || strings.Count(msg, "\n") > 1 {
			t.Errorf("cbload run %q = exit %d, stderr %q; want exit %d and %q", tt.args, code, msg, exitUsage, tt.want)
		}
	}
	// The same in a scenario file, with its line.
	checkScenarioError(t, "phases:\n  - {name: a, duration: 1s, faults: [hang]}\nupstream: {addr: 127.0.0.1:9}\ntargets:\n  - {name: a, url: 'http://127.0.0.1:99999/api'}\n",
		`line 5: targets[0].url: "http://127.0.0.1:99999/api": port "99999"`)
	checkScenarioError(t, "phases:\n  - {name: a, duration: 1s, faults: [hang]}\ntracing:\n  otlp_endpoint: 'http://127.0.0.1:99999'\n",
		`line 4: tracing.otlp_endpoint "http://127.0.0.1:99999"`)
}

// TestProbeInterrupted signals cbload while it probes a target that
// accepts connections and never answers: exit 130 within a second, not 3.
func TestProbeInterrupted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered, until the test ends
		}
	}()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upstream := free.Addr().String()
	free.Close()
	code, stderr, took := runProcess(t, syscall.SIGINT, 700*time.Millisecond, "run", "--fault", "hang", "--phases", "1s,1s,1s",
		"--upstream-addr", upstream, "--target", "a=http://"+ln.Addr().String()+"/api", "--progress", "never", "--out", t.TempDir()+"/out")
	if code != exitInterrupted || took > time.Second+500*time.Millisecond {
		t.Errorf("SIGINT during the target probe = exit %d after %v, stderr %q; want exit %d within about a second", code, took.Round(time.Millisecond), stderr, exitInterrupted)
	}
	if strings.Contains(stderr, "unreachable") {
		t.Errorf("stderr blames the target: %q", stderr)
	}
}

// TestEnvValidated sets each environment variable cbload honours to a
// value it cannot use: each must exit 2 with one line naming the variable
// and the accepted form, like the flag it stands for.
func TestEnvValidated(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, value, want string
	}{
		{"OTEL_EXPORTER_OTLP_ENDPOINT", ":::", `$OTEL_EXPORTER_OTLP_ENDPOINT ":::": want a URL like http://127.0.0.1:4318`},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "127.0.0.1:4318", `want a URL like http://127.0.0.1:4318 (http:// or https://`},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:99999", "with a port from 1 to 65535"},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://127.0.0.1/", "$OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "udp", `$OTEL_EXPORTER_OTLP_PROTOCOL "udp": want one of grpc, http/protobuf`},
		{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json", "want one of grpc, http/protobuf"},
		{"OTEL_EXPORTER_OTLP_INSECURE", "yes", `$OTEL_EXPORTER_OTLP_INSECURE "yes": want true or false`},
		{"OTEL_EXPORTER_OTLP_TIMEOUT", "5s", "want a whole number of milliseconds"},
		{"OTEL_EXPORTER_OTLP_HEADERS", "authorization", "$OTEL_EXPORTER_OTLP_HEADERS (value not shown): want key=value pairs"},
		{"OTEL_EXPORTER_OTLP_HEADERS", "a=%zz", "want percent-encoded values"},
		{"OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20x%0D%0AInjected:%201", "(value not shown): key authorization: the value holds a control character"},
		{"OTEL_EXPORTER_OTLP_TIMEOUT", "99999999999999", "want a whole number of milliseconds from 0 to 3600000 (1h)"},
		{"OTEL_EXPORTER_OTLP_COMPRESSION", "zstd", "want one of gzip, none"},
		{"OTEL_EXPORTER_OTLP_CERTIFICATE", dir + "/none.pem", "want a readable PEM file"},
		{"OTEL_EXPORTER_OTLP_CLIENT_KEY", dir, "want a readable PEM file: a folder, not a regular file"},
		{"OTEL_TRACES_SAMPLER", "bogus", `$OTEL_TRACES_SAMPLER "bogus": want one of always_on, always_off, traceidratio`},
		{"OTEL_TRACES_SAMPLER_ARG", "2", "want a fraction in [0,1]"},
		{"OTEL_TRACES_EXPORTER", "console", "want one of otlp, none"},
		{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "ftp://127.0.0.1/", "$OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"},
		{"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json", "$OTEL_EXPORTER_OTLP_METRICS_PROTOCOL \"http/json\": want one of grpc, http/protobuf"},
		{"OTEL_EXPORTER_OTLP_METRICS_HEADERS", "token", "$OTEL_EXPORTER_OTLP_METRICS_HEADERS (value not shown)"},
		{"OTEL_METRICS_EXPORTER", "prometheus", "$OTEL_METRICS_EXPORTER \"prometheus\": want one of otlp, none"},
		{"OTEL_METRIC_EXPORT_INTERVAL", "5s", "$OTEL_METRIC_EXPORT_INTERVAL \"5s\": want a whole number of milliseconds from 1"},
		{"OTEL_METRIC_EXPORT_INTERVAL", "0", "want a whole number of milliseconds from 1"},
		{"OTEL_SDK_DISABLED", "maybe", "want true or false"},
		{"OTEL_SERVICE_NAME", "a\x01b", "printable"},
		{"OTEL_RESOURCE_ATTRIBUTES", "team", "want key=value pairs"},
		{"GITHUB_STEP_SUMMARY", dir, "is a folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			t.Setenv(tt.name, tt.value)
			var stdout, stderr bytes.Buffer
			code := run([]string{"run", "--dry-run", "--fault", "hang"}, &stdout, &stderr)
			msg := strings.TrimSpace(stderr.String())
			if code != exitUsage || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("%s=%q: exit %d, stderr %q; want exit %d and one line containing %q", tt.name, tt.value, code, msg, exitUsage, tt.want)
			}
			if strings.HasSuffix(tt.name, "_HEADERS") && strings.Contains(msg, tt.value) {
				t.Errorf("%s: the value, which may hold credentials, was printed: %q", tt.name, msg)
			}
		})
	}
	// What the variables accept.
	for name, value := range map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":         "http://127.0.0.1:4318",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT":  " https://[::1]:4318/v1/traces ",
		"OTEL_EXPORTER_OTLP_PROTOCOL":         "grpc",
		"OTEL_EXPORTER_OTLP_INSECURE":         "TRUE",
		"OTEL_EXPORTER_OTLP_HEADERS":          "authorization=Bearer%20x,k=v",
		"OTEL_EXPORTER_OTLP_TIMEOUT":          "10000",
		"OTEL_TRACES_SAMPLER":                 "parentbased_traceidratio",
		"OTEL_TRACES_SAMPLER_ARG":             "0.25",
		"OTEL_RESOURCE_ATTRIBUTES":            "team=sre,env=ci",
		"OTEL_SERVICE_NAME":                   "checkout",
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://127.0.0.1:4318/v1/metrics",
		"OTEL_METRIC_EXPORT_INTERVAL":         "1000",
		"OTEL_METRICS_EXPORTER":               "otlp",
	} {
		t.Setenv(name, value)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", "--dry-run", "--fault", "hang"}, &stdout, &stderr); code != exitOK {
		t.Errorf("valid OTEL_* variables: exit %d, stderr %q; want 0", code, stderr.String())
	}
}

// TestLibraryErrorsOneLine checks that an error the OpenTelemetry SDK
// reports through its global handler reaches stderr as one cbload line,
// once, not as the SDK's raw log line.
func TestLibraryErrorsOneLine(t *testing.T) {
	var stderr bytes.Buffer
	harness.QuietLibraries(&stderr)
	defer harness.QuietLibraries(os.Stderr)
	otel.Handle(errors.New("export failed:\n  connection refused"))
	otel.Handle(errors.New("export failed:\n  connection refused"))
	if got, want := stderr.String(), "cbload: tracing: export failed: connection refused\n"; got != want {
		t.Errorf("stderr = %q; want %q", got, want)
	}
	// The metrics exporter's errors are the metrics signal's.
	stderr.Reset()
	otel.Handle(&harness.SignalError{Signal: "metrics", Err: errors.New("failed to upload metrics: connection refused")})
	if got, want := stderr.String(), "cbload: metrics: failed to upload metrics: connection refused\n"; got != want {
		t.Errorf("stderr = %q; want %q", got, want)
	}
}

// TestThresholdOverflowDryRun checks that the dry run refuses a threshold
// whose numbers alone overflow, which would otherwise fail only after the
// run, at the JSON writer.
func TestThresholdOverflowDryRun(t *testing.T) {
	big := "1" + strings.Repeat("0", 300)
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--dry-run", "--fault", "hang", "--threshold", "breaker.fault.api.requests < " + big + " * " + big}, &stdout, &stderr)
	msg := strings.TrimSpace(stderr.String())
	if code != exitUsage || !strings.Contains(msg, "is not a finite number") || strings.Contains(msg, "\n") {
		t.Errorf("dry run with an overflowing threshold = exit %d, stderr %q; want exit %d and one line saying not a finite number", code, msg, exitUsage)
	}
}

// TestStepSummaryDryRun checks that checking $GITHUB_STEP_SUMMARY in a dry
// run does not create the file.
func TestStepSummaryDryRun(t *testing.T) {
	path := t.TempDir() + "/summary.md"
	t.Setenv(stepSummaryEnv, path)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", "--dry-run", "--fault", "hang"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("dry run = exit %d: %s", code, stderr.String())
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the dry run created $%s (stat: %v)", stepSummaryEnv, err)
	}
}
