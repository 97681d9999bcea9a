package harness

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/cbload/cbload/analysis"
	"github.com/cbload/cbload/reports"
)

// Checkpoint is a moment of a run at which more of its results have
// settled — been measured in full, so that nothing measured later changes
// them: the end of a phase of an arm run, once every request sent before
// the phase ended has been answered (or has failed) and the phase's last
// second has been sampled, or the end of an arm run.
type Checkpoint struct {
	// Arm and Trial (from 1) name the arm run; Phase is the phase of it
	// that settled, or "" when the arm run ended.
	Arm   string
	Trial int
	Phase string

	trials  int
	done    map[string]int // arm → its arm runs that ended
	phases  []string
	settled int // phases of the running arm run that settled
}

// ArmDone reports whether every trial of arm has ended: its figures (the
// median over the trials when there are several) and worst trial are
// final.
func (c Checkpoint) ArmDone(arm string) bool { return c.done[arm] >= c.trials }

// PhaseDone reports whether the report's summary of phase for arm is
// final. The report's phase summaries are the first trial's: the phase is
// final once that arm run ended or settled the phase.
func (c Checkpoint) PhaseDone(arm, phase string) bool {
	if c.done[arm] > 0 {
		return true
	}
	if arm != c.Arm || c.Trial != 1 {
		return false
	}
	i := slices.Index(c.phases, phase)
	return i >= 0 && i < c.settled
}

// String names the checkpoint as a person reads it: "after phase fault of
// arm breaker", "after arm no-breaker (trial 2)".
func (c Checkpoint) String() string {
	trial := ""
	if c.trials > 1 {
		trial = fmt.Sprintf(" (trial %d)", c.Trial)
	}
	if c.Phase == "" {
		return fmt.Sprintf("after arm %s%s", c.Arm, trial)
	}
	return fmt.Sprintf("after phase %s of arm %s%s", c.Phase, c.Arm, trial)
}

// AbortError is returned by Run when Config.OnCheckpoint stopped the run:
// Reason is what it said, At where.
type AbortError struct {
	Reason string
	At     Checkpoint
}

func (e *AbortError) Error() string { return e.Reason }

// checkpoints keeps what Config.OnCheckpoint is shown: the arm runs that
// ended, by trial, and judges a copy of the report at each checkpoint as
// the end of the run judges the real one. A nil *checkpoints does nothing.
type checkpoints struct {
	// mu serialises the arm runs that run at once (ArmsConcurrent).
	mu    sync.Mutex
	cfg   *Config
	head  *reports.Report // the report before any arm ran
	names []string        // the arms, in report order
	runs  []map[string]reports.Arm
	order []string
	done  map[string]int
	// stopped is what OnCheckpoint stopped the run with: it is asked
	// nothing more.
	stopped *AbortError
}

// newCheckpoints returns the checkpoints of a run whose report starts as
// head, or nil when cfg has no OnCheckpoint.
func newCheckpoints(cfg *Config, head *reports.Report, names []string) *checkpoints {
	if cfg.OnCheckpoint == nil {
		return nil
	}
	return &checkpoints{cfg: cfg, head: head, names: names, done: map[string]int{}}
}

// trialOf returns the trial (from 0) of the run's k-th arm run.
func (c *checkpoints) trialOf(k int) int { return k / len(c.names) }

// last reports whether the run's k-th arm run is its last.
func (c *checkpoints) last(k int) bool { return k == len(c.names)*max(c.cfg.Trials, 1)-1 }

// phase is called when phase i of the k-th arm run, of arm name, has
// settled; a is the arm as recorded so far. Its error, an *AbortError,
// stops the run.
func (c *checkpoints) phase(name string, k, i int, a reports.Arm) error {
	if c == nil || i >= len(c.cfg.Phases)-1 {
		return nil // the last phase settles with the arm run
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.check(name, k, c.cfg.Phases[i].Name, i+1, &a)
}

// armEnded is called when the k-th arm run, of arm name, ended whole with
// a; its error, an *AbortError, stops the run.
func (c *checkpoints) armEnded(name string, k int, a reports.Arm) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.trialOf(k)
	for len(c.runs) <= t {
		c.runs = append(c.runs, map[string]reports.Arm{})
	}
	c.runs[t][name] = a
	c.order = append(c.order, fmt.Sprintf("%s#%d", name, t+1))
	c.done[name]++
	if c.last(k) {
		return nil // nothing is left to skip
	}
	return c.check(name, k, "", len(c.cfg.Phases), nil)
}

