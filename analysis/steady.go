package analysis

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cbload/cbload/reports"
)

// Limits of the verdict on one arm (steadyVerdict).
const (
	// shedShare: the service shed its sick dependency when its calls per
	// api request in the fault's second half were at most this share of
	// its baseline's.
	shedShare = 0.5
	// apiHealthyMargin: a service whose api success during the fault
	// stayed within this of its baseline's had nothing to shed.
	apiHealthyMargin = 0.01
)

// steadyVerdict is the verdict on the single arm a, the service as it is
// (reports.SteadyState): judged against its own baseline, was the damage
// contained (the collateral rule), did the service shed the sick
// dependency and how fast, did it fail fast, and did it recover? The
// outcome is the first part that did not hold, in that order of weight —
// not contained, stuck, not shed, slow failure — or held. A part that
// cannot be judged says why, and decides nothing.
func steadyVerdict(r *reports.Report, a *reports.Arm) reports.Verdict {
	if r.FaultPhase() == nil {
		return reports.Verdict{Outcome: reports.OutcomeInconclusive,
			Summary: "Inconclusive: no phase injected a fault, so there was nothing to judge.",
			Reasons: []string{}}
	}
	if len(a.Series) == 0 || !coversFault(r, a) {
		return reports.Verdict{Outcome: reports.OutcomeInconclusive,
			Summary: fmt.Sprintf("Inconclusive: the %s arm stopped before the fault ended, so the service cannot be judged.", a.Name),
			Reasons: []string{}}
	}
	t := reports.TermsOf(r.Config)
	st := &reports.SteadyState{Arm: a.Name}
	st.Contained = contained(r, a, t)
	st.FailedFast = failedFast(r, a, t)
	st.Shed = shed(r, a, t, st)
	st.Recovered = recoveredPart(r, a, t)

	v := reports.Verdict{Steady: st, Outcome: reports.OutcomeHeld}
	parts := []struct {
		name    string
		c       reports.SteadyCheck
		outcome string
		says    string
	}{
		{"contained", st.Contained, reports.OutcomeNotContained, "The damage was not contained"},
		{"recovered", st.Recovered, reports.OutcomeStuck, "The service did not recover"},
		{"shed", st.Shed, reports.OutcomeNotShed, "The service kept calling the sick dependency"},
		{"failed fast", st.FailedFast, reports.OutcomeSlowFailure, "The service failed slowly"},
	}
	var held, unjudged []string
	for _, p := range parts {
		switch {
		case !p.c.Judged:
			v.Reasons = append(v.Reasons, p.name+": cannot be judged — "+p.c.Finding)
			unjudged = append(unjudged, p.name)
		case p.c.Held:
			v.Reasons = append(v.Reasons, p.name+": yes — "+p.c.Finding)
			held = append(held, p.name)
		default:
			v.Reasons = append(v.Reasons, p.name+": no — "+p.c.Finding)
			if v.Outcome == reports.OutcomeHeld {
				v.Outcome = p.outcome
				v.Summary = p.says + ": " + p.c.Finding + "."
			}
		}
	}
	switch {
	case v.Outcome != reports.OutcomeHeld:
	case len(held) == 0:
		v.Outcome = reports.OutcomeInconclusive
		v.Summary = "Inconclusive: no part of the service's steady state could be judged."
	default:
		v.Summary = fmt.Sprintf("The service held its steady state against its own baseline: %s.", strings.Join(held, ", "))
	}
	if len(unjudged) > 0 {
		v.Summary += fmt.Sprintf(" Not judged: %s (see the reasons).", strings.Join(unjudged, ", "))
	}
	return v
}

// contained applies the A/B verdict's collateral rule to the one arm.
func contained(r *reports.Report, a *reports.Arm, t reports.Terms) reports.SteadyCheck {
	if !t.HasCollateral {
		return reports.SteadyCheck{Finding: "the target has no collateral endpoint (--collateral: one of the service's endpoints that does not call the sick dependency), so whether the damage spread cannot be seen"}
	}
	deg, why := degraded(r, a)
	return reports.SteadyCheck{Judged: true, Held: !deg, Finding: fmt.Sprintf("%s during the fault: %s", t.Collateral, why)}
}

