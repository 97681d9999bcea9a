// Package harness runs cbload's A/B experiment: a gateway with bounded
// capacity that calls a fault-injecting upstream through a circuit breaker,
// driven by a constant-rate load through baseline → fault → recovery phases,
// once with the breaker and once without.
//
// Run is the single entry point; it returns a reports.Report.
package harness

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/internal/field"
	"github.com/cbload/cbload/policy"
	"github.com/cbload/cbload/reports"
	"github.com/cbload/cbload/schedule"
)

// Config describes one experiment. Start from DefaultConfig and change what
// you need; Validate reports the first field that cannot be used.
type Config struct {
	// Phases is the schedule each arm runs through. Faults apply only in
	// phases that list them.
	Phases []Phase
	// Arms lists the arms to run, in order: "breaker", "no-breaker".
	Arms []string

	// Rate is the offered load in requests per second (open model: requests
	// are sent on schedule whether or not earlier ones have returned).
	Rate float64
	// CollateralShare is the fraction of requests sent to /local.
	CollateralShare float64
	// ClientTimeout is the load runner's own timeout per request.
	ClientTimeout time.Duration

	Gateway GatewayConfig
	// Tiers is how many gateways are chained in front of the upstream, each
	// with its own pool, call timeout, retries and policy; 1 by default, at
	// most MaxTiers.
	Tiers int

	// Each arm's policy reads its own settings.
	Breaker     BreakerConfig
	RetryBudget RetryBudgetConfig
	Throttle    ThrottleConfig

	Upstream UpstreamConfig

	// Tracing configures OpenTelemetry traces across the load runner, the
	// gateway and the upstream; off unless an OTLP endpoint is set.
	Tracing TracingConfig

	// Targets, when set, replace the built-in gateway with a user's own
	// service: each target is an arm, and the upstream listens at
	// UpstreamAddr, where the service is configured to call it. Arms and
	// the gateway settings are then unused. See target.go.
	Targets      []Target
	UpstreamAddr string
	// Upstreams, instead of UpstreamAddr, names several dependencies of the
	// service, each its own fault-injecting upstream with its own faults
	// per phase (Phase.UpstreamFaults). See upstreams.go.
	Upstreams []NamedUpstream
	// Expect lists the checks a target's answers must meet to count as ok
	// (--expect): each judges api answers, collateral ones or every one, as
	// scoped (see Expectation). Empty: the status decides.
	Expect []Expectation
	// TargetTLS says how the targets' HTTPS certificates are checked.
	TargetTLS TargetTLS
	// AllowRemote lists where, besides 127.0.0.1, ::1 and localhost,
	// targets, state URLs and the upstream's listen address may be
	// (--allow-remote); empty by default.
	AllowRemote AllowList
	// UpstreamTLSDir, when set, makes the upstream serve HTTPS with the
	// certificate kept in that folder (created there on first use); the
	// user's service must trust its UpstreamCAFile. See network.go.
	UpstreamTLSDir string
	// UpstreamGRPC makes the upstreams serve gRPC: any method answered with
	// an empty message, faults in gRPC's terms (faultserver.GRPCKinds), the
	// calls counted by method and status code (--upstream-grpc).
	UpstreamGRPC bool

	// Seed drives every random choice: the request mix and the upstream's
	// fault rolls. Both arms use the same seed; a shard uses one derived
	// from it and its index (ShardSeed).
	Seed int64

	// Trials is how many times each arm runs, interleaved A B, B A, A B …;
	// 0 or 1 runs each once. With several, the figures are medians over
	// the trials and the verdict needs every trial to agree.
	Trials int
	// ArmMode is how the arms of a trial run: ArmsSequential (the default;
	// "" too), one after the other, or ArmsConcurrent, all at once, each
	// with its own gateway, upstream and load runner, on one clock — a
	// verdict in the time of one arm, both arms under the same machine
	// noise at the same moments. Concurrent needs cbload's own gateway
	// (not Targets) and no tracing.
	ArmMode string
	// StartAt, when set, is the absolute time the first arm starts; arm k
	// starts at ArmStart(k). Run waits for it (cancelling ctx ends the
	// wait), and aligns each arm's phases on it even when the load starts
	// late. The shards of one run share it.
	StartAt time.Time
	// Shard makes this run one shard of a run spread over several
	// processes; it needs StartAt, Targets and UpstreamExternal.
	Shard Shard
	// RunID names the run in the report; empty: derived from StartAt (or
	// the time the run started) and Seed, so shards agree on it.
	RunID string
	// UpstreamExternal, with Targets, starts no upstream: another process
	// runs the one the service calls (one for every shard), injecting the
	// phases' faults on the run's schedule (UpstreamSchedule). Upstream
	// request counts are then unknown.
	UpstreamExternal bool

	// Progress, when set, is called once per second with a live snapshot.
	// It must return quickly.
	Progress func(Progress)
	// OnSample, when set, is called with every request as it is recorded,
	// from the measurement loop; it must return quickly. It gives a
	// library user (or a test) the raw samples the report aggregates.
	OnSample func(Sample)
	// Metrics, when set, is fed live as the run goes — every request as it
	// completes, the phase, and gauges read when it is scraped — for a
	// Prometheus endpoint or OTLP metrics (see metrics.go).
	Metrics *Metrics
	// OnCheckpoint, when set, is called as the run's results settle (see
	// Checkpoint) with the report as it stands then — judged as the end of
	// the run judges the final one, from the arm runs that ended and the
	// one running, up to the phase that settled, and marked Partial — and
	// where the run is. It
	// runs in the measurement loop and must return quickly. A non-empty
	// answer stops the run: the load stops within a second, no other arm
	// runs, and Run returns the report, Partial with the answer as its
	// PartialReason, and an *AbortError.
	OnCheckpoint func(r *reports.Report, at Checkpoint) (stop string)
	// Results, when set, gets every result as it completes (--results);
	// the caller closes it after Run.
	Results *ResultsFile

	// sched is Phases as the clock runs them, set by Run.
	sched *schedule.Schedule
}

