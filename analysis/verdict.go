package analysis

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cbload/cbload/reports"
)

// Degradation thresholds of the verdict rule. The collateral endpoint
// /local is "degraded" during the fault when fewer than collateralHealthy of
// its requests succeed, or when its p99 exceeds both collateralSlowMS and
// collateralSlowFactor × its p99 before the fault.
const (
	collateralHealthy    = 0.99
	collateralSlowMS     = 500
	collateralSlowFactor = 5
	// apiWorseMargin is how much lower /api success with the breaker may be
	// than without it before the breaker is said to make things worse.
	apiWorseMargin = 0.10
)

// Verdict decides, in a run with a single target (a user's service), the
// verdict on that one arm: did the service's steady state hold against its
// own baseline (see reports.SteadyState)? Otherwise it decides whether
// each policy arm prevented a cascade, judged against the control arm
// (reports.ArmNoBreaker). The rule compares a policy arm with the control
// arm on collateral health during the fault:
//
//   - the policy arm degraded and the control arm did not: worse;
//   - neither degraded: nothing to prevent — unless /api succeeded markedly
//     less with the policy (a partial failure turned into total
//     rejection), which is worse;
//   - only the control arm degraded: prevented;
//   - both degraded: not prevented.
//
// The headline (Outcome, Summary, Reasons) is the breaker arm's, or the
// first policy arm's when there is no breaker arm; Verdict.Arms holds every
// policy arm's, and the reasons end with one line per policy arm other
// than the headline's. With no control or policy arm, or no fault phase,
// the verdict is inconclusive. So it is when a validity check failed
// (r.Validity, see CheckValidity): the summary then names the failed check
// first, and the reasons say what the rule would have decided. With
// several trials (r.Trials) the headline is given only when every trial's
// outcome agrees, and is inconclusive, "trials disagree", with the split
// otherwise; the other policy arms are judged on the median figures. The
// summary of a partial run starts by saying so. A verdict never rests on
// successes the report itself suspects (reports.Arm.SuspectOK): without
// --expect to check the answers, it is inconclusive with that reason.
func Verdict(r *reports.Report) reports.Verdict {
	head := headArm(r)
	var v reports.Verdict
	if single, ok := singleTarget(r); ok {
		head = ""
		v = reports.Verdict{Outcome: reports.OutcomeInconclusive, Reasons: []string{},
			Summary: fmt.Sprintf("Inconclusive: the %s arm did not run.", single)}
		if a := r.Arm(single); a != nil {
			v = steadyVerdict(r, a)
		}
	} else {
		v = decide(r, head)
		addComparisons(r, &v)
		addRecovery(r, &v, head)
	}
	steady := v.Steady
	if r.Trials != nil {
		v = trialsVerdict(r, v)
	}
	control := r.Arm(reports.ArmNoBreaker) != nil
	var others []reports.ArmVerdict
	for _, a := range policyArms(r) {
		if a == head || !control {
			continue
		}
		av := decide(r, a)
		addRecovery(r, &av, a)
		others = append(others, reports.ArmVerdict{Arm: a, Outcome: av.Outcome, CascadePrevented: av.CascadePrevented, Summary: av.Summary})
	}
	failed := r.Validity.Failed()
	if len(failed) > 0 {
		would := v
		c := failed[0]
		v = reports.Verdict{Outcome: reports.OutcomeInconclusive,
			Summary: fmt.Sprintf("Inconclusive: the experiment was not valid — %s failed for the %s arm: %s.", c.Name, c.Arm, c.Message)}
		for _, f := range failed {
			v.Reasons = append(v.Reasons, fmt.Sprintf("validity check %s failed (%s arm): %s", f.Name, f.Arm, f.Message))
		}
		v.Reasons = append(v.Reasons, "had the experiment been valid, the rule would have said: "+would.Summary)
	}
	suspect := len(failed) == 0 && len(r.Config.Expect) == 0 && suspectOK(r) != ""
	if suspect {
		would := v
		v = reports.Verdict{Outcome: reports.OutcomeInconclusive,
			Summary: "Inconclusive: " + suspectOK(r) + " — fallbacks? The verdict does not rest on successes the report itself suspects: check the answers with --expect.",
			Reasons: []string{"had those answers been checked and found true, the rule would have said: " + would.Summary}}
		v.Reasons = append(v.Reasons, would.Reasons...)
	}
	if r.Partial {
		v.Summary = "Partial run (" + r.PartialReason + "): " + v.Summary
	}
	v.Steady = steady
	if head != "" && control {
		v.Arms = append(v.Arms, reports.ArmVerdict{Arm: head, Outcome: v.Outcome, CascadePrevented: v.CascadePrevented, Summary: v.Summary})
	}
	for _, av := range others {
		switch {
		case len(failed) > 0:
			av = reports.ArmVerdict{Arm: av.Arm, Outcome: reports.OutcomeInconclusive,
				Summary: "Inconclusive: the experiment was not valid; had it been, the rule would have said: " + av.Summary}
		case suspect:
			av = reports.ArmVerdict{Arm: av.Arm, Outcome: reports.OutcomeInconclusive,
				Summary: "Inconclusive: the report suspects successes (check them with --expect); had they been true, the rule would have said: " + av.Summary}
		case r.Trials != nil:
			av.Summary = "On the median figures of the trials: " + av.Summary
		}
		v.Arms = append(v.Arms, av)
		v.Reasons = append(v.Reasons, fmt.Sprintf("%s arm against %s: %s — %s", av.Arm, reports.ArmNoBreaker, av.Outcome, av.Summary))
	}
	slices.SortStableFunc(v.Arms, func(x, y reports.ArmVerdict) int { return armIndex(r, x.Arm) - armIndex(r, y.Arm) })
	return v
}

