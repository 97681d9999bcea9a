package analysis

import (
	"cmp"
	"math"
	"slices"

	"github.com/cbload/cbload/reports"
)

// RecoveryWindowMS is how long /api must stay healthy, with the breaker
// closed, to count as recovered; RecoveredOK is the success ratio it must
// hold.
const (
	RecoveryWindowMS = 1000
	RecoveredOK      = 0.99
)

// HasRaw reports whether arm a carries the raw aggregates Derive needs.
func HasRaw(a *reports.Arm) bool { return a.APISlots != nil }

// Derive recomputes, from a's raw aggregates, every derived field of the
// arm: each second's request counts and percentiles, the phase summaries,
// the figures, and the load generator's totals and send lag. Series must be
// sorted by T; phases are the report's. Fields that are not derived — the
// series' raw data and gauges, transitions, stalls, resource errors,
// exemplars, notes — are left as they are. An arm without raw data
// (HasRaw false) is left untouched.
func Derive(a *reports.Arm, phases []reports.Phase) {
	if !HasRaw(a) || len(phases) == 0 {
		return
	}
	type acc struct {
		api, collateral reports.Bucket
		calls           *reports.Histogram
		// raw are the phase's combined raw counts (reports.RawCounts
		// with a Phase), in raw's order.
		raw       []int64
		queuePeak int64
	}
	raw := reports.RawCounts()
	per := make([]acc, len(phases))
	var sendLag *reports.Histogram
	var scheduled, sent int64
	calls := false
	for i := range a.Series {
		s := &a.Series[i]
		p := phaseAt(phases, float64(s.T))
		s.Phase = phases[p].Name
		for _, b := range []*reports.Bucket{&s.API, &s.Collateral} {
			b.Requests = b.Outcomes.Total()
			b.LatencyMS = b.LatencyHist.Latency()
		}
		s.SendLagMS = reports.Lag{P99: s.SendLagHist.Latency().P99, Max: s.SendLagHist.Latency().Max}
		sendLag = sendLag.Merge(s.SendLagHist)
		scheduled += s.Scheduled
		sent += s.Sent

		pa := &per[p]
		addBucket(&pa.api, &s.API)
		addBucket(&pa.collateral, &s.Collateral)
		pa.calls = pa.calls.Merge(s.UpstreamCallHist)
		calls = calls || s.UpstreamCallHist != nil
		if pa.raw == nil {
			pa.raw = make([]int64, len(raw))
		}
		for k, c := range raw {
			if c.Phase != nil {
				pa.raw[k] = reports.Combine(c.Seconds, pa.raw[k], *c.Second(s))
			}
		}
		pa.queuePeak = max(pa.queuePeak, s.UpstreamQueuePeak)
	}

	// The per-phase details (status codes, error sets, bytes, per-upstream
	// counts) are raw data kept per phase only: carried over, not derived.
	old := a.Summary
	a.Summary = make(map[string]reports.PhaseSummary, len(phases))
	a.Figures = reports.Figures{}
	var fault acc
	for i, p := range phases {
		pa := &per[i]
		// What is not derived here (per-upstream counts, symptoms,
		// attempts) is carried over from the summary as it was.
		ps := old[p.Name]
		api, coll := stats(&pa.api), stats(&pa.collateral)
		copyDetail(&api, &ps.API)
		copyDetail(&coll, &ps.Collateral)
		ps.API, ps.Collateral = api, coll
		for k, c := range raw {
			if c.Phase != nil {
				var x int64
				if pa.raw != nil {
					x = pa.raw[k]
				}
				*c.Phase(&ps) = x
			}
		}
		ps.UpstreamQueuePeak = nil
		if a.UpstreamQueue == reports.QueueMeasured {
			q := pa.queuePeak
			ps.UpstreamQueuePeak = &q
		}
		ps.UpstreamCallMS = nil
		if calls {
			l := pa.calls.Latency()
			ps.UpstreamCallMS = &l
		}
		a.Summary[p.Name] = ps
		if len(p.Faults) > 0 {
			addBucket(&fault.api, &pa.api)
			addBucket(&fault.collateral, &pa.collateral)
		}
	}
	fromPhases(a, phases)
	fs, cs := stats(&fault.api), stats(&fault.collateral)
	a.Figures.APISuccessDuringFault = round4(fs.SuccessRatio)
	a.Figures.CollateralSuccessDuringFault = round4(cs.SuccessRatio)
	a.Figures.CollateralP99DuringFaultMS = cs.LatencyMS.P99
	timings(a, phases)

	if a.Load != nil {
		a.Load.Scheduled = scheduled
		a.Load.Sent = sent
		a.Load.SendLagMS = sendLag.Latency()
	}
}

// fromPhases derives the figures the catalogue derives from a per-phase
// value (Figure.FromPhases): the value's phase summaries over the fault
// phases, or every phase, combined by its rule.
func fromPhases(a *reports.Arm, phases []reports.Phase) {
	for _, f := range reports.Catalogue {
		if f.FromPhases == nil {
			continue
		}
		v := reports.PhaseValueNamed(f.FromPhases.Value)
		var x int64
		for _, p := range phases {
			if f.FromPhases.All || len(p.Faults) > 0 {
				ps := a.Summary[p.Name]
				x = reports.Combine(v.Raw.Seconds, x, *v.Raw.Phase(&ps))
			}
		}
		f.Set(&a.Figures, float64(x), true)
	}
}

