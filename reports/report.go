// Package reports defines cbload's report — the cbload/report/v2 contract
// that CI jobs parse — and renders it as JSON, Markdown and self-contained
// HTML. ReadJSON also reads v1 reports, upgrading them on read.
//
// A Report is produced by harness.Run and is plain data: renderers never
// recompute measurements, they only present them, so a saved report.json can
// be re-rendered by newer renderers without rerunning the experiment.
package reports

import "time"

// Schema is the value of Report.Schema for this version of the contract.
// Additive changes keep the version; removing or changing the meaning of a
// field needs a new one.
const Schema = "cbload/report/v2"

// SchemaV1 is the previous version of the contract, which ReadJSON upgrades:
// v1 bucketed requests by the second they were sent and had no validity
// checks.
const SchemaV1 = "cbload/report/v1"

// Attribution rules: how a request that spans a phase or second boundary is
// counted. AttributionCompletion (v2) counts outcomes and latencies in the
// second and phase the request completed in; AttributionSend (v1 reports)
// counted them where it was sent.
const (
	AttributionCompletion = "completion"
	AttributionSend       = "send"
)

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

// Where an arm's upstream queue figures come from (Arm.UpstreamQueue).
const (
	// QueueMeasured: cbload's own upstream with finite capacity
	// (--upstream-concurrency), whose queue it reads every second.
	QueueMeasured = "measured"
	// QueueNotModelled: the upstream has unlimited capacity
	// (--upstream-concurrency 0): no request ever waits, there is no queue.
	QueueNotModelled = "not_modelled"
	// QueueUnknown: the upstream is run by another process
	// (--upstream-external), whose queue this run cannot see.
	QueueUnknown = "unknown"
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
	Command string `json:"command"`
	// UpgradedFrom names the schema the report was read from when ReadJSON
	// upgraded it (cbload/report/v1); empty for a report written as v2.
	UpgradedFrom string `json:"upgraded_from,omitempty"`
	// Attribution is AttributionCompletion: the series' outcomes and
	// latencies, the phase summaries and the figures count each request
	// when it completed; Second.Sent and Second.Scheduled count by send
	// time. Upgraded v1 reports say AttributionSend.
	Attribution string  `json:"attribution"`
	Config      Config  `json:"config"`
	Phases      []Phase `json:"phases"`
	Arms        []Arm   `json:"arms"`
	// Validity holds the checks that the experiment itself was sound: the
	// load generator held its rate, the process did not stall, the
	// baseline was healthy. A failed check makes the verdict inconclusive.
	// It is nil only in a report upgraded from v1, which had no checks.
	Validity *Validity `json:"validity,omitempty"`
	// Trials is set when the experiment ran more than one trial: each
	// arm's figures per trial and their spread, and each trial's verdict.
	// Arms then hold the median figures, and trial 1's series, summaries
	// and transitions.
	Trials  *Trials `json:"trials,omitempty"`
	Verdict Verdict `json:"verdict"`
	// Thresholds holds the result of every --threshold check, in the order given.
	Thresholds []ThresholdResult `json:"thresholds,omitempty"`
	Tracing    *Tracing          `json:"tracing,omitempty"`
	// Results describes the raw results file the run streamed (--results);
	// absent when it streamed none.
	Results *ResultsFile `json:"results_file,omitempty"`
	// StartAt is the absolute time the run's first arm was scheduled to
	// start (--start-at); each arm's Start says when it did. Absent when
	// arms simply ran one after the other.
	StartAt *time.Time `json:"start_at,omitempty"`
	// Shard is set in the report of one shard of a run spread over several
	// processes (--shard I/N); Seed is then the run's, the same in every
	// shard. A report merged from shards has Merge instead.
	Shard *Shard `json:"shard,omitempty"`
	// Merge is set in a report merged from shards (cbload merge): which
	// shards it holds and which are missing.
	Merge *Merge `json:"merge,omitempty"`
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
	// SuspectOK, for a user's service whose upstream this run saw, counts
	// the api answers of the fault phases that were ok while the
	// service's upstream call failed, timed out, was never made or was
	// still held when the answer came back: per second, by send time, the
	// ok answers beyond what the calls the upstream served in full (at the
	// baseline's calls per ok answer) account for. They are fallbacks, or successes the service claims
	// without its dependency; --expect tells them apart. Nil when not
	// known: cbload's own gateway, or an external upstream.
	SuspectOK *int64 `json:"suspect_ok,omitempty"`
	// RequestMix, for a user's service driven with several requests,
	// gives each request (method and path) its own answers during the
	// fault and over the whole run, by completion time, beside the
	// endpoint totals.
	RequestMix []RequestFigures `json:"request_mix,omitempty"`
	// UpstreamQueue says whether the upstream's queue was measured: one of
	// the Queue constants. Only with QueueMeasured do the series' queue
	// fields and the summaries' UpstreamQueuePeak hold measurements; the
	// series' are 0 otherwise. Empty in reports of cbload versions
	// without it.
	UpstreamQueue string `json:"upstream_queue,omitempty"`
	// StartedAt is when the arm's load began: the wall-clock time of its
	// t_s = 0, to line its seconds up with the service's own logs.
	StartedAt time.Time `json:"started_at,omitzero"`
	// Summary maps a phase name to the totals over that phase.
	Summary map[string]PhaseSummary `json:"summary"`
	// Transitions are the state changes of the policy of the gateway the
	// load runner calls — tier 1, nearest the client — and the source of
	// the breaker figures.
	Transitions []Transition `json:"transitions"`
	// LowerTierTransitions are, with --tiers above 1, the state changes of
	// the policies of tiers 2 … N (tier N calls the upstream), each with
	// its Tier, oldest first. Absent when no lower tier changed state.
	LowerTierTransitions []Transition `json:"lower_tier_transitions,omitempty"`
	Series               []Second     `json:"series"`
	// Figures are this arm's key numbers; with several trials, the median
	// of each over the trials (Report.Trials has every trial's).
	Figures   Figures    `json:"figures"`
	Exemplars []Exemplar `json:"exemplars,omitempty"`
	// Load is the load generator's check on itself; nil in reports
	// upgraded from v1.
	Load *LoadGen `json:"load_generator,omitempty"`
	// Notes says what could not be observed, e.g. the breaker state of a
	// user's own service.
	Notes []string `json:"notes,omitempty"`
	// APISlots counts /api completions per 100 ms, the raw data of
	// TimeToRecoverS. With it, and the histograms in Series, every summary
	// and figure of the arm can be recomputed (package analysis), which is
	// what lets `cbload merge` combine shards exactly. It is nil in reports
	// upgraded from v1 and in those written before cbload kept raw data.
	APISlots *Slots `json:"api_slots,omitempty"`
	// Start is set when the arm had a scheduled start (--start-at).
	Start *ArmStart `json:"start,omitempty"`
}

