package main

import (
	_ "embed"

	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/scenario"
)

// ciOptions holds the flags of `cbload run` meant for CI: a scenario file,
// thresholds, JUnit output, the GitHub step summary, and a user's own
// service as the system under test.
type ciOptions struct {
	scenario        string
	thresholds      []string
	junit           string
	noStepSummary   bool
	targets         []string
	collateral      string
	upstreamAddr    string
	breakerStateURL string
	stateMetric     string // --breaker-state-metric
	stateMap        string // --breaker-state-map
	dryRun          bool
	allow           harness.AllowList // --allow-remote, parsed by runRun

	// Filled by applyScenario.
	fileThresholds []scenario.Threshold
	fileTargets    []scenario.Target
	filePhases     []harness.Phase
	filePhaseLines []int                // the line of each of filePhases
	fileFields     map[string]fileField // by flag name: the values the file set
	scenarioName   string
	description    string
	phasesFlag     bool   // --phases was given
	phasesArg      string // --phases as given, for the errors of its phases
	faultsFlag     bool   // --fault was given
	armsFlag       bool   // --arms was given (or arms: in the file)
	collateralFlag bool   // --collateral was given: it overrides every target's
	stateFlag      bool   // --breaker-state-url was given: likewise

	abortOnFail bool // --abort-on-fail: every threshold stops the run once it cannot pass

	th harness.Thresholds // filled by applyThresholds
}

//go:embed helptext/ciHelp.txt
var ciHelp string
