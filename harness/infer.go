package harness

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
	"unicode"

	"github.com/cbload/cbload/reports"
)

// A user's service whose breaker state cannot be polled shows its breaker
// only from outside: while the breaker is open, /api requests keep arriving
// at the service, its answers come back fast (failures, or fallbacks)
// and its calls stop arriving at the upstream. cbload counts, per slot of
// slotWidth, the /api requests sent, those of them answered fast, and the
// upstream's arrivals on the paths of the service's dependency calls
// (calls on other paths, such as a health probe, are counted apart: they
// are not calls for requests). It infers the breaker open while the
// upstream receives less than shedRatio of what the baseline's calls per
// /api request predict and most answers come back fast, for at least
// openSlots windows in a row, and closed again once it receives at least
// closedRatio of it for closeSlots windows in a row. Calls a service
// abandoned stay in flight at the upstream whatever its breaker does, so
// the calls in flight do not date anything; a concurrency limit (bulkhead,
// throttle, connection pool) that holds the calls back without failing
// fast is not an open.
//
// A concurrency limit that rejects fast while it is full (hystrix's
// MaxConcurrentRequests) looks like an open until its held calls end: then
// new calls start — the upstream receives at least closedRatio of the
// predicted calls in a window while the answers still fail fast. An open
// never does that: its upstream receives no new calls for requests. So a
// quiet stretch that calls come back from, fast answers around them, was a
// full limit, not an open, unless a held request ended in it (an /api
// answer that was not fast came back) without a new call taking its place
// for two windows: capacity freed and not used. After a return, the open
// is dated at the first such window, its span from the last window the
// service still called in to the end of that one.
// Half-open probes are too few to read as calls coming back (fewer than
// closedRatio of a window's calls); a library that lets many through when
// half-open (resilience4j's default is 10) reads as a limit for that open.
// Nor can half-open be told from open: an inferred open spans the
// breaker's open and half-open time. The window is a slot, or as many
// slots as it takes for the baseline to predict minWindowCalls calls in
// one; every inferred open carries the span the evidence puts it in.
const (
	shedRatio   = 0.1
	openSlots   = 2
	closedRatio = 0.5
	closeSlots  = 3
	// minSlotAPI is the fewest /api requests a window needs to say
	// anything.
	minSlotAPI = 2
	// minWindowCalls is the fewest upstream calls the baseline must
	// predict per window for a drop to none to mean something.
	minWindowCalls = 4
	// maxWindowSlots caps the window: at a rate giving fewer calls than
	// that, nothing is inferred.
	maxWindowSlots = 20
)

// fastBounds are the bounds an answer's latency is held against to count
// as fast: the first that at least half of the baseline's /api answers
// came back within (fastBound).
var fastBounds = [...]time.Duration{fastFailure, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond}

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
	// requests or its upstream received nothing, or too few calls.
	ok bool
	// why says what the inference rests on, or why there is none.
	why string
	// baselineRatio is the upstream's requests per /api request in the
	// baseline.
	baselineRatio float64
	// window is the resolution the opens and closes were inferred at: a
	// slot, or several at a low rate.
	window time.Duration
	// transitions are the inferred closed → open and open → closed
	// changes, in seconds from the start of the arm; each open carries
	// the span the evidence puts it in.
	transitions []reports.Transition
	// fast is the bound an answer came back within to count as fast; 0
	// when the baseline's answers were too slow for any.
	fast time.Duration
	// otherPaths counts, by path, the upstream's calls that were not the
	// service's dependency calls (health probes): not read as calls.
	otherPaths map[string]int64
	// limited says an open was dated by a full concurrency limit: calls
	// came back after a quiet stretch while the answers failed fast.
	limited bool
}