func copyDetail(dst, src *reports.Stats) {
	dst.StatusCodes, dst.Errors, dst.ErrorsOther = src.StatusCodes, src.Errors, src.ErrorsOther
	dst.BytesIn, dst.BytesOut = src.BytesIn, src.BytesOut
}

// phaseAt returns the index of the phase holding second t; seconds past
// the end belong to the last phase.
func phaseAt(phases []reports.Phase, t float64) int {
	for i, p := range phases {
		if t < p.EndS {
			return i
		}
	}
	return len(phases) - 1
}

func addBucket(dst, src *reports.Bucket) {
	dst.Sent += src.Sent
	dst.Outcomes = dst.Outcomes.Add(src.Outcomes)
	dst.LatencyHist = dst.LatencyHist.Merge(src.LatencyHist)
}

func stats(b *reports.Bucket) reports.Stats {
	n := b.Outcomes.Total()
	s := reports.Stats{Requests: n, OK: b.Outcomes.OK, Outcomes: b.Outcomes, LatencyMS: b.LatencyHist.Latency()}
	if n > 0 {
		s.SuccessRatio = float64(b.Outcomes.OK) / float64(n)
	}
	return s
}

// timings fills the breaker timings: opens, time to open from the start of
// the first fault phase, and time to recover from the end of the last one.
func timings(a *reports.Arm, phases []reports.Phase) {
	first, last := -1, -1
	for i, p := range phases {
		if len(p.Faults) > 0 {
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
	faultStart := phases[first].StartS
	for _, t := range a.Transitions {
		if t.To == reports.StateOpen && t.T >= faultStart {
			v := round3(t.T - faultStart)
			a.Figures.TimeToOpenS = &v
			if t.EarliestS != nil && t.LatestS != nil {
				a.Figures.TimeToOpenSpanS = []float64{max(0, round3(*t.EarliestS-faultStart)), round3(*t.LatestS - faultStart)}
			}
			break
		}
	}
	end := phases[len(phases)-1].EndS
	if a.BreakerFigures == reports.BreakerUnknown {
		return // with the breaker unknown, so is when it let the service recover
	}
	if at, ok := recoveredAt(a, phases[last].EndS, end); ok {
		v := round3(at - phases[last].EndS)
		a.Figures.TimeToRecoverS = &v
	}
}

// recoveredAt returns the start, in seconds, of the first slot at or after
// faultEnd from which a full recovery window of /api completions succeeds
// at least RecoveredOK, with at least one completion, and — with a breaker
// — the breaker closed at the window's start and no transition inside it.
// The window must end within the schedule (end).
func recoveredAt(a *reports.Arm, faultEnd, end float64) (float64, bool) {
	sl := a.APISlots
	if sl.WidthMS <= 0 {
		return 0, false
	}
	n := int(RecoveryWindowMS / sl.WidthMS)
	// Transitions are recorded in time order; sorted here all the same,
	// so each slot looks them up in log time, not a pass over all.
	trs := slices.Clone(a.Transitions)
	slices.SortStableFunc(trs, func(x, y reports.Transition) int { return cmp.Compare(x.T, y.T) })
	after := func(t float64) int { // the first transition after t
		k, _ := slices.BinarySearchFunc(trs, t, func(tr reports.Transition, t float64) int {
			if tr.T <= t {
				return -1
			}
			return 1
		})
		return k
	}
	stateAt := func(t float64) string {
		if k := after(t); k > 0 {
			return trs[k-1].To
		}
		return reports.StateClosed
	}
	changesIn := func(from, to float64) bool {
		k := after(from)
		return k < len(trs) && trs[k].T < to
	}
	// Slot boundaries are whole milliseconds: compute them in integers.
	endMS, faultEndMS := int64(math.Round(end*1000)), int64(math.Round(faultEnd*1000))
	first := int((faultEndMS + sl.WidthMS - 1) / sl.WidthMS)
	// Past the last slot no window holds a completion.
	lastStart := min(int((endMS-RecoveryWindowMS)/sl.WidthMS), len(sl.N)-1)
	for i := first; i <= lastStart; i++ {
		var ok, total int64
		for j := i; j < min(i+n, len(sl.N)); j++ {
			ok += sl.OK[j]
			total += sl.N[j]
		}
		at := float64(int64(i)*sl.WidthMS) / 1000
		from, to := at, at+RecoveryWindowMS/1000.0
		if a.Breaker && (stateAt(from) != reports.StateClosed || changesIn(from, to)) {
			continue
		}
		if total > 0 && float64(ok) >= RecoveredOK*float64(total) {
			return at, true
		}
	}
	return 0, false
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }
func round4(v float64) float64 { return float64(int64(v*10000+0.5)) / 10000 }
