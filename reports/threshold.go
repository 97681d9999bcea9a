package reports

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// This file is the threshold language: a check that names a value in the
// report by its path and compares it, like
//
//	breaker.fault.collateral.success_ratio >= 99%
//	breaker.fault.api.latency_ms.p99 < 600ms
//	breaker.figures.time_to_open_s <= 2s
//	verdict.cascade_prevented == true
//	breaker.fault.upstream_requests < 0.2 * no-breaker.fault.upstream_requests
//
// Grammar:
//
//	check   = operand op operand
//	op      = "<" | "<=" | ">" | ">=" | "==" | "!="
//	operand = factor { ("*" | "/") factor }
//	factor  = number [ "%" | "ms" | "s" ] | path | "true" | "false" | outcome
//	path    = letter segment { "." (letter | digit) segment }   segment = { letter | digit | "_" | "-" }
//
// Paths follow report.json: <arm>.<phase>.<api|collateral>.<stat> (stats
// include status_codes.<code> and .<1xx…5xx>, errors.<total|distinct|other>,
// bytes_in and bytes_out), <arm>.<phase>.upstream_requests,
// <arm>.figures.<figure> (the median over trials when there were several),
// <arm>.worst.<figure> (the worst trial),
// verdict.cascade_prevented, verdict.outcome, validity.valid and partial. A plain number
// compared with a path is read in that path's unit (success_ratio 0.99,
// latency_ms 600, time_to_open_s 2); units convert (600ms = 0.6s, 99% = 0.99).

// Threshold is a parsed threshold check. Build one with ParseThreshold, check
// its paths with Check before the run, and Evaluate it against the report.
type Threshold struct {
	expr        string
	left, right operand
	op          string
}

// ThresholdError is a threshold that cannot be used: malformed, or naming a
// value the report does not have. Its message names the bad part.
type ThresholdError struct {
	Expr string
	Msg  string
}

func (e *ThresholdError) Error() string { return fmt.Sprintf("threshold %q: %s", e.Expr, e.Msg) }

// String returns the expression as given.
func (t Threshold) String() string { return t.expr }

// valueKind is what a report value means, which decides its unit.
type valueKind int

const (
	kindNone    valueKind = iota // a plain number
	kindCount                    // a number of requests or events
	kindRatio                    // a fraction in [0,1], written as a percentage
	kindMS                       // a duration stored in milliseconds
	kindSeconds                  // a duration stored in seconds
	kindBool
	kindOutcome // one of the verdict outcomes
)

type factor struct {
	pos  int
	num  float64   // a number literal, already converted by its unit
	unit valueKind // kindNone, kindRatio (%), kindMS (ms), kindSeconds (s) for literals
	path string
	word string // true, false or an outcome name
}

type operand struct {
	factors []factor
	ops     []byte // '*' or '/' between factors
	text    string
}

// outcomes are the words a verdict.outcome check may compare with.
var outcomes = []string{OutcomePrevented, OutcomeNotPrevented, OutcomeNothingToPrevent, OutcomeWorse, OutcomeInconclusive}

// ParseThreshold parses a threshold expression. It checks only the syntax;
// Check verifies the paths against a run's arms and phases.
func ParseThreshold(s string) (Threshold, error) {
	p := &thParser{src: s}
	t, err := p.parse()
	if err != nil {
		return Threshold{}, &ThresholdError{Expr: s, Msg: err.Error()}
	}
	t.expr = strings.TrimSpace(s)
	return t, nil
}

type thParser struct {
	src string
	i   int
}

var comparisons = []string{"<=", ">=", "==", "!=", "<", ">"}

func (p *thParser) parse() (Threshold, error) {
	if strings.TrimSpace(p.src) == "" {
		return Threshold{}, errors.New("empty; want PATH OP VALUE like breaker.fault.collateral.success_ratio >= 99%")
	}
	var t Threshold
	var err error
	if t.left, err = p.operand(); err != nil {
		return t, err
	}
	p.space()
	for _, op := range comparisons {
		if strings.HasPrefix(p.src[p.i:], op) {
			t.op = op
			p.i += len(op)
			break
		}
	}
	if t.op == "" {
		if p.i < len(p.src) && p.src[p.i] == '=' {
			return t, fmt.Errorf("at column %d: \"=\" is not a comparison; write ==", p.i+1)
		}
		if p.i >= len(p.src) {
			return t, errors.New("missing comparison; want one of < <= > >= == != and a value after it")
		}
		return t, fmt.Errorf("at column %d: unexpected %q; want a comparison (< <= > >= == !=)", p.i+1, p.rest())
	}
	if t.right, err = p.operand(); err != nil {
		return t, err
	}
	p.space()
	if p.i < len(p.src) {
		return t, fmt.Errorf("at column %d: unexpected %q after the comparison", p.i+1, p.rest())
	}
	return t, typeCheckSyntax(t)
}