// Sample is one request as the recorder counted it.
type Sample struct {
	Arm string
	// Phase is the phase the request completed in, where its outcome and
	// latency count.
	Phase      string
	Collateral bool
	OK         bool
	Latency    time.Duration
}

// Phase is one stretch of the schedule.
type Phase struct {
	Name     string
	Duration time.Duration
	// Faults apply to cbload's own upstream, or to the only upstream of a
	// user's service.
	Faults []faultserver.Spec
	// UpstreamFaults apply to the named upstreams of a user's service
	// (Config.Upstreams), by name.
	UpstreamFaults map[string][]faultserver.Spec
}

// GatewayConfig sizes the gateway.
type GatewayConfig struct {
	// Workers is the fixed number of requests the gateway serves at once,
	// shared by /api and /local.
	Workers int
	// QueueTimeout is how long a request waits for a worker before the
	// gateway answers 503 "saturated".
	QueueTimeout time.Duration
	// CallTimeout bounds each call to the upstream, reading the body included.
	CallTimeout time.Duration
	// LocalWork is how long /local holds its worker (a stand-in for a cache
	// lookup or a small computation).
	LocalWork time.Duration
	// Retries is how many extra attempts /api makes after a failure the
	// breaker would count, at most MaxRetries.
	Retries int
	// RetryBackoff is the base of the full-jitter backoff before a retry:
	// retry n waits a uniform draw from [0, RetryBackoff·2^(n−1)). Zero
	// retries at once.
	RetryBackoff time.Duration
}

// Limits of the retry and tier settings.
const (
	MaxRetries      = 10
	MaxTiers        = 5
	MaxRetryBackoff = 10 * time.Second
)

