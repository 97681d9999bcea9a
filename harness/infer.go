package harness

import (
	"slices"
	"sync"
	"time"

	"github.com/cbload/cbload/reports"
)

// A user's service whose breaker state cannot be polled shows its breaker
// only from outside: while the breaker is open, /api requests keep arriving
// at the service but its calls stop arriving at the upstream. cbload
// counts both per slot of slotWidth and infers the breaker open while the
// upstream receives less than shedRatio of what the baseline's calls per
// /api request predict, for at least openSlots slots in a row, and closed
// again once it receives at least closedRatio of it for closeSlots slots
// in a row. Arrivals also drop when the service limits its calls' concurrency
// (a bulkhead such as hystrix's MaxConcurrentRequests, a throttle, a
// connection pool) while the fault holds them: then its calls in flight at
// the upstream stay up, each one that ends replaced by the next, where a
// breaker that opens lets them drain to none. So an open is inferred only
// where the upstream's in-flight requests fell to none, dated at the start
// of that fall (see drained). Half-open probes are too few to tell from open: an inferred
// open spans the breaker's open and half-open time. The figures are
// accurate to about a slot, and they are marked inferred wherever they
// appear.
// The slots are the recorder's (slotWidth, 100 ms).
const (
	shedRatio   = 0.1
	openSlots   = 2
	closedRatio = 0.5
	closeSlots  = 3
	// minSlotAPI is the fewest /api requests a slot needs to say anything.
	minSlotAPI = 2
)

// slotCounter counts events per slot since a start time. It is safe for
// concurrent use: the upstream's handlers and the result loop add to it.
type slotCounter struct {
	mu     sync.Mutex
	start  time.Time
	counts []int64
	// max caps the slots kept, so a clock jump cannot grow it unbounded.
	max int
}

func newSlotCounter(start time.Time, total time.Duration) *slotCounter {
	return &slotCounter{start: start, max: int(total/slotWidth) + 1}
}

// add counts one event at t; events before the start or after the end of
// the schedule are not counted.
func (c *slotCounter) add(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	off := t.Sub(c.start)
	if off < 0 {
		return
	}
	i := int(off / slotWidth)
	if i >= c.max {
		return
	}
	for len(c.counts) <= i {
		c.counts = append(c.counts, 0)
	}
	c.counts[i]++
}

// slots returns a copy of the counts, n long.
func (c *slotCounter) slots(n int) []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]int64, n)
	copy(out, c.counts)
	return out
}

// inference is what the outside evidence says about a service's breaker.
type inference struct {
	// ok is false when nothing can be inferred: the baseline had no /api
	// requests or its upstream received nothing.
	ok bool
	// why says what the inference rests on, or why there is none.
	why string
	// baselineRatio is the upstream's requests per /api request in the
	// baseline.
	baselineRatio float64
	// transitions are the inferred closed → open and open → closed
	// changes, in seconds from the start of the arm.
	transitions []reports.Transition
	// held lists the opens dated by the drain of the calls in flight
	// after the service had already stopped most of its new calls:
	// between From and T the calls were held by a concurrency limit or
	// already stopped by the breaker, which the outside cannot tell
	// apart, so the open happened somewhere in [From, T].
	held []heldOpen
}

// heldOpen is an open inferred at T seconds whose arrivals had dropped
// from From seconds on.
type heldOpen struct{ From, T float64 }

// inferBreaker infers the breaker's opens and closes from the /api
// requests sent and the upstream requests received per slot, and the
// upstream's requests in flight at the end of each slot (nil, or -1 for a
// slot not sampled: not used); baseline is the number of slots of the
// first, fault-free phase (0: none, nothing is inferred).
func inferBreaker(api, up, inflight []int64, baseline int) inference {
	if baseline <= 0 || baseline > len(api) {
		return inference{why: "no fault-free first phase to learn the service's calls per /api request from"}
	}
	var a0, u0 int64
	for i := range baseline {
		a0 += api[i]
		u0 += up[i]
	}
	if a0 == 0 || u0 == 0 {
		return inference{why: "the upstream received nothing during the baseline, so there is no rate of calls to compare with"}
	}
	inf := inference{ok: true, baselineRatio: float64(u0) / float64(a0),
		why: "inferred from the upstream's arrivals per 100 ms against the /api requests sent in them"}
	open := false
	run := 0        // consecutive slots pointing the other way
	first := 0      // the first slot of that run
	var edges []int // slots of the opens and closes, alternating
	for i := range api {
		// Two slots together, so one slot's jitter does not decide: this
		// one and the next while closed (the first slot of a drop starts
		// the open), this one and the one before while open (the first
		// slot back ends it).
		lo, hi := i, min(i+2, len(api))
		if open {
			lo, hi = max(i-1, 0), i+1
		}
		var a, u int64
		for j := lo; j < hi; j++ {
			a, u = a+api[j], u+up[j]
		}
		if a < minSlotAPI {
			continue // too few requests to say either way
		}
		r := float64(u) / (float64(a) * inf.baselineRatio)
		flip := (!open && r < shedRatio) || (open && r >= closedRatio)
		if !flip {
			run = 0
			continue
		}
		if run == 0 {
			first = i
		}
		run++
		need := openSlots
		if open {
			need = closeSlots
		}
		if run < need {
			continue
		}
		edges = append(edges, first)
		open, run = !open, 0
	}
	var dropped []int
	edges, dropped = drained(edges, inflight)
	for k := 0; k < len(edges); k += 2 {
		if dropped[k/2] < edges[k] {
			inf.held = append(inf.held, heldOpen{From: slotSeconds(dropped[k/2]), T: slotSeconds(edges[k])})
		}
	}
	for k, e := range edges {
		from, to := reports.StateClosed, reports.StateOpen
		if k%2 == 1 {
			from, to = reports.StateOpen, reports.StateClosed
		}
		inf.transitions = append(inf.transitions, reports.Transition{T: slotSeconds(e), From: from, To: to})
	}
	return inf
}

