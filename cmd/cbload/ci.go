package main

import (
	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/reports"
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
	phasesFlag     bool // --phases was given
	faultsFlag     bool // --fault was given
	armsFlag       bool // --arms was given (or arms: in the file)
	collateralFlag bool // --collateral was given: it overrides every target's
	stateFlag      bool // --breaker-state-url was given: likewise

	abortOnFail bool // --abort-on-fail: every threshold stops the run once it cannot pass

	// Filled by applyThresholds.
	checks []reports.Threshold
	abort  []bool // by check: stop the run once it has failed and can no longer pass
	// arms and phases are the run's, for thresholds' paths.
	arms, phases []string
}

const ciHelp = `Thresholds: --threshold 'EXPR' (repeatable) checks a value of the report:
  breaker.fault.collateral.success_ratio >= 99%
  breaker.fault.api.latency_ms.p99 < 600ms
  breaker.figures.time_to_open_s <= 2s
  verdict.cascade_prevented == true
  breaker.fault.upstream_requests < 0.2 * no-breaker.fault.upstream_requests
Paths: <arm>.<phase>.<api|collateral>.<requests|ok|success_ratio|outcomes.KIND|latency_ms.pNN>,
<arm>.<phase>.upstream_requests, <arm>.figures.<figure> (the median with
--trials), <arm>.worst.<figure> (the worst trial), verdict.outcome,
verdict.cascade_prevented, validity.valid, partial. Units: %, ms, s; a plain number is read in
the path's unit. --abort-on-fail (or abort_on_fail: true on a scenario
threshold, written {check: EXPR, abort_on_fail: true}) stops the run as soon
as a threshold has failed and can no longer pass: when every value it reads
is final — a phase's once every request sent before the phase ended has been
answered, an arm's figures once all its trials ended (verdict, validity and
partial only at the end) — and fails over them; it is checked at each phase
end and arm end, the load stops within a second, the arms left never run,
and every report is written, partial, with the reason; exit 99. Each result is printed, stored in report.json and, with
--junit FILE, written as a JUnit test case (plus one for the verdict). When
$GITHUB_STEP_SUMMARY is set the Markdown report is appended to it
(--no-step-summary to opt out).

Scenario files: --scenario FILE.yaml says everything the flags can (load,
gateway, breaker, upstream, arms, targets, phases with faults and repeat,
thresholds, output); flags given on the command line override the file, lists
included. A repeat group's phases are named down-1, up-1, down-2, … See
examples/*.yaml.

Your own service: --target NAME=URL (repeatable) replaces the built-in gateway.
cbload starts the fault-injecting upstream at --upstream-addr (your service
must call it there) and drives the load at each target in turn through the
same phases; each target is an arm. --collateral URL|/path is an endpoint that
does not call the upstream; --breaker-state-url URL|/path returns the
breaker state as JSON ({"state":"open"}); a /path is resolved against each
target. Name the targets breaker and no-breaker for the A/B verdict; a single
target gets the verdict on one arm (contained, shed, failed fast, recovered
against its own baseline). Only loopback addresses are accepted.

Exit codes:
  0    the run completed and every threshold passed
  1    unexpected internal error
  2    bad flags, scenario file, fault spec or threshold
  3    the experiment could not run (address in use, target unreachable or
       answering the probe outside the expected statuses, output not
       writable); no load was sent
  4    the experiment was not valid: a validity check failed (the load
       generator did not hold the rate or fell behind, the process stalled,
       file descriptors or ports ran out, the baseline was unhealthy), so
       the verdict is inconclusive; the report names the check
  5    load ran, the summary was printed, but a result file (report,
       --junit, step summary) could not be written; the rest was
  99   the run completed and a threshold failed, or --abort-on-fail
       stopped it
  130  interrupted (SIGINT/SIGTERM); a partial report was written`