// suspectOK says which arms had ok answers the report suspects
// (reports.Arm.SuspectOK) in a number the verdict could rest on, or ""
// when none had. A handful at the edges of the fault's seconds (calls
// booked in a neighbouring second) is not: the verdict weighs suspects
// from 10 answers and 5% of the arm's ok api answers during the fault; the
// notes name any.
const (
	suspectMin   = 10   // suspect ok answers the verdict weighs at least
	suspectShare = 0.05 // of an arm's ok api answers during the fault
)

func suspectOK(r *reports.Report) string {
	api := reports.TermsOf(r.Config).API
	var parts []string
	for _, a := range r.Arms {
		if n, ok := suspectArm(r, &a); ok {
			parts = append(parts, fmt.Sprintf("%d %s answers of the %s arm were ok while their upstream call failed", n, api, a.Name))
		}
	}
	return strings.Join(parts, ", and ")
}

// singleTarget returns the name of the one target of a run against a
// user's service with a single target: such a run is judged by the
// verdict on one arm (steadyVerdict), as the service is.
func singleTarget(r *reports.Report) (string, bool) {
	if len(r.Config.Targets) != 1 {
		return "", false
	}
	return r.Config.Targets[0].Name, true
}

// policyArms returns the names of the arms judged against the control arm:
// every arm but the control arm, in the report's order.
func policyArms(r *reports.Report) []string {
	var out []string
	for _, a := range r.Arms {
		if a.Name != reports.ArmNoBreaker {
			out = append(out, a.Name)
		}
	}
	return out
}

// headArm returns the arm the headline verdict is about: the breaker arm,
// else the first policy arm, else "".
func headArm(r *reports.Report) string {
	if r.Arm(reports.ArmBreaker) != nil {
		return reports.ArmBreaker
	}
	if p := policyArms(r); len(p) > 0 {
		return p[0]
	}
	return ""
}

func armIndex(r *reports.Report, name string) int {
	return slices.IndexFunc(r.Arms, func(a reports.Arm) bool { return a.Name == name })
}

// policyName is how the verdict's text names the policy of arm: "breaker"
// for the breaker arm, "<arm> policy" otherwise.
func policyName(arm string) string {
	if arm == reports.ArmBreaker {
		return "breaker"
	}
	return arm + " policy"
}

// decide applies the rule to the policy arm named arm against the control
// arm.
func decide(r *reports.Report, arm string) reports.Verdict {
	b, n := r.Arm(arm), r.Arm(reports.ArmNoBreaker)
	if r.FaultPhase() == nil {
		return reports.Verdict{Outcome: reports.OutcomeInconclusive,
			Summary: "Inconclusive: no phase injected a fault, so there was nothing to compare.",
			Reasons: []string{}}
	}
	if b == nil || n == nil || len(b.Series) == 0 || len(n.Series) == 0 {
		return reports.Verdict{Outcome: reports.OutcomeInconclusive,
			Summary: "Inconclusive: the verdict needs both the breaker and the no-breaker arm.",
			Reasons: armReasons(r, b, n)}
	}
	for _, a := range []*reports.Arm{b, n} {
		if !coversFault(r, a) {
			return reports.Verdict{Outcome: reports.OutcomeInconclusive,
				Summary: fmt.Sprintf("Inconclusive: the %s arm stopped before the fault ended, so the arms cannot be compared.", a.Name),
				Reasons: armReasons(r, b, n)}
		}
	}
	t := reports.TermsOf(r.Config)
	api, coll := t.API, t.Collateral
	pol := policyName(arm)
	The := "The " + pol
	bDeg, bWhy := degraded(r, b)
	nDeg, nWhy := degraded(r, n)
	reasons := []string{
		fmt.Sprintf("with the %s, %s during the fault: %s", pol, coll, bWhy),
		fmt.Sprintf("without the %s, %s during the fault: %s", pol, coll, nWhy),
		upstreamReason(r, b, n, pol),
		fmt.Sprintf("%s success during the fault: %s with the %s, %s without", api, reports.Percent(b.Figures.APISuccessDuringFault), pol, reports.Percent(n.Figures.APISuccessDuringFault)),
	}
	v := reports.Verdict{Reasons: reasons}
	switch {
	case bDeg && !nDeg:
		v.Outcome = reports.OutcomeWorse
		v.Summary = fmt.Sprintf("%s made things worse: %s succeeded %s with it and %s without it during the fault.", The, coll,
			reports.Percent(b.Figures.CollateralSuccessDuringFault), reports.Percent(n.Figures.CollateralSuccessDuringFault))
	case !nDeg && b.Figures.APISuccessDuringFault < n.Figures.APISuccessDuringFault-apiWorseMargin:
		v.Outcome = reports.OutcomeWorse
		what := "turned a partial failure into rejection"
		if n.Figures.APISuccessDuringFault >= collateralHealthy {
			// Without it nearly every call succeeded (a slow upstream, say):
			// there was no partial failure, only calls it failed.
			what = "failed calls that would have succeeded"
		}
		v.Summary = fmt.Sprintf("%s made things worse: it %s — %s succeeded %s with it and %s without it during the fault, and %s was healthy either way.",
			The, what, api, reports.Percent(b.Figures.APISuccessDuringFault), reports.Percent(n.Figures.APISuccessDuringFault), coll)
	case !nDeg:
		v.Outcome = reports.OutcomeNothingToPrevent
		v.Summary = fmt.Sprintf("Nothing to prevent: without the %s %s stayed healthy (%s) during the fault, so there was no cascade.", pol, coll,
			reports.Percent(n.Figures.CollateralSuccessDuringFault))
		if shed := loadShed(b, n); shed != "" {
			v.Summary += " " + The + " still " + shed + "."
		}
	case !bDeg:
		v.Outcome = reports.OutcomePrevented
		v.CascadePrevented = true
		v.Summary = fmt.Sprintf("%s prevented the cascade: during the fault %s stayed at %s success with it and fell to %s without it.", The, coll,
			reports.Percent(b.Figures.CollateralSuccessDuringFault), reports.Percent(n.Figures.CollateralSuccessDuringFault))
	default:
		v.Outcome = reports.OutcomeNotPrevented
		v.Summary = fmt.Sprintf("%s did not prevent the cascade: %s degraded with it (%s) as well as without it (%s).", The, coll,
			reports.Percent(b.Figures.CollateralSuccessDuringFault), reports.Percent(n.Figures.CollateralSuccessDuringFault))
	}
	return v
}

