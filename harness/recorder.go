package harness

import (
	"cmp"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cbload/cbload/analysis"
	"github.com/cbload/cbload/internal/printable"
	"github.com/cbload/cbload/reports"
	"github.com/cbload/cbload/schedule"
)

// Attribution. A request is counted where it completed (sent + latency):
// its outcome and latency go into the second and the phase it completed
// in, so a figure describes what the system did at that moment and the
// fault is never credited with answers given after it ended. Send-time
// counts (sent, scheduled, send lag) are kept beside them, for the load
// generator's own checks. Completions after the schedule's end count in
// its last second and phase.

// slotWidth is the resolution of the timings derived from completions
// (time to recover).
const slotWidth = 100 * time.Millisecond

// recorder aggregates one arm's results per second. It keeps a fixed-size
// histogram per open second and per endpoint — never the results
// themselves — and moves each second into the series as raw aggregates
// (outcome counts and a sparse histogram), so memory does not grow with the
// run's length beyond one Second per second and two counters per 100 ms
// slot. Summaries and figures are derived from those raw aggregates by
// package analysis, as `cbload merge` derives them for shards.
//
// A recorder is owned by one goroutine; it has no locks.
type recorder struct {
	start time.Time
	// sched is the arm's clock: which phase an offset falls in, and the
	// schedule's end; plan is the same phases as the report states them.
	sched *schedule.Schedule
	plan  []reports.Phase
	// pace is the arm's pacer, which says when each request was due.
	pace    *schedulePacer
	lag     time.Duration // how long after a second ends its results may still arrive
	breaker bool
	// queue says whether the upstream's queue is measured
	// (reports.Arm.UpstreamQueue).
	queue   string
	seconds map[int]*secondAcc
	gauges  map[int]gauge
	series  []reports.Second
	details []phaseDetail // by completion phase
	// slots counts /api completions per 100 ms from the start.
	slots []slot
	load  loadAcc
	live  liveAcc
}

type slot struct{ ok, n int64 }

type endpointAcc struct {
	outcomes reports.Outcomes
	hist     reports.DenseHistogram
}

func (e *endpointAcc) add(o outcome, lat time.Duration) {
	switch o {
	case oOK:
		e.outcomes.OK++
	case oUpstreamError:
		e.outcomes.UpstreamError++
	case oTimeoutUpstream:
		e.outcomes.Timeout++
		e.outcomes.TimeoutAt.UpstreamCall++
	case oTimeoutClient:
		e.outcomes.Timeout++
		e.outcomes.TimeoutAt.LoadRunner++
	case oRejected:
		e.outcomes.Rejected++
	case oSaturated:
		e.outcomes.Saturated++
	case oConnection:
		e.outcomes.ConnectionError++
	case oRedirect:
		e.outcomes.Redirect++
	case oAssertionFailed:
		e.outcomes.AssertionFailed++
	case oShed:
		e.outcomes.Shed++
	default:
		e.outcomes.ClientError++
	}
	e.hist.Record(lat)
}

// detailAcc tallies, for one endpoint and phase, what the requests got
// beyond their outcome: status codes, the error set and body bytes. Its
// size is bounded whatever the run's length: net/http accepts only
// three-digit codes, and at most reports.MaxErrorTexts texts of at most
// reports.MaxErrorText bytes are kept.
type detailAcc struct {
	codes             map[uint16]int64
	errors            map[string]int64
	errorsOther       int64
	bytesIn, bytesOut int64
}

func (d *detailAcc) add(res *vegeta.Result) {
	if d.codes == nil {
		d.codes = make(map[uint16]int64)
		d.errors = make(map[string]int64)
	}
	d.codes[res.Code]++
	if n, err := strconv.ParseInt(res.Headers.Get(bodyBytesHeader), 10, 64); err == nil && n > 0 {
		d.bytesIn += n
	}
	d.bytesOut += int64(res.BytesOut)
	if res.Error == "" {
		return
	}
	text := errorText(res.Error)
	if _, ok := d.errors[text]; ok || len(d.errors) < reports.MaxErrorTexts {
		d.errors[text]++
	} else {
		d.errorsOther++
	}
}