// PhaseSummary totals one phase of one arm.
type PhaseSummary struct {
	API        Stats `json:"api"`
	Collateral Stats `json:"collateral"`
	// UpstreamRequests is the number of requests the upstream received;
	// AttemptsPerRequest is that over the /api requests sent in the phase
	// (above 1 with retries): both by send time, as every attempts figure.
	UpstreamRequests   int64   `json:"upstream_requests"`
	AttemptsPerRequest float64 `json:"attempts_per_request"`
	// UpstreamCompleted is the work the upstream completed over the
	// phase, UpstreamCompletedForGone the part of it for callers that had
	// gone (throughput against goodput, API.OK).
	UpstreamCompleted        int64 `json:"upstream_completed"`
	UpstreamCompletedForGone int64 `json:"upstream_completed_for_gone"`
	// InflightPeak is the most requests the gateway held at once.
	InflightPeak int64 `json:"inflight_peak"`
	// UpstreamQueuePeak is the most requests that waited at once in the
	// upstream's queue for a worker during the phase (the largest of the
	// series' per-second peaks); nil unless Arm.UpstreamQueue is
	// QueueMeasured.
	UpstreamQueuePeak *int64 `json:"upstream_queue_peak,omitempty"`
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
	// /api requests sent in the phase: above the baseline's when the
	// service retries (amplification), below when it sheds calls. Absent
	// when it is unknown: in a phase where an upstream refused
	// connections, the calls refused were never counted.
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
	EffectUnknown       = "unknown"       // an upstream refused connections or failed TLS handshakes: its calls were not counted
)

