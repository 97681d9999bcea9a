package analysis

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cbload/cbload/reports"
)

// faultAmplification is the attempts that reached the upstream per /api
// request over the fault phases: the upstream's own request count over the
// /api requests sent, both by send time (sentByPhase) — the one rule every
// attempts figure follows, as the fault → symptom table (Symptoms). ok is
// false when no /api request was sent during a fault.
func faultAmplification(r *reports.Report, a *reports.Arm) (amp float64, ok bool) {
	sent := sentByPhase(a)
	var up, api int64
	for _, p := range r.Phases {
		if len(p.Faults) == 0 {
			continue
		}
		up += a.Summary[p.Name].UpstreamRequests
		api += sent(p.Name)
	}
	if api == 0 {
		return 0, false
	}
	return float64(up) / float64(api), true
}

// sentByPhase returns the /api requests sent in a phase, from the arm's
// seconds (by send time); an arm without them (a report from before they
// were kept) falls back to the phase's answers.
func sentByPhase(a *reports.Arm) func(phase string) int64 {
	sent := map[string]int64{}
	var any int64
	for _, s := range a.Series {
		sent[s.Phase] += s.API.Sent
		any += s.API.Sent
	}
	return func(phase string) int64 {
		if any == 0 {
			return a.Summary[phase].API.Requests
		}
		return sent[phase]
	}
}

// addComparisons adds to v one reason per arm other than no-breaker,
// comparing it with the no-breaker arm during the fault: collateral (when
// there is a collateral endpoint) and api success, and the attempts
// reaching the upstream per api request, in r's terms.
func addComparisons(r *reports.Report, v *reports.Verdict) {
	n := r.Arm(reports.ArmNoBreaker)
	if n == nil || r.FaultPhase() == nil {
		return
	}
	nAmp, nOK := faultAmplification(r, n)
	t := reports.TermsOf(r.Config)
	for i := range r.Arms {
		a := &r.Arms[i]
		if a.Name == reports.ArmNoBreaker || len(a.Series) == 0 {
			continue
		}
		s := fmt.Sprintf("%s vs no-breaker during the fault: ", a.Name)
		if t.HasCollateral {
			s += fmt.Sprintf("%s success %s vs %s, ", t.Collateral, reports.Percent(a.Figures.CollateralSuccessDuringFault), reports.Percent(n.Figures.CollateralSuccessDuringFault))
		}
		s += fmt.Sprintf("%s success %s vs %s", t.API, reports.Percent(a.Figures.APISuccessDuringFault), reports.Percent(n.Figures.APISuccessDuringFault))
		if amp, ok := faultAmplification(r, a); ok && nOK {
			s += fmt.Sprintf(", attempts reaching the upstream per %s request %.2f vs %.2f", t.API, amp, nAmp)
		}
		v.Reasons = append(v.Reasons, s)
	}
}

// Cascades fills the figures of retries and metastability in every arm of
// r: attempts per /api request in each phase and during the fault, and the
// metastability rule's finding after the trigger.
func Cascades(r *reports.Report) {
	for i := range r.Arms {
		a := &r.Arms[i]
		sent := sentByPhase(a)
		for name, s := range a.Summary {
			if n := sent(name); n > 0 {
				s.AttemptsPerRequest = round4(float64(s.UpstreamRequests) / float64(n))
				a.Summary[name] = s
			}
		}
		if amp, ok := faultAmplification(r, a); ok {
			a.Figures.AttemptsPerRequestDuringFault = round4(amp)
		}
		a.Figures.AfterTrigger = nil
		if rec, ok := armRecovery(r, a); ok {
			f := &reports.Recovery{Recovered: rec.recovered, BaselineGoodput: round4(rec.baseline),
				FinalGoodput: round4(rec.final), AttemptsPerRequest: round4(rec.amplification)}
			if rec.recovered {
				at := rec.at
				f.TimeToRecoverS = &at
			} else {
				f.StuckBy = rec.stuckReason()
			}
			a.Figures.AfterTrigger = f
		}
	}
}

// Judge analyses a report of one trial for cascades (Cascades), runs its
// validity checks and decides its verdict (CheckValidity, Verdict and, for
// a user's own service, the collateral rule), as the end of a run does. It
// is how cbload merge judges merged shards.
func Judge(r *reports.Report) {
	JudgeTrials(r, nil, nil, 1)
}

// collateralRule makes the verdict inconclusive when a target has no
// collateral request: the verdict compares collateral health.
func collateralRule(r *reports.Report) {
	if r.Verdict.Steady != nil {
		return // the verdict on one arm says what it cannot judge without one
	}
	for _, t := range r.Config.Targets {
		if !slices.ContainsFunc(t.Requests, func(q string) bool { return strings.HasSuffix(q, collateralLabel) }) && r.Verdict.Outcome != reports.OutcomeInconclusive {
			r.Verdict = reports.Verdict{Outcome: reports.OutcomeInconclusive,
				Summary: "Inconclusive: target " + t.Name + " has no collateral endpoint, and the verdict compares collateral health during the fault.",
				Reasons: []string{"give each target a collateral endpoint (--collateral) that does not call the upstream"}}
			break
		}
	}
}

// collateralLabel ends the label of a collateral request in the report's
// target list (reports.Target.Requests).
const collateralLabel = " (collateral)"
