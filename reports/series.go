package reports

// This file holds an arm's raw data: its seconds, /api slots and the
// load generator's check on itself, from which package analysis derives
// every summary and figure.

// Second is one point of an arm's time series, the second [T, T+1) from the
// start of the arm. Outcomes and latencies count the requests that
// completed in it; Scheduled, Sent and SendLagMS count by send time.
// Requests completing after the schedule's end count in its last second.
type Second struct {
	T     int    `json:"t_s"`
	Phase string `json:"phase"`
	// State is the breaker state at the end of the second.
	State string `json:"state"`
	// Scheduled is the number of requests the constant-rate schedule
	// called for in this second (0 in reports upgraded from v1, which did
	// not record it); Sent the number the load runner actually sent in it.
	Scheduled int64 `json:"scheduled"`
	Sent      int64 `json:"sent"`
	// SendLagMS is how late the requests sent in this second left against
	// their scheduled send time (p99 and max).
	SendLagMS Lag `json:"send_lag_ms"`
	// SendLagHist is the send lag distribution SendLagMS is read from.
	SendLagHist  *Histogram `json:"send_lag_hist,omitempty"`
	InflightPeak int64      `json:"inflight_peak"`
	Goroutines   int        `json:"goroutines"`
	// SchedLatencyP99MS is how long the process's goroutines waited,
	// runnable, before they ran, at p99 over the second (the Go runtime's
	// /sched/latencies, the upper bound of the bucket the p99 falls in):
	// the whole process's CPU starvation — with concurrent arms, both
	// arms' — as cbload's side saw it. In a merge, the worst shard's.
	// Absent in reports of cbload versions without it, and for a second
	// in which the runtime recorded no wait.
	SchedLatencyP99MS *float64 `json:"sched_latency_p99_ms,omitempty"`
	UpstreamRequests  int64    `json:"upstream_requests"`
	// APIAttempts is the attempts that reached the upstream on behalf of
	// this second's /api requests, as their answers' X-Cbload-Attempts
	// headers tell (a lower bound: an answer lost to a timeout tells
	// nothing); UpstreamRequests is the upstream's own count.
	APIAttempts int64 `json:"api_attempts"`
	// UpstreamCompleted is the work the upstream completed in this second
	// (its throughput), UpstreamCompletedForGone the part of it done for
	// callers that had already gone — work for nobody; goodput is API's
	// ok count.
	UpstreamCompleted        int64 `json:"upstream_completed"`
	UpstreamCompletedForGone int64 `json:"upstream_completed_for_gone"`
	// UpstreamQueuePeak is the most requests that waited at once for an
	// upstream worker during the second, UpstreamQueueLen the number
	// waiting at its end (the sums over the upstreams, when a user's
	// service has several). Both are 0 unless Arm.UpstreamQueue is
	// QueueMeasured: without finite capacity there is no queue, and an
	// external upstream's is not seen.
	UpstreamQueuePeak int64  `json:"upstream_queue_peak"`
	UpstreamQueueLen  int64  `json:"upstream_queue_len"`
	API               Bucket `json:"api"`
	Collateral        Bucket `json:"collateral"`
	// UpstreamCallHist is the latency of the gateway's calls to the
	// upstream that ended in this second, as the gateway timed them; absent
	// for a user's own service.
	UpstreamCallHist *Histogram `json:"upstream_call_hist,omitempty"`
}