func (p *thParser) rest() string {
	r := p.src[p.i:]
	if len(r) > 20 {
		r = r[:20] + "…"
	}
	return r
}

func (p *thParser) space() {
	for p.i < len(p.src) && (p.src[p.i] == ' ' || p.src[p.i] == '\t') {
		p.i++
	}
}

func (p *thParser) operand() (operand, error) {
	var o operand
	p.space()
	start := p.i
	for {
		f, err := p.factor()
		if err != nil {
			return o, err
		}
		o.factors = append(o.factors, f)
		p.space()
		if p.i < len(p.src) && (p.src[p.i] == '*' || p.src[p.i] == '/') {
			o.ops = append(o.ops, p.src[p.i])
			p.i++
			continue
		}
		o.text = strings.TrimSpace(p.src[start:p.i])
		return o, nil
	}
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

func (p *thParser) factor() (factor, error) {
	p.space()
	f := factor{pos: p.i + 1}
	if p.i >= len(p.src) {
		return f, errors.New("missing a value at the end; want a number, a path or true/false")
	}
	c := p.src[p.i]
	switch {
	case isDigit(c) || c == '.' || (c == '-' && p.i+1 < len(p.src) && (isDigit(p.src[p.i+1]) || p.src[p.i+1] == '.')):
		return p.number(f)
	case isLetter(c):
		j := p.i
		for j < len(p.src) && (isLetter(p.src[j]) || isDigit(p.src[j]) || strings.IndexByte("_-.", p.src[j]) >= 0) {
			j++
		}
		w := p.src[p.i:j]
		p.i = j
		if strings.HasSuffix(w, ".") || strings.Contains(w, "..") {
			return f, fmt.Errorf("at column %d: %q has an empty path segment", f.pos, w)
		}
		// Later segments may start with a digit: status_codes.503.
		if seg := strings.Split(w, ".")[0]; !isLetter(seg[0]) {
			return f, fmt.Errorf("at column %d: path segment %q must start with a letter", f.pos, seg)
		}
		switch {
		case w == "true" || w == "false" || slices.Contains(outcomes, w):
			f.word = w
		default:
			f.path = w
		}
		return f, nil
	}
	return f, fmt.Errorf("at column %d: unexpected %q; want a number, a path or true/false", f.pos, p.rest())
}

func (p *thParser) number(f factor) (factor, error) {
	j := p.i
	if p.src[j] == '-' {
		j++
	}
	for j < len(p.src) && (isDigit(p.src[j]) || p.src[j] == '.') {
		j++
	}
	text := p.src[p.i:j]
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return f, fmt.Errorf("at column %d: %q is not a number", f.pos, text)
	}
	k := j
	for k < len(p.src) && (isLetter(p.src[k]) || p.src[k] == '%' || p.src[k] == '_') {
		k++
	}
	unit := p.src[j:k]
	p.i = k
	switch unit {
	case "":
		f.num = v
	case "%":
		f.num, f.unit = v/100, kindRatio
	case "ms":
		f.num, f.unit = v/1000, kindMS // durations are compared in seconds
	case "s":
		f.num, f.unit = v, kindSeconds
	default:
		return f, fmt.Errorf("at column %d: unknown unit %q after %s; want %%, ms or s", j+1, unit, text)
	}
	return f, nil
}

// typeCheckSyntax rejects what is wrong whatever the report holds: no path
// at all, words inside arithmetic.
func typeCheckSyntax(t Threshold) error {
	paths := 0
	for _, o := range []operand{t.left, t.right} {
		for i, f := range o.factors {
			if f.path != "" {
				paths++
			}
			if f.word != "" && len(o.factors) > 1 {
				return fmt.Errorf("at column %d: %s cannot be multiplied or divided", f.pos, f.word)
			}
			if i > 0 && o.ops[i-1] == '/' && f.num == 0 && f.path == "" && f.word == "" {
				return fmt.Errorf("at column %d: division by zero", f.pos)
			}
		}
	}
	if paths == 0 {
		return errors.New("names no report value; put a path on one side, like breaker.fault.collateral.success_ratio")
	}
	// With every value taken as 1, a side whose literals alone overflow
	// (1e200 * 1e200, x / 1e-320) can never give a finite number.
	for _, o := range []operand{t.left, t.right} {
		if v := o.withValuesOne(); math.IsInf(v, 0) || math.IsNaN(v) {
			return fmt.Errorf("%q is not a finite number (its numbers alone give %v); use smaller factors", o.text, v)
		}
	}
	return nil
}

// combine folds factor i, of value x, into v, the value of the factors
// before it, by the operator between them; factor 0 starts the value.
func (o operand) combine(i int, v, x float64) float64 {
	switch {
	case i == 0:
		return x
	case o.ops[i-1] == '*':
		return v * x
	}
	return v / x
}