// faultWindow returns the start of the first fault phase and the end of
// the last.
func faultWindow(r *reports.Report) (start, end float64) {
	start = -1
	for _, p := range r.Phases {
		if len(p.Faults) > 0 {
			if start < 0 {
				start = p.StartS
			}
			end = p.EndS
		}
	}
	return start, end
}

// callsPerRequest is the upstream's arrivals over the api requests sent in
// the arm's seconds [from, to): both by send time. ok is false when no api
// request was sent.
func callsPerRequest(a *reports.Arm, from, to float64) (v float64, ok bool) {
	var up, sent int64
	for _, s := range a.Series {
		if float64(s.T) >= from && float64(s.T)+1 <= to {
			up += s.UpstreamRequests
			sent += s.API.Sent
		}
	}
	if sent == 0 {
		return 0, false
	}
	return float64(up) / float64(sent), true
}

// shed judges whether the service cut its calls to the sick dependency:
// in at least half of the seconds of the fault's second half, its calls
// per api request (by send time) were at most shedShare of its
// baseline's; and how fast — the first second of the fault from which
// that held (shedFrom), and the time to open. Whole seconds vote, so one
// second's burst of calls cannot flip it.
func shed(r *reports.Report, a *reports.Arm, t reports.Terms, st *reports.SteadyState) reports.SteadyCheck {
	if r.Config.Upstream.External {
		return reports.SteadyCheck{Finding: "the upstream is run by another process (--upstream-external), so the service's calls to it are not counted"}
	}
	if len(r.Phases) == 0 || len(r.Phases[0].Faults) > 0 {
		return reports.SteadyCheck{Finding: "there is no faultless first phase to take the service's usual calls per request from"}
	}
	for _, p := range r.Phases {
		if len(p.Faults) > 0 && Refuses(p, a.Summary[p.Name]) {
			return reports.SteadyCheck{Finding: fmt.Sprintf("an upstream refused connections in phase %s, so the calls the service tried were never requests that could be counted", p.Name)}
		}
	}
	base, ok := callsPerRequest(a, r.Phases[0].StartS, r.Phases[0].EndS)
	if !ok || base == 0 {
		return reports.SteadyCheck{Finding: fmt.Sprintf("the service made no calls to the upstream per %s request in the %s phase, so there was nothing to shed", t.API, r.Phases[0].Name)}
	}
	fs, fe := faultWindow(r)
	mid := math.Floor(fs + (fe-fs)/2)
	limit := shedShare * base
	ratios := secondRatios(a, mid, fe)
	if len(ratios) == 0 {
		return reports.SteadyCheck{Finding: fmt.Sprintf("no %s request was sent in the fault's second half", t.API)}
	}
	under := 0
	for _, x := range ratios {
		if x <= limit {
			under++
		}
	}
	// The seconds decide, not their sum: a burst of calls in one second
	// (a half-open trial, retries after it) cannot flip the finding.
	slices.Sort(ratios)
	med := ratios[(len(ratios)-1)/2]
	c := reports.SteadyCheck{Judged: true, Held: 2*under >= len(ratios)}
	c.Finding = fmt.Sprintf("in %d of the %d seconds of the fault's second half it made at most half its baseline's upstream calls per %s request (median %.2f against %.2f, by send time)", under, len(ratios), t.API, med, base)
	if c.Held {
		if at, ok := shedFrom(a, fs, fe, limit); ok {
			c.Finding += fmt.Sprintf(", from %s into the fault on", reports.Seconds(at-fs))
		}
	}
	c.Finding += "; " + timeToOpen(a)
	if !c.Held && answersLate(r, a).fast() && a.Figures.APISuccessDuringFault >= baselineAPISuccess(r, a)-apiHealthyMargin {
		// The service answered as well and as fast as in its baseline:
		// whatever the dependency's fault was, it had nothing to shed.
		c.Held = true
		c.Finding = fmt.Sprintf("nothing to shed: %s succeeded %s during the fault and answered fast, so calling the dependency cost nothing; ", t.API, reports.Percent(a.Figures.APISuccessDuringFault)) + c.Finding
	}
	return c
}

