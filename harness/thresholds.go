package harness

import (
	"fmt"
	"io"

	"github.com/cbload/cbload/reports"
)

// Thresholds are a run's thresholds and how each is held: Abort marks
// those that stop the run once they have failed and can no longer pass
// (abort_on_fail), by index; Arms and Phases are the run's, which say when
// a threshold's inputs have all been measured.
type Thresholds struct {
	Checks       []reports.Threshold
	Abort        []bool
	Arms, Phases []string
}

// OnCheckpoint is the run's OnCheckpoint when a threshold aborts: it stops
// the run, naming the first such threshold whose every input has settled
// and that fails over them, so that no later measurement could make it
// pass.
func (t *Thresholds) OnCheckpoint(r *reports.Report, at Checkpoint) string {
	for i, th := range t.Checks {
		if !t.Abort[i] || !th.Settled(t.Arms, t.Phases, at.ArmDone, at.PhaseDone) {
			continue
		}
		if !th.Evaluate(r).Pass {
			return fmt.Sprintf("aborted: threshold %s failed and could no longer pass, %s", th, at)
		}
	}
	return ""
}

// Evaluate fills r's threshold results. After an abort (abort is not nil),
// each result says whether it stopped the run or was judged before all of
// its inputs were measured.
func (t *Thresholds) Evaluate(r *reports.Report, abort *AbortError) {
	if len(t.Checks) == 0 {
		return
	}
	r.Thresholds, _ = reports.EvaluateThresholds(t.Checks, r)
	if abort == nil {
		return
	}
	stopped := false
	for i, th := range t.Checks {
		res := &r.Thresholds[i]
		switch {
		case !th.Settled(t.Arms, t.Phases, abort.At.ArmDone, abort.At.PhaseDone):
			res.Message += "; not final: the run was aborted before all of its inputs were measured"
		case t.Abort[i] && !res.Pass && !stopped:
			res.Message += "; aborted the run " + abort.At.String()
			stopped = true
		}
	}
}

// WritePlan lists the thresholds for a dry run, each on its line, marking
// those that abort the run; nothing when there are none.
func (t *Thresholds) WritePlan(w io.Writer) {
	if len(t.Checks) == 0 {
		return
	}
	fmt.Fprintln(w, "thresholds:")
	for i, th := range t.Checks {
		abort := ""
		if t.Abort[i] {
			abort = "  (abort on fail)"
		}
		fmt.Fprintf(w, "  %s%s\n", th, abort)
	}
}
