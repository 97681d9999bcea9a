package reports

import (
	"encoding/json"
	"fmt"
	"time"
)

// Config is everything needed to rerun an experiment.
type Config struct {
	// Rate is the offered load in requests per second, constant over the run.
	Rate float64 `json:"rate"`
	// CollateralShare is the fraction of requests sent to /local.
	CollateralShare float64  `json:"collateral_share"`
	ClientTimeout   Duration `json:"client_timeout"`
	GatewayWorkers  int      `json:"gateway_workers"`
	QueueTimeout    Duration `json:"queue_timeout"`
	CallTimeout     Duration `json:"call_timeout"`
	LocalWork       Duration `json:"local_work"`
	Breaker         Breaker  `json:"breaker"`
	Upstream        Upstream `json:"upstream"`
	Arms            []string `json:"arms"`
	// Trials is how many times each arm ran (1 unless --trials said more).
	Trials int `json:"trials"`
	// ArmMode is how the arms of a trial ran: "sequential", one after the
	// other, or "concurrent", all at once on one clock (--arm-mode);
	// absent in reports from before the option, which ran sequential.
	ArmMode string `json:"arm_mode,omitempty"`
	// Tiers is the number of gateways chained before the upstream (1 when
	// absent); Retries the extra attempts each makes after a failure,
	// RetryBackoff the base of its full-jitter backoff.
	Tiers        int      `json:"tiers,omitempty"`
	Retries      int      `json:"retries,omitempty"`
	RetryBackoff Duration `json:"retry_backoff,omitempty"`
	// RetryBudget and Throttle are the settings of the retry-budget and
	// throttle arms, present when those arms ran.
	RetryBudget *RetryBudget `json:"retry_budget,omitempty"`
	Throttle    *Throttle    `json:"throttle,omitempty"`
	// Targets is set when the system under test is the user's own service
	// (--target) instead of cbload's built-in gateway.
	Targets []Target `json:"targets,omitempty"`
	// Upstreams lists the named dependencies of the user's service
	// (--upstream NAME=ADDR), each a fault-injecting upstream of its own.
	Upstreams []NamedUpstream `json:"upstreams,omitempty"`
	// Expect lists the --expect checks an answer had to meet to count as
	// ok, as given: an unscoped check (or api:CHECK) judged api answers,
	// collateral:CHECK collateral answers and all:CHECK every answer.
	Expect []string `json:"expect,omitempty"`
}

// Breaker is the circuit breaker's configuration (sony/gobreaker v2 settings
// plus cbload's trip policy) as the report carries it. The settings are
// declared and documented once, in package policy (policy.BreakerConfig),
// and defaulted once, in harness.DefaultConfig; this is their wire form,
// with durations as strings, filled field by field by package harness (a
// test there checks that no setting is missing). The same holds for
// RetryBudget and Throttle.
type Breaker struct {
	Timeout      Duration `json:"timeout"`
	MaxRequests  uint32   `json:"max_requests"`
	Interval     Duration `json:"interval"`
	BucketPeriod Duration `json:"bucket_period"`
	// The breaker trips when ConsecutiveFailures in a row fail, or when the
	// failure ratio over the window reaches FailureRatio with at least
	// MinRequests completed calls.
	ConsecutiveFailures uint32  `json:"consecutive_failures"`
	FailureRatio        float64 `json:"failure_ratio"`
	MinRequests         uint32  `json:"min_requests"`
}

// RetryBudget is the retry-budget arm's configuration: retries at most
// Ratio of requests over Window.
type RetryBudget struct {
	Ratio  float64  `json:"ratio"`
	Window Duration `json:"window"`
}

// Throttle is the throttle arm's configuration (client-side adaptive
// throttling): reject locally with probability
// max(0, (requests − K·accepts)/(requests + 1)) over Window.
type Throttle struct {
	K      float64  `json:"k"`
	Window Duration `json:"window"`
}

// Upstream is the fault-injecting upstream's healthy behaviour.
type Upstream struct {
	ServiceTime Duration `json:"service_time"`
	Jitter      Duration `json:"jitter"`
	Addr        string   `json:"addr,omitempty"`
	// Concurrency, Queue and HonorCancel are the upstream's finite
	// capacity (absent: unbounded).
	Concurrency int  `json:"concurrency,omitempty"`
	Queue       int  `json:"queue,omitempty"`
	HonorCancel bool `json:"honor_cancel,omitempty"`
	// External is true when the upstream was run by another process
	// (--upstream-external): its faults and request counts were not seen
	// by this run, and upstream request counts are unknown (reported 0).
	External bool `json:"external,omitempty"`
	// TLS is true when the upstream served HTTPS (--upstream-tls).
	TLS bool `json:"tls,omitempty"`
	// GRPC is true when the upstreams served gRPC (--upstream-grpc).
	GRPC bool `json:"grpc,omitempty"`
}

// NamedUpstream is one named dependency of a user's service.
type NamedUpstream struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
}

// Target is one endpoint of a user's own service under test.
type Target struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	// Requests lists the load mix sent to the target, as "METHOD URL", with
	// " (collateral)" after collateral requests; headers and bodies are
	// never written, as they may hold secrets.
	Requests []string `json:"requests,omitempty"`
}

// Duration is a time.Duration that travels as a Go duration string ("250ms").
type Duration time.Duration

// MarshalJSON encodes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON decodes a duration string such as "1.5s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"250ms\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: want a Go duration like \"250ms\" or \"2s\"", s)
	}
	*d = Duration(v)
	return nil
}

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }
