package analysis

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cbload/cbload/reports"
)

// Limits of the validity checks.
const (
	// sendLagLimitMS is the highest p99 send lag accepted: the resolution
	// of the report's timings (100 ms slots), below which a late send
	// changes no figure.
	sendLagLimitMS = 100
	// rateTolerance is how far the requests sent in any one second may be
	// from the schedule, as a share of it, beyond what a send lag within
	// the limit can move across a second boundary (rate × sendLagLimitMS)
	// and at least rateSlack requests: a hiccup that the send lag check
	// accepts moves requests between seconds without changing the rate
	// offered, and must not fail this check either.
	rateTolerance = 0.02
	rateSlack     = 2
	// baselineHealthy is the success both endpoints must reach in the
	// baseline for the comparison to mean anything.
	baselineHealthy = 0.99
	// schedLatencyLimitMS is the highest p99 a second's scheduling latency
	// (how long the process's goroutines waited, runnable, to run) may have
	// more than schedStarvedSeconds-1 times: half the report's timing
	// resolution, as a request's path wakes several goroutines, each of
	// which may wait that long. On this project's 2-core machine, ordinary
	// runs' seconds stay mostly below 4 ms, single ones up to 17 ms, and a
	// process running twice as many busy goroutines as GOMAXPROCS waits
	// 50–100 ms in every second (see docs/experiment.md, "Concurrent
	// arms").
	schedLatencyLimitMS = 50
	// schedStarvedSeconds is how many seconds over the limit make a
	// starved process rather than a spike (a GC, a burst of connections).
	schedStarvedSeconds = 3
)

// CheckValidity runs the validity checks on a report's arms: for each arm,
// that the process never stalled, that neither the load runner nor the
// gateway ran out of file descriptors or ports, that the load generator
// held the offered rate every second, that its send lag p99 stayed below a
// limit, and that the baseline (a first phase without faults) was healthy;
// against a user's own service, also that the upstream was reached during
// the baseline (unless it is external). In a report merged from shards,
// first that every shard ran the arm, on time, and passed its own checks.
// Arms without load generator figures (upgraded v1 reports) are skipped.
func CheckValidity(r *reports.Report) *reports.Validity {
	v := &reports.Validity{Valid: true, Checks: []reports.ValidityCheck{}}
	for i := range r.Arms {
		a := &r.Arms[i]
		if a.Load == nil {
			continue
		}
		// Causes before symptoms: a missing or late shard, a stall or
		// exhausted descriptors also break the rate, and the first failed
		// check is the one named.
		if r.Merge != nil {
			v.Checks = append(v.Checks, shardChecks(r.Merge, a.Name)...)
		}
		v.Checks = append(v.Checks, noStall(a), noResourceErrors(r, a))
		if c, ok := cpuNotStarved(r, a); ok {
			v.Checks = append(v.Checks, c)
		}
		v.Checks = append(v.Checks, rateHeld(r, a), sendLag(a))
		if len(r.Phases) > 0 && len(r.Phases[0].Faults) == 0 {
			v.Checks = append(v.Checks, baselineOK(r, a))
			if len(r.Config.Targets) > 0 && !r.Config.Upstream.External {
				v.Checks = append(v.Checks, upstreamReached(r, a))
			}
		}
	}
	for _, c := range v.Checks {
		v.Valid = v.Valid && c.Pass
	}
	return v
}

// shardChecks are the checks of one arm of a report merged from shards:
// every shard ran the arm, started it within LateStartMS of its
// scheduled start, and passed its own validity checks — so a shard that
// started late or fell behind is named even when the merged totals hide it.
func shardChecks(m *reports.Merge, arm string) []reports.ValidityCheck {
	var absent, late, behind []string
	worst := 0.0
	for _, s := range m.Shards {
		var sa *reports.MergedShardArm
		for i := range s.Arms {
			if s.Arms[i].Name == arm {
				sa = &s.Arms[i]
			}
		}
		name := fmt.Sprintf("%d/%d", s.Index, m.Count)
		if sa == nil {
			absent = append(absent, name)
			continue
		}
		worst = math.Max(worst, sa.StartLagMS)
		if sa.StartLagMS > LateStartMS {
			late = append(late, fmt.Sprintf("%s (%.0f ms)", name, sa.StartLagMS))
		}
		if len(sa.FailedChecks) > 0 {
			behind = append(behind, fmt.Sprintf("%s (%s)", name, strings.Join(sa.FailedChecks, ", ")))
		}
	}
	for _, i := range m.Missing {
		absent = append(absent, fmt.Sprintf("%d/%d", i, m.Count))
	}
	present := reports.ValidityCheck{Name: reports.CheckShardsPresent, Arm: arm, Value: float64(len(absent)), Limit: 0, Unit: "count", Pass: len(absent) == 0,
		Message: fmt.Sprintf("all %d shards ran this arm", m.Count)}
	if !present.Pass {
		present.Message = fmt.Sprintf("shard %s did not report this arm, so the merged load is short of the run's rate", strings.Join(absent, ", "))
	}
	onTime := reports.ValidityCheck{Name: reports.CheckShardsOnTime, Arm: arm, Value: round3(worst), Limit: LateStartMS, Unit: "ms", Pass: len(late) == 0,
		Message: fmt.Sprintf("every shard started within %d ms of the scheduled start (latest %.1f ms)", LateStartMS, worst)}
	if !onTime.Pass {
		onTime.Message = fmt.Sprintf("shard %s started late; the sends it missed were not sent", strings.Join(late, ", "))
	}
	valid := reports.ValidityCheck{Name: reports.CheckShardsValid, Arm: arm, Value: float64(len(behind)), Limit: 0, Unit: "count", Pass: len(behind) == 0,
		Message: "every shard passed its own validity checks"}
	if !valid.Pass {
		valid.Message = fmt.Sprintf("shard %s fell behind: its own checks failed", strings.Join(behind, "; "))
	}
	return []reports.ValidityCheck{present, onTime, valid}
}

func rateHeld(r *reports.Report, a *reports.Arm) reports.ValidityCheck {
	c := reports.ValidityCheck{Name: reports.CheckOfferedRate, Arm: a.Name, Pass: true, Limit: rateTolerance, Unit: "ratio"}
	series := a.Series
	// The second an interrupted run stopped in was cut short.
	if r.Partial && len(series) > 0 {
		series = series[:len(series)-1]
	}
	rate := r.Config.Rate
	if r.Shard != nil {
		rate = r.Shard.Rate
	}
	boundary := rate * sendLagLimitMS / 1000
	worst, worstAt, worstSent, worstSched := 0.0, -1, int64(0), int64(0)
	next := 0
	check := func(t int, sent, sched int64) {
		if sched <= 0 {
			return
		}
		dev := math.Abs(float64(sent - sched))
		if dev > math.Max(rateTolerance*float64(sched)+boundary, rateSlack) {
			c.Pass = false
		}
		if rel := dev / float64(sched); rel > worst || worstAt < 0 {
			worst, worstAt, worstSent, worstSched = rel, t, sent, sched
		}
	}
	for _, s := range series {
		// A second missing from the series sent nothing at all.
		for ; next < s.T; next++ {
			check(next, 0, int64(math.Round(rate)))
		}
		check(s.T, s.Sent, s.Scheduled)
		next = s.T + 1
	}
	c.Value = round4(worst)
	verdict := "held"
	if !c.Pass {
		verdict = "not held"
	}
	c.Message = fmt.Sprintf("offered rate %s: every second within %s of the schedule, plus the %.0f requests a %d ms send lag moves across a second boundary; worst second %d: %d sent of %d scheduled",
		verdict, reports.Percent(rateTolerance), math.Max(boundary, rateSlack), sendLagLimitMS, worstAt, worstSent, worstSched)
	if worstAt < 0 {
		c.Message = "no complete second to check"
	}
	return c
}

func sendLag(a *reports.Arm) reports.ValidityCheck {
	l := a.Load.SendLagMS
	c := reports.ValidityCheck{Name: reports.CheckSendLag, Arm: a.Name, Value: l.P99, Limit: sendLagLimitMS, Unit: "ms", Pass: l.P99 <= sendLagLimitMS}
	c.Message = fmt.Sprintf("requests left %.1f ms after their scheduled time at p99 (max %.1f ms); limit %d ms", l.P99, l.Max, sendLagLimitMS)
	return c
}

func noStall(a *reports.Arm) reports.ValidityCheck {
	l := a.Load
	c := reports.ValidityCheck{Name: reports.CheckNoStall, Arm: a.Name, Value: l.LongestGapMS, Limit: l.StallThresholdMS, Unit: "ms", Pass: len(l.Stalls) == 0}
	if c.Pass {
		c.Message = fmt.Sprintf("the process ran throughout: the longest gap between watchdog ticks was %.0f ms (a stall is over %.0f ms)", l.LongestGapMS, l.StallThresholdMS)
		return c
	}
	s := l.Stalls[0]
	c.Message = fmt.Sprintf("the process stalled %d time(s), first at %.1f s for %.0f ms (longest %.0f ms): it was stopped or starved of CPU, so the load was not sent on schedule",
		len(l.Stalls), s.TS, s.GapMS, l.LongestGapMS)
	return c
}

// cpuNotStarved checks that the process was not starved of CPU for
// several seconds: that its goroutines' scheduling latency p99 was over
// schedLatencyLimitMS in fewer than schedStarvedSeconds of the arm's
// seconds. Value is the schedStarvedSeconds-th highest second's p99, so
// that Value ≤ Limit is the pass. It is the whole process's measure at
// cbload's side — with concurrent arms, both arms' — and catches what the
// send lag and the watchdog do not: a process with more work than CPU,
// whose pacing and watchdog goroutines still run on time while the
// gateway's and the upstream's wait, slowing the answers measured. Arms
// recorded without it (reports of cbload versions before it) are not
// checked: ok is false.
func cpuNotStarved(r *reports.Report, a *reports.Arm) (c reports.ValidityCheck, ok bool) {
	type sec struct {
		t   int
		p99 float64
	}
	var secs []sec
	over := 0
	for _, s := range a.Series {
		if s.SchedLatencyP99MS == nil {
			continue
		}
		secs = append(secs, sec{s.T, *s.SchedLatencyP99MS})
		if *s.SchedLatencyP99MS > schedLatencyLimitMS {
			over++
		}
	}
	if len(secs) == 0 {
		return c, false
	}
	slices.SortStableFunc(secs, func(x, y sec) int { return cmp.Compare(y.p99, x.p99) })
	whose := "the process's"
	if r.Config.ArmMode == "concurrent" {
		whose = "the process's (both arms', which ran at once)"
	}
	c = reports.ValidityCheck{Name: reports.CheckCPU, Arm: a.Name, Limit: schedLatencyLimitMS, Unit: "ms",
		Value: round3(secs[min(schedStarvedSeconds, len(secs))-1].p99), Pass: over < schedStarvedSeconds}
	worst := secs[0]
	if c.Pass {
		c.Message = fmt.Sprintf("CPU: %s goroutines waited to run over %d ms at p99 in %d of %d seconds (%d or more is a starved process); worst second %d: %.1f ms",
			whose, schedLatencyLimitMS, over, len(secs), schedStarvedSeconds, worst.t, worst.p99)
		return c, true
	}
	c.Message = fmt.Sprintf("CPU: %s goroutines waited to run over %d ms at p99 in %d of %d seconds (worst: second %d, %.0f ms): the process had more work than CPU, so its answers were slowed by the wait, not by the system under test",
		whose, schedLatencyLimitMS, over, len(secs), worst.t, worst.p99)
	return c, true
}

