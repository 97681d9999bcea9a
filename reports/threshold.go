package reports

import (
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
// Paths are the tree pathTree builds from the catalogue (ThresholdPaths
// lists them; docs/reference.md is generated from it). A plain number
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

type factor struct {
	pos  int
	num  float64 // a number literal, already converted by its unit
	unit string  // KindNumber, KindRatio (%), KindMS (ms), KindSeconds (s) for literals
	path string
	word string // true, false or an outcome name
}

type operand struct {
	factors []factor
	ops     []byte // '*' or '/' between factors
	text    string
}

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
	f := factor{pos: p.i + 1, unit: KindNumber}
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
		f.num, f.unit = v/100, KindRatio
	case "ms":
		f.num, f.unit = v/1000, KindMS // durations are compared in seconds
	case "s":
		f.num, f.unit = v, KindSeconds
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

// ParseThresholdFor parses a threshold expression (ParseThreshold) and
// checks it against a run with these arms and phases (Check).
func ParseThresholdFor(s string, arms, phases []string) (Threshold, error) {
	t, err := ParseThreshold(s)
	if err == nil {
		err = t.Check(arms, phases)
	}
	return t, err
}

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
func (t Threshold) kinds(root *pathNode) ([2]string, error) {
	var ks [2]string
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
	case l == KindBool || r == KindBool:
		if l != r || !eqOnly {
			return ks, fmt.Errorf("%s is true or false: compare it with == true, == false or != …", boolSide(t, ks))
		}
	case l == KindOutcome || r == KindOutcome:
		if l != r || !eqOnly {
			return ks, fmt.Errorf("verdict.outcome is a word: compare it with == or != and one of %s", strings.Join(outcomes, ", "))
		}
	case durationKind(l) && (r == KindRatio || r == KindCount) || durationKind(r) && (l == KindRatio || l == KindCount):
		return ks, fmt.Errorf("%s and %s have different units (%s vs %s)", t.left.text, t.right.text, kindName(l), kindName(r))
	case l == KindRatio && r == KindCount || l == KindCount && r == KindRatio:
		return ks, fmt.Errorf("%s and %s have different units (%s vs %s)", t.left.text, t.right.text, kindName(l), kindName(r))
	}
	// A bare number above 1 against a ratio is almost surely a percentage
	// without its sign.
	for i, o := range []operand{t.left, t.right} {
		if ks[1-i] == KindRatio && len(o.factors) == 1 && o.factors[0].path == "" && o.factors[0].unit == KindNumber && o.factors[0].num > 1 {
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

func boolSide(t Threshold, ks [2]string) string {
	if ks[0] == KindBool {
		return t.left.text
	}
	return t.right.text
}

// kind is the operand's kind: that of its one dimensioned factor, or none.
func (o operand) kind(root *pathNode) (string, error) {
	k := KindNumber
	for i, f := range o.factors {
		fk := f.unit
		switch {
		case f.path != "":
			n, err := root.lookup(f.path)
			if err != nil {
				return "", err
			}
			fk = n.kind
		case f.word == "true" || f.word == "false":
			fk = KindBool
		case f.word != "":
			fk = KindOutcome
		}
		if fk == KindNumber {
			continue
		}
		if len(o.factors) > 1 && (fk == KindBool || fk == KindOutcome) {
			return "", fmt.Errorf("%s is not a number and cannot be multiplied or divided", f.path)
		}
		if i > 0 && o.ops[i-1] == '/' {
			return "", fmt.Errorf("in %q: divide only by plain numbers (a value with a unit cannot be a divisor)", o.text)
		}
		if k != KindNumber {
			return "", fmt.Errorf("in %q: at most one value with a unit per side; scale it with plain numbers, like 0.2 * no-breaker.fault.upstream_requests", o.text)
		}
		k = fk
	}
	return k, nil
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
	if unit == KindNumber {
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
func (o operand) value(r *Report, root *pathNode, unit string) (float64, error) {
	var v float64
	own := KindNumber
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
			if n.kind == KindMS {
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
			if f.unit != KindNumber {
				own = f.unit
			}
		}
		v = o.combine(i, v, x)
	}
	if own == KindNumber && unit == KindMS {
		v /= 1000 // a plain number next to a _ms path is milliseconds
	}
	return v, nil
}

// nativeValue turns an internal value back into the report's unit: ms for
// _ms paths, a fraction for ratios, seconds for _s paths.
func nativeValue(v float64, unit string) float64 {
	if unit == KindMS {
		return v * 1000
	}
	return v
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
