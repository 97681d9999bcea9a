package harness

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/policy"
	"github.com/cbload/cbload/reports"
)

// testConfig is a scaled-down experiment: a small gateway (8 workers, 300ms
// call timeout: ~26 upstream calls/s of capacity under a slow upstream) at a
// rate that saturates it without a breaker but stays light on 2 busy cores.
func testConfig(t *testing.T, fault string) Config {
	t.Helper()
	spec, err := faultserver.ParseSpec(fault)
	if err != nil {
		t.Fatalf("ParseSpec(%q): %v", fault, err)
	}
	cfg := DefaultConfig()
	cfg.Seed = 42
	cfg.Rate = 100
	cfg.Gateway.Workers = 8
	cfg.Gateway.CallTimeout = 300 * time.Millisecond
	cfg.Gateway.QueueTimeout = 500 * time.Millisecond
	cfg.ClientTimeout = 2 * time.Second
	cfg.Breaker.Timeout = time.Second
	cfg.Phases = []Phase{
		{Name: "baseline", Duration: 2 * time.Second},
		{Name: "fault", Duration: 6 * time.Second},
		{Name: "recovery", Duration: 4 * time.Second},
	}
	cfg.Phases[1].Faults = []faultserver.Spec{spec}
	return cfg
}

// runOrFail runs cfg and fails the test unless the run completed. A run
// whose validity checks failed (the machine stalled the process, or could
// not send the rate) measured the machine, not the code: it is run once
// more, and only a second invalid run fails the test.
func runOrFail(t *testing.T, cfg Config) *reports.Report {
	t.Helper()
	r, err := Run(context.Background(), cfg)
	if err == nil && !r.Validity.Valid {
		t.Logf("run not valid (%s); running it again", r.Verdict.Summary)
		r, err = Run(context.Background(), cfg)
	}
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !r.Validity.Valid {
		t.Fatalf("run not valid twice, the machine is too busy for this test: %s", r.Verdict.Summary)
	}
	if r.Partial {
		t.Fatalf("report is partial (%s); want complete", r.PartialReason)
	}
	for _, a := range r.Arms {
		if got, want := len(a.Series), int(cfg.TotalDuration()/time.Second); got != want {
			t.Errorf("%s: %d seconds in the series; want %d", a.Name, got, want)
		}
	}
	return r
}

// assertBreakerCycle checks the breaker opened during the fault and ended
// closed in recovery.
func assertBreakerCycle(t *testing.T, r *reports.Report) {
	t.Helper()
	b := r.Arm(reports.ArmBreaker)
	if b.Figures.TimeToOpenS == nil {
		t.Fatalf("breaker never opened during the fault; transitions %v", b.Transitions)
	}
	if *b.Figures.TimeToOpenS > 2 {
		t.Errorf("time to open = %vs; want within 2s of the fault's start", *b.Figures.TimeToOpenS)
	}
	last := b.Transitions[len(b.Transitions)-1]
	if last.To != reports.StateClosed || last.T < r.Phases[2].StartS {
		t.Errorf("last transition %+v; want → closed during recovery (from %vs)", last, r.Phases[2].StartS)
	}
	if b.Figures.TimeToRecoverS == nil {
		t.Errorf("breaker arm never recovered")
	}
}

