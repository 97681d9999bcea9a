package analysis

import (
	"fmt"
	"math"

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

// Verdict decides whether the breaker prevented a cascade. The rule compares
// the arms on collateral health during the fault:
//
//   - the breaker arm degraded and the no-breaker arm did not: worse;
//   - neither degraded: nothing to prevent — unless /api succeeded markedly
//     less with the breaker (a partial failure turned into total rejection),
//     which is worse;
//   - only the no-breaker arm degraded: prevented;
//   - both degraded: not prevented.
//
// With fewer than both arms, or no fault phase, the verdict is inconclusive.
// So it is when a validity check failed (r.Validity, see CheckValidity):
// the summary then names the failed check first, and the reasons say what
// the rule would have decided. With several trials (r.Trials) the verdict
// is given only when every trial's outcome agrees, and is inconclusive,
// "trials disagree", with the split otherwise. The summary of a partial
// run starts by saying so.
func Verdict(r *reports.Report) reports.Verdict {
	v := decide(r)
	addComparisons(r, &v)
	addRecovery(r, &v)
	if r.Trials != nil {
		v = trialsVerdict(r, v)
	}
	if failed := r.Validity.Failed(); len(failed) > 0 {
		would := v
		c := failed[0]
		v = reports.Verdict{Outcome: reports.OutcomeInconclusive,
			Summary: fmt.Sprintf("Inconclusive: the experiment was not valid — %s failed for the %s arm: %s.", c.Name, c.Arm, c.Message)}
		for _, f := range failed {
			v.Reasons = append(v.Reasons, fmt.Sprintf("validity check %s failed (%s arm): %s", f.Name, f.Arm, f.Message))
		}
		v.Reasons = append(v.Reasons, "had the experiment been valid, the rule would have said: "+would.Summary)
	}
	if r.Partial {
		v.Summary = "Partial run (" + r.PartialReason + "): " + v.Summary
	}
	return v
}

func decide(r *reports.Report) reports.Verdict {
	b, n := r.Arm(reports.ArmBreaker), r.Arm(reports.ArmNoBreaker)
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
	bDeg, bWhy := degraded(r, b)
	nDeg, nWhy := degraded(r, n)
	reasons := []string{
		fmt.Sprintf("with the breaker, %s during the fault: %s", coll, bWhy),
		fmt.Sprintf("without the breaker, %s during the fault: %s", coll, nWhy),
		upstreamReason(r, b, n),
		fmt.Sprintf("%s success during the fault: %s with the breaker, %s without", api, reports.Percent(b.Figures.APISuccessDuringFault), reports.Percent(n.Figures.APISuccessDuringFault)),
	}
	v := reports.Verdict{Reasons: reasons}
	switch {
	case bDeg && !nDeg:
		v.Outcome = reports.OutcomeWorse
		v.Summary = fmt.Sprintf("The breaker made things worse: %s succeeded %s with it and %s without it during the fault.", coll,
			reports.Percent(b.Figures.CollateralSuccessDuringFault), reports.Percent(n.Figures.CollateralSuccessDuringFault))
	case !nDeg && b.Figures.APISuccessDuringFault < n.Figures.APISuccessDuringFault-apiWorseMargin:
		v.Outcome = reports.OutcomeWorse
		what := "turned a partial failure into rejection"
		if n.Figures.APISuccessDuringFault >= collateralHealthy {
			// Without it nearly every call succeeded (a slow upstream, say):
			// there was no partial failure, only calls it failed.
			what = "failed calls that would have succeeded"
		}
		v.Summary = fmt.Sprintf("The breaker made things worse: it %s — %s succeeded %s with it and %s without it during the fault, and %s was healthy either way.",
			what, api, reports.Percent(b.Figures.APISuccessDuringFault), reports.Percent(n.Figures.APISuccessDuringFault), coll)
	case !nDeg:
		v.Outcome = reports.OutcomeNothingToPrevent
		v.Summary = fmt.Sprintf("Nothing to prevent: without the breaker %s stayed healthy (%s) during the fault, so there was no cascade.", coll,
			reports.Percent(n.Figures.CollateralSuccessDuringFault))
		if shed := loadShed(b, n); shed != "" {
			v.Summary += " The breaker still " + shed + "."
		}
	case !bDeg:
		v.Outcome = reports.OutcomePrevented
		v.CascadePrevented = true
		v.Summary = fmt.Sprintf("The breaker prevented the cascade: during the fault %s stayed at %s success with it and fell to %s without it.", coll,
			reports.Percent(b.Figures.CollateralSuccessDuringFault), reports.Percent(n.Figures.CollateralSuccessDuringFault))
	default:
		v.Outcome = reports.OutcomeNotPrevented
		v.Summary = fmt.Sprintf("The breaker did not prevent the cascade: %s degraded with it (%s) as well as without it (%s).", coll,
			reports.Percent(b.Figures.CollateralSuccessDuringFault), reports.Percent(n.Figures.CollateralSuccessDuringFault))
	}
	return v
}

func upstreamReason(r *reports.Report, b, n *reports.Arm) string {
	if r.Config.Upstream.External {
		return "upstream requests during the fault: unknown (the upstream was run by another process)"
	}
	return fmt.Sprintf("upstream requests during the fault: %d with the breaker, %d without", b.Figures.UpstreamRequestsDuringFault, n.Figures.UpstreamRequestsDuringFault)
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
	case p99 > limit:
		return true, why + fmt.Sprintf(" (degraded: p99 above %.0f ms)", limit)
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
