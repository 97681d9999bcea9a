package reports

// Outcomes of the verdict on one arm, the service as it is (SteadyState):
// with one target there is no arm without a breaker to compare with, so
// the service is judged against its own baseline.
const (
	OutcomeHeld         = "held"          // contained, shed (or had nothing to shed), failed fast and recovered
	OutcomeNotContained = "not_contained" // the collateral endpoint degraded during the fault
	OutcomeStuck        = "stuck"         // the service did not recover after the fault
	OutcomeNotShed      = "not_shed"      // the service kept calling the sick dependency
	OutcomeSlowFailure  = "slow_failure"  // the service's answers were slow during the fault
)

// SteadyState is the verdict on one arm, the service as it is, after Chaos
// Toolkit's steady-state hypothesis: judged against the service's own
// baseline, did it hold during and after the fault? Each part is judged
// alone; a part that cannot be judged says why.
type SteadyState struct {
	Arm string `json:"arm"`
	// Contained: the collateral endpoint stayed healthy during the fault,
	// by the A/B verdict's collateral rule.
	Contained SteadyCheck `json:"contained"`
	// Shed: the service cut its calls per api request to the sick
	// dependency (by send time) during the fault; how fast is its time to
	// open (measured or inferred) and when the calls fell.
	Shed SteadyCheck `json:"shed"`
	// FailedFast: the api answers' latency during the fault stayed near
	// the baseline's and below the client's timeout.
	FailedFast SteadyCheck `json:"failed_fast"`
	// Recovered: api goodput came back after the fault (the
	// metastability rule), or the service stayed stuck, and by what.
	Recovered SteadyCheck `json:"recovered"`
}

// SteadyCheck is one part of a SteadyState verdict.
type SteadyCheck struct {
	// Judged says the part could be judged; Held, then, whether it held.
	Judged bool `json:"judged"`
	Held   bool `json:"held"`
	// Finding says what was measured, or why the part cannot be judged.
	Finding string `json:"finding"`
}