// secondRatios returns, for each second in [from, to) with api requests
// sent, the upstream's arrivals over them (both by send time).
func secondRatios(a *reports.Arm, from, to float64) []float64 {
	var out []float64
	for _, s := range a.Series {
		if float64(s.T) >= from && float64(s.T)+1 <= to && s.API.Sent > 0 {
			out = append(out, float64(s.UpstreamRequests)/float64(s.API.Sent))
		}
	}
	return out
}

// shedFrom returns the first second of the fault window whose calls per
// api request (by send time) were at most limit and from which they were
// at most limit in at least half of the seconds to the window's end — the
// rule shed judges the second half by.
func shedFrom(a *reports.Arm, fs, fe, limit float64) (float64, bool) {
	rs := secondRatios(a, fs, fe)
	var ts []float64
	for _, s := range a.Series {
		if float64(s.T) >= fs && float64(s.T)+1 <= fe && s.API.Sent > 0 {
			ts = append(ts, float64(s.T))
		}
	}
	for i := range rs {
		if rs[i] > limit {
			continue
		}
		under := 0
		for _, x := range rs[i:] {
			if x <= limit {
				under++
			}
		}
		if 2*under >= len(rs)-i {
			return ts[i], true
		}
	}
	return 0, false
}

// timeToOpen says the arm's time to open and how it is known.
func timeToOpen(a *reports.Arm) string {
	switch {
	case a.BreakerFigures == reports.BreakerUnknown:
		return "time to open unknown (the service's breaker state is not observable)"
	case a.Figures.TimeToOpenS == nil:
		return "its breaker never opened"
	case a.BreakerFigures == reports.BreakerInferred:
		return "time to open " + reports.Seconds(*a.Figures.TimeToOpenS) + " (inferred from the upstream's arrivals)"
	}
	return "time to open " + reports.Seconds(*a.Figures.TimeToOpenS) + " (measured)"
}

// baselineAPISuccess is the arm's api success in the first phase (1 when
// it had no answers).
func baselineAPISuccess(r *reports.Report, a *reports.Arm) float64 {
	if len(r.Phases) == 0 {
		return 1
	}
	s := a.Summary[r.Phases[0].Name].API
	if s.Requests == 0 {
		return 1
	}
	return s.SuccessRatio
}

// lateAnswers is what the api answers of the fault's second half show:
// how many there were, how many failed, how many the client gave up on,
// their p99 and the limit it is held against.
//
// held, read only from a report without answers by send time, is how
// many api requests sent in the fault's second half, early enough to have
// been answered within the limit before the fault ended, had no answer
// when it ended — a lower bound: those sent minus every answer that came
// back in the second half. A service that holds its callers (a call
// without a timeout on a hanging dependency) answers nothing until the
// fault ends, and the answers that did come back say nothing of the ones
// still held, nor does such a report say how those ended.
type lateAnswers struct {
	answers, failures, timeouts, held int64
	p99, before, limit                float64
	bySend                            bool // read from Bucket.BySend
}

// where says which answers were read: those completed in the fault's
// second half, or those to the requests sent in it.
func (l lateAnswers) where() string {
	if l.bySend {
		return "for the requests sent in the fault's second half (by send time)"
	}
	return "in the fault's second half"
}

