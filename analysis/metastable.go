package analysis

import (
	"fmt"
	"math"
	"strings"

	"github.com/cbload/cbload/reports"
)

// Thresholds of the metastability rule.
const (
	// recoveredShare: an arm has recovered once its /api goodput — the
	// share of /api requests the client got a success for within its
	// timeout — is back to at least this share of its baseline goodput
	// in every second to the end of the run.
	recoveredShare = 0.90
	// retrySustained: after the trigger, an arm whose attempts reaching
	// the upstream per /api request are at least this many is kept down by
	// its retries.
	retrySustained = 1.5
	// shedAfterTrigger: after the trigger, an arm whose attempts reaching
	// the upstream per /api request are below this many has stopped
	// calling it.
	shedAfterTrigger = 0.1
)

// recovery is what the metastability rule found for one arm.
type recovery struct {
	// recovered says goodput came back to recoveredShare of the baseline
	// by the end of the run; at is then when, in seconds after the
	// trigger ended.
	recovered bool
	at        float64
	// baseline and final are the goodput of the first phase and of the
	// run's last second.
	baseline, final float64
	// amplification is the attempts reaching the upstream per /api
	// request from the end of the trigger to the end of the run, and
	// rejected the share of those requests the arm's policy rejected.
	amplification, rejected float64
	// completed and forGone are the upstream's work after the trigger and
	// the part of it done for callers that had gone.
	completed, forGone int64
	// openFrom is when, in seconds from the start, the arm's breaker last
	// left closed without closing again before the run ended (-1: it
	// ended closed, or there is no breaker); figures says whether that is
	// measured or inferred.
	openFrom float64
	figures  string
	// api names the api endpoint in the text (reports.Terms).
	api string
	// calls says the upstream's request counts are known (not an
	// external upstream's), so amplification means what it says.
	calls bool
	// byCalls, when the report suspects the arm's ok answers (fallbacks)
	// and --expect did not check them, is the baseline's calls per api
	// request: a second is good only when its calls are back to
	// recoveredShare of it too, since a fallback answers ok while the
	// breaker is still open. 0: goodput alone.
	byCalls float64
}

// armRecovery applies the metastability rule to a: after the last fault
// phase (the trigger) ended, did /api goodput return to at least
// recoveredShare of its goodput in the first phase, and stay there to the
// end? It reports false when the rule does not apply: no faultless first
// phase, no fault phase, no time after the trigger, or no /api requests in
// the baseline — or when the report suspects the arm's ok answers, --expect
// did not check them and the upstream's calls, which would tell recovery
// instead (recovery.byCalls), are not counted.
func armRecovery(r *reports.Report, a *reports.Arm) (recovery, bool) {
	if len(r.Phases) < 3 || len(r.Phases[0].Faults) > 0 {
		return recovery{}, false
	}
	end := -1.0
	for _, p := range r.Phases {
		if len(p.Faults) > 0 {
			end = p.EndS
		}
	}
	last := r.Phases[len(r.Phases)-1]
	if end < 0 || end >= last.EndS {
		return recovery{}, false
	}
	base := a.Summary[r.Phases[0].Name].API
	if base.Requests == 0 || base.OK == 0 {
		return recovery{}, false
	}
	rec := recovery{baseline: float64(base.OK) / float64(base.Requests), openFrom: -1, figures: a.BreakerFigures, api: reports.TermsOf(r.Config).API, calls: !r.Config.Upstream.External}
	if n := len(a.Transitions); a.Breaker && n > 0 && a.Transitions[n-1].To != reports.StateClosed {
		rec.openFrom = a.Transitions[n-1].T
		for i := n - 1; i >= 0 && a.Transitions[i].To != reports.StateClosed; i-- {
			rec.openFrom = a.Transitions[i].T
		}
	}
	if _, sus := suspectArm(r, a); sus && len(r.Config.Expect) == 0 {
		base, ok := callsPerRequest(a, r.Phases[0].StartS, r.Phases[0].EndS)
		if r.Config.Upstream.External || !ok || base == 0 {
			return recovery{}, false
		}
		rec.byCalls = base
	}
	bar := recoveredShare * rec.baseline
	var reqs, sent, upstream, rejected int64
	from := -1 // the first second of the current run of good seconds
	for _, s := range a.Series {
		if float64(s.T) < end || s.API.Requests == 0 {
			continue
		}
		reqs += s.API.Requests
		sent += s.API.Sent
		upstream += s.UpstreamRequests
		rejected += s.API.Outcomes.Rejected
		rec.completed += s.UpstreamCompleted
		rec.forGone += s.UpstreamCompletedForGone
		g := float64(s.API.Outcomes.OK) / float64(s.API.Requests)
		rec.final = g
		held := rec.byCalls > 0 && float64(s.UpstreamRequests) < recoveredShare*rec.byCalls*float64(s.API.Sent)
		switch {
		case g < bar || held:
			from = -1
		case from < 0:
			from = s.T
		}
	}
	if sent == 0 {
		sent = reqs // a report from before the seconds kept what was sent
	}
	if sent > 0 {
		rec.amplification = float64(upstream) / float64(sent)
	}
	if reqs > 0 {
		rec.rejected = float64(rejected) / float64(reqs)
	}
	if from >= 0 {
		rec.recovered, rec.at = true, float64(from)-end
		if at, ok := goodputBackAt(a.APISlots, end, last.EndS, bar); ok && at <= rec.at && rec.byCalls == 0 {
			rec.at = at
		}
	}
	return rec, true
}