// UpstreamPhase is what one fault-injecting upstream saw in one phase, read
// from its counters as the phase switched: a request in flight across the
// switch may be booked in the next phase.
type UpstreamPhase struct {
	// Requests counts every request it received, faulted or not.
	Requests int64 `json:"requests"`
	// Injected counts, per fault kind, the requests that kind acted on;
	// kinds that acted on none are left out.
	Injected map[string]int64 `json:"injected"`
	// GRPC counts, for a gRPC upstream, the calls it answered by full
	// method name and status code name: {"/shop.Payments/Charge":
	// {"OK": 10, "UNAVAILABLE": 4}}. Absent for an HTTP upstream.
	GRPC map[string]map[string]int64 `json:"grpc,omitempty"`
}

// Stats summarises the requests to one endpoint over a stretch of time.
type Stats struct {
	Requests     int64    `json:"requests"`
	OK           int64    `json:"ok"`
	SuccessRatio float64  `json:"success_ratio"`
	Outcomes     Outcomes `json:"outcomes"`
	LatencyMS    Latency  `json:"latency_ms"`
	// StatusCodes counts the requests by the HTTP status code the load
	// runner got, as vegeta reports it: "0" counts those that got no
	// response (refused, reset, timed out). Nil in a report upgraded from v1.
	StatusCodes map[string]int64 `json:"status_codes"`
	// Errors is the error set: each distinct error text the load runner
	// saw, with how many requests ended with it, most frequent first. A
	// text is vegeta's — the status line of an answer outside 200–399
	// ("503 Service Unavailable") or the transport error — with the local
	// port of a connection written as * (so one failure mode is one
	// entry) and cut at MaxErrorText bytes. The first MaxErrorTexts
	// distinct texts are kept; ErrorsOther counts the requests whose text
	// came after them.
	Errors      []ErrorCount `json:"errors"`
	ErrorsOther int64        `json:"errors_other"`
	// BytesIn is the response body bytes the load runner read, BytesOut
	// the request body bytes it sent.
	BytesIn  int64 `json:"bytes_in"`
	BytesOut int64 `json:"bytes_out"`
}

// ErrorCount is one entry of the error set.
type ErrorCount struct {
	Error string `json:"error"`
	Count int64  `json:"count"`
}

// Outcomes counts requests by how they ended, as seen by the load runner.
// The classes are exclusive: every request is in exactly one, so they add
// up to the requests counted.
type Outcomes struct {
	OK            int64 `json:"ok"`
	UpstreamError int64 `json:"upstream_error"` // the gateway relayed an upstream 5xx or transport error (a user's service: any 5xx but 504)
	// Timeout counts deadlines that expired: the load runner's own client
	// timeout, or the gateway's call to the upstream (a user's service: a
	// 504). TimeoutAt says which. A wait for a gateway worker that times
	// out is Saturated.
	Timeout   int64     `json:"timeout"`
	TimeoutAt TimeoutAt `json:"timeout_at"`
	Rejected  int64     `json:"rejected"`  // the breaker failed the call fast
	Saturated int64     `json:"saturated"` // timed out in the gateway queue: no worker within the queue timeout
	// ConnectionError counts requests the load runner could not deliver or
	// whose connection failed: refused, reset, closed early or cut mid-body
	// (unexpected EOF), an answer that is not HTTP, a failed TLS handshake
	// or certificate, out of file descriptors or ports.
	ConnectionError int64 `json:"connection_error"`
	Redirect        int64 `json:"redirect"`     // a 3xx answer; cbload never follows redirects
	ClientError     int64 `json:"client_error"` // a 4xx answer, or another error of the load runner's (e.g. cancelled by an interrupt)
	// AssertionFailed counts answers that would have counted as ok but
	// missed a --expect check: a fallback is not a success.
	AssertionFailed int64 `json:"assertion_failed"`
	// Shed counts answers by which a user's service shed load itself: a
	// 429, or a 503 with Retry-After — its rate limiter or load shedder,
	// not its dependency failing.
	Shed int64 `json:"shed,omitempty"`
}