func noResourceErrors(r *reports.Report, a *reports.Arm) reports.ValidityCheck {
	e := a.Load.ResourceErrors
	n := e.LoadRunner + e.Gateway
	c := reports.ValidityCheck{Name: reports.CheckResourceErrors, Arm: a.Name, Value: float64(n), Limit: 0, Unit: "count", Pass: n == 0}
	c.Message = "no file descriptor or port ran out"
	if !c.Pass {
		where := fmt.Sprintf("load runner %d, gateway %d", e.LoadRunner, e.Gateway)
		if reports.TermsOf(r.Config).Target {
			where = "in the load runner" // a user's service has no gateway of cbload's
		}
		c.Message = fmt.Sprintf("ran out of file descriptors or ports %d times (%s), last: %s; raise the limit (ulimit -n) or lower the rate",
			n, where, e.Last)
	}
	return c
}

func baselineOK(r *reports.Report, a *reports.Arm) reports.ValidityCheck {
	p := r.Phases[0].Name
	s := a.Summary[p]
	c := reports.ValidityCheck{Name: reports.CheckBaselineHealthy, Arm: a.Name, Limit: baselineHealthy, Unit: "ratio", Value: 1}
	var parts []string
	api, coll, hasColl := reports.Endpoints(r)
	eps := []struct {
		name string
		st   reports.Stats
	}{{api, s.API}, {coll, s.Collateral}}
	must := "both must reach"
	if !hasColl {
		eps, must = eps[:1], "it must reach"
	}
	for _, ep := range eps {
		if ep.st.Requests == 0 {
			if ep.name == api {
				c.Value = 0
				parts = append(parts, api+" got no answers")
			}
			continue
		}
		c.Value = math.Min(c.Value, ep.st.SuccessRatio)
		part := fmt.Sprintf("%s %s", ep.name, reports.Percent(ep.st.SuccessRatio))
		if n := ep.st.Outcomes.Shed; n > 0 {
			part += fmt.Sprintf(" (%d shed by the service itself: 429 or 503 with Retry-After — its rate limiter; send a lower --rate)", n)
		}
		parts = append(parts, part)
	}
	c.Value = round4(c.Value)
	c.Pass = c.Value >= baselineHealthy
	c.Message = fmt.Sprintf("success in the %s phase, before any fault: %s; %s %s",
		p, strings.Join(parts, ", "), must, reports.Percent(baselineHealthy))
	return c
}

// upstreamReached checks that the service called every upstream during
// the baseline: one it never called is one it is not configured to call,
// and its faults cannot reach the service. Value is the fewest requests
// any upstream received.
func upstreamReached(r *reports.Report, a *reports.Arm) reports.ValidityCheck {
	p := r.Phases[0].Name
	s := a.Summary[p]
	type up struct {
		name, addr string
		n          int64
	}
	var ups []up
	if len(r.Config.Upstreams) > 0 {
		for _, u := range r.Config.Upstreams {
			ups = append(ups, up{"upstream " + u.Name, u.Addr, s.Upstreams[u.Name].Requests})
		}
	} else {
		ups = []up{{"the upstream", r.Config.Upstream.Addr, s.UpstreamRequests}}
	}
	c := reports.ValidityCheck{Name: reports.CheckUpstreamReached, Arm: a.Name, Limit: 1, Unit: "count", Pass: true, Value: math.MaxInt64}
	var got, missed []string
	for _, u := range ups {
		c.Value = math.Min(c.Value, float64(u.n))
		got = append(got, fmt.Sprintf("%s at %s received %d", u.name, u.addr, u.n))
		if u.n < 1 {
			c.Pass = false
			missed = append(missed, fmt.Sprintf("%s at %s", u.name, u.addr))
		}
	}
	c.Message = fmt.Sprintf("%s requests during the %s phase", strings.Join(got, ", "), p)
	if !c.Pass {
		c.Message = fmt.Sprintf("your service did not call %s — is it configured to? (no request reached it during the %s phase, so its faults could not reach the service)", strings.Join(missed, " or "), p)
	}
	return c
}