// goodputBackAt dates recovery at the resolution of the /api slots, like
// time to recover: the time after the trigger ended (faultEnd) of the
// first slot from which every full second of /api completions to the end
// of the run (end) has goodput of at least bar; a second with no
// completions neither breaks nor starts the run. It reports false without
// slots (a report upgraded from v1) or when no such slot exists.
func goodputBackAt(sl *reports.Slots, faultEnd, end, bar float64) (float64, bool) {
	if sl == nil || sl.WidthMS <= 0 {
		return 0, false
	}
	n := int(RecoveryWindowMS / sl.WidthMS)
	endMS, faultEndMS := int64(math.Round(end*1000)), int64(math.Round(faultEnd*1000))
	first := int((faultEndMS + sl.WidthMS - 1) / sl.WidthMS)
	lastStart := min(int((endMS-RecoveryWindowMS)/sl.WidthMS), len(sl.N)-1)
	at := -1
	for i := lastStart; i >= first; i-- {
		var ok, total int64
		for j := i; j < min(i+n, len(sl.N)); j++ {
			ok += sl.OK[j]
			total += sl.N[j]
		}
		if total == 0 {
			continue
		}
		if float64(ok) < bar*float64(total) {
			break
		}
		at = i
	}
	if at < 0 {
		return 0, false
	}
	return round3(float64(int64(at)*sl.WidthMS-faultEndMS) / 1000), true
}

// stuckReason says what kept an arm down after the trigger, as far as
// cbload can tell: its breaker, when it never closed again before the run
// ended; the arm's own policy when it rejected most /api requests; the
// service itself when it all but stopped calling the upstream;
// otherwise retries, when the attempts per /api request stayed at or above
// retrySustained, and abandoned work, when at least half the upstream's
// work was for callers that had gone.
func (rec recovery) stuckReason() string {
	if rec.openFrom >= 0 {
		how := ""
		if rec.figures == reports.BreakerInferred {
			how = " (inferred)"
		}
		return fmt.Sprintf("held down by its breaker: open%s from %.1f s to the end of the run, never closed again — its open timeout, or probes that kept failing, outlasted the recovery", how, rec.openFrom)
	}
	if rec.rejected < 0.5 && rec.calls && rec.amplification < shedAfterTrigger {
		return fmt.Sprintf("held down by the service itself: it made %.2f calls per %s request to its upstream after the trigger, which no longer failed them — a breaker still open, or a fallback that stopped calling", rec.amplification, rec.api)
	}
	if rec.rejected >= 0.5 {
		return fmt.Sprintf("held down by its own policy: it rejected %s of %s requests after the trigger", reports.Percent(rec.rejected), rec.api)
	}
	var by []string
	if rec.amplification >= retrySustained {
		by = append(by, fmt.Sprintf("by retries: %.1f attempts reached the upstream per %s request after the trigger", rec.amplification, rec.api))
	}
	if rec.completed > 0 && 2*rec.forGone >= rec.completed {
		by = append(by, fmt.Sprintf("by abandoned work: %s of the upstream's work after the trigger was for callers that had gone",
			reports.Percent(float64(rec.forGone)/float64(rec.completed))))
	}
	if len(by) == 0 {
		return fmt.Sprintf("cause unknown: %.1f attempts per %s request and %d of %d completions for gone callers after the trigger", rec.amplification, rec.api, rec.forGone, rec.completed)
	}
	return "sustained " + strings.Join(by, ", and ")
}