// fast says the answers came back within the limit and none timed out at
// the client. A p99 read from a histogram is a bucket's midpoint, within
// reports.HistogramRelativeError of the answers it stands for: one within
// that of the limit is within it (a service whose call timeout is the
// limit answers at the limit, and its p99 may read 501.8 ms).
func (l lateAnswers) fast() bool {
	return l.answers > 0 && l.p99 <= l.limit*(1+reports.HistogramRelativeError) && l.timeouts == 0
}

// answersLate reads the api answers to the requests sent in the fault's
// second half, by send time (Bucket.BySend), wherever they completed: a
// request sent before a breaker opened, answered by the service's own call
// timeout after it did, is not one of them. A report without them (an
// older cbload) is read by completion time, and the callers the service
// still held when the fault ended counted apart (lateAnswers.held).
func answersLate(r *reports.Report, a *reports.Arm) lateAnswers {
	fs, fe := faultWindow(r)
	mid := math.Floor(fs + (fe-fs)/2)
	if l, ok := answersSentLate(r, a, mid, fe); ok {
		return l
	}
	var h *reports.Histogram
	var l lateAnswers
	for _, s := range a.Series {
		if float64(s.T) >= mid && float64(s.T)+1 <= fe {
			h = h.Merge(s.API.LatencyHist)
			l.timeouts += s.API.Outcomes.TimeoutAt.LoadRunner // the service's own 504s were fast answers
			l.answers += s.API.Requests
			l.failures += s.API.Requests - s.API.Outcomes.OK
		}
	}
	if h != nil && h.Count > 0 {
		l.p99 = h.QuantileMS(0.99)
	} else if fp := r.FaultPhase(); fp != nil {
		l.p99 = a.Summary[fp.Name].API.LatencyMS.P99 // a report without histograms
	}
	if len(r.Phases) > 0 && len(r.Phases[0].Faults) == 0 {
		l.before = a.Summary[r.Phases[0].Name].API.LatencyMS.P99
	}
	l.limit = math.Max(collateralSlowMS, collateralSlowFactor*l.before)
	var sentEarly int64
	for _, s := range a.Series {
		if float64(s.T) >= mid && float64(s.T)+1 <= fe-l.limit/1000 {
			sentEarly += s.API.Sent
		}
	}
	l.held = max(0, sentEarly-l.answers)
	return l
}

// answersSentLate is answersLate by send time; false when a second of the
// window has no BySend, or no api request was sent in it.
func answersSentLate(r *reports.Report, a *reports.Arm, mid, fe float64) (lateAnswers, bool) {
	var h *reports.Histogram
	var l lateAnswers
	for _, s := range a.Series {
		if float64(s.T) < mid || float64(s.T)+1 > fe {
			continue
		}
		b := s.API.BySend
		if b == nil {
			if s.API.Sent > 0 {
				return lateAnswers{}, false
			}
			continue
		}
		h = h.Merge(b.LatencyHist)
		l.timeouts += b.Outcomes.TimeoutAt.LoadRunner
		l.answers += b.Outcomes.Total()
		l.failures += b.Outcomes.Total() - b.Outcomes.OK
	}
	if l.answers == 0 || h == nil || h.Count == 0 {
		return lateAnswers{}, false
	}
	l.bySend = true
	l.p99 = h.QuantileMS(0.99)
	if len(r.Phases) > 0 && len(r.Phases[0].Faults) == 0 {
		l.before = a.Summary[r.Phases[0].Name].API.LatencyMS.P99
	}
	l.limit = math.Max(collateralSlowMS, collateralSlowFactor*l.before)
	return l, true
}

