package analysis

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cbload/cbload/reports"
)

// JudgeTrials completes a report from its trials, each a list of the
// trial's arms in the run's order: the arms (with the median figures when
// there are several trials), the cascade figures (Cascades), the validity
// checks of every trial, the trials' spread and the verdict, with the
// collateral rule of a user's service. n is the trials the run asked for;
// fewer runs than n is a run that stopped early. order is the arm runs in
// the order they ran ("breaker#1", …).
func JudgeTrials(r *reports.Report, runs [][]reports.Arm, order []string, n int) {
	defer collateralRule(r)
	Cascades(r)
	for _, arms := range runs {
		one := *r
		one.Arms = arms
		Cascades(&one)
	}
	if len(runs) == 0 {
		r.Validity = CheckValidity(r)
		r.Verdict = Verdict(r)
		return
	}
	r.Arms = runs[0]
	if n <= 1 {
		r.Validity = CheckValidity(r)
		r.Verdict = Verdict(r)
		return
	}
	tr := &reports.Trials{N: n, Order: order, Agree: true}
	r.Validity = &reports.Validity{Valid: true, Checks: []reports.ValidityCheck{}}
	for t, arms := range runs {
		one := *r
		one.Arms, one.Trials = arms, nil
		one.Partial = r.Partial && t == len(runs)-1
		one.Validity = CheckValidity(&one)
		for _, c := range one.Validity.Checks {
			c.Trial = t + 1
			r.Validity.Checks = append(r.Validity.Checks, c)
		}
		r.Validity.Valid = r.Validity.Valid && one.Validity.Valid
		one.Validity = nil // the trial's verdict by the rule alone
		tr.Outcomes = append(tr.Outcomes, Verdict(&one).Outcome)
	}
	for _, o := range tr.Outcomes {
		tr.Agree = tr.Agree && o == tr.Outcomes[0]
	}
	tr.Agree = tr.Agree && len(tr.Outcomes) == n
	for i := range r.Arms {
		ta := reports.TrialArm{Name: r.Arms[i].Name}
		for _, arms := range runs {
			for _, a := range arms {
				if a.Name == ta.Name {
					ta.Runs = append(ta.Runs, a.Figures)
				}
			}
		}
		ta.Median, ta.Min, ta.Max = spread(ta.Runs)
		r.Arms[i].Figures = ta.Median
		tr.Arms = append(tr.Arms, ta)
	}
	r.Trials = tr
	r.Verdict = Verdict(r)
}

// trialsVerdict is the verdict of several trials: the rule's, applied to
// the median figures, when every trial gave the same outcome; inconclusive
// with the split otherwise.
func trialsVerdict(r *reports.Report, v reports.Verdict) reports.Verdict {
	t := r.Trials
	if !t.Agree {
		counts := map[string]int{}
		var kinds []string
		for _, o := range t.Outcomes {
			if counts[o] == 0 {
				kinds = append(kinds, o)
			}
			counts[o]++
		}
		var split []string
		for _, k := range kinds {
			split = append(split, fmt.Sprintf("%s in %d", k, counts[k]))
		}
		var each []string
		for i, o := range t.Outcomes {
			each = append(each, fmt.Sprintf("trial %d %s", i+1, o))
		}
		return reports.Verdict{Outcome: reports.OutcomeInconclusive,
			Summary: fmt.Sprintf("Inconclusive: the trials disagree — %s of %d trials (%s).", strings.Join(split, ", "), t.N, strings.Join(each, ", ")),
			Reasons: append([]string{"the verdict needs every trial to agree; run more trials, or look at what differs between them"}, v.Reasons...)}
	}
	agreed := t.Outcomes[0]
	if v.Outcome != agreed {
		// The medians can straddle a limit every trial fell on one side of.
		v = reports.Verdict{Outcome: agreed, CascadePrevented: agreed == reports.OutcomePrevented,
			Summary: fmt.Sprintf("Every trial said %s.", agreed), Reasons: v.Reasons}
	}
	v.Summary = fmt.Sprintf("All %d trials agree. %s", t.N, v.Summary)
	v.Reasons = append(v.Reasons, "figures are medians over the trials; the report lists each trial's and their range")
	return v
}

// spread returns, figure by figure (each row of the catalogue), the lower
// median, the minimum and the maximum of runs.
func spread(runs []reports.Figures) (med, lo, hi reports.Figures) {
	for _, f := range reports.Catalogue {
		if f.Set == nil {
			continue // spread with the others of its finding (AfterTrigger)
		}
		// A value that never happened sorts after every one that did.
		var v []float64
		for i := range runs {
			x, err := f.Get(&runs[i])
			if err != nil {
				x = math.Inf(1)
			}
			v = append(v, x)
		}
		slices.Sort(v)
		set := func(dst *reports.Figures, x float64) { f.Set(dst, x, !math.IsInf(x, 1)) }
		set(&med, v[(len(v)-1)/2])
		set(&lo, v[0])
		set(&hi, v[len(v)-1])
	}
	med.AfterTrigger, lo.AfterTrigger, hi.AfterTrigger = spreadRecovery(runs)
	return med, lo, hi
}

// spreadRecovery returns the lower median, the best and the worst of the
// trials' metastability findings (Figures.AfterTrigger), over the trials
// the rule applied to (nil when it applied to none). Findings are ordered
// by their time to recover, a trial that did not recover after every one
// that did, so the median says recovered or stuck as most trials did, with
// that trial's time and cause; each goodput and attempts figure is the
// median, minimum and maximum of its own.
func spreadRecovery(runs []reports.Figures) (med, lo, hi *reports.Recovery) {
	var rs []reports.Recovery
	for _, f := range runs {
		if f.AfterTrigger != nil {
			rs = append(rs, *f.AfterTrigger)
		}
	}
	if len(rs) == 0 {
		return nil, nil, nil
	}
	at := func(r reports.Recovery) float64 {
		if !r.Recovered || r.TimeToRecoverS == nil {
			return math.Inf(1)
		}
		return *r.TimeToRecoverS
	}
	slices.SortStableFunc(rs, func(a, b reports.Recovery) int { return cmp.Compare(at(a), at(b)) })
	m, l, h := rs[(len(rs)-1)/2], rs[0], rs[len(rs)-1]
	for _, get := range []func(r *reports.Recovery) *float64{
		func(r *reports.Recovery) *float64 { return &r.BaselineGoodput },
		func(r *reports.Recovery) *float64 { return &r.FinalGoodput },
		func(r *reports.Recovery) *float64 { return &r.AttemptsPerRequest },
	} {
		var v []float64
		for i := range rs {
			v = append(v, *get(&rs[i]))
		}
		slices.Sort(v)
		*get(&m), *get(&l), *get(&h) = v[(len(v)-1)/2], v[0], v[len(v)-1]
	}
	return &m, &l, &h
}