func TestRunCascadeFaults(t *testing.T) {
	for _, fault := range []string{"latency:1s", "hang"} {
		t.Run(fault, func(t *testing.T) {
			r := runOrFail(t, testConfig(t, fault))
			assertBreakerCycle(t, r)
			b, n := r.Arm(reports.ArmBreaker), r.Arm(reports.ArmNoBreaker)
			if got := b.Figures.CollateralSuccessDuringFault; got < 0.98 {
				t.Errorf("breaker arm: /local success during the fault = %.3f; want ≥ 0.98", got)
			}
			if got := n.Figures.CollateralSuccessDuringFault; got > 0.9 {
				t.Errorf("no-breaker arm: /local success during the fault = %.3f; want a cascade (≤ 0.9)", got)
			}
			if bu, nu := b.Figures.UpstreamRequestsDuringFault, n.Figures.UpstreamRequestsDuringFault; nu < 3*bu {
				t.Errorf("upstream requests during the fault: %d with breaker, %d without; want ≥ 3× fewer with it", bu, nu)
			}
			if n.Figures.InflightPeak <= b.Figures.InflightPeak {
				t.Errorf("in-flight peak %d with breaker, %d without; want the no-breaker arm to pile up", b.Figures.InflightPeak, n.Figures.InflightPeak)
			}
			if r.Verdict.Outcome != reports.OutcomePrevented || !r.Verdict.CascadePrevented {
				t.Errorf("verdict = %s (%s); want prevented", r.Verdict.Outcome, r.Verdict.Summary)
			}
		})
	}
}

// A fast 503 costs the gateway nothing, so there is no cascade to prevent:
// the verdict must say so, while the breaker still sheds the upstream's load.
func TestRunErrorFaultNothingToPrevent(t *testing.T) {
	r := runOrFail(t, testConfig(t, "error:503"))
	assertBreakerCycle(t, r)
	b, n := r.Arm(reports.ArmBreaker), r.Arm(reports.ArmNoBreaker)
	for _, a := range []*reports.Arm{b, n} {
		if got := a.Figures.CollateralSuccessDuringFault; got < 0.98 {
			t.Errorf("%s arm: /local success during the fault = %.3f; want ≥ 0.98", a.Name, got)
		}
	}
	if bu, nu := b.Figures.UpstreamRequestsDuringFault, n.Figures.UpstreamRequestsDuringFault; nu < 3*bu {
		t.Errorf("upstream requests during the fault: %d with breaker, %d without; want ≥ 3× fewer with it", bu, nu)
	}
	if got := b.Summary["fault"].API.Outcomes.Rejected; got == 0 {
		t.Errorf("breaker arm rejected no /api requests during the fault")
	}
	if got := n.Summary["fault"].API.Outcomes.Rejected; got != 0 {
		t.Errorf("no-breaker arm rejected %d requests; want 0", got)
	}
	if r.Verdict.Outcome != reports.OutcomeNothingToPrevent {
		t.Errorf("verdict = %s (%s); want nothing_to_prevent", r.Verdict.Outcome, r.Verdict.Summary)
	}
}

// Latency below the call timeout slows /api but never ties up the gateway:
// nothing to prevent, and the breaker stays closed.
func TestRunLatencyBelowCallTimeout(t *testing.T) {
	r := runOrFail(t, testConfig(t, "latency:50ms"))
	b := r.Arm(reports.ArmBreaker)
	if b.Figures.Opens != 0 {
		t.Errorf("breaker opened %d times; want 0 (transitions %v)", b.Figures.Opens, b.Transitions)
	}
	if r.Verdict.Outcome != reports.OutcomeNothingToPrevent {
		t.Errorf("verdict = %s (%s); want nothing_to_prevent", r.Verdict.Outcome, r.Verdict.Summary)
	}
	if p50 := b.Summary["fault"].API.LatencyMS.P50; p50 < 50 || p50 > 80 {
		t.Errorf("/api p50 during a 50ms latency fault = %.1f ms; want 50–80 ms", p50)
	}
	// The gateway times its own calls: the fault's 50 ms plus the 2ms ± 1ms
	// healthy service time, with no queueing in it.
	calls := b.Summary["fault"].UpstreamCallMS
	if calls == nil || calls.P50 < 51 || calls.P50 > 60 {
		t.Errorf("gateway-observed upstream call p50 during a 50ms latency fault = %+v; want 51–60 ms", calls)
	}
}