// withValuesOne computes the operand with every path and word taken as 1.
func (o operand) withValuesOne() float64 {
	v := 1.0
	for i, f := range o.factors {
		x := 1.0
		if f.path == "" && f.word == "" {
			x = f.num
		}
		v = o.combine(i, v, x)
	}
	return v
}

// finite reports whether v is neither infinite nor NaN.
func finite(v float64) bool { return !math.IsInf(v, 0) && !math.IsNaN(v) }

// Check verifies that every path names a value a run with these arms and
// phases reports, and that units and comparisons fit. Its error names the
// bad part and lists the valid paths near it.
func (t Threshold) Check(arms, phases []string) error {
	root := pathTree(arms, phases)
	if _, err := t.kinds(root); err != nil {
		return &ThresholdError{Expr: t.expr, Msg: err.Error()}
	}
	return nil
}

// kinds resolves both sides' kinds against the tree.
func (t Threshold) kinds(root *pathNode) ([2]valueKind, error) {
	var ks [2]valueKind
	for i, o := range []operand{t.left, t.right} {
		k, err := o.kind(root)
		if err != nil {
			return ks, err
		}
		ks[i] = k
	}
	l, r := ks[0], ks[1]
	eqOnly := t.op == "==" || t.op == "!="
	switch {
	case l == kindBool || r == kindBool:
		if l != r || !eqOnly {
			return ks, fmt.Errorf("%s is true or false: compare it with == true, == false or != …", boolSide(t, ks))
		}
	case l == kindOutcome || r == kindOutcome:
		if l != r || !eqOnly {
			return ks, fmt.Errorf("verdict.outcome is a word: compare it with == or != and one of %s", strings.Join(outcomes, ", "))
		}
	case durationKind(l) && (r == kindRatio || r == kindCount) || durationKind(r) && (l == kindRatio || l == kindCount):
		return ks, fmt.Errorf("%s and %s have different units (%s vs %s)", t.left.text, t.right.text, kindName(l), kindName(r))
	case l == kindRatio && r == kindCount || l == kindCount && r == kindRatio:
		return ks, fmt.Errorf("%s and %s have different units (%s vs %s)", t.left.text, t.right.text, kindName(l), kindName(r))
	}
	// A bare number above 1 against a ratio is almost surely a percentage
	// without its sign.
	for i, o := range []operand{t.left, t.right} {
		if ks[1-i] == kindRatio && len(o.factors) == 1 && o.factors[0].path == "" && o.factors[0].unit == kindNone && o.factors[0].num > 1 {
			return ks, fmt.Errorf("%s is a ratio from 0 to 1: write %s%% or %s", t.sideWithPath(1-i).text, o.text, strconv.FormatFloat(o.factors[0].num/100, 'f', -1, 64))
		}
	}
	return ks, nil
}

func (t Threshold) sideWithPath(i int) operand {
	if i == 0 {
		return t.left
	}
	return t.right
}

func boolSide(t Threshold, ks [2]valueKind) string {
	if ks[0] == kindBool {
		return t.left.text
	}
	return t.right.text
}

func durationKind(k valueKind) bool { return k == kindMS || k == kindSeconds }

func kindName(k valueKind) string {
	switch k {
	case kindCount:
		return "a count"
	case kindRatio:
		return "a ratio"
	case kindMS, kindSeconds:
		return "a duration"
	case kindBool:
		return "true/false"
	case kindOutcome:
		return "an outcome"
	}
	return "a number"
}

// kind is the operand's kind: that of its one dimensioned factor, or none.
func (o operand) kind(root *pathNode) (valueKind, error) {
	k := kindNone
	for i, f := range o.factors {
		fk := f.unit
		switch {
		case f.path != "":
			n, err := root.lookup(f.path)
			if err != nil {
				return 0, err
			}
			fk = n.kind
		case f.word == "true" || f.word == "false":
			fk = kindBool
		case f.word != "":
			fk = kindOutcome
		}
		if fk == kindNone {
			continue
		}
		if len(o.factors) > 1 && (fk == kindBool || fk == kindOutcome) {
			return 0, fmt.Errorf("%s is not a number and cannot be multiplied or divided", f.path)
		}
		if i > 0 && o.ops[i-1] == '/' {
			return 0, fmt.Errorf("in %q: divide only by plain numbers (a value with a unit cannot be a divisor)", o.text)
		}
		if k != kindNone {
			return 0, fmt.Errorf("in %q: at most one value with a unit per side; scale it with plain numbers, like 0.2 * no-breaker.fault.upstream_requests", o.text)
		}
		k = fk
	}
	return k, nil
}