// localPort matches the local address of a connection in a net error
// ("read tcp 127.0.0.1:54321->127.0.0.1:8080: …"): its port differs per
// connection.
var localPort = regexp.MustCompile(`((?:\d{1,3}\.){3}\d{1,3}|\[[0-9a-fA-F:.]+\]):\d+->`)

// errorText is an error as the error set keeps it: the local port written
// as *, control characters escaped (a status line is the service's text:
// its reason may hold ESC sequences or line breaks), cut at
// reports.MaxErrorText bytes on a character boundary.
func errorText(msg string) string {
	msg = printable.String(msg, 0)
	if strings.Contains(msg, "->") { // most texts are status lines: skip the regexp
		msg = localPort.ReplaceAllString(msg, "$1:*->")
	}
	if len(msg) > reports.MaxErrorText {
		cut := reports.MaxErrorText
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// fill writes the tallies into s; the error set most frequent first.
func (d *detailAcc) fill(s *reports.Stats) {
	s.StatusCodes = make(map[string]int64, len(d.codes))
	for c, n := range d.codes {
		s.StatusCodes[strconv.Itoa(int(c))] = n
	}
	s.Errors = make([]reports.ErrorCount, 0, len(d.errors))
	for e, n := range d.errors {
		s.Errors = append(s.Errors, reports.ErrorCount{Error: e, Count: n})
	}
	sort.Slice(s.Errors, func(i, j int) bool {
		a, b := s.Errors[i], s.Errors[j]
		return a.Count > b.Count || a.Count == b.Count && a.Error < b.Error
	})
	s.ErrorsOther = d.errorsOther
	s.BytesIn, s.BytesOut = d.bytesIn, d.bytesOut
}

type secondAcc struct {
	// By send time.
	sent, apiSent, collateralSent int64
	sendLag                       reports.DenseHistogram
	// apiBySend is what the api requests sent in this second got.
	apiBySend endpointAcc
	// By completion time.
	api, collateral endpointAcc
	// calls holds the gateway's upstream calls timed in this second.
	calls       *reports.Histogram
	apiAttempts int64 // summed X-Cbload-Attempts of the /api answers
}

// gauge is what was sampled at the end of a second.
type gauge struct {
	state        string
	inflightPeak int64
	goroutines   int
	// schedP99 is the process's scheduling latency p99 over the second
	// (schedProbe), in ms; nil when the runtime recorded none.
	schedP99         *float64
	upstreamRequests int64
	// The upstream's work completed in the second, the part of it for
	// callers that had gone, and its queue: the most waiting at once in
	// the second, and the number waiting at its end.
	completed, completedForGone, queuePeak, queueLen int64
}

// phaseDetail holds what the report keeps per phase only, beside the
// per-second raw data: the status codes, error set and bytes.
type phaseDetail struct{ api, collateral detailAcc }

// loadAcc is the load generator's check on itself.
type loadAcc struct {
	resourceErrors int64
	lastResource   string
}

// liveAcc counts results by the second they arrived, for the progress line.
type liveAcc struct {
	api, apiOK, local, localOK int64
}

// newRecorder returns the recorder of an arm that starts at start and runs
// sched, whose phases the report states as plan (Config.reportPhases).
func newRecorder(start time.Time, sched *schedule.Schedule, plan []reports.Phase, rate float64, lag time.Duration, withBreaker bool) *recorder {
	return &recorder{
		start:   start,
		sched:   sched,
		plan:    plan,
		lag:     lag,
		breaker: withBreaker,
		seconds: make(map[int]*secondAcc),
		gauges:  make(map[int]gauge),
		details: make([]phaseDetail, sched.Len()),
		pace:    newSchedulePacer(start, rate, sched.Duration(), Shard{}, start),
	}
}

// phaseIndex returns the phase an offset falls in; offsets before the
// start belong to the first phase, offsets past the end to the last.
func (r *recorder) phaseIndex(off time.Duration) int {
	return min(max(r.sched.At(off), 0), r.sched.Len()-1)
}

// outcome is how one request ended, as the load runner saw it.
type outcome uint8

const (
	oOK outcome = iota
	oUpstreamError
	oTimeoutUpstream // the gateway's upstream call timed out
	oTimeoutClient   // the load runner's own deadline
	oRejected
	oSaturated
	oConnection
	oRedirect
	oClientError
	oAssertionFailed
	oShed // a user's service shed the load: 429, or 503 with Retry-After
)

// classify maps a vegeta result to its outcome class using the gateway's
// X-Cbload-Outcome header; a target that is not cbload's gateway (a user's
// own service) is classified by status code alone. A result without a
// status is classified by its error.
func classify(res *vegeta.Result) outcome {
	if res.Code == 0 {
		return classifyError(res.Error)
	}
	switch res.Headers.Get(outcomeHeader) {
	case outcomeOK:
		return oOK
	case outcomeRejected:
		return oRejected
	case outcomeSaturated:
		return oSaturated
	case outcomeTimeout:
		return oTimeoutUpstream
	case outcomeUpstreamError:
		return oUpstreamError
	case outcomeAssertionFailed:
		return oAssertionFailed
	}
	switch {
	case res.Code >= 200 && res.Code < 300:
		return oOK
	case res.Code == http.StatusTooManyRequests,
		res.Code == http.StatusServiceUnavailable && res.Headers.Get("Retry-After") != "":
		return oShed
	case res.Code >= 300 && res.Code < 400:
		return oRedirect
	case res.Code == http.StatusGatewayTimeout:
		return oTimeoutUpstream
	case res.Code >= 500:
		return oUpstreamError
	default:
		return oClientError
	}
}

// classifyError classifies a request that got no response by the error
// net/http gave the load runner (vegeta keeps only its text).
func classifyError(msg string) outcome {
	switch {
	case strings.Contains(msg, "Client.Timeout"), strings.Contains(msg, "deadline exceeded"), strings.Contains(msg, "i/o timeout"):
		return oTimeoutClient
	case isResourceError(msg),
		strings.Contains(msg, "connection refused"), strings.Contains(msg, "connection reset"),
		strings.Contains(msg, "broken pipe"), strings.Contains(msg, "EOF"),
		strings.Contains(msg, "server closed idle connection"), strings.Contains(msg, "no such host"),
		strings.Contains(msg, "network is unreachable"),
		// A broken answer (faultserver's garbage) or a failed TLS
		// handshake (its tls faults): the connection gave nothing usable.
		strings.Contains(msg, "malformed HTTP"), strings.Contains(msg, "tls: "), strings.Contains(msg, "x509: "):
		return oConnection
	}
	return oClientError
}

// isResourceError reports whether an error message says a local resource
// ran out: file descriptors or ephemeral ports.
func isResourceError(msg string) bool {
	return strings.Contains(msg, "too many open files") || strings.Contains(msg, "cannot assign requested address")
}

// clamp keeps an offset within the schedule: vegeta may send the last hit a
// hair after its end, and answers arrive after it.
func (r *recorder) clamp(off time.Duration) time.Duration {
	return min(max(off, 0), r.sched.Duration()-1)
}

func (r *recorder) secondAt(sec int) *secondAcc {
	acc := r.seconds[sec]
	if acc == nil {
		acc = &secondAcc{}
		r.seconds[sec] = acc
	}
	return acc
}

// attempts returns the attempts reaching the upstream that an /api answer
// says it made (X-Cbload-Attempts), 0 when it says nothing.
func attempts(res *vegeta.Result) int64 {
	v := res.Headers.Get(attemptsHeader)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// add records one result: its send in the second it was sent, its outcome
// and latency in the second it completed in.
func (r *recorder) add(res *vegeta.Result, collateral bool) {
	o := classify(res)
	sentOff := res.Timestamp.Sub(r.start)
	lag := max(sentOff-r.pace.due(res.Seq), 0)
	sent := r.secondAt(int(r.clamp(sentOff) / time.Second))
	sent.sent++
	sent.sendLag.Record(lag)
	if collateral {
		sent.collateralSent++
	} else {
		sent.apiSent++
	}
	if res.Code == 0 && isResourceError(res.Error) {
		r.load.resourceErrors++
		r.load.lastResource = res.Error
	}

	doneOff := r.clamp(sentOff + res.Latency)
	done := r.secondAt(int(doneOff / time.Second))
	if collateral {
		done.collateral.add(o, res.Latency)
		r.details[r.phaseIndex(doneOff)].collateral.add(res)
		r.live.local++
		if o == oOK {
			r.live.localOK++
		}
		return
	}
	done.api.add(o, res.Latency)
	sent.apiBySend.add(o, res.Latency)
	r.details[r.phaseIndex(doneOff)].api.add(res)
	done.apiAttempts += attempts(res)
	r.live.api++
	i := int(doneOff / slotWidth)
	if i >= len(r.slots) {
		r.slots = append(r.slots, make([]slot, i+1-len(r.slots))...)
	}
	r.slots[i].n++
	if o == oOK {
		r.slots[i].ok++
		r.live.apiOK++
	}
}

// lastSecond returns the last second anything was recorded in, -1 when
// nothing was.
func (r *recorder) lastSecond() int {
	last := -1
	for _, s := range r.series {
		last = max(last, s.T)
	}
	for k := range r.seconds {
		last = max(last, k)
	}
	return last
}

// sample stores the gauges read at the end of second sec.
func (r *recorder) sample(sec int, g gauge) { r.gauges[sec] = g }

// addCalls stores the gateway's upstream call latencies of second sec,
// which take merges into a histogram.
func (r *recorder) addCalls(sec int, take func(*reports.DenseHistogram)) {
	var h reports.DenseHistogram
	take(&h)
	r.secondAt(sec).calls = h.Sparse()
}

// takeLive returns and resets the /api and /local success ratios of the
// results that arrived since the last call; a ratio is -1 when there was
// none.
func (r *recorder) takeLive() (apiOK, localOK float64) {
	ratio := func(ok, n int64) float64 {
		if n == 0 {
			return -1
		}
		return float64(ok) / float64(n)
	}
	apiOK, localOK = ratio(r.live.apiOK, r.live.api), ratio(r.live.localOK, r.live.local)
	r.live = liveAcc{}
	return apiOK, localOK
}

// scheduled returns how many requests the schedule calls for in second
// sec from this arm's load runner: those of its share due in it (see
// schedulePacer; vegeta sends a hit whenever the previous one left before
// the end, so the last may be due a hair past it: it counts in the last
// second, as its answer does). Skipped sends count: they were due.
func (r *recorder) scheduled(sec int) int64 {
	p := r.pace
	// due(x) is the number of this arm's sends due before x.
	due := func(x time.Duration) int64 {
		if x <= 0 {
			return 0
		}
		return p.sendsUpTo(int64((x - 1) / p.interval))
	}
	from, to := time.Duration(sec)*time.Second, time.Duration(sec+1)*time.Second
	if to >= r.sched.Duration() {
		return p.sendsUpTo(p.last) - due(from)
	}
	return due(to) - due(from)
}

// flush moves every second that ended before now-lag into the series. With
// all set it flushes everything, for the end of the run.
func (r *recorder) flush(now time.Time, all bool) {
	done := int((now.Sub(r.start) - r.lag) / time.Second)
	var keys []int
	for k := range r.seconds {
		if all || k < done {
			keys = append(keys, k)
		}
	}
	for k := range r.gauges {
		if _, ok := r.seconds[k]; !ok && (all || k < done) {
			keys = append(keys, k)
		}
	}
	sort.Ints(keys)
	for _, k := range keys {
		r.series = append(r.series, r.second(k))
		delete(r.seconds, k)
		delete(r.gauges, k)
	}
}

func (r *recorder) second(k int) reports.Second {
	g := r.gauges[k]
	s := reports.Second{
		T:                        k,
		Phase:                    r.plan[r.phaseIndex(time.Duration(k)*time.Second)].Name,
		State:                    g.state,
		Scheduled:                r.scheduled(k),
		InflightPeak:             g.inflightPeak,
		Goroutines:               g.goroutines,
		SchedLatencyP99MS:        g.schedP99,
		UpstreamRequests:         g.upstreamRequests,
		UpstreamCompleted:        g.completed,
		UpstreamCompletedForGone: g.completedForGone,
		UpstreamQueuePeak:        g.queuePeak,
		UpstreamQueueLen:         g.queueLen,
	}
	acc := r.seconds[k]
	if acc == nil {
		acc = &secondAcc{}
	}
	s.Sent = acc.sent
	s.APIAttempts = acc.apiAttempts
	s.SendLagHist = acc.sendLag.Sparse()
	s.API = reports.Bucket{Sent: acc.apiSent, Outcomes: acc.api.outcomes, LatencyHist: acc.api.hist.Sparse()}
	if acc.apiSent > 0 {
		s.API.BySend = &reports.SentAnswers{Outcomes: acc.apiBySend.outcomes, LatencyHist: acc.apiBySend.hist.Sparse()}
	}
	s.Collateral = reports.Bucket{Sent: acc.collateralSent, Outcomes: acc.collateral.outcomes, LatencyHist: acc.collateral.hist.Sparse()}
	s.UpstreamCallHist = acc.calls
	return s
}

// arm assembles the arm's report section from everything recorded; the
// series must have been flushed. Summaries and figures are derived from the
// raw aggregates by analysis.Derive. w holds what the watchdog saw, and
// gatewayResource the gateway's resource errors.
func (r *recorder) arm(name string, transitions []reports.Transition, w watchdogReport, gatewayResource int64, gatewayLast string) reports.Arm {
	return r.build(name, r.series, transitions, w, gatewayResource, gatewayLast)
}

// snapshot returns the arm as recorded so far, the seconds still open
// included as they stand, and leaves the recorder as it is. Its phases that
// have settled are as the arm's end will report them.
func (r *recorder) snapshot(name string) reports.Arm {
	series := slices.Clone(r.series)
	for k := range r.seconds {
		series = append(series, r.second(k))
	}
	for k := range r.gauges {
		if _, ok := r.seconds[k]; !ok {
			series = append(series, r.second(k))
		}
	}
	return r.build(name, series, nil, watchdogReport{}, 0, "")
}

// build assembles the arm from series and everything else recorded.
func (r *recorder) build(name string, series []reports.Second, transitions []reports.Transition, w watchdogReport, gatewayResource int64, gatewayLast string) reports.Arm {
	sort.Slice(series, func(i, j int) bool { return series[i].T < series[j].T })
	a := reports.Arm{
		Name:          name,
		Breaker:       r.breaker,
		UpstreamQueue: r.queue,
		Transitions:   transitions,
		Series:        series,
		APISlots:      &reports.Slots{WidthMS: slotWidth.Milliseconds(), OK: make([]int64, len(r.slots)), N: make([]int64, len(r.slots))},
	}
	if a.Transitions == nil {
		a.Transitions = []reports.Transition{}
	}
	for i, s := range r.slots {
		a.APISlots.OK[i], a.APISlots.N[i] = s.ok, s.n
	}
	a.Load = &reports.LoadGen{
		Stalls:           w.stalls,
		StallThresholdMS: float64(stallThreshold) / float64(time.Millisecond),
		LongestGapMS:     round3(float64(w.longest) / float64(time.Millisecond)),
		ResourceErrors: reports.ResourceErrors{
			LoadRunner: r.load.resourceErrors,
			Gateway:    gatewayResource,
			Last:       cmp.Or(r.load.lastResource, gatewayLast),
		},
	}
	if a.Load.Stalls == nil {
		a.Load.Stalls = []reports.Stall{}
	}
	analysis.Derive(&a, r.plan)
	for i, p := range r.plan {
		ps := a.Summary[p.Name]
		r.details[i].api.fill(&ps.API)
		r.details[i].collateral.fill(&ps.Collateral)
		a.Summary[p.Name] = ps
	}
	return a
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }
func round4(v float64) float64 { return float64(int64(v*10000+0.5)) / 10000 }