func TestRunInterrupted(t *testing.T) {
	cfg := testConfig(t, "latency:1s")
	cfg.Phases[1].Duration = 30 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	var stoppedAt time.Time
	cfg.Progress = func(p Progress) {
		if p.Phase == "fault" && p.Second >= 3 && stoppedAt.IsZero() {
			stoppedAt = time.Now()
			cancel()
		}
	}
	cfg.Arms = []string{reports.ArmNoBreaker}
	r, err := Run(ctx, cfg)
	took := time.Since(stoppedAt)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v; want context.Canceled", err)
	}
	if r == nil || !r.Partial || r.PartialReason != "interrupted" {
		t.Fatalf("report = %+v; want partial, interrupted", r)
	}
	if took > 1500*time.Millisecond {
		t.Errorf("Run returned %v after the interrupt; want within about a second", took)
	}
	a := r.Arm(reports.ArmNoBreaker)
	if a == nil || len(a.Series) < 3 {
		t.Fatalf("partial report lost the measured seconds: %+v", a)
	}
	if got := a.Summary["baseline"].API.Requests; got == 0 {
		t.Errorf("baseline /api requests = 0; want the baseline kept")
	}
	// Every second, the one it stopped in too, has its gauges: a second
	// without a state is a report.json that cannot be read back.
	for _, s := range a.Series {
		if s.State == "" {
			t.Errorf("second %d of the partial report has no breaker state", s.T)
		}
	}
	if r.Verdict.Outcome != reports.OutcomeInconclusive {
		t.Errorf("verdict of a one-arm partial run = %s; want inconclusive", r.Verdict.Outcome)
	}
}