// slotSeconds returns the start of slot i in seconds.
func slotSeconds(i int) float64 { return round3((time.Duration(i) * slotWidth).Seconds()) }

// drained checks each inferred open — edges alternate open, close, open …
// as slot indices — against the upstream's requests in flight: a breaker
// that opens lets the calls in flight drain to none, where a concurrency
// limit keeps them up while it lets few new ones through. An open whose
// span never drains is dropped with its close; one that drains is dated
// at the start of the fall to none (a limit that held the arrivals down
// before the breaker opened does not move the open earlier). Spans with a
// slot not sampled are kept as they are. dropped holds, for each open
// kept, the slot its arrivals dropped in.
func drained(edges []int, inflight []int64) (out, dropped []int) {
	if inflight == nil {
		for k := 0; k < len(edges); k += 2 {
			dropped = append(dropped, edges[k])
		}
		return edges, dropped
	}
	for k := 0; k < len(edges); k += 2 {
		from, to := edges[k], len(inflight)
		if k+1 < len(edges) {
			to = min(edges[k+1], len(inflight))
		}
		if from >= to || slices.Contains(inflight[max(from-1, 0):to], -1) {
			out = append(out, edges[k:min(k+2, len(edges))]...)
			dropped = append(dropped, from)
			continue
		}
		z := -1
		for i := from; i < to; i++ {
			if inflight[i] == 0 {
				z = i
				break
			}
		}
		if z < 0 {
			continue // held level by a limit, not stopped by a breaker
		}
		// Walk back along the fall; a slot without change inside it is
		// noise (a fall before it), at its top the level held before.
		d := z
		for d > from {
			fell := inflight[d-1] > inflight[d]
			tie := inflight[d-1] == inflight[d] && d >= 2 && inflight[d-2] > inflight[d-1]
			if !fell && !tie {
				break
			}
			d--
		}
		if d > from {
			d++ // slot d saw no fall: the drain began after it
		}
		out, dropped = append(out, d), append(dropped, from)
		if k+1 < len(edges) {
			out = append(out, edges[k+1])
		}
	}
	return out, dropped
}

// slotSampler reads a gauge at the end of every slot since a start time,
// until stopped.
type slotSampler struct {
	vals []int64
	stop chan struct{}
	done chan struct{}
}

// startSlotSampler samples read at the end of each slot of a schedule of
// length total from start. The caller must call stop.
func startSlotSampler(start time.Time, total time.Duration, read func() int64) *slotSampler {
	n := int(total/slotWidth) + 1
	s := &slotSampler{vals: make([]int64, n), stop: make(chan struct{}), done: make(chan struct{})}
	for i := range s.vals {
		s.vals[i] = -1
	}
	go func() {
		defer close(s.done)
		t := time.NewTimer(0)
		defer t.Stop()
		for i := range n {
			t.Reset(time.Until(start.Add(time.Duration(i+1) * slotWidth)))
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
			s.vals[i] = read()
		}
	}()
	return s
}

// slots stops the sampler, waits for it and returns the samples, n long;
// -1 marks a slot not sampled.
func (s *slotSampler) slots(n int) []int64 {
	s.halt()
	out := make([]int64, n)
	for i := range out {
		out[i] = -1
	}
	copy(out, s.vals)
	return out
}

// halt stops the sampler and waits for it; it may be called twice.
func (s *slotSampler) halt() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// stateAt returns the inferred state at t seconds from the start.
func (inf inference) stateAt(t float64) string {
	if !inf.ok {
		return reports.StateUnknown
	}
	s := reports.StateClosed
	for _, tr := range inf.transitions {
		if tr.T > t {
			break
		}
		s = tr.To
	}
	return s
}
