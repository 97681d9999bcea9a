package harness

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cbload/cbload/analysis"
	"github.com/cbload/cbload/reports"
)

// armRun is what every arm run has, whatever its system under test —
// cbload's own gateway chain (runArm) or a user's service (runTarget): its
// clock, recorder and pacer, and the observers attached to it (tracing and
// exemplars here; checkpoints, progress and results through drive). Both
// start, drive and finish their arms through it, so an observer added here
// reaches both; target mode once lost tracing by having its own copy.
type armRun struct {
	cfg  *Config
	name string
	k    int // the run's k-th arm run (0-based; trials repeat arms)
	// tel and ex are nil when tracing is off.
	tel *tracing
	ex  *exemplars

	// gate, when set, gives the arm runs that run at once one start.
	gate *startGate

	begin armStart
	rec   *recorder
	// sent counts the requests sent so far, as they are sent.
	sent atomic.Int64
}

// newArmRun prepares arm run k, of arm name: its exemplars and the arm
// label on its spans, when tel traces the run.
func newArmRun(cfg *Config, name string, k int, tel *tracing) *armRun {
	a := &armRun{cfg: cfg, name: name, k: k, tel: tel}
	if tel != nil {
		a.ex = newExemplars(time.Now(), cfg.sched, tel.jaegerURL)
		tel.setPhase(name, cfg.Phases[0].Name)
	}
	return a
}

// wrapLoad returns the load runner's transport wrapper: tracing's client
// span (which carries W3C trace context to the system under test and
// stamps sampled answers with their trace id) next to the wire, and the
// system under test's own wrapper, inner (nil for none), around it.
func (a *armRun) wrapLoad(inner func(http.RoundTripper) http.RoundTripper) func(http.RoundTripper) http.RoundTripper {
	if a.tel == nil {
		return inner
	}
	return func(next http.RoundTripper) http.RoundTripper {
		next = a.tel.loadTransport(next)
		if inner != nil {
			next = inner(next)
		}
		return next
	}
}

// start waits for the arm's scheduled start, if the run has one, starts
// its clock, recorder and pacer, and switches up to the first phase's
// faults with fresh counts; withBreaker says the arm runs cbload's own
// breaker. It returns ctx's error when cancelled while waiting.
func (a *armRun) start(ctx context.Context, up *upstreamSet, withBreaker bool) error {
	begin, err := beginArm(ctx, a.cfg, a.k, a.gate)
	if err != nil {
		return err
	}
	a.begin = begin
	t0 := begin.t0
	if a.ex != nil {
		a.ex.start = t0
	}
	a.rec = newRecorder(t0, a.cfg.sched, a.cfg.reportPhases(), a.cfg.Rate, a.cfg.ClientTimeout+time.Second, withBreaker)
	a.rec.queue = queueFigures(a.cfg)
	a.rec.pace = newSchedulePacer(t0, a.cfg.Rate, a.cfg.TotalDuration(), a.cfg.Shard, time.Now())
	up.begin()
	return nil
}

// t0 is the arm's start: every offset of its report counts from it.
func (a *armRun) t0() time.Time { return a.begin.t0 }

// attack sends tr's requests at the arm's pace.
func (a *armRun) attack(lr *loadRunner, tr vegeta.Targeter) <-chan *vegeta.Result {
	return lr.attack(tr, a.rec.pace)
}

// drive runs the arm's measurement loop (see drive) with l, the system
// under test's part, and the arm's observers: the exemplars see every
// result before l.observe, the spans are labelled with each phase as it
// starts, and the checkpoints hear of each phase that settles.
func (a *armRun) drive(ctx context.Context, l armLoop, up *upstreamSet, cp *checkpoints, results <-chan *vegeta.Result) (watchdogReport, error) {
	l.name, l.start, l.up, l.rec, l.sent = a.name, a.begin.t0, up, a.rec, &a.sent
	if observe := l.observe; a.ex != nil {
		l.observe = func(res *vegeta.Result, collateral bool) {
			a.ex.observe(res, collateral)
			if observe != nil {
				observe(res, collateral)
			}
		}
	}
	if onPhase := l.onPhase; a.tel != nil {
		l.onPhase = func(phase string) {
			a.tel.setPhase(a.name, phase)
			if onPhase != nil {
				onPhase(phase)
			}
		}
	}
	l.settled = cp.settledFunc(a.name, a.k, a.rec, up)
	return drive(ctx, a.cfg, l, results)
}

// finish completes what every arm's figures have: its start, the
// upstreams' counts per phase (which ends up's last phase and clears its
// faults), fault → symptom, and the exemplars.
func (a *armRun) finish(arm *reports.Arm, up *upstreamSet) {
	arm.StartedAt = a.begin.t0.UTC()
	addUpstreamCounts(arm, up.finish())
	analysis.Symptoms(arm, a.rec.plan)
	arm.Exemplars = a.ex.list()
	arm.Start = a.begin.report(a.rec.pace)
}