// mustSpec parses a fault spec a test knows is good.
func mustSpec(s string) faultserver.Spec {
	sp, err := faultserver.ParseSpec(s)
	if err != nil {
		panic(err)
	}
	return sp
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"negative rate", func(c *Config) { c.Rate = -1 }, "rate: -1 must be positive (requests per second)"},
		{"share one", func(c *Config) { c.CollateralShare = 1 }, "collateral-share: 1 must be in [0, 1)"},
		{"no workers", func(c *Config) { c.Gateway.Workers = 0 }, "gateway-workers: 0 must be between 1 and 100000"},
		{"client gives up first", func(c *Config) { c.ClientTimeout = time.Second },
			"client-timeout, queue-timeout, call-timeout: 1s must exceed 1s + 500ms (1.5s), or the load runner gives up before the gateway can answer"},
		{"unknown arm", func(c *Config) { c.Arms = []string{"breakr"} }, `arms: unknown arm "breakr"; want one or more of ` + strings.Join(policy.Arms(), ", ")},
		{"no tiers", func(c *Config) { c.Tiers = 0 }, "tiers: 0 must be between 1 and 5"},
		{"too many tiers", func(c *Config) { c.Tiers = 6 }, "tiers: 6 must be between 1 and 5"},
		{"negative retries", func(c *Config) { c.Gateway.Retries = -1 }, "retries: -1 must be between 0 and 10 (extra attempts after a failure)"},
		{"too many retries", func(c *Config) { c.Gateway.Retries = 11 }, "retries: 11 must be between 0 and 10 (extra attempts after a failure)"},
		{"negative backoff", func(c *Config) { c.Gateway.RetryBackoff = -time.Millisecond }, "retry-backoff: -1ms must be between 0 (retry at once) and 10s"},
		{"zero budget", func(c *Config) { c.RetryBudget.Ratio = 0 }, "retry-budget: 0 must be a share of requests in (0, 1], e.g. 10% or 0.1"},
		{"NaN budget", func(c *Config) { c.RetryBudget.Ratio = math.NaN() }, "retry-budget: NaN must be a share of requests in (0, 1], e.g. 10% or 0.1"},
		{"short budget window", func(c *Config) { c.RetryBudget.Window = 500 * time.Millisecond }, "retry-budget-window: 500ms must be between 1s and 1h"},
		{"throttle k below one", func(c *Config) { c.Throttle.K = 0.5 }, "throttle-k: 0.5 must be between 1 and 10 (the SRE book uses 2)"},
		{"throttle window", func(c *Config) { c.Throttle.Window = 0 }, "throttle-window: 0s must be between 1s and 1h"},
		{"fractional phase", func(c *Config) { c.Phases[0].Duration = 1500 * time.Millisecond }, "phases[0] (baseline): duration 1.5s must be a whole number of seconds"},
		{"no trip rule", func(c *Config) { c.Breaker.ConsecutiveFailures, c.Breaker.FailureRatio = 0, 0 },
			"breaker-consecutive-failures, breaker-failure-ratio: at least one trip rule must be set"},
		{"ratio above one", func(c *Config) { c.Breaker.FailureRatio = 1.5 }, "breaker-failure-ratio: 1.5 must be in [0, 1]"},
		{"tls fault on plain HTTP", func(c *Config) { c.Phases[1].AddFault("", mustSpec("tls:expired")) },
			`phases[1] (fault): fault "tls:expired" needs an HTTPS upstream: give --upstream-tls DIR (with --target)`},
		{"grpc fault", func(c *Config) { c.Phases[1].AddFault("", mustSpec("grpc-error")) },
			`phases[1] (fault): fault "grpc-error:UNAVAILABLE" needs a gRPC upstream: give --upstream-grpc (with --target), or run one with cbload serve --grpc`},
		{"http fault on a grpc upstream", func(c *Config) { c.UpstreamGRPC = true; c.Phases[1].AddFault("", mustSpec("error:503")) },
			`phases[1] (fault): fault "error:503": error is an HTTP fault, and --upstream-grpc serves gRPC; it takes latency, hang, reset, slowdown, truncate, grpc-error`},
		{"http framing on a grpc upstream", func(c *Config) {
			c.UpstreamGRPC = true
			c.Phases[1].AddFault("", mustSpec("truncate:1KiB,framing=chunked"))
		},
			`phases[1] (fault): fault "truncate:1KiB,framing=chunked": framing= is for HTTP answers; over gRPC truncate cuts the message, with no framing choice`},
		{"grpc upstream without a target", func(c *Config) { c.UpstreamGRPC = true },
			"upstream-grpc: only used with --target; cbload's own gateway calls its upstream over plain HTTP"},
		{"named tls fault on plain HTTP", func(c *Config) { c.Phases[1].AddFault("payments", mustSpec("tls,rate=0.5")) },
			`phases[1] (fault): fault "tls:handshake,rate=0.5" needs an HTTPS upstream: give --upstream-tls DIR (with --target)`},
		{"too many buckets", func(c *Config) { c.Breaker.Interval, c.Breaker.BucketPeriod = time.Hour, time.Nanosecond },
			"breaker-interval, breaker-bucket-period: 1h0m0s in buckets of 1ns is more than 10000 buckets; want a bucket period of at least interval/10000 (360ms)"},
		{"one bucket too many", func(c *Config) { c.Breaker.Interval, c.Breaker.BucketPeriod = 10*time.Second+1, time.Millisecond },
			"breaker-interval, breaker-bucket-period: 10.000000001s in buckets of 1ms is more than 10000 buckets; want a bucket period of at least interval/10000 (1.000001ms)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if err == nil || err.Error() != tt.want {
				t.Errorf("Validate() = %v; want %q", err, tt.want)
			}
		})
	}
	def := DefaultConfig()
	if err := def.Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v; want nil", err)
	}
	// An external upstream injects the faults itself: cbload serve --grpc
	// takes grpc-error.
	ext := DefaultConfig()
	ext.UpstreamExternal = true
	ext.Phases[1].Faults = []faultserver.Spec{mustSpec("grpc-error:UNAVAILABLE")}
	if err := ext.Validate(); err != nil && strings.Contains(err.Error(), "grpc") {
		t.Errorf("Validate() with an external upstream and grpc-error = %v; want no complaint about the fault", err)
	}
}