// pathNode is one segment of the tree of values a threshold may name.
type pathNode struct {
	name     string
	children []*pathNode
	kind     valueKind
	get      func(r *Report) (float64, error) // leaves only
	// dynamic, when set, makes a child for a name not among children
	// (a status code), or returns nil; dynamicName shows what it accepts.
	dynamic     func(name string) *pathNode
	dynamicName string
	// inferred, when set, says whether the leaf's value in r is inferred
	// rather than measured.
	inferred func(r *Report) bool
	// arm and phase, on an arm's node and on a phase's node under it, say
	// what the values below rest on (see Settled).
	arm, phase string
}

func (n *pathNode) child(name string) *pathNode {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	if n.dynamic != nil {
		return n.dynamic(name)
	}
	return nil
}

func (n *pathNode) add(c *pathNode) *pathNode {
	n.children = append(n.children, c)
	return c
}

func (n *pathNode) names() []string {
	out := make([]string, len(n.children))
	for i, c := range n.children {
		out[i] = c.name
	}
	if n.dynamic != nil {
		out = append(out, n.dynamicName)
	}
	return out
}

// lookup walks the tree. Its error names the first unknown segment and the
// valid choices at that point.
func (n *pathNode) lookup(path string) (*pathNode, error) {
	segs := strings.Split(path, ".")
	cur := n
	for i, s := range segs {
		next := cur.child(s)
		if next == nil {
			at := strings.Join(segs[:i], ".")
			where := "a path starts with"
			if at != "" {
				where = "after " + at + " comes"
			}
			msg := fmt.Sprintf("unknown path %s: %q is not a value here; %s one of: %s", path, s, where, strings.Join(cur.names(), ", "))
			if guess := closest(s, cur.names()); guess != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(append(segs[:i:i], guess), "."))
			}
			return nil, errors.New(msg)
		}
		cur = next
	}
	if cur.get == nil {
		var leaves []string
		for _, c := range cur.children {
			if c.get != nil {
				leaves = append(leaves, path+"."+c.name)
			} else {
				leaves = append(leaves, path+"."+c.name+".…")
			}
		}
		return nil, fmt.Errorf("%s is a group, not a value; name one inside it: %s", path, strings.Join(leaves, ", "))
	}
	return cur, nil
}