// inferBreaker infers the breaker's opens and closes from, per slot, the
// /api requests sent, those of them answered fast (nil: the answers'
// speed tells nothing, the arrivals decide alone), the /api answers that
// came back not fast, by the slot they came back in (freed: held requests
// ending; nil: unknown, a limit's open is dated at its first quiet window)
// and the upstream requests received for them; baseline is the number of
// slots of the first, fault-free phase (0: none, nothing is inferred).
func inferBreaker(api, fast, freed, up []int64, baseline int) inference {
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
	perSlot := float64(u0) / float64(baseline)
	m := max(1, int(math.Ceil(minWindowCalls/perSlot)))
	if m > maxWindowSlots {
		return inference{why: fmt.Sprintf("the upstream received %.1f calls a second in the baseline, too few to tell an open from a lull (at least %d a second are needed); send a higher rate", perSlot*float64(time.Second/slotWidth), minWindowCalls*int(time.Second/slotWidth)/maxWindowSlots)}
	}
	inf := inference{ok: true, baselineRatio: float64(u0) / float64(a0), window: time.Duration(m) * slotWidth,
		why: "inferred from the upstream's arrivals against the /api requests sent and how fast they were answered"}
	api, up = windows(api, m), windows(up, m)
	if fast != nil {
		fast = windows(fast, m)
	}
	if freed != nil {
		freed = windows(freed, m)
	}
	// ratio is the arrivals over those predicted in windows [lo, hi);
	// quick says most of their answers came back fast.
	ratio := func(lo, hi int) (float64, bool) {
		var a, u int64
		for j := lo; j < hi; j++ {
			a, u = a+api[j], u+up[j]
		}
		if a < minSlotAPI {
			return 0, false
		}
		return float64(u) / (float64(a) * inf.baselineRatio), true
	}
	quick := func(lo, hi int) bool {
		if fast == nil {
			return true
		}
		var a, f int64
		for j := lo; j < hi; j++ {
			a, f = a+api[j], f+fast[j]
		}
		return 2*f >= a
	}
	open := false
	run := 0        // consecutive windows pointing the other way
	first := 0      // the first window of that run
	var edges []int // windows of the opens and closes, alternating
	for i := range api {
		// Two windows together, so one window's jitter does not decide:
		// this one and the next while closed (the first window of a drop
		// starts the open), this one and the one before while open (the
		// first window back ends it).
		lo, hi := i, min(i+2, len(api))
		if open {
			lo, hi = max(i-1, 0), i+1
		}
		r, enough := ratio(lo, hi)
		if !enough {
			continue // too few requests to say either way
		}
		// The first window of an open must itself answer fast.
		flip := (!open && r < shedRatio && quick(i, i+1)) || (open && r >= closedRatio)
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
	at := func(j int) float64 { return round3((time.Duration(j*m) * slotWidth).Seconds()) }
	// An open the service's calls came back from while its answers still
	// failed fast was, up to the last return before it, a full concurrency
	// limit. Its quiet stretches are split at each return; the open is in
	// the first stretch in which a held request ended and no new call took
	// its place for two windows (freed): the first stretch from where the
	// drop began, a later one from that evidence.
	freedIdle := func(j, end int) bool {
		r, ok := ratio(j, min(j+2, end))
		return ok && r < shedRatio && quick(j, j+1) && (freed == nil || freed[j] > 0)
	}
	var kept []int
	limitFrom := map[int]int{} // an open dated by a limit → the return before it
	for k := 0; k < len(edges); k += 2 {
		e, end := edges[k], len(api)
		if k+1 < len(edges) {
			end = edges[k+1]
		}
		// A return is calls coming back that a quiet window follows
		// before the close: not the first calls of the close itself.
		var backs []int
		quietAfter := false
		for j := end - 1; j > e; j-- {
			r, ok := ratio(j, j+1)
			switch {
			case ok && r < shedRatio:
				quietAfter = true
			case ok && r >= closedRatio && quietAfter:
				backs = append(backs, j)
			}
		}
		slices.Reverse(backs)
		o, from := -1, -1
		for i := 0; i <= len(backs) && o < 0; i++ {
			lo, hi := e, end
			if i > 0 {
				lo = backs[i-1] + 1
			}
			if i < len(backs) {
				hi = backs[i]
			}
			for j := lo; j < hi; j++ {
				if len(backs) == 0 || freedIdle(j, hi) {
					o = j
					if i > 0 {
						o, from = j, backs[i-1]
					} else {
						o = e
					}
					break
				}
			}
		}
		if o < 0 {
			continue // no open: the limit held throughout, the close goes too
		}
		if from >= 0 {
			limitFrom[o] = from
		}
		kept = append(kept, o)
		if k+1 < len(edges) {
			kept = append(kept, end)
		}
	}
	edges = kept
	for k, e := range edges {
		tr := reports.Transition{T: at(e), From: reports.StateClosed, To: reports.StateOpen}
		if k%2 == 1 {
			tr.From, tr.To = reports.StateOpen, reports.StateClosed
			inf.transitions = append(inf.transitions, tr)
			continue
		}
		if back, ok := limitFrom[e]; ok {
			inf.limited = true
			early, late := at(back), at(e+1)
			tr.EarliestS, tr.LatestS = &early, &late
			inf.transitions = append(inf.transitions, tr)
			continue
		}
		// The open lies after the start of the last window before it in
		// which the service still called (or still held its answers), and
		// before the end of the first from it that shows it open whole.
		lo := 0
		for j := e - 1; j >= 0; j-- {
			if r, ok := ratio(j, j+1); ok && (r >= closedRatio || !quick(j, j+1)) {
				lo = j
				break
			}
		}
		end := len(api)
		if k+1 < len(edges) {
			end = edges[k+1]
		}
		hi := e
		for j := e; j < end; j++ {
			if r, ok := ratio(j, j+1); ok && r < shedRatio && quick(j, j+1) {
				hi = j
				break
			}
		}
		early, late := at(lo), at(hi+1)
		tr.EarliestS, tr.LatestS = &early, &late
		inf.transitions = append(inf.transitions, tr)
	}
	return inf
}

// windows sums xs over consecutive windows of m slots; a last window
// shorter than m is left out.
func windows(xs []int64, m int) []int64 {
	if m == 1 {
		return xs
	}
	out := make([]int64, len(xs)/m)
	for j := range out {
		for _, x := range xs[j*m : (j+1)*m] {
			out[j] += x
		}
	}
	return out
}

// fastBoundOf returns the index of the bound an /api answer must come
// back within to count as fast: the first of fastBounds that at least
// half of the baseline's answers (its first base of n slots; api counts
// them) came back within, by within[i], the answers per slot within
// fastBounds[i]; false when the baseline was slower than all.
func fastBoundOf(within []*slotCounter, api []int64, base, n int) (int, bool) {
	var answered int64
	for _, x := range api[:min(base, len(api))] {
		answered += x
	}
	for i, c := range within {
		var k int64
		for _, x := range c.slots(n)[:min(base, n)] {
			k += x
		}
		if answered > 0 && 2*k >= answered {
			return i, true
		}
	}
	return 0, false
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

// sanitizeNote makes text from outside (a path, a service's answer) fit
// for a note: control characters become spaces, and it is cut to at most
// max runes, with … when cut.
func sanitizeNote(s string, max int) string {
	out := make([]rune, 0, min(len(s), max+1))
	for _, r := range s {
		if len(out) == max {
			return string(out) + "…"
		}
		if !unicode.IsPrint(r) {
			r = ' '
		}
		out = append(out, r)
	}
	return string(out)
}
