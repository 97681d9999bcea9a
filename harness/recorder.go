package harness

import (
	"cmp"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cbload/cbload/reports"
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

// recorder aggregates one arm's results per second and per phase. It keeps a
// fixed-size histogram per open second, per phase and per endpoint — never
// the results themselves — so memory does not grow with the run's length
// beyond one small Second per second and two counters per 100 ms slot.
//
// A recorder is owned by one goroutine; it has no locks.
type recorder struct {
	start  time.Time
	phases []phaseSpan
	end    time.Duration // the schedule's length
	// interval is the pacer's: request Seq was scheduled at
	// start + (Seq+1) × interval.
	interval time.Duration
	lag      time.Duration // how long after a second ends its results may still arrive
	breaker  bool
	// gatewayCalls is set once the gateway's call latencies are recorded.
	gatewayCalls bool
	seconds      map[int]*secondAcc
	gauges       map[int]gauge
	series       []reports.Second
	perPhase     []phaseAcc
	// slots counts /api completions per 100 ms from the start.
	slots []slot
	load  loadAcc
	live  liveAcc
}

type phaseSpan struct {
	name       string
	start, end time.Duration
	faulty     bool
}

type slot struct{ ok, n int32 }

type endpointAcc struct {
	outcomes reports.Outcomes
	hist     histogram
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
	default:
		e.outcomes.ClientError++
	}
	e.hist.record(lat)
}

func (e *endpointAcc) stats() reports.Stats {
	n := e.outcomes.Total()
	s := reports.Stats{Requests: n, OK: e.outcomes.OK, Outcomes: e.outcomes, LatencyMS: e.latency()}
	if n > 0 {
		s.SuccessRatio = float64(e.outcomes.OK) / float64(n)
	}
	return s
}

func (e *endpointAcc) latency() reports.Latency { return latencyOf(&e.hist) }

