package analysis

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/cbload/cbload/reports"
)

// Rule is a --fail-on rule of `cbload compare`: a condition on how one value
// changed from the base report to the new one, which fails the comparison
// when it holds:
//
//	breaker.fault.collateral.success_ratio < -1%     fell by more than 1% of its base value
//	breaker.fault.collateral.success_ratio < -0.5pp  fell by more than half a percentage point
//	breaker.fault.api.latency_ms.p99 > +50ms         rose by more than 50 ms
//	no-breaker.fault.upstream_requests > 10%         rose by more than 10%
//	breaker.figures.time_to_recover_s >= 1s          took a second or more longer
//
// Grammar: PATH OP CHANGE, with PATH a threshold path (the same table as
// --threshold: reports.ThresholdPaths), OP one of < <= > >=, and CHANGE a
// signed number followed by % for a change relative to the base value, or
// by nothing, pp (ratios: percentage points), ms or s for an absolute
// change; a bare number is in the path's unit (a fraction for ratios).
type Rule struct {
	expr     string
	path     string
	op       string
	amount   float64 // relative: a fraction; absolute: in the path's unit
	unit     string  // "", "%", "pp", "ms", "s" as written
	relative bool
}

// RuleError is a rule that cannot be used. Its message names the bad part.
type RuleError struct {
	Expr string
	Msg  string
}

func (e *RuleError) Error() string { return fmt.Sprintf("--fail-on %q: %s", e.Expr, e.Msg) }

// String returns the rule as given.
func (r Rule) String() string { return r.expr }

// Path returns the threshold path the rule names.
func (r Rule) Path() string { return r.path }

var ruleOps = []string{"<=", ">=", "<", ">"}

// ParseRule parses a rule. It checks the syntax only; Check verifies the
// path against the arms and phases compared.
func ParseRule(s string) (Rule, error) {
	r := Rule{expr: strings.TrimSpace(s)}
	fail := func(format string, args ...any) (Rule, error) {
		return Rule{}, &RuleError{Expr: r.expr, Msg: fmt.Sprintf(format, args...)}
	}
	if r.expr == "" {
		return fail("empty; want PATH OP CHANGE like breaker.fault.collateral.success_ratio < -1%%")
	}
	i := strings.IndexAny(r.expr, "<>=!")
	if i < 0 {
		return fail("missing comparison; want PATH < CHANGE, <=, > or >=, like breaker.fault.api.latency_ms.p99 > +50ms")
	}
	r.path = strings.TrimSpace(r.expr[:i])
	rest := r.expr[i:]
	for _, op := range ruleOps {
		if strings.HasPrefix(rest, op) {
			r.op = op
			break
		}
	}
	if r.op == "" {
		return fail("%q is not a comparison a change rule can use; want <, <=, > or >= (a rule says when the change is a regression)", firstWord(rest))
	}
	if r.path == "" {
		return fail("missing the path before %s; want one like breaker.fault.collateral.success_ratio", r.op)
	}
	if strings.ContainsAny(r.path, " \t") {
		return fail("%q is not one path; want PATH OP CHANGE", r.path)
	}
	amount := strings.TrimSpace(rest[len(r.op):])
	if amount == "" {
		return fail("missing the change after %s; want a signed number with %%, pp, ms or s, like -1%% or +50ms", r.op)
	}
	j := len(amount)
	for j > 0 && (amount[j-1] >= 'a' && amount[j-1] <= 'z' || amount[j-1] == '%') {
		j--
	}
	num, unit := amount[:j], amount[j:]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) || strings.ContainsAny(num, "eExXpP_") {
		return fail("%q is not a number; want a signed number with %%, pp, ms or s, like -1%% or +50ms", amount)
	}
	switch unit {
	case "%":
		r.relative, r.amount = true, v/100
	case "", "pp", "ms", "s":
		r.amount = v
	default:
		return fail("unknown unit %q after %s; want %% (relative to the base value), or pp, ms or s (absolute)", unit, num)
	}
	r.unit = unit
	return r, nil
}

func firstWord(s string) string {
	if i := strings.IndexAny(s, " \t0123456789+-."); i > 0 {
		return s[:i]
	}
	return s
}

