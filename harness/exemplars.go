package harness

import (
	"strconv"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"go.opentelemetry.io/otel/trace"

	"github.com/cbload/cbload/reports"
	"github.com/cbload/cbload/schedule"
)

// Exemplar kinds, in the order the report lists them within a phase.
const (
	exSlowestAPI = iota
	exSlowestLocal
	exTrippedBreaker
	exFirstRejection
	exHalfOpenProbe
	exMostAttempts
	numExemplarKinds
)

var exemplarKindNames = [numExemplarKinds]string{
	"slowest_api", "slowest_local", "tripped_breaker", "first_rejection", "half_open_probe", "most_attempts",
}

// exemplars keeps, per phase and kind, the one trace most worth opening: the
// slowest answered request to each endpoint, the request that tripped the
// breaker, the first rejection, the first half-open probe and the retried
// request whose attempts reached the upstream most often (one trace, every
// attempt at every tier a span). It holds a
// fixed number of picks whatever the run's length. Only sampled traces are
// offered, so every pick can be found in the tracing backend.
//
// It is safe for concurrent use: the run loop offers results and the
// gateway's handlers offer breaker decisions.
type exemplars struct {
	start  time.Time
	sched  *schedule.Schedule // the arm's clock: which phase a time is in
	mu     sync.Mutex
	picks  [][numExemplarKinds]pick
	linkTo string // Jaeger base URL; "" for no links
}

type pick struct {
	id    trace.TraceID
	at    time.Time
	score int64 // a latency in nanoseconds, or a count of attempts
}

func newExemplars(start time.Time, sched *schedule.Schedule, jaegerURL string) *exemplars {
	return &exemplars{start: start, sched: sched, picks: make([][numExemplarKinds]pick, sched.Len()), linkTo: jaegerURL}
}

// phase returns the phase at falls in; times before the start belong to
// the first phase, times past the end to the last.
func (e *exemplars) phase(at time.Time) int {
	return min(max(e.sched.At(at.Sub(e.start)), 0), e.sched.Len()-1)
}

// first keeps id as the kind's pick for the phase of at unless an earlier
// one is kept.
func (e *exemplars) first(kind int, at time.Time, id trace.TraceID) {
	if e == nil || !id.IsValid() {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := &e.picks[e.phase(at)][kind]
	if !p.id.IsValid() || at.Before(p.at) {
		*p = pick{id: id, at: at}
	}
}

// slowest keeps id as the kind's pick for the phase of at if it took longer
// than the one kept.
func (e *exemplars) slowest(kind int, at time.Time, id trace.TraceID, took time.Duration) {
	e.most(kind, at, id, int64(took))
}

// most keeps id as the kind's pick for the phase of at if its score is
// higher than the kept one's.
func (e *exemplars) most(kind int, at time.Time, id trace.TraceID, score int64) {
	if e == nil || !id.IsValid() {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := &e.picks[e.phase(at)][kind]
	if !p.id.IsValid() || score > p.score {
		*p = pick{id: id, at: at, score: score}
	}
}

// observe offers a load runner result, from the collateral endpoint or from
// /api: the load runner's transport stamped the trace id of sampled requests
// on the response.
func (e *exemplars) observe(res *vegeta.Result, collateral bool) {
	if e == nil || res.Code == 0 {
		return
	}
	h := res.Headers.Get(traceIDHeader)
	if h == "" {
		return
	}
	id, err := trace.TraceIDFromHex(h)
	if err != nil {
		return
	}
	if collateral {
		e.slowest(exSlowestLocal, res.Timestamp, id, res.Latency)
		return
	}
	e.slowest(exSlowestAPI, res.Timestamp, id, res.Latency)
	if n, err := strconv.ParseInt(res.Headers.Get(attemptsHeader), 10, 64); err == nil && n > 1 {
		e.most(exMostAttempts, res.Timestamp, id, n)
	}
}

// list returns the picks in phase order, then kind order.
func (e *exemplars) list() []reports.Exemplar {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []reports.Exemplar
	for i := range e.picks {
		for k, p := range e.picks[i] {
			if !p.id.IsValid() {
				continue
			}
			x := reports.Exemplar{Phase: e.sched.Phase(i).Name, Kind: exemplarKindNames[k], TraceID: p.id.String()}
			if e.linkTo != "" {
				x.URL = e.linkTo + "/trace/" + x.TraceID
			}
			out = append(out, x)
		}
	}
	return out
}