// closest returns the candidate nearest to s by edit distance when it is
// near enough to be a typo, or one that s is a prefix of; otherwise "".
func closest(s string, cands []string) string {
	best, bestD := "", len(s)
	for _, c := range cands {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" && bestD <= max(1, min(3, len(s)/3)) {
		return best
	}
	for _, c := range cands {
		if len(s) >= 2 && strings.HasPrefix(c, s) {
			return c
		}
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// errNoData is a value the report lacks: an arm that did not run, a breaker
// that never opened.
type errNoData struct{ why string }

func (e errNoData) Error() string { return e.why }

var statLeaves = []struct {
	name string
	kind valueKind
	get  func(s Stats) float64
}{
	{"requests", kindCount, func(s Stats) float64 { return float64(s.Requests) }},
	{"ok", kindCount, func(s Stats) float64 { return float64(s.OK) }},
	{"success_ratio", kindRatio, func(s Stats) float64 { return s.SuccessRatio }},
}

var outcomeLeaves = []struct {
	name string
	get  func(o Outcomes) int64
}{
	{"ok", func(o Outcomes) int64 { return o.OK }},
	{"upstream_error", func(o Outcomes) int64 { return o.UpstreamError }},
	{"timeout", func(o Outcomes) int64 { return o.Timeout }},
	{"rejected", func(o Outcomes) int64 { return o.Rejected }},
	{"saturated", func(o Outcomes) int64 { return o.Saturated }},
	{"connection_error", func(o Outcomes) int64 { return o.ConnectionError }},
	{"redirect", func(o Outcomes) int64 { return o.Redirect }},
	{"client_error", func(o Outcomes) int64 { return o.ClientError }},
	{"assertion_failed", func(o Outcomes) int64 { return o.AssertionFailed }},
	{"shed", func(o Outcomes) int64 { return o.Shed }},
}

var timeoutAtLeaves = []struct {
	name string
	get  func(t TimeoutAt) int64
}{
	{"load_runner", func(t TimeoutAt) int64 { return t.LoadRunner }},
	{"upstream_call", func(t TimeoutAt) int64 { return t.UpstreamCall }},
}

var latencyLeaves = []struct {
	name  string
	get   func(l Latency) float64
	since bool // added in v2: no data in a report upgraded from v1
}{
	{"p50", func(l Latency) float64 { return l.P50 }, false},
	{"p90", func(l Latency) float64 { return l.P90 }, false},
	{"p95", func(l Latency) float64 { return l.P95 }, true},
	{"p99", func(l Latency) float64 { return l.P99 }, false},
	{"max", func(l Latency) float64 { return l.Max }, false},
	{"mean", func(l Latency) float64 { return l.Mean }, true},
}

// notInV1 is the missing-data error for a value v1 reports did not record.
func notInV1(r *Report, what string) error {
	if r.UpgradedFrom != "" {
		return errNoData{"the report was upgraded from " + r.UpgradedFrom + ", which did not record " + what}
	}
	return nil
}

// statusClasses are the status_codes.<class> leaves: every code in the
// hundred, as a sum.
var statusClasses = []string{"1xx", "2xx", "3xx", "4xx", "5xx"}

func optional(v *float64, what string) (float64, error) {
	if v == nil {
		return 0, errNoData{what}
	}
	return *v, nil
}

// figureLeaves are the figures a threshold may name. worse says which way
// a figure gets worse (+1: higher is worse, -1: lower is), for the
// <arm>.worst.<figure> paths over several trials.
var figureLeaves = []struct {
	name  string
	kind  valueKind
	worse int
	// breaker marks the figures that rest on the breaker's state, which a
	// user's service may not show.
	breaker bool
	get     func(f Figures) (float64, error)
}{
	{"time_to_open_s", kindSeconds, +1, true, func(f Figures) (float64, error) { return optional(f.TimeToOpenS, "the breaker never opened") }},
	{"time_to_recover_s", kindSeconds, +1, true, func(f Figures) (float64, error) { return optional(f.TimeToRecoverS, "it never recovered") }},
	{"upstream_requests_during_fault", kindCount, +1, false, func(f Figures) (float64, error) { return float64(f.UpstreamRequestsDuringFault), nil }},
	{"collateral_success_during_fault", kindRatio, -1, false, func(f Figures) (float64, error) { return f.CollateralSuccessDuringFault, nil }},
	{"collateral_p99_during_fault_ms", kindMS, +1, false, func(f Figures) (float64, error) { return f.CollateralP99DuringFaultMS, nil }},
	{"api_success_during_fault", kindRatio, -1, false, func(f Figures) (float64, error) { return f.APISuccessDuringFault, nil }},
	{"inflight_peak", kindCount, +1, false, func(f Figures) (float64, error) { return float64(f.InflightPeak), nil }},
	{"inflight_peak_whole_run", kindCount, +1, false, func(f Figures) (float64, error) { return float64(f.InflightPeakWholeRun), nil }},
	{"opens", kindCount, +1, true, func(f Figures) (float64, error) { return float64(f.Opens), nil }},
	{"attempts_per_request_during_fault", kindNone, +1, false, func(f Figures) (float64, error) { return f.AttemptsPerRequestDuringFault, nil }},
	{"recovered_after_trigger", kindBool, -1, false, func(f Figures) (float64, error) {
		if f.AfterTrigger == nil {
			return 0, errNoData{"the run has no faultless first phase or nothing after the last fault phase"}
		}
		return boolValue(f.AfterTrigger.Recovered), nil
	}},
	{"time_to_recover_goodput_s", kindSeconds, +1, false, func(f Figures) (float64, error) {
		if f.AfterTrigger == nil {
			return 0, errNoData{"the run has no faultless first phase or nothing after the last fault phase"}
		}
		return optional(f.AfterTrigger.TimeToRecoverS, "its goodput never recovered")
	}},
}

// worstRun returns the worst value of a figure over an arm's trials (the
// arm's own figure when it ran once); a figure that never happened in some
// trial is no data.
func worstRun(r *Report, a *Arm, worse int, get func(f Figures) (float64, error)) (float64, error) {
	ta := r.Trials.TrialArm(a.Name)
	if ta == nil {
		return get(a.Figures)
	}
	var w float64
	for i, f := range ta.Runs {
		v, err := get(f)
		if err != nil {
			return 0, errNoData{fmt.Sprintf("%s in trial %d", err, i+1)}
		}
		if i == 0 || float64(worse)*(v-w) > 0 {
			w = v
		}
	}
	return w, nil
}

// Settled reports whether every value the threshold reads is final — no
// later measurement of the run can change it — in a run with these arms and
// phases, given which arms have finished all their trials and which phases
// of an arm are final. A value under <arm>.<phase> needs that phase of that
// arm; one under <arm>.figures or <arm>.worst the whole arm; verdict,
// validity and partial the whole run, so they are never settled before it
// ends. A threshold that does not Check against arms and phases is not
// settled.
func (t Threshold) Settled(arms, phases []string, armDone func(arm string) bool, phaseDone func(arm, phase string) bool) bool {
	root := pathTree(arms, phases)
	if _, err := t.kinds(root); err != nil {
		return false
	}
	for _, o := range []operand{t.left, t.right} {
		for _, f := range o.factors {
			if f.path == "" {
				continue
			}
			arm, phase := root.scope(f.path)
			switch {
			case arm == "":
				return false
			case phase == "":
				if !armDone(arm) {
					return false
				}
			case !phaseDone(arm, phase):
				return false
			}
		}
	}
	return true
}

// scope returns the arm and phase the value at path rests on: both for a
// phase's value, the arm alone for an arm's figures, neither for the run's.
func (n *pathNode) scope(path string) (arm, phase string) {
	cur := n
	for _, s := range strings.Split(path, ".") {
		if cur = cur.child(s); cur == nil {
			return "", ""
		}
		arm, phase = cmp.Or(cur.arm, arm), cmp.Or(cur.phase, phase)
	}
	return arm, phase
}

// ThresholdPaths lists every value a threshold may name in a run with these
// arms and phases, in report order.
func ThresholdPaths(arms, phases []string) []string {
	var out []string
	var walk func(prefix string, n *pathNode)
	walk = func(prefix string, n *pathNode) {
		for _, c := range n.children {
			p := c.name
			if prefix != "" {
				p = prefix + "." + c.name
			}
			if c.get != nil {
				out = append(out, p)
			}
			walk(p, c)
		}
	}
	walk("", pathTree(arms, phases))
	return out
}

// pathTree builds the tree of values for a run with these arms and phases.
func pathTree(arms, phases []string) *pathNode {
	root := &pathNode{}
	for _, armName := range arms {
		a := root.add(&pathNode{name: armName, arm: armName})
		armOf := func(r *Report) (*Arm, error) {
			if arm := r.Arm(armName); arm != nil {
				return arm, nil
			}
			return nil, errNoData{"arm " + armName + " did not run"}
		}
		for _, phName := range phases {
			ph := a.add(&pathNode{name: phName, phase: phName})
			summary := func(r *Report) (PhaseSummary, error) {
				arm, err := armOf(r)
				if err != nil {
					return PhaseSummary{}, err
				}
				s, ok := arm.Summary[phName]
				if !ok {
					return s, errNoData{"arm " + armName + " has no phase " + phName}
				}
				return s, nil
			}
			for _, ep := range []string{"api", "collateral"} {
				stats := func(r *Report) (Stats, error) {
					s, err := summary(r)
					if ep == "api" {
						return s.API, err
					}
					return s.Collateral, err
				}
				e := ph.add(&pathNode{name: ep})
				for _, l := range statLeaves {
					e.add(&pathNode{name: l.name, kind: l.kind, get: func(r *Report) (float64, error) {
						s, err := stats(r)
						return l.get(s), err
					}})
				}
				oc := e.add(&pathNode{name: "outcomes"})
				for _, l := range outcomeLeaves {
					oc.add(&pathNode{name: l.name, kind: kindCount, get: func(r *Report) (float64, error) {
						s, err := stats(r)
						return float64(l.get(s.Outcomes)), err
					}})
				}
				at := oc.add(&pathNode{name: "timeout_at"})
				for _, l := range timeoutAtLeaves {
					at.add(&pathNode{name: l.name, kind: kindCount, get: func(r *Report) (float64, error) {
						s, err := stats(r)
						return float64(l.get(s.Outcomes.TimeoutAt)), err
					}})
				}
				lat := e.add(&pathNode{name: "latency_ms"})
				for _, l := range latencyLeaves {
					lat.add(&pathNode{name: l.name, kind: kindMS, get: func(r *Report) (float64, error) {
						s, err := stats(r)
						if err == nil && l.since {
							err = notInV1(r, "latency "+l.name)
						}
						return l.get(s.LatencyMS), err
					}})
				}
				detail := func(what string, get func(s Stats) float64) func(r *Report) (float64, error) {
					return func(r *Report) (float64, error) {
						s, err := stats(r)
						if err == nil {
							err = notInV1(r, what)
						}
						return get(s), err
					}
				}
				sc := e.add(&pathNode{name: "status_codes", dynamicName: "<code>"})
				for _, class := range statusClasses {
					sc.add(&pathNode{name: class, kind: kindCount, get: detail("status codes", func(s Stats) float64 {
						var n int64
						for code, c := range s.StatusCodes {
							if len(code) == 3 && code[0] == class[0] {
								n += c
							}
						}
						return float64(n)
					})})
				}
				sc.dynamic = func(code string) *pathNode {
					if n, err := strconv.Atoi(code); err != nil || n < 0 || n > 999 || strconv.Itoa(n) != code {
						return nil
					}
					return &pathNode{name: code, kind: kindCount, get: detail("status codes", func(s Stats) float64 {
						return float64(s.StatusCodes[code])
					})}
				}
				er := e.add(&pathNode{name: "errors"})
				er.add(&pathNode{name: "total", kind: kindCount, get: detail("the error set", func(s Stats) float64 {
					n := s.ErrorsOther
					for _, e := range s.Errors {
						n += e.Count
					}
					return float64(n)
				})})
				er.add(&pathNode{name: "distinct", kind: kindCount, get: detail("the error set", func(s Stats) float64 {
					return float64(len(s.Errors))
				})})
				er.add(&pathNode{name: "other", kind: kindCount, get: detail("the error set", func(s Stats) float64 {
					return float64(s.ErrorsOther)
				})})
				e.add(&pathNode{name: "bytes_in", kind: kindCount, get: detail("bytes", func(s Stats) float64 { return float64(s.BytesIn) })})
				e.add(&pathNode{name: "bytes_out", kind: kindCount, get: detail("bytes", func(s Stats) float64 { return float64(s.BytesOut) })})
			}
			ph.add(&pathNode{name: "upstream_requests", kind: kindCount, get: func(r *Report) (float64, error) {
				s, err := summary(r)
				return float64(s.UpstreamRequests), err
			}})
			ph.add(&pathNode{name: "attempts_per_request", kind: kindNone, get: func(r *Report) (float64, error) {
				s, err := summary(r)
				return s.AttemptsPerRequest, err
			}})
			ph.add(&pathNode{name: "inflight_peak", kind: kindCount, get: func(r *Report) (float64, error) {
				s, err := summary(r)
				return float64(s.InflightPeak), err
			}})
			ph.add(&pathNode{name: "upstream_queue_peak", kind: kindCount, get: func(r *Report) (float64, error) {
				s, err := summary(r)
				if err == nil && s.UpstreamQueuePeak == nil {
					why := "not measured in this phase"
					if _, w := UpstreamQueue(r); w != "" {
						why = strings.ToLower(w[:1]) + strings.TrimSuffix(w[1:], ".")
					}
					return 0, errNoData{"the upstream's queue is " + why}
				}
				if err != nil {
					return 0, err
				}
				return float64(*s.UpstreamQueuePeak), nil
			}})
		}
		fig := a.add(&pathNode{name: "figures"})
		for _, l := range figureLeaves {
			n := fig.add(&pathNode{name: l.name, kind: l.kind, get: func(r *Report) (float64, error) {
				arm, err := armOf(r)
				if err != nil {
					return 0, err
				}
				if l.breaker && arm.BreakerFigures == BreakerUnknown {
					return 0, errNoData{"breaker state is not observable"}
				}
				return l.get(arm.Figures)
			}})
			if l.breaker {
				n.inferred = func(r *Report) bool {
					arm, err := armOf(r)
					return err == nil && arm.BreakerFigures == BreakerInferred
				}
			}
		}
		worst := a.add(&pathNode{name: "worst"})
		for _, l := range figureLeaves {
			worst.add(&pathNode{name: l.name, kind: l.kind, get: func(r *Report) (float64, error) {
				arm, err := armOf(r)
				if err != nil {
					return 0, err
				}
				return worstRun(r, arm, l.worse, l.get)
			}})
		}
	}
	v := root.add(&pathNode{name: "verdict"})
	v.add(&pathNode{name: "cascade_prevented", kind: kindBool, get: func(r *Report) (float64, error) {
		return boolValue(r.Verdict.CascadePrevented), nil
	}})
	v.add(&pathNode{name: "outcome", kind: kindOutcome, get: func(r *Report) (float64, error) {
		i := slices.Index(outcomes, r.Verdict.Outcome)
		if i < 0 {
			return 0, errNoData{"no verdict"}
		}
		return float64(i), nil
	}})
	va := root.add(&pathNode{name: "validity"})
	va.add(&pathNode{name: "valid", kind: kindBool, get: func(r *Report) (float64, error) {
		if r.Validity == nil {
			return 0, errNoData{"the report has no validity checks (upgraded from " + r.UpgradedFrom + ")"}
		}
		return boolValue(r.Validity.Valid), nil
	}})
	root.add(&pathNode{name: "partial", kind: kindBool, get: func(r *Report) (float64, error) {
		return boolValue(r.Partial), nil
	}})
	return root
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Evaluate checks the threshold against a report. A value the report lacks
// (an arm that did not run, a breaker that never opened) fails the check
// with a message saying so. Value and Measured are the left side's.
func (t Threshold) Evaluate(r *Report) ThresholdResult {
	res := ThresholdResult{Expr: t.expr}
	// The arms the run was to run, so that one a partial run never reached
	// is "did not run", not an unknown path.
	arms := slices.Clone(r.Config.Arms)
	for _, a := range r.Arms {
		if !slices.Contains(arms, a.Name) {
			arms = append(arms, a.Name)
		}
	}
	phases := make([]string, len(r.Phases))
	for i, p := range r.Phases {
		phases[i] = p.Name
	}
	root := pathTree(arms, phases)
	ks, err := t.kinds(root)
	if err != nil {
		res.Measured = "n/a"
		res.Message = "no data: " + err.Error()
		return res
	}
	// The unit both sides are shown in: the first path's.
	unit := ks[0]
	if unit == kindNone {
		unit = ks[1]
	}
	lv, lerr := t.left.value(r, root, unit)
	rv, rerr := t.right.value(r, root, unit)
	res.Value = nativeValue(lv, unit)
	res.Measured = formatValue(lv, unit)
	want := t.op + " " + formatValue(rv, unit)
	if t.right.hasPath() {
		want += " (" + t.right.text + ")"
	}
	switch {
	case lerr != nil:
		res.Measured = "n/a"
		res.Message = "no data: " + lerr.Error()
		return res
	case rerr != nil:
		res.Message = "no data: " + rerr.Error()
		return res
	case !finite(nativeValue(lv, unit)) || !finite(nativeValue(rv, unit)):
		// JSON has no Inf or NaN: the report could not be written.
		side, v := t.left.text, nativeValue(lv, unit)
		if finite(v) {
			side, v = t.right.text, nativeValue(rv, unit)
		} else {
			res.Value, res.Measured = 0, "n/a"
		}
		res.Message = fmt.Sprintf("not a finite number: %s gives %v", side, v)
		return res
	}
	res.Pass = compare(lv, t.op, rv)
	res.Message = "want " + want
	if inf := t.inferredPaths(r, root); len(inf) > 0 {
		res.Message += "; inferred: " + strings.Join(inf, ", ") + " from the upstream's arrivals, not from the service's own breaker state"
	}
	return res
}

// inferredPaths lists the threshold's paths whose values in r are
// inferred.
func (t Threshold) inferredPaths(r *Report, root *pathNode) []string {
	var out []string
	for _, o := range []operand{t.left, t.right} {
		for _, f := range o.factors {
			if f.path == "" {
				continue
			}
			if n, err := root.lookup(f.path); err == nil && n.inferred != nil && n.inferred(r) {
				out = append(out, f.path)
			}
		}
	}
	return out
}

func (o operand) hasPath() bool {
	for _, f := range o.factors {
		if f.path != "" {
			return true
		}
	}
	return false
}

// value computes the operand with durations in seconds and plain numbers
// read in unit (the path's) when the operand has no unit of its own.
func (o operand) value(r *Report, root *pathNode, unit valueKind) (float64, error) {
	var v float64
	own := kindNone
	for i, f := range o.factors {
		var x float64
		switch {
		case f.path != "":
			n, err := root.lookup(f.path)
			if err != nil {
				return 0, err
			}
			if x, err = n.get(r); err != nil {
				return 0, fmt.Errorf("%s: %w", f.path, err)
			}
			if n.kind == kindMS {
				x /= 1000
			}
			own = n.kind
		case f.word == "true":
			x = 1
		case f.word == "false":
			x = 0
		case f.word != "":
			x = float64(slices.Index(outcomes, f.word))
		default:
			x = f.num
			if f.unit != kindNone {
				own = f.unit
			}
		}
		v = o.combine(i, v, x)
	}
	if own == kindNone && unit == kindMS {
		v /= 1000 // a plain number next to a _ms path is milliseconds
	}
	return v, nil
}

// nativeValue turns an internal value back into the report's unit: ms for
// _ms paths, a fraction for ratios, seconds for _s paths.
func nativeValue(v float64, unit valueKind) float64 {
	if unit == kindMS {
		return v * 1000
	}
	return v
}

func formatValue(v float64, unit valueKind) string {
	if math.Abs(v) >= 1e15 {
		return strconv.FormatFloat(v, 'g', 6, 64) // not hundreds of digits
	}
	switch unit {
	case kindRatio:
		return strconv.FormatFloat(v*100, 'f', 2, 64) + "%"
	case kindMS:
		return strconv.FormatFloat(v*1000, 'f', 1, 64) + "ms"
	case kindSeconds:
		return strconv.FormatFloat(v, 'f', 3, 64) + "s"
	case kindBool:
		return strconv.FormatBool(v != 0)
	case kindOutcome:
		if i := int(v); i >= 0 && i < len(outcomes) {
			return outcomes[i]
		}
		return "?"
	case kindCount:
		if v == math.Trunc(v) {
			return strconv.FormatFloat(v, 'f', 0, 64)
		}
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

func compare(l float64, op string, r float64) bool {
	const eps = 1e-9
	switch op {
	case "<":
		return l < r
	case "<=":
		return l <= r+eps
	case ">":
		return l > r
	case ">=":
		return l >= r-eps
	case "==":
		return math.Abs(l-r) <= eps
	default:
		return math.Abs(l-r) > eps
	}
}

// EvaluateThresholds evaluates every threshold against r, in order, and
// reports whether all passed.
func EvaluateThresholds(ts []Threshold, r *Report) ([]ThresholdResult, bool) {
	out := make([]ThresholdResult, 0, len(ts))
	ok := true
	for _, t := range ts {
		res := t.Evaluate(r)
		ok = ok && res.Pass
		out = append(out, res)
	}
	return out, ok
}
