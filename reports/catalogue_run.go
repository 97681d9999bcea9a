package reports

import (
	"slices"
	"strings"
)

// This file is the catalogue's rows for the whole run: the verdict
// outcome table and the values of the verdict, its validity and whether
// it is partial, as thresholds and compare name them.

// Tones of a verdict outcome, as VerdictOutcome.Tone names them.
const (
	ToneGood    = "good"
	ToneBad     = "bad"
	ToneNeutral = "neutral"
)

// VerdictOutcome is one row of the verdict outcome table: the outcome's
// word (verdict.outcome), its headline, its mark in Markdown and its tone
// (the HTML report's colour; a bad one fails the JUnit verdict case).
type VerdictOutcome struct {
	Name, Label, Emoji, Tone string
	// Skip marks the outcome that judged nothing: JUnit skips the verdict
	// case.
	Skip bool
}

// VerdictOutcomes lists every verdict outcome, in the order thresholds
// number them.
var VerdictOutcomes = []VerdictOutcome{
	{OutcomePrevented, "Cascade prevented", "✅", ToneGood, false},
	{OutcomeNotPrevented, "Cascade not prevented", "❌", ToneBad, false},
	{OutcomeNothingToPrevent, "Nothing to prevent", "➖", ToneNeutral, false},
	{OutcomeWorse, "The breaker made things worse", "❌", ToneBad, false},
	{OutcomeInconclusive, "Inconclusive", "❔", ToneNeutral, true},
	{OutcomeHeld, "Steady state held", "✅", ToneGood, false},
	{OutcomeNotContained, "Damage not contained", "❌", ToneBad, false},
	{OutcomeStuck, "Did not recover", "❌", ToneBad, false},
	{OutcomeNotShed, "Kept calling the sick dependency", "❌", ToneBad, false},
	{OutcomeSlowFailure, "Failed slowly", "❌", ToneBad, false},
}

// verdictOutcome returns the row of outcome, or the inconclusive one for
// a word the table does not have (no verdict).
func verdictOutcome(outcome string) VerdictOutcome {
	inconclusive := VerdictOutcome{}
	for _, o := range VerdictOutcomes {
		if o.Name == outcome {
			return o
		}
		if o.Name == OutcomeInconclusive {
			inconclusive = o
		}
	}
	return inconclusive
}

// outcomes are the words a verdict.outcome check may compare with, from
// the verdict outcome table.
var outcomes = func() []string {
	var out []string
	for _, o := range VerdictOutcomes {
		out = append(out, o.Name)
	}
	return out
}()

// RunValue is a row of the catalogue for a value of the whole run, named
// by Path. A row whose Path holds "<arm>" is one value per policy arm but
// the breaker's (its verdict is the headline's) and the control arm;
// consecutive such rows are grouped under each arm in turn.
type RunValue struct {
	Path, Kind string
	// Key marks a value `cbload compare` shows without --all.
	Key bool
	// Get reads the value for arm ("" unless Path holds <arm>); an
	// errNoData error says why there is none.
	Get func(r *Report, arm string) (float64, error)
}

// RunValues lists the values of the whole run, in path order.
var RunValues = []RunValue{
	{"verdict.cascade_prevented", KindBool, false, func(r *Report, _ string) (float64, error) {
		return boolValue(r.Verdict.CascadePrevented), nil
	}},
	{"verdict.outcome", KindOutcome, true, func(r *Report, _ string) (float64, error) {
		return outcomeValue(r.Verdict.Outcome, "no verdict")
	}},
	steadyValue("contained", func(st *SteadyState) SteadyCheck { return st.Contained }),
	steadyValue("shed", func(st *SteadyState) SteadyCheck { return st.Shed }),
	steadyValue("failed_fast", func(st *SteadyState) SteadyCheck { return st.FailedFast }),
	steadyValue("recovered", func(st *SteadyState) SteadyCheck { return st.Recovered }),
	{"verdict.<arm>.cascade_prevented", KindBool, false, func(r *Report, arm string) (float64, error) {
		av, err := armVerdict(r, arm)
		if err != nil {
			return 0, err
		}
		return boolValue(av.CascadePrevented), nil
	}},
	{"verdict.<arm>.outcome", KindOutcome, false, func(r *Report, arm string) (float64, error) {
		av, err := armVerdict(r, arm)
		if err != nil {
			return 0, err
		}
		return outcomeValue(av.Outcome, "no verdict on arm "+arm)
	}},
	{"validity.valid", KindBool, true, func(r *Report, _ string) (float64, error) {
		if r.Validity == nil {
			return 0, errNoData{"the report has no validity checks (upgraded from " + r.UpgradedFrom + ")"}
		}
		return boolValue(r.Validity.Valid), nil
	}},
	{"partial", KindBool, false, func(r *Report, _ string) (float64, error) { return boolValue(r.Partial), nil }},
}

// PerArm reports whether the row is one value per policy arm.
func (v RunValue) PerArm() bool { return strings.Contains(v.Path, "<arm>") }

// IsRunValue reports whether path names a value of the whole run (a
// RunValues row's) rather than one of an arm: by its first segment.
func IsRunValue(path string) bool {
	first, _, _ := strings.Cut(path, ".")
	for _, v := range RunValues {
		if root, _, _ := strings.Cut(v.Path, "."); root == first {
			return true
		}
	}
	return false
}

// KeyRunValue reports whether path is a Key row of RunValues.
func KeyRunValue(path string) bool {
	for _, v := range RunValues {
		if v.Key && v.Path == path {
			return true
		}
	}
	return false
}

// steadyValue is the row of a part of the verdict on one arm (a run with a
// single target).
func steadyValue(part string, get func(st *SteadyState) SteadyCheck) RunValue {
	return RunValue{"verdict." + part, KindBool, false, func(r *Report, _ string) (float64, error) {
		st := r.Verdict.Steady
		if st == nil {
			return 0, errNoData{"no verdict on one arm: verdict." + part + " judges a run with a single target"}
		}
		c := get(st)
		if !c.Judged {
			return 0, errNoData{"verdict." + part + " cannot be judged: " + c.Finding}
		}
		return boolValue(c.Held), nil
	}}
}

func armVerdict(r *Report, arm string) (*ArmVerdict, error) {
	if av := r.Verdict.ArmVerdict(arm); av != nil {
		return av, nil
	}
	return nil, errNoData{"no verdict on arm " + arm + " (it is judged against the " + ArmNoBreaker + " arm)"}
}

// outcomeValue is an outcome's index in the verdict outcome table, as a
// threshold compares it.
func outcomeValue(outcome, none string) (float64, error) {
	i := slices.Index(outcomes, outcome)
	if i < 0 {
		return 0, errNoData{none}
	}
	return float64(i), nil
}