// TimeoutAt splits Outcomes.Timeout by where the deadline expired.
type TimeoutAt struct {
	LoadRunner   int64 `json:"load_runner"`   // the load runner's client timeout
	UpstreamCall int64 `json:"upstream_call"` // the gateway's upstream call timeout (a user's service: it answered 504)
}

// Total returns the number of requests counted: the sum of its outcome
// classes (OutcomeClasses).
func (o Outcomes) Total() int64 {
	var n int64
	for _, c := range OutcomeClasses {
		n += *c.Count(&o)
	}
	return n
}

// Add returns the element-wise sum of o and p.
func (o Outcomes) Add(p Outcomes) Outcomes {
	for _, c := range OutcomeClasses {
		*c.Count(&o) += *c.Count(&p)
	}
	o.TimeoutAt.LoadRunner += p.TimeoutAt.LoadRunner
	o.TimeoutAt.UpstreamCall += p.TimeoutAt.UpstreamCall
	return o
}

// Latency holds latency percentiles and the mean in milliseconds, measured
// by the load runner from send to the end of the response. The percentiles
// come from a log-linear histogram (within about 1%); Max and Mean are
// exact. P95 and Mean are 0 in a report upgraded from v1, which lacked them.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Transition is a breaker state change, at its true time in seconds from the
// start of the arm (gobreaker moves open → half-open lazily; cbload records
// when the open timeout expired, not when the next call noticed).
type Transition struct {
	T    float64 `json:"t_s"`
	From string  `json:"from"`
	To   string  `json:"to"`
	// Tier numbers the gateway tier whose policy changed state, in
	// Arm.LowerTierTransitions (2 … N); absent in Arm.Transitions, which
	// are tier 1's.
	Tier int `json:"tier,omitempty"`
	// EarliestS and LatestS, set on an inferred transition, bound the
	// span, in seconds from the arm's start, the evidence puts it in: T
	// is within them, and so is the true change.
	EarliestS *float64 `json:"earliest_s,omitempty"`
	LatestS   *float64 `json:"latest_s,omitempty"`
}

// RequestFigures are one request of a mix's answers: Request is its
// method and path ("POST /orders"), Collateral whether it is a collateral
// request.
type RequestFigures struct {
	Request    string `json:"request"`
	Collateral bool   `json:"collateral,omitempty"`
	// Requests and OK count the answers during the fault phases, Total
	// and TotalOK over the whole run.
	Requests int64 `json:"fault_requests"`
	OK       int64 `json:"fault_ok"`
	Total    int64 `json:"requests"`
	TotalOK  int64 `json:"ok"`
}

