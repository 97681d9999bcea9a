// Package reports defines cbload's report — the cbload/report/v1 contract
// that CI jobs parse — and renders it as JSON, Markdown and self-contained
// HTML.
//
// A Report is produced by harness.Run and is plain data: renderers never
// recompute measurements, they only present them, so a saved report.json can
// be re-rendered by newer renderers without rerunning the experiment.
package reports

import (
	"encoding/json"
	"fmt"
	"time"
)

// Schema is the value of Report.Schema for this version of the contract.
// Additive changes keep the version; removing or changing the meaning of a
// field needs a new one.
const Schema = "cbload/report/v1"

// Arm names.
const (
	ArmBreaker   = "breaker"
	ArmNoBreaker = "no-breaker"
)

// Breaker states as they appear in Series and Transitions. StateNone marks
// an arm without a breaker; StateUnknown a user's own service, whose breaker
// cannot be seen from outside.
const (
	StateClosed   = "closed"
	StateOpen     = "open"
	StateHalfOpen = "half-open"
	StateNone     = "none"
	StateUnknown  = "unknown"
)

// Where an arm's breaker states come from (Arm.BreakerFigures).
const (
	// BreakerMeasured: cbload's own breaker, or a user's service whose
	// breaker state URL reported its states.
	BreakerMeasured = "measured"
	// BreakerInferred: inferred from outside a user's service, from the
	// upstream's arrivals per 100 ms against the /api requests sent.
	BreakerInferred = "inferred"
	// BreakerUnknown: not observable; there is no state URL and nothing to
	// infer from (the upstream received nothing in the baseline).
	BreakerUnknown = "unknown"
)

// Report is the outcome of one cbload experiment: its configuration, the
// phase schedule, per-arm measurements and the verdict.
type Report struct {
	Schema        string    `json:"schema"`
	CbloadVersion string    `json:"cbload_version"`
	RunID         string    `json:"run_id"`
	StartedAt     time.Time `json:"started_at"`
	FinishedAt    time.Time `json:"finished_at"`
	Seed          int64     `json:"seed"`
	// Partial is true when the run was interrupted or failed part-way; the
	// report then holds what was measured up to that point.
	Partial       bool   `json:"partial"`
	PartialReason string `json:"partial_reason,omitempty"`
	// Command is a cbload command line that reproduces this run.
	Command string  `json:"command"`
	Config  Config  `json:"config"`
	Phases  []Phase `json:"phases"`
	Arms    []Arm   `json:"arms"`
	Verdict Verdict `json:"verdict"`
	// Thresholds holds the result of every --threshold check, in the order given.
	Thresholds []ThresholdResult `json:"thresholds,omitempty"`
	Tracing    *Tracing          `json:"tracing,omitempty"`
}

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
	// Targets is set when the system under test is the user's own service
	// (--target) instead of cbload's built-in gateway.
	Targets []Target `json:"targets,omitempty"`
	// Upstreams lists the named dependencies of the user's service
	// (--upstream NAME=ADDR), each a fault-injecting upstream of its own.
	Upstreams []NamedUpstream `json:"upstreams,omitempty"`
	// Expect lists the --expect checks an api response had to meet to count
	// as ok.
	Expect []string `json:"expect,omitempty"`
}

// Breaker is the circuit breaker's configuration (sony/gobreaker v2 settings
// plus cbload's trip policy).
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

