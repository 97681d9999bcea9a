package main

import (
	"strings"
	"testing"

	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/scenario"
)

// TestRunCeilings runs cbload run --dry-run as a process with a duration or
// count over its ceiling, or input that once made an unclear message, and
// checks each is exit 2 with one line naming the flag and its limit or
// accepted form. Before the ceilings, each but the last few passed --dry-run
// (and queue + call timeout overflowed past the client-timeout check).
func TestRunCeilings(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 5000)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--client-timeout", "100000h"}, "client-timeout: 100000h0m0s must be positive and at most 1h0m0s"},
		{[]string{"--queue-timeout", "2000000h", "--call-timeout", "2000000h", "--client-timeout", "1s"}, "queue-timeout: 2000000h0m0s must be positive and at most 1h0m0s"},
		{[]string{"--call-timeout", "2h"}, "call-timeout: 2h0m0s must be positive and at most 1h0m0s"},
		{[]string{"--local-work", "2h"}, "local-work: 2h0m0s must be between 0 and 1h0m0s"},
		{[]string{"--breaker-timeout", "2h"}, "breaker-timeout: 2h0m0s must be at most 1h0m0s"},
		{[]string{"--breaker-interval", "2h"}, "breaker-interval: 2h0m0s must be between 0 (keep counts until the state changes) and 1h0m0s"},
		{[]string{"--breaker-interval", "1h", "--breaker-bucket-period", "1ns"}, "breaker-interval, breaker-bucket-period: 1h0m0s in buckets of 1ns is more than 10000 buckets; want a bucket period of at least interval/10000 (360ms)"},
		{[]string{"--breaker-max-requests", "4000000000"}, "breaker-max-requests: 4000000000 must be between 1 and 1000000"},
		{[]string{"--breaker-consecutive-failures", "4000000000"}, "breaker-consecutive-failures: 4000000000 must be between 0 (off) and 1000000"},
		{[]string{"--breaker-min-requests", "4000000000"}, "breaker-min-requests: 4000000000 must be between 0 and 1000000"},
		{[]string{"--service-time", "2h"}, "service-time: 2h0m0s must be at most 1h0m0s"},
		{[]string{"--jitter", "2h"}, "jitter: 2h0m0s must be between 0 and 1h0m0s"},
		// Unclear messages: two lines, a saturated duration, a value echoed whole.
		{[]string{"--tiers", "5", "--retries", "10"}, "--tiers 5, --retries 10: the default rate for them is 0.0137 req/s (200 / (1+10)^4, so a retry storm fits on this machine), below the 1 req/s cbload paces; give --rate (1 to 20000), or fewer tiers or retries"},
		{[]string{"--start-at", "9999-12-31T23:59:59Z"}, "start-at 9999-12-31T23:59:59Z: more than 24h0m0s from now; want a time within 24h0m0s"},
		{[]string{"--start-at", "0001-12-31T00:00:00Z"}, "start-at 0001-12-31T00:00:00Z: the run's schedule ended at 0001-12-31T00:01:04Z, before now; want a time less than 1m4s ago"},
		{[]string{"--start-at", "0001-01-01T00:00:00Z"}, "--start-at 0001-01-01T00:00:00Z: the run's schedule ended long ago"}, // Go's zero time: once read as no start time
		{[]string{"--run-id", "/" + long}, `run-id "/` + long[:63] + `…": want 1 to 64 letters`},
		{[]string{"--start-at", long}, `--start-at "` + long[:64] + `…": want an RFC 3339 time`},
		{[]string{"--phases", long}, `--phases "` + long[:64] + `…": want three durations`},
		{[]string{"--rate", long}, `--rate "` + long[:64] + `…": want a number like 200 or 0.5`},
		{[]string{"--threshold", long}, `--threshold: threshold "` + long[:64] + `…": missing comparison`},
		{[]string{"--arms", long}, `arms: unknown arm "` + long[:64] + `…"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " ")[:min(40, len(strings.Join(tt.args, " ")))], func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := cbloadProc(t, nil, append([]string{"run", "--fault", "latency", "--dry-run"}, tt.args...)...)
			msg := strings.TrimSpace(stderr)
			msg = strings.TrimSuffix(msg, "\nRun 'cbload run --help' for usage.") // a flag's hint
			if code != exitUsage || msg != "cbload: "+tt.want && !strings.HasPrefix(msg, "cbload: "+tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("exit %d, stderr %q; want %d and one line starting %q\nstdout:\n%s", code, msg, exitUsage, "cbload: "+tt.want, stdout)
			}
			if len(msg) > 400 {
				t.Errorf("stderr is %d bytes; want the input named, not echoed", len(msg))
			}
		})
	}
}

// TestHeaderLimitsMatch checks that a scenario's and the flags' header
// count is the one a request file is held to.
func TestHeaderLimitsMatch(t *testing.T) {
	if scenario.MaxHeaders != harness.MaxHeaders {
		t.Errorf("scenario.MaxHeaders = %d, harness.MaxHeaders = %d; want one limit", scenario.MaxHeaders, harness.MaxHeaders)
	}
	if scenario.MaxDuration != harness.MaxSchedule {
		t.Errorf("scenario.MaxDuration = %v, harness.MaxSchedule = %v; want one limit", scenario.MaxDuration, harness.MaxSchedule)
	}
}