// Check verifies the rule against the arms and phases compared: the path
// must name a number, and an absolute change must be in its unit.
func (r Rule) Check(arms, phases []string) error {
	kind, err := reports.PathKind(r.path, arms, phases)
	if err != nil {
		return &RuleError{Expr: r.expr, Msg: err.Error()}
	}
	_, err = r.threshold(kind)
	return err
}

// threshold returns the rule's amount in the path's own unit (a fraction
// for a relative rule), or why the unit does not fit the path.
func (r Rule) threshold(kind string) (float64, error) {
	fail := func(format string, args ...any) (float64, error) {
		return 0, &RuleError{Expr: r.expr, Msg: fmt.Sprintf(format, args...)}
	}
	switch kind {
	case reports.KindBool, reports.KindOutcome:
		return fail("%s is not a number, so it has no change to compare; the comparison shows when it differs, and --threshold checks its value in a run", r.path)
	}
	if r.relative {
		return r.amount, nil
	}
	switch {
	case r.unit == "pp" && kind == reports.KindRatio:
		return r.amount / 100, nil
	case r.unit == "" && kind == reports.KindRatio && math.Abs(r.amount) >= 1:
		return fail("%s is a ratio from 0 to 1: write %spp for percentage points or %s%% for a change relative to the base", r.path, trimNum(r.amount), trimNum(r.amount))
	case r.unit == "":
		return r.amount, nil
	case r.unit == "ms" && kind == reports.KindMS, r.unit == "s" && kind == reports.KindSeconds:
		return r.amount, nil
	case r.unit == "s" && kind == reports.KindMS:
		return r.amount * 1000, nil
	case r.unit == "ms" && kind == reports.KindSeconds:
		return r.amount / 1000, nil
	}
	want := map[string]string{
		reports.KindRatio: "pp (percentage points), a fraction or %",
		reports.KindMS:    "ms, s or %", reports.KindSeconds: "s, ms or %",
		reports.KindCount: "a plain number or %", reports.KindNumber: "a plain number or %",
	}[kind]
	return fail("%s is %s; its change is written in %s, not %s", r.path, kindWord(kind), want, r.unit)
}

func kindWord(kind string) string {
	switch kind {
	case reports.KindRatio:
		return "a ratio"
	case reports.KindMS, reports.KindSeconds:
		return "a duration"
	case reports.KindCount:
		return "a count"
	}
	return "a number"
}

func trimNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// errNoValue marks a rule whose value one report lacks.
var errNoValue = errors.New("no data")

// evaluate checks the rule against a row: it fails when the change meets
// the condition, or when either report lacks the value.
func (r Rule) evaluate(row reports.ComparisonRow) reports.RuleResult {
	res := reports.RuleResult{Rule: r.expr, Row: row}
	limit, err := r.threshold(row.Kind)
	if err != nil { // Check has run; kept for safety with hand-built rows
		res.Failed, res.Message = true, err.Error()
		return res
	}
	switch {
	case row.Base.NoData != "":
		res.Failed, res.Message = true, fmt.Sprintf("%v: base: %s", errNoValue, row.Base.NoData)
		return res
	case row.New.NoData != "":
		res.Failed, res.Message = true, fmt.Sprintf("%v: new: %s", errNoValue, row.New.NoData)
		return res
	}
	got := row.Change
	if r.relative {
		got = row.Relative
	}
	held := false
	const eps = 1e-9
	switch r.op {
	case "<":
		held = got < limit-eps
	case "<=":
		held = got <= limit+eps
	case ">":
		held = got > limit+eps
	case ">=":
		held = got >= limit-eps
	}
	what := "changed " + row.ChangeText()
	if held {
		res.Failed = true
		res.Message = what + ": fails " + r.op + " " + r.amountText()
	} else {
		res.Message = what + ": within the rule"
	}
	return res
}

func (r Rule) amountText() string {
	s := trimNum(r.amount)
	if r.relative {
		s = trimNum(r.amount * 100)
	}
	if r.amount > 0 {
		s = "+" + s
	}
	return s + r.unit
}