// describe says in one phrase whether the arm recovered.
func (rec recovery) describe() string {
	if rec.recovered && rec.byCalls > 0 {
		return fmt.Sprintf("recovered %s after the trigger ended, judged by its upstream calls coming back (at least %s of the baseline's %.2f per %s request, by send time) with goodput, not by goodput alone: the report suspects its ok answers (fallbacks?), and a fallback answers ok while the breaker is still open",
			reports.Seconds(rec.at), reports.Percent(recoveredShare), rec.byCalls, rec.api)
	}
	if rec.recovered {
		return fmt.Sprintf("recovered %s after the trigger ended (goodput back to ≥ %s of its baseline %s)",
			reports.Seconds(rec.at), reports.Percent(recoveredShare), reports.Percent(rec.baseline))
	}
	if rec.byCalls > 0 {
		return fmt.Sprintf("did not recover: its upstream calls per %s request stayed under %s of the baseline's %.2f (by send time) to the end of the run; goodput cannot tell it, as the report suspects its ok answers (fallbacks?) and a fallback answers ok while the breaker is still open",
			rec.api, reports.Percent(recoveredShare), rec.byCalls)
	}
	return fmt.Sprintf("did not recover (stuck: %s); goodput %s at the end against %s before the trigger, time to recover none",
		rec.stuckReason(), reports.Percent(rec.final), reports.Percent(rec.baseline))
}

// addRecovery adds the metastability rule's findings to v: one reason per
// arm it applies to. When the control arm (no-breaker) did not recover,
// the failure was metastable — a cascade in time rather than across
// endpoints — and it decides the verdict on the policy arm named arm:
// prevented when it recovered, not prevented when it did not; the summary
// names the other arms that recovered too.
func addRecovery(r *reports.Report, v *reports.Verdict, arm string) {
	var none, brk *recovery
	var rescued []string
	for i := range r.Arms {
		a := &r.Arms[i]
		rec, ok := armRecovery(r, a)
		if !ok {
			continue
		}
		v.Reasons = append(v.Reasons, fmt.Sprintf("%s arm after the trigger: %s", a.Name, rec.describe()))
		switch {
		case a.Name == reports.ArmNoBreaker:
			none = &rec
		case a.Name == arm:
			brk = &rec
		}
		if a.Name != reports.ArmNoBreaker && rec.recovered {
			rescued = append(rescued, a.Name)
		}
	}
	if none == nil || none.recovered {
		return
	}
	v.Reasons = append([]string{"across endpoints: " + v.Summary}, v.Reasons...)
	stuck := fmt.Sprintf("without it %s goodput stayed at %s after the trigger ended (%s)", none.api, reports.Percent(none.final), none.stuckReason())
	The := "The " + policyName(arm)
	switch {
	case brk != nil && brk.recovered:
		v.Outcome, v.CascadePrevented = reports.OutcomePrevented, true
		v.Summary = fmt.Sprintf("%s let the system recover from a metastable failure: %s; with it goodput was back to ≥ %s of its baseline %s after the trigger.",
			The, stuck, reports.Percent(recoveredShare), reports.Seconds(brk.at))
	case brk != nil:
		v.Outcome, v.CascadePrevented = reports.OutcomeNotPrevented, false
		v.Summary = fmt.Sprintf("%s did not prevent a metastable failure: %s, and with it too.", The, stuck)
	default:
		v.Summary = fmt.Sprintf("A metastable failure: %s.", strings.ToUpper(stuck[:1])+stuck[1:])
	}
	if len(rescued) > 0 {
		v.Summary += " Arms that recovered: " + strings.Join(rescued, ", ") + "."
	}
}