// Figures are the key numbers of one arm. A nil pointer means the event never
// happened (the breaker never opened, or never recovered). Figures named
// "during fault", and InflightPeak, cover the fault phases only, counting
// requests by completion time; InflightPeakWholeRun covers every phase.
type Figures struct {
	// TimeToOpenS is from the start of the fault to the first open, from
	// the breaker's transition log.
	TimeToOpenS *float64 `json:"time_to_open_s"`
	// TimeToOpenSpanS, for an inferred open, is the span [earliest,
	// latest], from the start of the fault, that the evidence puts the
	// open in; TimeToOpenS lies within it.
	TimeToOpenSpanS []float64 `json:"time_to_open_span_s,omitempty"`
	// TimeToRecoverS is from the end of the last fault phase to the start
	// of the first full second (a window of ten 100 ms slots) in which
	// /api completions succeed ≥ 99% and, for an arm with a breaker, the
	// breaker stays closed throughout. Resolution 100 ms.
	TimeToRecoverS               *float64 `json:"time_to_recover_s"`
	UpstreamRequestsDuringFault  int64    `json:"upstream_requests_during_fault"`
	CollateralSuccessDuringFault float64  `json:"collateral_success_during_fault"`
	CollateralP99DuringFaultMS   float64  `json:"collateral_p99_during_fault_ms"`
	APISuccessDuringFault        float64  `json:"api_success_during_fault"`
	// InflightPeak is the most requests the gateway held at once during
	// the fault phases.
	InflightPeak         int64 `json:"inflight_peak"`
	InflightPeakWholeRun int64 `json:"inflight_peak_whole_run"`
	// Opens counts transitions into the open state.
	Opens int `json:"opens"`
	// AttemptsPerRequestDuringFault is the attempts that reached the
	// upstream per /api request during the fault phases: the upstream's own
	// request count over the /api requests sent (above 1 with retries),
	// both by send time, as every attempts figure.
	AttemptsPerRequestDuringFault float64 `json:"attempts_per_request_during_fault"`
	// AfterTrigger is the metastability rule's finding: whether /api
	// goodput came back after the last fault phase (the trigger) ended.
	// Absent when the rule does not apply (no faultless first phase, or
	// nothing after the trigger).
	AfterTrigger *Recovery `json:"after_trigger,omitempty"`
}

// Recovery says whether an arm's /api goodput — the share of /api requests
// the client got a success for within its timeout — returned after the
// trigger: to at least 90% of its goodput in the first phase, in every
// second from then to the end of the run.
type Recovery struct {
	Recovered bool `json:"recovered"`
	// TimeToRecoverS is from the end of the trigger to the first of those
	// seconds; nil when the arm did not recover.
	TimeToRecoverS *float64 `json:"time_to_recover_s"`
	// BaselineGoodput is the first phase's goodput; FinalGoodput the last
	// second's.
	BaselineGoodput float64 `json:"baseline_goodput"`
	FinalGoodput    float64 `json:"final_goodput"`
	// AttemptsPerRequest is the attempts reaching the upstream per /api
	// request sent from the end of the trigger to the end of the run (by
	// send time).
	AttemptsPerRequest float64 `json:"attempts_per_request"`
	// StuckBy says what kept an arm that did not recover down, as far as
	// cbload can tell ("inferred" marks a guess); empty when it recovered.
	StuckBy string `json:"stuck_by,omitempty"`
}

// Exemplar is a trace worth opening in a tracing backend.
type Exemplar struct {
	Phase   string `json:"phase"`
	Kind    string `json:"kind"` // e.g. "slowest_api", "first_rejection"
	TraceID string `json:"trace_id"`
	URL     string `json:"url,omitempty"`
}

// ResultsFile is the file of raw results a run streamed, one line per
// request as it completed, in vegeta's JSON results encoding: `vegeta
// report` and `vegeta plot` read it as it is. Each result's attack is its
// arm, and its X-Cbload-Phase header the phase it completed in.
type ResultsFile struct {
	Path   string `json:"path"`
	Format string `json:"format"` // ResultsFormat
	// Written is the results in the file, Bytes its size.
	Written int64 `json:"written"`
	Bytes   int64 `json:"bytes"`
	// LimitBytes is the most the file may hold; Dropped the results not
	// written once it was reached.
	LimitBytes int64 `json:"limit_bytes"`
	Dropped    int64 `json:"dropped"`
	// Error, when set, is the write error that stopped the file; the
	// results after it are counted in Dropped.
	Error string `json:"error,omitempty"`
}

// ResultsFormat names the encoding of a ResultsFile.
const ResultsFormat = "vegeta-json"

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

// Arm returns the arm with the given name, or nil.
func (r *Report) Arm(name string) *Arm {
	for i := range r.Arms {
		if r.Arms[i].Name == name {
			return &r.Arms[i]
		}
	}
	return nil
}

// PhaseNames returns the names of the phases, in order.
func (r *Report) PhaseNames() []string {
	names := make([]string, len(r.Phases))
	for i, p := range r.Phases {
		names[i] = p.Name
	}
	return names
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