// Ceilings of the other settings. Each keeps the sums cbload makes of them
// (an arm's span: schedule + client timeout; queue + call timeout) far from
// overflowing, and none is a value a real experiment needs more of.
const (
	// MaxSchedule is the longest schedule of one arm, the sum of its
	// phases' durations: schedule.MaxDuration, which schedule.New checks.
	MaxSchedule = schedule.MaxDuration
	// MaxTimeout bounds every other duration: the client, queue and call
	// timeouts, local work, the breaker's timeout and interval, and the
	// upstream's service time and jitter.
	MaxTimeout = time.Hour
	// MaxBreakerCount bounds the breaker's counts: max requests,
	// consecutive failures and min requests.
	MaxBreakerCount = 1_000_000
	// MaxBreakerBuckets bounds the buckets of the breaker's rolling window
	// (interval / bucket period), each of which it allocates.
	MaxBreakerBuckets = 10_000
)

// BreakerConfig configures the breaker arm's circuit breaker; it is
// defined, with the breaker, in package policy.
type BreakerConfig = policy.BreakerConfig

// RetryBudgetConfig configures the retry-budget arm (package policy).
type RetryBudgetConfig = policy.RetryBudgetConfig

// ThrottleConfig configures the throttle arm (package policy).
type ThrottleConfig = policy.ThrottleConfig

// UpstreamConfig is the fault-injecting upstream's healthy behaviour.
type UpstreamConfig struct {
	ServiceTime time.Duration
	Jitter      time.Duration
	// Concurrency, when above zero, gives the upstream finite capacity:
	// that many requests worked on at once, up to Queue more waiting, the
	// rest answered 503 at once. By default queued and running work is
	// done in full when its caller has gone — the sustaining effect of a
	// metastable failure; HonorCancel drops it instead. Zero keeps the
	// unbounded upstream. See faultserver.Config.
	Concurrency int
	Queue       int
	HonorCancel bool
}

// Progress is a live snapshot of the second that just ended, reported once
// per second.
type Progress struct {
	Arm string
	// Second is the second described, [Second, Second+1) from the start
	// of the arm; Phase is the phase it belongs to.
	Second int
	Phase  string
	Total  time.Duration
	// Scheduled is how many requests the schedule called for in the
	// second, Sent how many the load runner sent.
	Scheduled, Sent int64
	// APIOK and LocalOK are the success ratios of the /api and /local
	// answers that arrived in the second; -1 when none did.
	APIOK, LocalOK float64
	// Inflight is the gateway's (a target's: the load runner's) requests
	// in flight at the end of the second; State the breaker state then.
	Inflight int64
	State    string
}

// DefaultConfig returns the configuration of the default experiment: sized
// for a 2-core machine so that, with a latency fault, the arm without a
// breaker saturates the gateway while the arm with one stays healthy.
func DefaultConfig() Config {
	return Config{
		Phases: []Phase{
			{Name: "baseline", Duration: 5 * time.Second},
			{Name: "fault", Duration: 15 * time.Second},
			{Name: "recovery", Duration: 10 * time.Second},
		},
		Arms:            []string{"breaker", "no-breaker"},
		Trials:          1,
		ArmMode:         ArmsSequential,
		Rate:            200,
		CollateralShare: 0.2,
		ClientTimeout:   3 * time.Second,
		Gateway: GatewayConfig{
			Workers:      32,
			QueueTimeout: time.Second,
			CallTimeout:  500 * time.Millisecond,
			LocalWork:    time.Millisecond,
		},
		Tiers: 1,
		Breaker: BreakerConfig{
			Timeout:             2 * time.Second,
			MaxRequests:         3,
			Interval:            10 * time.Second,
			BucketPeriod:        time.Second,
			ConsecutiveFailures: 5,
			FailureRatio:        0.5,
			MinRequests:         20,
		},
		RetryBudget: RetryBudgetConfig{Ratio: 0.1, Window: 10 * time.Second},
		Throttle:    ThrottleConfig{K: 2, Window: 10 * time.Second},
		Upstream: UpstreamConfig{
			ServiceTime: 2 * time.Millisecond,
			Jitter:      time.Millisecond,
		},
		Tracing: TracingConfig{JaegerURL: DefaultJaegerURL},
	}
}

