package harness

import (
	"net/http"
	"sort"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cbload/cbload/reports"
)

// recorder aggregates one arm's results per second and per phase. It keeps a
// fixed-size histogram per open second, per phase and per endpoint — never
// the results themselves — so memory does not grow with the run's length
// beyond one small Second per second.
//
// A recorder is owned by one goroutine; it has no locks.
type recorder struct {
	start   time.Time
	phases  []phaseSpan
	lag     time.Duration // how long after a second ends its results may still arrive
	breaker bool
	// gatewayCalls is set once the gateway's call latencies are recorded.
	gatewayCalls bool
	seconds      map[int]*secondAcc
	gauges       map[int]gauge
	series       []reports.Second
	perPhase     []phaseAcc
	live         liveAcc
}

type phaseSpan struct {
	name       string
	start, end time.Duration
	faulty     bool
}

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
	case oTimeout:
		e.outcomes.Timeout++
	case oRejected:
		e.outcomes.Rejected++
	case oSaturated:
		e.outcomes.Saturated++
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

func (e *endpointAcc) latency() reports.Latency {
	return reports.Latency{
		P50: round3(e.hist.quantileMS(0.50)),
		P90: round3(e.hist.quantileMS(0.90)),
		P99: round3(e.hist.quantileMS(0.99)),
		Max: round3(e.hist.quantileMS(1)),
	}
}

type secondAcc struct {
	offered         int64
	api, collateral endpointAcc
}

// gauge is what was sampled at the end of a second.
type gauge struct {
	state            string
	inflightPeak     int64
	goroutines       int
	upstreamRequests int64
}

type phaseAcc struct {
	api, collateral  endpointAcc
	upstreamRequests int64
	inflightPeak     int64
	calls            histogram // upstream calls as the gateway timed them
}

// liveAcc counts results by the second they arrived, for the progress line.
type liveAcc struct {
	n, ok int64
	hist  histogram
}

func newRecorder(start time.Time, phases []Phase, lag time.Duration, withBreaker bool) *recorder {
	r := &recorder{
		start:    start,
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
	oTimeout
	oRejected
	oSaturated
	oClientError
	oAssertionFailed
)

// classify maps a vegeta result to its outcome class using the gateway's
// X-Cbload-Outcome header; a target that is not cbload's gateway (a user's
// own service) is classified by status code alone.
func classify(res *vegeta.Result) outcome {
	if res.Code == 0 {
		return oClientError
	}
	switch res.Headers.Get(outcomeHeader) {
	case outcomeOK:
		return oOK
	case outcomeRejected:
		return oRejected
	case outcomeSaturated:
		return oSaturated
	case outcomeTimeout:
		return oTimeout
	case outcomeUpstreamError:
		return oUpstreamError
	case outcomeAssertionFailed:
		return oAssertionFailed
	}
	switch {
	case res.Code < 400:
		return oOK
	case res.Code == http.StatusGatewayTimeout:
		return oTimeout
	case res.Code >= 500:
		return oUpstreamError
	default:
		return oClientError
	}
}

// add records one result, bucketed by the second it was sent in.
func (r *recorder) add(res *vegeta.Result, collateral bool) {
	o := classify(res)
	off := res.Timestamp.Sub(r.start)
	if off < 0 {
		off = 0
	}
	// vegeta may send the last hit a hair after the schedule's end.
	if end := r.phases[len(r.phases)-1].end; off >= end {
		off = end - 1
	}
	sec := int(off / time.Second)
	acc := r.seconds[sec]
	if acc == nil {
		acc = &secondAcc{}
		r.seconds[sec] = acc
	}
	acc.offered++
	p := &r.perPhase[r.phaseIndex(off)]
	if collateral {
		acc.collateral.add(o, res.Latency)
		p.collateral.add(o, res.Latency)
	} else {
		acc.api.add(o, res.Latency)
		p.api.add(o, res.Latency)
	}
	r.live.n++
	if o == oOK {
		r.live.ok++
	}
	r.live.hist.record(res.Latency)
}

// sample stores the gauges read at the end of second sec.
func (r *recorder) sample(sec int, g gauge) {
	r.gauges[sec] = g
	p := &r.perPhase[r.phaseIndex(time.Duration(sec)*time.Second)]
	p.upstreamRequests += g.upstreamRequests
	p.inflightPeak = max(p.inflightPeak, g.inflightPeak)
}

// addCalls lets take merge the gateway's upstream call latencies of second
// sec into its phase.
func (r *recorder) addCalls(sec int, take func(*histogram)) {
	take(&r.perPhase[r.phaseIndex(time.Duration(sec)*time.Second)].calls)
	r.gatewayCalls = true
}

// takeLive returns and resets the counts of results that arrived since the
// last call.
func (r *recorder) takeLive() (n int64, okRatio float64, p99 time.Duration) {
	n = r.live.n
	if n > 0 {
		okRatio = float64(r.live.ok) / float64(n)
		p99 = time.Duration(r.live.hist.quantileMS(0.99) * float64(time.Millisecond))
	}
	r.live = liveAcc{}
	return n, okRatio, p99
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
		T:                k,
		Phase:            r.phases[r.phaseIndex(time.Duration(k)*time.Second)].name,
		State:            g.state,
		InflightPeak:     g.inflightPeak,
		Goroutines:       g.goroutines,
		UpstreamRequests: g.upstreamRequests,
	}
	if acc := r.seconds[k]; acc != nil {
		s.Offered = acc.offered
		s.API = reports.Bucket{Requests: acc.api.outcomes.Total(), Outcomes: acc.api.outcomes, LatencyMS: acc.api.latency()}
		s.Collateral = reports.Bucket{Requests: acc.collateral.outcomes.Total(), Outcomes: acc.collateral.outcomes, LatencyMS: acc.collateral.latency()}
	}
	return s
}

