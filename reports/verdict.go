package reports

// This file holds the report's judgement of a run: its validity checks,
// the trials' spread, the verdict and the thresholds' results.

// Validity says whether the experiment can be trusted. Valid is false when
// any check failed; the verdict is then inconclusive.
type Validity struct {
	Valid  bool            `json:"valid"`
	Checks []ValidityCheck `json:"checks"`
}

// Validity check names.
const (
	CheckOfferedRate     = "offered_rate_held"
	CheckSendLag         = "send_lag_p99"
	CheckNoStall         = "no_stall"
	CheckResourceErrors  = "no_resource_errors"
	CheckBaselineHealthy = "baseline_healthy"
	CheckUpstreamReached = "upstream_reached"
	CheckCPU             = "cpu_not_starved"
	// In a merged report: every shard is present, started on time and
	// held its own share of the schedule.
	CheckShardsPresent = "shards_present"
	CheckShardsOnTime  = "shards_on_time"
	CheckShardsValid   = "shards_valid"
)

// ValidityCheck is one named check of one arm, with the measured value, the
// limit it was held to and the unit both are in ("ratio", "ms", "count").
// Trial numbers the trial (from 1) when the experiment ran several.
type ValidityCheck struct {
	Name    string  `json:"name"`
	Arm     string  `json:"arm"`
	Trial   int     `json:"trial,omitempty"`
	Pass    bool    `json:"pass"`
	Value   float64 `json:"value"`
	Limit   float64 `json:"limit"`
	Unit    string  `json:"unit"`
	Message string  `json:"message"`
}

// Trials is the outcome of repeated trials of the experiment. The arms ran
// interleaved — A B, then B A, then A B … — so slow drift of the machine
// lands on both.
type Trials struct {
	N int `json:"n"`
	// Order lists the arm runs in the order they ran, as "arm#trial".
	Order []string `json:"order"`
	// Outcomes is each trial's verdict outcome, in trial order; Agree is
	// true when they are all the same.
	Outcomes []string   `json:"outcomes"`
	Agree    bool       `json:"agree"`
	Arms     []TrialArm `json:"arms"`
}

// TrialArm is one arm's figures over the trials: Runs in trial order, and
// per figure the median (the lower median for an even count, so every
// value is one a trial measured), minimum and maximum. A time that never
// happened in a trial counts as longer than any that did.
type TrialArm struct {
	Name   string    `json:"name"`
	Runs   []Figures `json:"runs"`
	Median Figures   `json:"median"`
	Min    Figures   `json:"min"`
	Max    Figures   `json:"max"`
}

// TrialArm returns the trial figures of the named arm, or nil.
func (t *Trials) TrialArm(name string) *TrialArm {
	if t == nil {
		return nil
	}
	for i := range t.Arms {
		if t.Arms[i].Name == name {
			return &t.Arms[i]
		}
	}
	return nil
}

// Failed returns the checks that failed, in order.
func (v *Validity) Failed() []ValidityCheck {
	if v == nil {
		return nil
	}
	var out []ValidityCheck
	for _, c := range v.Checks {
		if !c.Pass {
			out = append(out, c)
		}
	}
	return out
}

// Verdict outcomes.
const (
	OutcomePrevented        = "prevented"          // the breaker kept collateral healthy while the no-breaker arm cascaded
	OutcomeNotPrevented     = "not_prevented"      // both arms cascaded
	OutcomeNothingToPrevent = "nothing_to_prevent" // the no-breaker arm did not cascade either
	OutcomeWorse            = "worse"              // the breaker arm fared worse than the no-breaker arm
	OutcomeInconclusive     = "inconclusive"       // not enough data (e.g. a single arm, or an interrupted run), or a validity check failed
)

// Verdict says whether the breaker prevented the cascade, and why.
type Verdict struct {
	CascadePrevented bool     `json:"cascade_prevented"`
	Outcome          string   `json:"outcome"`
	Summary          string   `json:"summary"`
	Reasons          []string `json:"reasons"`
	// Arms is the verdict on each policy arm, each judged against the
	// control arm (ArmNoBreaker) by the same rule, in the report's arm
	// order. The headline (Outcome, Summary) is the breaker arm's, or the
	// first policy arm's when there is no breaker arm. Empty without a
	// control arm and a policy arm.
	Arms []ArmVerdict `json:"arms,omitempty"`
	// Steady is the verdict on one arm, the service as it is, when a run
	// had a single target (its Outcome is one of OutcomeHeld, …); nil
	// otherwise.
	Steady *SteadyState `json:"steady_state,omitempty"`
}

// ArmVerdict is the verdict on one policy arm against the control arm.
type ArmVerdict struct {
	Arm              string `json:"arm"`
	CascadePrevented bool   `json:"cascade_prevented"`
	Outcome          string `json:"outcome"`
	Summary          string `json:"summary"`
}

// ArmVerdict returns the verdict on the policy arm named arm, or nil.
func (v *Verdict) ArmVerdict(arm string) *ArmVerdict {
	for i := range v.Arms {
		if v.Arms[i].Arm == arm {
			return &v.Arms[i]
		}
	}
	return nil
}

// ThresholdResult is the outcome of one threshold check.
type ThresholdResult struct {
	Expr     string  `json:"expr"`
	Value    float64 `json:"value"`
	Measured string  `json:"measured"` // Value formatted with the expression's unit
	Pass     bool    `json:"pass"`
	Message  string  `json:"message,omitempty"`
}