// MinBreakerTimeout is the shortest open timeout a breaker may have. A
// breaker opens, waits out the timeout and tries again, so it changes state
// at most about three times per timeout: 50ms bounds a one-hour arm to
// about 216,000 recorded transitions (a few MB in report.json).
const MinBreakerTimeout = 50 * time.Millisecond

// Validate returns an error naming the first field that cannot be used and
// the accepted form.
func (c *Config) Validate() error {
	for i, p := range c.Phases {
		if p.Duration < time.Second {
			return phaseInvalid(i, p, "duration %v is too short; want at least 1s", p.Duration)
		}
		if p.Duration%time.Second != 0 {
			return phaseInvalid(i, p, "duration %v must be a whole number of seconds", p.Duration)
		}
		for _, name := range append([]string{""}, slices.Sorted(maps.Keys(p.UpstreamFaults))...) {
			fs := p.Faults
			if name != "" {
				fs = p.UpstreamFaults[name]
			}
			for _, f := range fs {
				// An external upstream (another process) injects the
				// faults itself, and may be HTTPS or gRPC.
				switch {
				case c.UpstreamExternal:
				case c.UpstreamGRPC && !slices.Contains(faultserver.GRPCKinds(), f.Kind):
					return phaseInvalid(i, p, "fault %q: %s is an HTTP fault, and --upstream-grpc serves gRPC; it takes %s", f.String(), f.Kind, strings.Join(faultserver.GRPCKinds(), ", "))
				case c.UpstreamGRPC && faultserver.CheckGRPC(f) != nil:
					return phaseInvalid(i, p, "%v", faultserver.CheckGRPC(f))
				case f.Kind == "tls" && c.UpstreamTLSDir == "":
					return phaseInvalid(i, p, "fault %q needs an HTTPS upstream: give --upstream-tls DIR (with --target)", f.String())
				case f.Kind == "grpc-error" && !c.UpstreamGRPC:
					return phaseInvalid(i, p, "fault %q needs a gRPC upstream: give --upstream-grpc (with --target), or run one with cbload serve --grpc", f.String())
				}
			}
		}
	}
	// The schedule's own rules (names, count, length) are checked once,
	// where the schedule is built; RunValidated runs the one built here.
	s, err := newSchedule(c.Phases)
	if err != nil {
		return err
	}
	c.sched = s
	arms := strings.Join(policy.Arms(), ", ")
	if len(c.Arms) == 0 {
		return invalid("arms", "arms", "need at least one of %s", arms)
	}
	seen := map[string]bool{}
	for _, a := range c.Arms {
		if !slices.Contains(policy.Arms(), a) {
			return invalid("arms", "arms", "unknown arm %q; want one or more of %s", a, arms)
		}
		if seen[a] {
			return invalid("arms", "arms", "%q listed twice", a)
		}
		seen[a] = true
	}
	switch {
	case !(c.Rate > 0): // NaN too
		return invalid("load.rate", "rate", "%v must be positive (requests per second)", c.Rate)
	case c.Rate < MinRate:
		return invalid("load.rate", "rate", "%v is below %d request per second, the slowest rate cbload paces; want %d to %d", c.Rate, MinRate, MinRate, MaxRate)
	case c.Rate > MaxRate:
		return invalid("load.rate", "rate", "%v is more than this load runner sends reliably; want at most %d", c.Rate, MaxRate)
	case !(c.CollateralShare >= 0 && c.CollateralShare < 1):
		return invalid("load.collateral_share", "collateral-share", "%v must be in [0, 1)", c.CollateralShare)
	case c.Trials < 1 || c.Trials > MaxTrials:
		return invalid("trials", "trials", "%d must be between 1 and %d", c.Trials, MaxTrials)
	case c.ClientTimeout <= 0 || c.ClientTimeout > MaxTimeout:
		return invalid("load.client_timeout", "client-timeout", "%v must be positive and at most %v", c.ClientTimeout, MaxTimeout)
	case c.Gateway.Workers < 1 || c.Gateway.Workers > 100000:
		return invalid("gateway.workers", "gateway-workers", "%d must be between 1 and 100000", c.Gateway.Workers)
	case c.Gateway.QueueTimeout <= 0 || c.Gateway.QueueTimeout > MaxTimeout:
		return invalid("gateway.queue_timeout", "queue-timeout", "%v must be positive and at most %v", c.Gateway.QueueTimeout, MaxTimeout)
	case c.Gateway.CallTimeout <= 0 || c.Gateway.CallTimeout > MaxTimeout:
		return invalid("gateway.call_timeout", "call-timeout", "%v must be positive and at most %v", c.Gateway.CallTimeout, MaxTimeout)
	case c.Gateway.LocalWork < 0 || c.Gateway.LocalWork > MaxTimeout:
		return invalid("gateway.local_work", "local-work", "%v must be between 0 and %v", c.Gateway.LocalWork, MaxTimeout)
	case c.ClientTimeout <= c.Gateway.QueueTimeout+c.Gateway.CallTimeout:
		return invalidAll([]string{"load.client_timeout", "gateway.queue_timeout", "gateway.call_timeout"}, []string{"client-timeout", "queue-timeout", "call-timeout"},
			"%v must exceed %v + %v (%v), or the load runner gives up before the gateway can answer",
			c.ClientTimeout, c.Gateway.QueueTimeout, c.Gateway.CallTimeout, c.Gateway.QueueTimeout+c.Gateway.CallTimeout)
	case c.Breaker.Timeout < MinBreakerTimeout:
		return invalid("breaker.timeout", "breaker-timeout", "%v must be at least %v (the breaker changes state at most about three times per open timeout, which bounds the transitions a run records)", c.Breaker.Timeout, MinBreakerTimeout)
	case c.Breaker.Timeout > MaxTimeout:
		return invalid("breaker.timeout", "breaker-timeout", "%v must be at most %v", c.Breaker.Timeout, MaxTimeout)
	case c.Breaker.MaxRequests < 1 || c.Breaker.MaxRequests > MaxBreakerCount:
		return invalid("breaker.max_requests", "breaker-max-requests", "%d must be between 1 and %d", c.Breaker.MaxRequests, MaxBreakerCount)
	case c.Breaker.ConsecutiveFailures > MaxBreakerCount:
		return invalid("breaker.consecutive_failures", "breaker-consecutive-failures", "%d must be between 0 (off) and %d", c.Breaker.ConsecutiveFailures, MaxBreakerCount)
	case c.Breaker.MinRequests > MaxBreakerCount:
		return invalid("breaker.min_requests", "breaker-min-requests", "%d must be between 0 and %d", c.Breaker.MinRequests, MaxBreakerCount)
	case c.Breaker.Interval < 0 || c.Breaker.Interval > MaxTimeout:
		return invalid("breaker.interval", "breaker-interval", "%v must be between 0 (keep counts until the state changes) and %v", c.Breaker.Interval, MaxTimeout)
	case c.Breaker.BucketPeriod < 0 || (c.Breaker.BucketPeriod > 0 && c.Breaker.BucketPeriod > c.Breaker.Interval):
		return invalid("breaker.bucket_period", "breaker-bucket-period", "%v must be between 0 and breaker-interval (%v)", c.Breaker.BucketPeriod, c.Breaker.Interval)
	case c.Breaker.BucketPeriod > 0 && (c.Breaker.Interval-1)/c.Breaker.BucketPeriod >= MaxBreakerBuckets:
		return invalidAll([]string{"breaker.interval", "breaker.bucket_period"}, []string{"breaker-interval", "breaker-bucket-period"}, "%v in buckets of %v is more than %d buckets; want a bucket period of at least interval/%d (%v)",
			c.Breaker.Interval, c.Breaker.BucketPeriod, MaxBreakerBuckets, MaxBreakerBuckets, (c.Breaker.Interval+MaxBreakerBuckets-1)/MaxBreakerBuckets)
	case c.Breaker.ConsecutiveFailures == 0 && c.Breaker.FailureRatio == 0:
		return invalidAll([]string{"breaker.consecutive_failures", "breaker.failure_ratio"}, []string{"breaker-consecutive-failures", "breaker-failure-ratio"}, "at least one trip rule must be set")
	case !(c.Breaker.FailureRatio >= 0 && c.Breaker.FailureRatio <= 1):
		return invalid("breaker.failure_ratio", "breaker-failure-ratio", "%v must be in [0, 1]", c.Breaker.FailureRatio)
	case c.Tiers < 1 || c.Tiers > MaxTiers:
		return invalid("gateway.tiers", "tiers", "%d must be between 1 and %d", c.Tiers, MaxTiers)
	case c.Gateway.Retries < 0 || c.Gateway.Retries > MaxRetries:
		return invalid("gateway.retries", "retries", "%d must be between 0 and %d (extra attempts after a failure)", c.Gateway.Retries, MaxRetries)
	case c.Gateway.RetryBackoff < 0 || c.Gateway.RetryBackoff > MaxRetryBackoff:
		return invalid("gateway.retry_backoff", "retry-backoff", "%v must be between 0 (retry at once) and %v", c.Gateway.RetryBackoff, MaxRetryBackoff)
	case !(c.RetryBudget.Ratio > 0 && c.RetryBudget.Ratio <= 1):
		return invalid("retry_budget.ratio", "retry-budget", "%v must be a share of requests in (0, 1], e.g. 10%% or 0.1", c.RetryBudget.Ratio)
	case c.RetryBudget.Window < time.Second || c.RetryBudget.Window > time.Hour:
		return invalid("retry_budget.window", "retry-budget-window", "%v must be between 1s and 1h", c.RetryBudget.Window)
	case !(c.Throttle.K >= 1 && c.Throttle.K <= 10):
		return invalid("throttle.k", "throttle-k", "%v must be between 1 and 10 (the SRE book uses 2)", c.Throttle.K)
	case c.Throttle.Window < time.Second || c.Throttle.Window > time.Hour:
		return invalid("throttle.window", "throttle-window", "%v must be between 1s and 1h", c.Throttle.Window)
	case c.Upstream.ServiceTime <= 0:
		// The faultserver reads zero as "its default", which would surprise
		// whoever asked for zero.
		return invalid("upstream.service_time", "service-time", "%v must be positive; use 1us for a near-instant upstream", c.Upstream.ServiceTime)
	case c.Upstream.ServiceTime > MaxTimeout:
		return invalid("upstream.service_time", "service-time", "%v must be at most %v", c.Upstream.ServiceTime, MaxTimeout)
	case c.Upstream.Jitter < 0 || c.Upstream.Jitter > MaxTimeout:
		return invalid("upstream.jitter", "jitter", "%v must be between 0 and %v", c.Upstream.Jitter, MaxTimeout)
	case c.Upstream.Concurrency < 0 || c.Upstream.Concurrency > faultserver.MaxConcurrency:
		return invalid("upstream.concurrency", "upstream-concurrency", "%d must be between 0 (unbounded) and %d", c.Upstream.Concurrency, faultserver.MaxConcurrency)
	case c.Upstream.Queue < 0 || c.Upstream.Queue > faultserver.MaxQueue:
		return invalid("upstream.queue", "upstream-queue", "%d must be between 0 and %d", c.Upstream.Queue, faultserver.MaxQueue)
	case c.Upstream.Concurrency == 0 && c.Upstream.Queue > 0:
		return invalid("upstream.queue", "upstream-queue", "needs upstream-concurrency above 0")
	case c.Upstream.Concurrency == 0 && c.Upstream.HonorCancel:
		return invalid("upstream.honor_cancel", "upstream-honor-cancel", "needs upstream-concurrency above 0")
	}
	if err := c.validateArmMode(); err != nil {
		return err
	}
	if err := c.validateTargets(); err != nil {
		return err
	}
	if err := c.validateShard(); err != nil {
		return err
	}
	return c.Tracing.validate()
}