// arm assembles the arm's report section from everything recorded; the
// series must have been flushed.
func (r *recorder) arm(name string, transitions []reports.Transition) reports.Arm {
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
			API:              pa.api.stats(),
			Collateral:       pa.collateral.stats(),
			UpstreamRequests: pa.upstreamRequests,
			InflightPeak:     pa.inflightPeak,
		}
		if r.gatewayCalls {
			calls := endpointAcc{hist: pa.calls}
			l := calls.latency()
			ps.UpstreamCallMS = &l
		}
		a.Summary[p.name] = ps
		if p.faulty {
			fault.api.outcomes = fault.api.outcomes.Add(pa.api.outcomes)
			fault.api.hist.merge(&pa.api.hist)
			fault.collateral.outcomes = fault.collateral.outcomes.Add(pa.collateral.outcomes)
			fault.collateral.hist.merge(&pa.collateral.hist)
			fault.upstreamRequests += pa.upstreamRequests
		}
		a.Figures.InflightPeak = max(a.Figures.InflightPeak, pa.inflightPeak)
	}
	fs, cs := fault.api.stats(), fault.collateral.stats()
	a.Figures.UpstreamRequestsDuringFault = fault.upstreamRequests
	a.Figures.APISuccessDuringFault = round4(fs.SuccessRatio)
	a.Figures.CollateralSuccessDuringFault = round4(cs.SuccessRatio)
	a.Figures.CollateralP99DuringFaultMS = cs.LatencyMS.P99
	r.figures(&a)
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
	faultEnd := r.phases[last].end.Seconds()
	for _, t := range a.Transitions {
		if t.To == reports.StateOpen && t.T >= faultStart {
			v := round3(t.T - faultStart)
			a.Figures.TimeToOpenS = &v
			break
		}
	}
	// Recovered: the first second after the fault in which the breaker ends
	// closed (or there is no breaker) and /api succeeds ≥ 99%. If the
	// breaker closed within that second, recovery is dated at the close.
	for _, s := range a.Series {
		if float64(s.T) < faultEnd || s.API.Requests == 0 {
			continue
		}
		if r.breaker && s.State != reports.StateClosed {
			continue
		}
		if float64(s.API.Outcomes.OK)/float64(s.API.Requests) < 0.99 {
			continue
		}
		at := float64(s.T)
		for _, t := range a.Transitions {
			if t.To == reports.StateClosed && t.T > at && t.T < at+1 {
				at = t.T
			}
		}
		v := round3(at - faultEnd)
		a.Figures.TimeToRecoverS = &v
		return
	}
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }
func round4(v float64) float64 { return float64(int64(v*10000+0.5)) / 10000 }