func upstreamReason(r *reports.Report, b, n *reports.Arm, pol string) string {
	if r.Config.Upstream.External {
		return "upstream requests during the fault: unknown (the upstream was run by another process)"
	}
	return fmt.Sprintf("upstream requests during the fault: %d with the %s, %d without", b.Figures.UpstreamRequestsDuringFault, pol, n.Figures.UpstreamRequestsDuringFault)
}

// coversFault reports whether the arm's series reaches the end of the last
// fault phase.
func coversFault(r *reports.Report, a *reports.Arm) bool {
	end := 0.0
	for _, p := range r.Phases {
		if len(p.Faults) > 0 {
			end = p.EndS
		}
	}
	return len(a.Series) > 0 && float64(a.Series[len(a.Series)-1].T+1) >= end
}

// degraded applies the collateral rule to one arm and says why.
func degraded(r *reports.Report, a *reports.Arm) (bool, string) {
	ok := a.Figures.CollateralSuccessDuringFault
	p99 := a.Figures.CollateralP99DuringFaultMS
	before := 0.0
	if len(r.Phases) > 0 && len(r.Phases[0].Faults) == 0 {
		before = a.Summary[r.Phases[0].Name].Collateral.LatencyMS.P99
	}
	limit := math.Max(collateralSlowMS, collateralSlowFactor*before)
	why := fmt.Sprintf("%s success, p99 %s", reports.Percent(ok), reports.Millis(p99))
	switch {
	case ok < collateralHealthy:
		return true, why + fmt.Sprintf(" (degraded: success below %s)", reports.Percent(collateralHealthy))
	case p99 > limit*(1+reports.HistogramRelativeError):
		// The p99 is read from a histogram: a bucket's midpoint, within
		// reports.HistogramRelativeError of the answers it stands for, so
		// one within that of the limit is within it (answers at the
		// limit read 501.8 ms), as failed fast judges the api's.
		return true, why + fmt.Sprintf(" (degraded: p99 above %.0f ms, to the latency histogram's %.1f%%)", limit, 100*reports.HistogramRelativeError)
	}
	return false, why + " (healthy)"
}

func loadShed(b, n *reports.Arm) string {
	bu, nu := b.Figures.UpstreamRequestsDuringFault, n.Figures.UpstreamRequestsDuringFault
	if bu <= 0 || nu < 2*bu {
		return ""
	}
	return fmt.Sprintf("cut the requests reaching the sick upstream %.1f× (%d vs %d)", float64(nu)/float64(bu), bu, nu)
}

func armReasons(r *reports.Report, arms ...*reports.Arm) []string {
	out := []string{}
	t := reports.TermsOf(r.Config)
	if !t.HasCollateral {
		return out // nothing to say about a collateral endpoint there is none of
	}
	for _, a := range arms {
		if a == nil || len(a.Series) == 0 {
			continue
		}
		_, why := degraded(r, a)
		out = append(out, fmt.Sprintf("%s arm, %s during the fault: %s", a.Name, t.Collateral, why))
	}
	return out
}