// invalid is the error of the setting at path, named name in the message.
func invalid(path, name, format string, args ...any) error {
	return field.Invalid(path, name, format, args...)
}

// invalidAll is the error of a rule that reads the settings at paths, named
// names in the message.
func invalidAll(paths, names []string, format string, args ...any) error {
	return field.All(paths, names, format, args...)
}

// phaseInvalid is the error of the i-th phase, p.
func phaseInvalid(i int, p Phase, format string, args ...any) error {
	return field.Invalid(fmt.Sprintf("phases[%d]", i), fmt.Sprintf("phases[%d] (%s)", i, p.Name), format, args...)
}

// targetInvalid is the error of the i-th target, named name.
func targetInvalid(i int, name, format string, args ...any) error {
	return field.Invalid(fmt.Sprintf("targets[%d]", i), name, format, args...)
}

// The arm modes (Config.ArmMode).
const (
	ArmsSequential = "sequential"
	ArmsConcurrent = "concurrent"
)

// concurrent reports whether the arms of a trial run at once.
func (c *Config) concurrent() bool { return c.ArmMode == ArmsConcurrent }

// validateArmMode checks ArmMode; it is part of Validate.
func (c *Config) validateArmMode() error {
	switch {
	case c.ArmMode != "" && c.ArmMode != ArmsSequential && c.ArmMode != ArmsConcurrent:
		return invalid("arm_mode", "arm-mode", "%q; want %s or %s", c.ArmMode, ArmsSequential, ArmsConcurrent)
	case !c.concurrent():
		return nil
	case len(c.Targets) > 0:
		// The targets call one upstream (--upstream-addr), which cannot be
		// in two arms' phases at once.
		return invalid("arm_mode", "arm-mode", "concurrent runs cbload's own gateway only; with --target every target calls the one upstream at --upstream-addr, so run the arms sequential")
	case c.Tracing.Exporting():
		// Spans carry the running arm and phase as run-wide labels.
		return invalid("arm_mode", "arm-mode", "concurrent is not traced; spans are labelled with one running arm at a time: drop the OTLP endpoint (--otlp-endpoint, OTEL_EXPORTER_OTLP_ENDPOINT) or run the arms sequential")
	}
	return nil
}