// Upstream is the fault-injecting upstream's healthy behaviour.
type Upstream struct {
	ServiceTime Duration `json:"service_time"`
	Jitter      Duration `json:"jitter"`
	Addr        string   `json:"addr,omitempty"`
	// TLS is true when the upstream served HTTPS (--upstream-tls).
	TLS bool `json:"tls,omitempty"`
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

// Phase is one stretch of the schedule; times are seconds from the start of
// each arm.
type Phase struct {
	Name   string   `json:"name"`
	StartS float64  `json:"start_s"`
	EndS   float64  `json:"end_s"`
	Faults []string `json:"faults"`
}

// Arm holds the measurements of one arm of the experiment.
type Arm struct {
	// Name is ArmBreaker or ArmNoBreaker for the built-in gateway, or the
	// target's name for a user's own service.
	Name string `json:"name"`
	// Breaker is true when the arm ran with the circuit breaker.
	Breaker bool `json:"breaker"`
	// BreakerFigures says where the breaker's states, transitions and the
	// figures drawn from them (opens, time to open, time to recover) come
	// from: one of the Breaker constants. Empty in reports of cbload
	// versions without it.
	BreakerFigures string `json:"breaker_figures,omitempty"`
	// StartedAt is when the arm's load began: the wall-clock time of its
	// t_s = 0, to line its seconds up with the service's own logs.
	StartedAt time.Time `json:"started_at,omitzero"`
	// Summary maps a phase name to the totals over that phase.
	Summary     map[string]PhaseSummary `json:"summary"`
	Transitions []Transition            `json:"transitions"`
	Series      []Second                `json:"series"`
	Figures     Figures                 `json:"figures"`
	Exemplars   []Exemplar              `json:"exemplars,omitempty"`
	// Notes says what could not be observed, e.g. the breaker state of a
	// user's own service.
	Notes []string `json:"notes,omitempty"`
}

// PhaseSummary totals one phase of one arm.
type PhaseSummary struct {
	API        Stats `json:"api"`
	Collateral Stats `json:"collateral"`
	// UpstreamRequests is the number of requests the upstream received.
	UpstreamRequests int64 `json:"upstream_requests"`
	// InflightPeak is the most requests the gateway held at once.
	InflightPeak int64 `json:"inflight_peak"`
	// UpstreamCallMS is the latency of the gateway's calls to the upstream,
	// as the gateway measured them (body included): what the upstream
	// cost, without the gateway's queueing or the load runner's share. It
	// is absent for a user's own service, whose calls cbload cannot see.
	UpstreamCallMS *Latency `json:"upstream_call_ms,omitempty"`
	// Upstreams counts, per upstream by name ("upstream" when there is
	// one), what it received and what it injected during the phase, from
	// its own counters read at the phase's boundaries.
	Upstreams map[string]UpstreamPhase `json:"upstreams,omitempty"`
	// UpstreamAttemptsPerAPIRequest is every upstream's requests over the
	// /api requests answered in the phase: above the baseline's when the
	// service retries (amplification), below when it sheds calls.
	UpstreamAttemptsPerAPIRequest *float64 `json:"upstream_attempts_per_api_request,omitempty"`
	// UpstreamEffect names what UpstreamAttemptsPerAPIRequest shows next
	// to the baseline's: one of the Effect constants.
	UpstreamEffect string `json:"upstream_effect,omitempty"`
}

// What a phase's upstream attempts per /api request show, next to the
// baseline's (the first phase, fault-free; one attempt per request when
// there is none). The margin is 10%.
const (
	EffectBaseline      = "baseline"      // this is the baseline
	EffectAsBaseline    = "as_baseline"   // within 10% of the baseline
	EffectAmplification = "amplification" // more calls per request: retries
	EffectShedding      = "shedding"      // fewer calls per request: a breaker, a queue, a fallback
)

// UpstreamPhase is what one fault-injecting upstream saw in one phase.
type UpstreamPhase struct {
	// Requests counts every request it received, faulted or not.
	Requests int64 `json:"requests"`
	// Injected counts, per fault kind, the requests that kind acted on;
	// kinds that acted on none are left out.
	Injected map[string]int64 `json:"injected"`
}

// Stats summarises the requests to one endpoint over a stretch of time.
type Stats struct {
	Requests     int64    `json:"requests"`
	OK           int64    `json:"ok"`
	SuccessRatio float64  `json:"success_ratio"`
	Outcomes     Outcomes `json:"outcomes"`
	LatencyMS    Latency  `json:"latency_ms"`
}

// Outcomes counts requests by how they ended, as seen by the load runner.
type Outcomes struct {
	OK            int64 `json:"ok"`
	UpstreamError int64 `json:"upstream_error"` // the gateway relayed an upstream 5xx or transport error
	Timeout       int64 `json:"timeout"`        // the gateway's call to the upstream timed out
	Rejected      int64 `json:"rejected"`       // the breaker failed the call fast
	Saturated     int64 `json:"saturated"`      // no gateway worker within the queue timeout
	ClientError   int64 `json:"client_error"`   // the load runner's own timeout or transport error
	// AssertionFailed counts answers that would have counted as ok but
	// missed a --expect check: a fallback is not a success.
	AssertionFailed int64 `json:"assertion_failed"`
}

// Total returns the number of requests counted.
func (o Outcomes) Total() int64 {
	return o.OK + o.UpstreamError + o.Timeout + o.Rejected + o.Saturated + o.ClientError + o.AssertionFailed
}

// Add returns the element-wise sum of o and p.
func (o Outcomes) Add(p Outcomes) Outcomes {
	return Outcomes{
		OK:              o.OK + p.OK,
		UpstreamError:   o.UpstreamError + p.UpstreamError,
		Timeout:         o.Timeout + p.Timeout,
		Rejected:        o.Rejected + p.Rejected,
		Saturated:       o.Saturated + p.Saturated,
		ClientError:     o.ClientError + p.ClientError,
		AssertionFailed: o.AssertionFailed + p.AssertionFailed,
	}
}

// Latency holds latency percentiles in milliseconds, measured by the load
// runner from send to the end of the response.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Second is one point of an arm's time series. Requests are bucketed by the
// second they were sent in.
type Second struct {
	T     int    `json:"t_s"`
	Phase string `json:"phase"`
	// State is the breaker state at the end of the second.
	State string `json:"state"`
	// Offered is the number of requests sent in this second.
	Offered          int64  `json:"offered"`
	InflightPeak     int64  `json:"inflight_peak"`
	Goroutines       int    `json:"goroutines"`
	UpstreamRequests int64  `json:"upstream_requests"`
	API              Bucket `json:"api"`
	Collateral       Bucket `json:"collateral"`
}

// Bucket is one endpoint's requests within one second.
type Bucket struct {
	Requests  int64    `json:"requests"`
	Outcomes  Outcomes `json:"outcomes"`
	LatencyMS Latency  `json:"latency_ms"`
}

// Transition is a breaker state change, at its true time in seconds from the
// start of the arm (gobreaker moves open → half-open lazily; cbload records
// when the open timeout expired, not when the next call noticed).
type Transition struct {
	T    float64 `json:"t_s"`
	From string  `json:"from"`
	To   string  `json:"to"`
}

// Figures are the key numbers of one arm. A nil pointer means the event never
// happened (the breaker never opened, or never recovered).
type Figures struct {
	// TimeToOpenS is from the start of the fault to the first open.
	TimeToOpenS *float64 `json:"time_to_open_s"`
	// TimeToRecoverS is from the end of the fault until the breaker is
	// closed and /api succeeds ≥ 99% over a whole second.
	TimeToRecoverS               *float64 `json:"time_to_recover_s"`
	UpstreamRequestsDuringFault  int64    `json:"upstream_requests_during_fault"`
	CollateralSuccessDuringFault float64  `json:"collateral_success_during_fault"`
	CollateralP99DuringFaultMS   float64  `json:"collateral_p99_during_fault_ms"`
	APISuccessDuringFault        float64  `json:"api_success_during_fault"`
	InflightPeak                 int64    `json:"inflight_peak"`
	// Opens counts transitions into the open state.
	Opens int `json:"opens"`
}

// Exemplar is a trace worth opening in a tracing backend.
type Exemplar struct {
	Phase   string `json:"phase"`
	Kind    string `json:"kind"` // e.g. "slowest_api", "first_rejection"
	TraceID string `json:"trace_id"`
	URL     string `json:"url,omitempty"`
}

// Verdict outcomes.
const (
	OutcomePrevented        = "prevented"          // the breaker kept collateral healthy while the no-breaker arm cascaded
	OutcomeNotPrevented     = "not_prevented"      // both arms cascaded
	OutcomeNothingToPrevent = "nothing_to_prevent" // the no-breaker arm did not cascade either
	OutcomeWorse            = "worse"              // the breaker arm fared worse than the no-breaker arm
	OutcomeInconclusive     = "inconclusive"       // not enough data (e.g. a single arm, or an interrupted run)
)

// Verdict says whether the breaker prevented the cascade, and why.
type Verdict struct {
	CascadePrevented bool     `json:"cascade_prevented"`
	Outcome          string   `json:"outcome"`
	Summary          string   `json:"summary"`
	Reasons          []string `json:"reasons"`
}

// ThresholdResult is the outcome of one threshold check.
type ThresholdResult struct {
	Expr     string  `json:"expr"`
	Value    float64 `json:"value"`
	Measured string  `json:"measured"` // Value formatted with the expression's unit
	Pass     bool    `json:"pass"`
	Message  string  `json:"message,omitempty"`
}

// Tracing says what was traced and exported. Enabled is false when no OTLP
// endpoint was set; the other fields are then empty.
type Tracing struct {
	Enabled  bool   `json:"enabled"`
	Endpoint string `json:"endpoint,omitempty"`
	Protocol string `json:"protocol,omitempty"`
	// Sampler is named as OTEL_TRACES_SAMPLER spells it; SamplerArg is the
	// fraction of requests sampled.
	Sampler    string  `json:"sampler"`
	SamplerArg float64 `json:"sampler_arg"`
	// Description says in words what was sampled.
	Description   string `json:"description,omitempty"`
	SpansExported int64  `json:"spans_exported"`
	// SpansDropped were sampled but never sent: the export queue was full,
	// or the run ended before they could be flushed.
	SpansDropped int64 `json:"spans_dropped"`
	// SpansFailed were sent but not accepted by the collector; LastError is
	// the last export error.
	SpansFailed int64  `json:"spans_failed"`
	LastError   string `json:"last_error,omitempty"`
	JaegerURL   string `json:"jaeger_url,omitempty"`
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

// Arm returns the arm with the given name, or nil.
func (r *Report) Arm(name string) *Arm {
	for i := range r.Arms {
		if r.Arms[i].Name == name {
			return &r.Arms[i]
		}
	}
	return nil
}

// FaultPhase returns the first phase with faults, or nil.
func (r *Report) FaultPhase() *Phase {
	for i := range r.Phases {
		if len(r.Phases[i].Faults) > 0 {
			return &r.Phases[i]
		}
	}
	return nil
}