func latencyOf(h *histogram) reports.Latency {
	return reports.Latency{
		P50:  round3(h.quantileMS(0.50)),
		P90:  round3(h.quantileMS(0.90)),
		P95:  round3(h.quantileMS(0.95)),
		P99:  round3(h.quantileMS(0.99)),
		Max:  round3(h.quantileMS(1)),
		Mean: round3(h.meanMS()),
	}
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
// as *, cut at reports.MaxErrorText bytes on a character boundary.
func errorText(msg string) string {
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
	sendLag                       histogram
	// By completion time.
	api, collateral endpointAcc
	apiAttempts     int64 // summed X-Cbload-Attempts of the /api answers
}

// gauge is what was sampled at the end of a second.
type gauge struct {
	state            string
	inflightPeak     int64
	goroutines       int
	upstreamRequests int64
	// The upstream's work completed in the second, the part of it for
	// callers that had gone, and its queue at the end of the second.
	completed, completedForGone, queueLen int64
}

type phaseAcc struct {
	api, collateral  endpointAcc
	apiDetail        detailAcc
	collateralDetail detailAcc
	upstreamRequests int64
	completed        int64
	completedForGone int64
	inflightPeak     int64
	calls            histogram // upstream calls as the gateway timed them
}

// loadAcc is the load generator's check on itself.
type loadAcc struct {
	sent           int64
	sendLag        histogram
	resourceErrors int64
	lastResource   string
}

// liveAcc counts results by the second they arrived, for the progress line.
type liveAcc struct {
	api, apiOK, local, localOK int64
}

func newRecorder(start time.Time, phases []Phase, rate float64, lag time.Duration, withBreaker bool) *recorder {
	r := &recorder{
		start:    start,
		interval: sendInterval(rate),
		lag:      lag,
		breaker:  withBreaker,
		seconds:  make(map[int]*secondAcc),
		gauges:   make(map[int]gauge),
		perPhase: make([]phaseAcc, len(phases)),
	}
	var at time.Duration
	for _, p := range phases {
		r.phases = append(r.phases, phaseSpan{name: p.Name, start: at, end: at + p.Duration, faulty: p.Faulty()})
		at += p.Duration
	}
	r.end = at
	return r
}

// phaseIndex returns the phase an offset falls in; offsets past the end
// belong to the last phase.
func (r *recorder) phaseIndex(off time.Duration) int {
	for i, p := range r.phases {
		if off < p.end {
			return i
		}
	}
	return len(r.phases) - 1
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
		strings.Contains(msg, "network is unreachable"):
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
	return min(max(off, 0), r.end-1)
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
// and latency in the second and phase it completed in.
func (r *recorder) add(res *vegeta.Result, collateral bool) {
	o := classify(res)
	sentOff := res.Timestamp.Sub(r.start)
	lag := max(sentOff-time.Duration(res.Seq+1)*r.interval, 0)
	sent := r.secondAt(int(r.clamp(sentOff) / time.Second))
	sent.sent++
	sent.sendLag.record(lag)
	if collateral {
		sent.collateralSent++
	} else {
		sent.apiSent++
	}
	r.load.sent++
	r.load.sendLag.record(lag)
	if res.Code == 0 && isResourceError(res.Error) {
		r.load.resourceErrors++
		r.load.lastResource = res.Error
	}

	doneOff := r.clamp(sentOff + res.Latency)
	done := r.secondAt(int(doneOff / time.Second))
	p := &r.perPhase[r.phaseIndex(doneOff)]
	if collateral {
		done.collateral.add(o, res.Latency)
		p.collateral.add(o, res.Latency)
		p.collateralDetail.add(res)
		r.live.local++
		if o == oOK {
			r.live.localOK++
		}
		return
	}
	done.api.add(o, res.Latency)
	p.api.add(o, res.Latency)
	p.apiDetail.add(res)
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

// sample stores the gauges read at the end of second sec.
func (r *recorder) sample(sec int, g gauge) {
	r.gauges[sec] = g
	p := &r.perPhase[r.phaseIndex(time.Duration(sec)*time.Second)]
	p.upstreamRequests += g.upstreamRequests
	p.completed += g.completed
	p.completedForGone += g.completedForGone
	p.inflightPeak = max(p.inflightPeak, g.inflightPeak)
}

// addCalls lets take merge the gateway's upstream call latencies of second
// sec into its phase.
func (r *recorder) addCalls(sec int, take func(*histogram)) {
	take(&r.perPhase[r.phaseIndex(time.Duration(sec)*time.Second)].calls)
	r.gatewayCalls = true
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
// sec: those due at k × interval for k = 1 … ⌈end/interval⌉ (vegeta sends
// a hit whenever the previous one left before the end, so one may be due a
// hair past it; it counts in the last second, as its answer does).
func (r *recorder) scheduled(sec int) int64 {
	last := int64((r.end + r.interval - 1) / r.interval)
	// due(x) is the number of k ≥ 1 with k × interval < x.
	due := func(x time.Duration) int64 {
		if x <= 0 {
			return 0
		}
		return min(int64((x-1)/r.interval), last)
	}
	from, to := time.Duration(sec)*time.Second, time.Duration(sec+1)*time.Second
	if to >= r.end {
		return last - due(from)
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
		Phase:                    r.phases[r.phaseIndex(time.Duration(k)*time.Second)].name,
		State:                    g.state,
		Scheduled:                r.scheduled(k),
		InflightPeak:             g.inflightPeak,
		Goroutines:               g.goroutines,
		UpstreamRequests:         g.upstreamRequests,
		UpstreamCompleted:        g.completed,
		UpstreamCompletedForGone: g.completedForGone,
		UpstreamQueueLen:         g.queueLen,
	}
	if acc := r.seconds[k]; acc != nil {
		s.Sent = acc.sent
		s.SendLagMS = reports.Lag{P99: round3(acc.sendLag.quantileMS(0.99)), Max: round3(acc.sendLag.quantileMS(1))}
		s.APIAttempts = acc.apiAttempts
		s.API = reports.Bucket{Sent: acc.apiSent, Requests: acc.api.outcomes.Total(), Outcomes: acc.api.outcomes, LatencyMS: acc.api.latency()}
		s.Collateral = reports.Bucket{Sent: acc.collateralSent, Requests: acc.collateral.outcomes.Total(), Outcomes: acc.collateral.outcomes, LatencyMS: acc.collateral.latency()}
	}
	return s
}

// arm assembles the arm's report section from everything recorded; the
// series must have been flushed. w holds what the watchdog saw, and
// gatewayResource the gateway's resource errors.
func (r *recorder) arm(name string, transitions []reports.Transition, w watchdogReport, gatewayResource int64, gatewayLast string) reports.Arm {
	sort.Slice(r.series, func(i, j int) bool { return r.series[i].T < r.series[j].T })
	a := reports.Arm{
		Name:        name,
		Breaker:     r.breaker,
		Summary:     make(map[string]reports.PhaseSummary, len(r.phases)),
		Transitions: transitions,
		Series:      r.series,
	}
	if a.Transitions == nil {
		a.Transitions = []reports.Transition{}
	}
	var fault phaseAcc
	for i, p := range r.phases {
		pa := &r.perPhase[i]
		ps := reports.PhaseSummary{
			API:                      pa.api.stats(),
			Collateral:               pa.collateral.stats(),
			UpstreamRequests:         pa.upstreamRequests,
			UpstreamCompleted:        pa.completed,
			UpstreamCompletedForGone: pa.completedForGone,
			InflightPeak:             pa.inflightPeak,
		}
		pa.apiDetail.fill(&ps.API)
		pa.collateralDetail.fill(&ps.Collateral)
		if r.gatewayCalls {
			l := latencyOf(&pa.calls)
			ps.UpstreamCallMS = &l
		}
		a.Summary[p.name] = ps
		if p.faulty {
			fault.api.outcomes = fault.api.outcomes.Add(pa.api.outcomes)
			fault.api.hist.merge(&pa.api.hist)
			fault.collateral.outcomes = fault.collateral.outcomes.Add(pa.collateral.outcomes)
			fault.collateral.hist.merge(&pa.collateral.hist)
			fault.upstreamRequests += pa.upstreamRequests
			a.Figures.InflightPeak = max(a.Figures.InflightPeak, pa.inflightPeak)
		}
		a.Figures.InflightPeakWholeRun = max(a.Figures.InflightPeakWholeRun, pa.inflightPeak)
	}
	fs, cs := fault.api.stats(), fault.collateral.stats()
	a.Figures.UpstreamRequestsDuringFault = fault.upstreamRequests
	a.Figures.APISuccessDuringFault = round4(fs.SuccessRatio)
	a.Figures.CollateralSuccessDuringFault = round4(cs.SuccessRatio)
	a.Figures.CollateralP99DuringFaultMS = cs.LatencyMS.P99
	r.figures(&a)

	var scheduled int64
	for _, s := range a.Series {
		scheduled += s.Scheduled
	}
	a.Load = &reports.LoadGen{
		Scheduled:        scheduled,
		Sent:             r.load.sent,
		SendLagMS:        latencyOf(&r.load.sendLag),
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
	return a
}

// figures fills the breaker timings: time to open from the start of the
// first fault phase, and time to recover from the end of the last one.
func (r *recorder) figures(a *reports.Arm) {
	first, last := -1, -1
	for i, p := range r.phases {
		if p.faulty {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	for _, t := range a.Transitions {
		if t.To == reports.StateOpen {
			a.Figures.Opens++
		}
	}
	if first < 0 {
		return
	}
	faultStart := r.phases[first].start.Seconds()
	for _, t := range a.Transitions {
		if t.To == reports.StateOpen && t.T >= faultStart {
			v := round3(t.T - faultStart)
			a.Figures.TimeToOpenS = &v
			break
		}
	}
	if at, ok := r.recoveredAt(r.phases[last].end, a.Transitions); ok {
		v := round3((at - r.phases[last].end).Seconds())
		a.Figures.TimeToRecoverS = &v
	}
}

// recoveryWindow is how long /api must stay healthy, with the breaker
// closed, to count as recovered; recoveredOK is the success ratio it must
// hold.
const (
	recoveryWindow = time.Second
	recoveredOK    = 0.99
)

// recoveredAt returns the start of the first 100 ms slot at or after
// faultEnd from which a full recoveryWindow of /api completions succeeds
// at least recoveredOK, with at least one completion, and — with a
// breaker — the breaker closed at the window's start and no transition
// inside it. The window must end within the schedule.
func (r *recorder) recoveredAt(faultEnd time.Duration, transitions []reports.Transition) (time.Duration, bool) {
	n := int(recoveryWindow / slotWidth)
	stateAt := func(t float64) string {
		s := reports.StateClosed
		for _, tr := range transitions {
			if tr.T <= t {
				s = tr.To
			}
		}
		return s
	}
	changesIn := func(from, to float64) bool {
		for _, tr := range transitions {
			if tr.T > from && tr.T < to {
				return true
			}
		}
		return false
	}
	first := int((faultEnd + slotWidth - 1) / slotWidth)
	lastStart := int((r.end - recoveryWindow) / slotWidth)
	for i := first; i <= lastStart; i++ {
		var ok, total int64
		for _, s := range r.slots[min(i, len(r.slots)):min(i+n, len(r.slots))] {
			ok += int64(s.ok)
			total += int64(s.n)
		}
		at := time.Duration(i) * slotWidth
		from, to := at.Seconds(), (at + recoveryWindow).Seconds()
		if r.breaker && (stateAt(from) != reports.StateClosed || changesIn(from, to)) {
			continue
		}
		if total > 0 && float64(ok) >= recoveredOK*float64(total) {
			return at, true
		}
	}
	return 0, false
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }
func round4(v float64) float64 { return float64(int64(v*10000+0.5)) / 10000 }