// check judges the report as it stands — the arm runs that ended, and
// running when not nil; partial, since the run goes on — and asks
// OnCheckpoint.
func (c *checkpoints) check(name string, k int, phase string, settled int, running *reports.Arm) error {
	if c.stopped != nil {
		return c.stopped // an arm running at once with the one that stopped the run
	}
	at := Checkpoint{Arm: name, Trial: c.trialOf(k) + 1, Phase: phase, trials: max(c.cfg.Trials, 1),
		done: maps.Clone(c.done), settled: settled}
	for _, p := range c.cfg.Phases {
		at.phases = append(at.phases, p.Name)
	}
	// Judging writes into the arms (figures, summaries): judge copies.
	var runs [][]reports.Arm
	order := slices.Clone(c.order)
	for t := range c.trialOf(k) + 1 {
		var arms []reports.Arm
		for _, n := range c.names {
			a, ok := reports.Arm{}, false
			if t < len(c.runs) {
				a, ok = c.runs[t][n]
			}
			if running != nil && t == c.trialOf(k) && n == name {
				a, ok = *running, true
				order = append(order, fmt.Sprintf("%s#%d", n, t+1))
			}
			if ok {
				a.Summary = maps.Clone(a.Summary)
				arms = append(arms, a)
			}
		}
		if len(arms) > 0 {
			runs = append(runs, arms)
		}
	}
	r := *c.head
	r.Arms = []reports.Arm{}
	r.FinishedAt = time.Now().UTC()
	r.Partial, r.PartialReason = true, "still running, "+at.String()
	finish(&r, runs, order, c.cfg.Trials)
	if why := c.cfg.OnCheckpoint(&r, at); why != "" {
		c.stopped = &AbortError{Reason: why, At: at}
		return c.stopped
	}
	return nil
}

// settledFunc returns, for drive, the settled hook of the k-th arm run, of
// arm name, recorded by rec, with the upstreams' counts of up; nil without
// checkpoints.
func (c *checkpoints) settledFunc(name string, k int, rec *recorder, up *upstreamSet) func(phase int) error {
	if c == nil {
		return nil
	}
	return func(i int) error {
		a := rec.snapshot(name)
		addUpstreamCounts(&a, up.booked())
		analysis.Symptoms(&a, rec.plan)
		return c.phase(name, k, i, a)
	}
}

// runTrials runs cfg's trials of names — one arm after the other as the
// package's runTrials does, or at once as runTogether does — telling the
// checkpoints of each arm run that ends whole. arm runs the k-th arm run
// (0-based, in running order) of arm name; gate, when set, starts the arm
// runs that run at once on one clock.
func (c *checkpoints) runTrials(ctx context.Context, cfg *Config, names []string, arm func(ctx context.Context, name string, k int, gate *startGate) (*reports.Arm, error)) ([][]reports.Arm, []string, error) {
	ended := func(name string, k int, a *reports.Arm, err error) error {
		if err == nil && a != nil {
			err = c.armEnded(name, k, *a)
		}
		return err
	}
	if cfg.concurrent() {
		return runTogether(ctx, cfg.Trials, names, func(ctx context.Context, name string, k int, gate *startGate) (*reports.Arm, error) {
			a, err := arm(ctx, name, k, gate)
			return a, ended(name, k, a, err)
		})
	}
	k := -1
	return runTrials(cfg.Trials, names, func(name string) (*reports.Arm, error) {
		k++
		a, err := arm(ctx, name, k, nil)
		return a, ended(name, k, a, err)
	})
}