// armSlot returns the start slot of the k-th arm run (0-based, in running
// order): its own when the arms run one after the other, its trial's when
// they run at once.
func (c *Config) armSlot(k int) int {
	if !c.concurrent() || len(c.Targets) > 0 {
		return k
	}
	return k / max(len(c.Arms), 1)
}

// schedule returns the phases as a schedule, the one clock of a run's arms
// (drive switches phases by it) and of the upstream a run's shards share
// (UpstreamSchedule): the one Validate built, else a new one.
func (c *Config) schedule() (*schedule.Schedule, error) {
	if c.sched != nil {
		return c.sched, nil
	}
	return newSchedule(c.Phases)
}

// newSchedule builds phases into a schedule (schedule.New, whose errors
// name the phase).
func newSchedule(phases []Phase) (*schedule.Schedule, error) {
	ps := make([]schedule.Phase, len(phases))
	for i, p := range phases {
		ps[i] = schedule.Phase{Name: p.Name, Duration: p.Duration, Faults: p.Faults}
	}
	return schedule.New(ps)
}

// TotalDuration is the length of one arm: its schedule's; 0 for phases
// Validate refuses.
func (c *Config) TotalDuration() time.Duration {
	s, err := c.schedule()
	if err != nil {
		return 0
	}
	return s.Duration()
}

// reportPhases returns the schedule as a report states it: each phase's
// name, its span from the schedule's clock and its faults (those for named
// upstreams too, as NAME=SPEC). Run's clock must be set.
func (c *Config) reportPhases() []reports.Phase {
	out := make([]reports.Phase, len(c.Phases))
	for i, p := range c.Phases {
		out[i] = reports.Phase{Name: p.Name, StartS: c.sched.Start(i).Seconds(), EndS: c.sched.Start(i + 1).Seconds(), Faults: p.FaultStrings()}
	}
	return out
}

func specStrings(specs []faultserver.Spec) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.String()
	}
	return out
}

func (p Phase) String() string {
	if !p.Faulty() {
		return p.Name
	}
	return p.Name + " [" + strings.Join(p.FaultStrings(), " ") + "]"
}