// Lag is a send lag distribution in milliseconds.
type Lag struct {
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Bucket is one endpoint's requests within one second: Sent by send time,
// the rest by completion time.
type Bucket struct {
	Sent      int64    `json:"sent"`
	Requests  int64    `json:"requests"`
	Outcomes  Outcomes `json:"outcomes"`
	LatencyMS Latency  `json:"latency_ms"`
	// LatencyHist is the latency distribution LatencyMS is read from.
	LatencyHist *Histogram `json:"latency_hist,omitempty"`
	// BySend, on the api endpoint, is what the requests sent in this
	// second got, whenever their answers came: the verdict judges how
	// fast the answers to requests sent in the fault's second half came,
	// not which answers happened to complete then (a timeout of a request
	// sent before a breaker opened completes after it). Absent for the
	// collateral endpoint and in reports of cbload versions without it.
	BySend *SentAnswers `json:"by_send,omitempty"`
}

// SentAnswers is what the requests sent in one second got: their
// outcomes and latency, by send time.
type SentAnswers struct {
	Outcomes    Outcomes   `json:"outcomes"`
	LatencyHist *Histogram `json:"latency_hist,omitempty"`
}

// Slots counts /api completions in consecutive slots of WidthMS from the
// start of the arm: N completed, OK of them succeeded.
type Slots struct {
	WidthMS int64   `json:"width_ms"`
	OK      []int64 `json:"ok"`
	N       []int64 `json:"n"`
}

// LoadGen is the load generator's check on itself over one arm.
type LoadGen struct {
	// Scheduled is how many requests the constant-rate schedule called
	// for; Sent how many the load runner sent.
	Scheduled int64 `json:"scheduled"`
	Sent      int64 `json:"sent"`
	// SendLagMS is how late requests left against their scheduled send
	// time (vegeta's Seq: scheduled = start + (Seq+1)/rate).
	SendLagMS Latency `json:"send_lag_ms"`
	// Stalls are the gaps longer than StallThresholdMS that a wall-clock
	// watchdog saw between its 50 ms ticks: the process did not run (it
	// was stopped, or starved of CPU). LongestGapMS is the longest gap
	// seen, stall or not.
	Stalls           []Stall `json:"stalls"`
	StallThresholdMS float64 `json:"stall_threshold_ms"`
	LongestGapMS     float64 `json:"longest_gap_ms"`
	// ResourceErrors counts failures for lack of local resources (file
	// descriptors, ephemeral ports), in the load runner and in cbload's
	// own gateway.
	ResourceErrors ResourceErrors `json:"resource_errors"`
}

// Stall is one gap the watchdog saw: it started at TS seconds from the
// start of the arm and lasted GapMS.
type Stall struct {
	TS    float64 `json:"t_s"`
	GapMS float64 `json:"gap_ms"`
}

// ResourceErrors counts "too many open files" and "cannot assign requested
// address" errors, and what the gateway's HTTP server logged about them.
type ResourceErrors struct {
	LoadRunner int64 `json:"load_runner"`
	Gateway    int64 `json:"gateway"`
	// Last is the last such error message, for the report's reader.
	Last string `json:"last,omitempty"`
}

// Rules by which raw counts combine (RawCount).
const (
	// CombineSum adds the counts.
	CombineSum = "sum"
	// CombineMax keeps the largest: a peak over a phase's seconds, or a
	// gauge every shard reads alike (the upstream's queue).
	CombineMax = "max"
)

// RawCount is a count each second of an arm holds (a field of Second),
// declared with how it combines: over the shards' same second in a merge
// and, when Phase is set, over a phase's seconds into the phase's summary.
// Every count of a Second is one RawCount: a PhaseValue's Raw or a row of
// SecondCounts.
type RawCount struct {
	// Second is the count's field in a second.
	Second func(s *Second) *int64
	// Shards is how a merge combines the shards' counts of one second:
	// CombineSum or CombineMax.
	Shards string
	// Phase, when set, is the phase summary's field the phase's seconds
	// combine into, by Seconds (CombineSum or CombineMax).
	Phase   func(ps *PhaseSummary) *int64
	Seconds string
}

// Combine returns a and b combined by rule.
func Combine(rule string, a, b int64) int64 {
	if rule == CombineMax {
		return max(a, b)
	}
	return a + b
}

// SecondCounts lists the counts of a second that no PhaseValue derives
// from (those are the PhaseValues' Raw).
var SecondCounts = []RawCount{
	{Second: func(s *Second) *int64 { return &s.Scheduled }, Shards: CombineSum},
	{Second: func(s *Second) *int64 { return &s.Sent }, Shards: CombineSum},
	{Second: func(s *Second) *int64 { return &s.APIAttempts }, Shards: CombineSum},
	{Second: func(s *Second) *int64 { return &s.UpstreamCompleted }, Shards: CombineSum,
		Phase: func(ps *PhaseSummary) *int64 { return &ps.UpstreamCompleted }, Seconds: CombineSum},
	{Second: func(s *Second) *int64 { return &s.UpstreamCompletedForGone }, Shards: CombineSum,
		Phase: func(ps *PhaseSummary) *int64 { return &ps.UpstreamCompletedForGone }, Seconds: CombineSum},
	// Every shard calls the same upstream: its queue is the largest any
	// shard saw, not their sum. The phase's peak is derived apart, as it
	// is measured only with a finite upstream (Arm.UpstreamQueue).
	{Second: func(s *Second) *int64 { return &s.UpstreamQueuePeak }, Shards: CombineMax},
	{Second: func(s *Second) *int64 { return &s.UpstreamQueueLen }, Shards: CombineMax},
}

// RawCounts lists every count of a second: the PhaseValues' Raw, then
// SecondCounts.
func RawCounts() []RawCount {
	var out []RawCount
	for _, v := range PhaseValues {
		if v.Raw.Second != nil {
			out = append(out, v.Raw)
		}
	}
	return append(out, SecondCounts...)
}