// failedFast judges the api answers' latency in the fault's second half
// against the baseline's (the collateral rule's limit: max(500 ms, 5× the
// baseline p99)) and the client's timeout: an answer the client gave up
// on was not fast. With no failed answer there is nothing to judge.
func failedFast(r *reports.Report, a *reports.Arm, t reports.Terms) reports.SteadyCheck {
	l := answersLate(r, a)
	timeout := float64(time.Duration(r.Config.ClientTimeout).Milliseconds())
	if l.held > 0 {
		return reports.SteadyCheck{Finding: fmt.Sprintf("%d %s answers completed in the fault's second half, and at least %d %s requests sent then were still held past the limit (%.0f ms) when it ended — how those ended, this report (without answers by send time: an older cbload) cannot say", l.answers, t.API, l.held, t.API, l.limit)}
	}
	if l.answers == 0 {
		return reports.SteadyCheck{Finding: fmt.Sprintf("no %s answer completed in the fault's second half", t.API)}
	}
	if l.failures == 0 {
		return reports.SteadyCheck{Finding: fmt.Sprintf("no failures to judge: all %d %s answers %s were ok (p99 %s against %s in the baseline), so nothing failed, fast or slowly", l.answers, t.API, l.where(), reports.Millis(l.p99), reports.Millis(l.before))}
	}
	c := reports.SteadyCheck{Judged: true, Held: l.fast()}
	c.Finding = fmt.Sprintf("%s p99 %s %s against %s in the baseline (limit %.0f ms, to the latency histogram's %.1f%%)", t.API, reports.Millis(l.p99), l.where(), reports.Millis(l.before), l.limit, 100*reports.HistogramRelativeError)
	if timeout > 0 {
		c.Finding += fmt.Sprintf("; the client waits %s", reports.Millis(timeout))
	}
	if l.timeouts > 0 {
		c.Finding += fmt.Sprintf("; %d of %d answers had not come when the client gave up (timed out at the client: any answer after that is lost to it)", l.timeouts, l.answers)
	}
	return c
}

// recoveredPart is the metastability rule's finding on the arm, with its
// time to recover. Goodput cannot tell recovery when the report suspects
// the arm's ok answers (suspectArm) and --expect did not check them: a
// fallback answers ok while the breaker is still open. Then the service
// recovered when its calls per api request came back too (armRecovery's
// byCalls, which the key figure "after the trigger" reads as well), or it
// cannot be judged when they are not counted.
func recoveredPart(r *reports.Report, a *reports.Arm, t reports.Terms) reports.SteadyCheck {
	rec, ok := armRecovery(r, a)
	if n, sus := suspectArm(r, a); !ok && sus && len(r.Config.Expect) == 0 {
		why := fmt.Sprintf("goodput does not tell recovery here: %d ok %s answers are suspect (ok while their upstream call failed — fallbacks? check them with --expect), and a fallback answers ok while the breaker is still open", n, t.API)
		if r.Config.Upstream.External {
			return reports.SteadyCheck{Finding: why + "; the upstream's calls, which would tell it, are not counted (--upstream-external)"}
		}
		if len(r.Phases) > 0 {
			return reports.SteadyCheck{Finding: why + fmt.Sprintf("; the service made no upstream calls in the %s phase to compare with", r.Phases[0].Name)}
		}
	}
	if !ok {
		return reports.SteadyCheck{Finding: fmt.Sprintf("the run has no faultless first phase with %s answers and no phase after the fault, so there is no baseline to come back to", t.API)}
	}
	c := reports.SteadyCheck{Judged: true, Held: rec.recovered, Finding: rec.describe()}
	if rec.recovered && a.Figures.TimeToRecoverS != nil {
		c.Finding += fmt.Sprintf("; time to recover %s", reports.Seconds(*a.Figures.TimeToRecoverS))
	}
	return c
}

// suspectArm returns the arm's suspect ok answers (reports.Arm.SuspectOK)
// and whether they are as many as the verdict weighs (suspectMin, and
// suspectShare of its ok api answers during the fault).
func suspectArm(r *reports.Report, a *reports.Arm) (int64, bool) {
	if a.SuspectOK == nil {
		return 0, false
	}
	var okDuring int64
	for _, p := range r.Phases {
		if len(p.Faults) > 0 {
			okDuring += a.Summary[p.Name].API.OK
		}
	}
	return *a.SuspectOK, *a.SuspectOK >= max(suspectMin, int64(suspectShare*float64(okDuring)))
}
