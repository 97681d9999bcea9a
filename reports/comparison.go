package reports

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Comparison is the result of `cbload compare BASE NEW`: the values of two
// reports of the same schedule, path by path, and the change rules checked
// against them. It is computed by analysis.Compare and rendered by
// WriteComparisonText, WriteComparisonMarkdown and WriteComparisonJUnit,
// which present it without recomputing anything.
type Comparison struct {
	Base, New ComparedRun
	// Arms and Phases are those compared: the arms both reports have, in
	// the base's order, and the schedule they share.
	Arms   []string
	Phases []string
	// Notes says what differs between the runs and what was not compared
	// (an arm only one report has, a different config or fault).
	Notes []string
	Rows  []ComparisonRow
	Rules []RuleResult
	// Invalid lists the failed validity checks of either report; a
	// comparison with any is not valid.
	Invalid []InvalidCheck
}

// InvalidCheck is a failed validity check of one of the reports compared.
type InvalidCheck struct {
	// Report is "base" or "new".
	Report string
	ValidityCheck
}

// String says which report failed which check: "new: no_stall failed for
// the breaker arm: …".
func (i InvalidCheck) String() string {
	return fmt.Sprintf("%s: %s failed for the %s arm: %s", i.Report, i.Name, i.Arm, i.Message)
}

// ComparedRun identifies one of the two reports compared.
type ComparedRun struct {
	// Label is how the user named it: the file or folder given.
	Label   string
	RunID   string
	Outcome string
	// UpgradedFrom is set when the report was read from an older schema.
	UpgradedFrom string
	Partial      bool
}

// ComparisonRow is one value in both reports.
type ComparisonRow struct {
	// Path is the value's threshold path; Arm and Phase the parts of it
	// that name an arm and a phase ("" when it has none, as for
	// <arm>.figures.* or verdict.outcome), and Name the rest.
	Path, Arm, Phase, Name string
	Kind                   string
	Base, New              PathValue
	// Comparable is true when both reports have the value and it is a
	// number. Change is then New − Base in the report's unit, and
	// Relative is Change / |Base| (0 when both are 0, ±Inf when only Base
	// is 0).
	Comparable       bool
	Change, Relative float64
}

// RuleResult is the outcome of one --fail-on rule.
type RuleResult struct {
	Rule string
	Row  ComparisonRow
	// Failed is true when the rule's condition held (a regression), or
	// when either report lacks the value; Message says which.
	Failed  bool
	Message string
}

// Failed returns the rules that failed.
func (c *Comparison) Failed() []RuleResult {
	var out []RuleResult
	for _, r := range c.Rules {
		if r.Failed {
			out = append(out, r)
		}
	}
	return out
}

// ChangeText formats the row's change: "-2.50 pp (-2.5%)", "+12.3 ms
// (+4.1%)", "+120 (new)" when the base was 0, "=" when nothing changed,
// "changed" for a word or a flag that differs, "n/a" when a report lacks
// the value.
func (row ComparisonRow) ChangeText() string {
	switch {
	case row.Base.NoData != "" && row.New.NoData != "":
		return "="
	case row.Base.NoData != "" || row.New.NoData != "":
		return "n/a"
	case row.Kind == KindBool || row.Kind == KindOutcome:
		if row.Base.Value == row.New.Value {
			return "="
		}
		return "changed"
	case !row.Comparable:
		return "n/a"
	case row.Change == 0:
		return "="
	}
	abs := signed(row.Change, row.Kind)
	switch {
	case math.IsInf(row.Relative, 0):
		return abs + " (new)"
	default:
		return abs + " (" + signedPercent(row.Relative) + ")"
	}
}

// shown formats a value for a comparison in the reports' own formats
// (Percent, ms, seconds, counts with separators); "n/a" without data.
func shown(v PathValue) string {
	if v.NoData != "" {
		return "n/a"
	}
	switch v.Kind {
	case KindRatio:
		return Percent(v.Value)
	case KindMS:
		return Millis(v.Value)
	case KindSeconds:
		return strconv.FormatFloat(v.Value, 'f', 3, 64) + " s"
	case KindCount:
		if v.Value == math.Trunc(v.Value) {
			return count(int64(v.Value))
		}
	}
	return v.String()
}

// signed formats an absolute change with its sign, in the kind's unit;
// a ratio's change is in percentage points.
func signed(v float64, kind string) string {
	sign := "+"
	if v < 0 {
		sign = "-"
	}
	a := math.Abs(v)
	switch kind {
	case KindRatio:
		prec := 2
		if a*100 < 0.005 {
			prec = 4 // a change too small for two decimals is still a change
		}
		return sign + strconv.FormatFloat(a*100, 'f', prec, 64) + " pp"
	case KindMS:
		return sign + Millis(a)
	case KindSeconds:
		return sign + strconv.FormatFloat(a, 'f', 3, 64) + " s"
	case KindCount:
		if a == math.Trunc(a) {
			return sign + count(int64(a))
		}
		return sign + strconv.FormatFloat(a, 'f', 1, 64)
	}
	return sign + strconv.FormatFloat(a, 'g', 6, 64)
}

func signedPercent(rel float64) string {
	s := strconv.FormatFloat(rel*100, 'f', 1, 64) + "%"
	if rel > 0 {
		s = "+" + s
	}
	if s == "-0.0%" || s == "+0.0%" {
		s = "±0.0%"
	}
	return s
}

// comparisonWriters are the formats a comparison is written in.
var comparisonWriters = map[string]func(io.Writer, *Comparison) error{
	"text":  WriteComparisonText,
	"md":    WriteComparisonMarkdown,
	"junit": WriteComparisonJUnit,
}

// ComparisonWriter returns the writer of the comparison format s — text,
// md (or markdown) or junit, in any case — and the format's name; ok is
// false for any other.
func ComparisonWriter(s string) (format string, write func(io.Writer, *Comparison) error, ok bool) {
	format = strings.ToLower(strings.TrimSpace(s))
	if format == "markdown" {
		format = "md"
	}
	write, ok = comparisonWriters[format]
	return format, write, ok
}
