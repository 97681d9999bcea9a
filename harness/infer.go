package harness

import (
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
// in a row. Half-open probes are too few to tell from open: an inferred
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
}

// inferBreaker infers the breaker's opens and closes from the /api
// requests sent and the upstream requests received per slot; baseline is
// the number of slots of the first, fault-free phase (0: none, nothing is
// inferred).
func inferBreaker(api, up []int64, baseline int) inference {
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
	run := 0   // consecutive slots pointing the other way
	first := 0 // the first slot of that run
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
		from, to := reports.StateClosed, reports.StateOpen
		if open {
			from, to = reports.StateOpen, reports.StateClosed
		}
		inf.transitions = append(inf.transitions, reports.Transition{T: round3((time.Duration(first) * slotWidth).Seconds()), From: from, To: to})
		open, run = !open, 0
	}
	return inf
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
