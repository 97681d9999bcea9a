// Package analysis derives conclusions from cbload reports without rerunning
// anything: the comparison of two runs (`cbload compare`), and — from the
// raw aggregates the recorder keeps per second and per endpoint (outcome
// counts and the latency histogram itself; /api completions per 100 ms) —
// a report's summaries and figures (Derive) and the merge of the shards of
// one run (Merge). Counts add, and percentiles are read from merged
// histograms, never averaged.
package analysis

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/cbload/cbload/reports"
)

// ErrIncompatible means two reports cannot be compared: they ran different
// schedules, or share no arm. Its message says what differs, on one line.
var ErrIncompatible = errors.New("incompatible reports")

// CompareOptions says what Compare shows and checks.
type CompareOptions struct {
	// BaseLabel and NewLabel name the two reports in the output, e.g. the
	// files given.
	BaseLabel, NewLabel string
	Rules               []Rule
	// All shows every value a threshold can name; otherwise the key ones:
	// every figure, and per phase and endpoint the requests, success
	// ratio and latency p50, p95 and p99, the upstream requests and the
	// in-flight peak — plus every value a rule names.
	All bool
}

// Compare lines up the values of base and next, path by path, for the arms
// both ran, and checks the rules. The reports must have the same schedule
// (phase names and times) and at least one arm in common; otherwise the
// error wraps ErrIncompatible. A rule naming an arm or phase that is not
// compared, or a value that is not a number, is a *RuleError. Differences
// that do not prevent a comparison — an arm only one report has, another
// rate, breaker setting or fault, a report upgraded from v1 — are listed in
// the Notes.
func Compare(base, next *reports.Report, opts CompareOptions) (*reports.Comparison, error) {
	if err := sameSchedule(base, next); err != nil {
		return nil, err
	}
	c := &reports.Comparison{
		Base: run(base, opts.BaseLabel),
		New:  run(next, opts.NewLabel),
	}
	for _, p := range base.Phases {
		c.Phases = append(c.Phases, p.Name)
	}
	var onlyBase, onlyNew []string
	for _, a := range base.Arms {
		if next.Arm(a.Name) != nil {
			c.Arms = append(c.Arms, a.Name)
		} else {
			onlyBase = append(onlyBase, a.Name)
		}
	}
	for _, a := range next.Arms {
		if base.Arm(a.Name) == nil {
			onlyNew = append(onlyNew, a.Name)
		}
	}
	if len(c.Arms) == 0 {
		return nil, fmt.Errorf("%w: no arm in common (base ran %s; new ran %s)", ErrIncompatible, armList(base), armList(next))
	}
	for _, r := range opts.Rules {
		if err := r.Check(c.Arms, c.Phases); err != nil {
			return nil, err
		}
	}
	if len(onlyBase) > 0 {
		c.Notes = append(c.Notes, "not compared: arm "+strings.Join(onlyBase, ", ")+" ran only in the base")
	}
	if len(onlyNew) > 0 {
		c.Notes = append(c.Notes, "not compared: arm "+strings.Join(onlyNew, ", ")+" ran only in the new run")
	}
	c.Notes = append(c.Notes, differences(base, next)...)
	for _, x := range []struct {
		who string
		r   *reports.Report
	}{{"base", base}, {"new", next}} {
		for _, f := range x.r.Validity.Failed() {
			c.Invalid = append(c.Invalid, reports.InvalidCheck{Report: x.who, ValidityCheck: f})
		}
	}

	ruled := map[string]bool{}
	for _, r := range opts.Rules {
		ruled[r.Path()] = true
	}
	baseVals, newVals := index(reports.Values(base)), index(reports.Values(next))
	for _, p := range unionPaths(reports.Values(base), reports.Values(next)) {
		row := newRow(p, c.Arms, c.Phases, baseVals, newVals)
		if row == nil {
			continue
		}
		if opts.All || ruled[p] || key(*row) {
			c.Rows = append(c.Rows, *row)
		}
	}
	for _, r := range opts.Rules {
		row := newRow(r.Path(), c.Arms, c.Phases, baseVals, newVals)
		if row == nil { // Check passed, so both reports have the arm; never nil
			row = &reports.ComparisonRow{Path: r.Path(), Base: reports.PathValue{NoData: "not in this report"}}
		}
		c.Rules = append(c.Rules, r.evaluate(*row))
	}
	return c, nil
}

func run(r *reports.Report, label string) reports.ComparedRun {
	return reports.ComparedRun{Label: label, RunID: r.RunID, Outcome: r.Verdict.Outcome, UpgradedFrom: r.UpgradedFrom, Partial: r.Partial}
}

func armList(r *reports.Report) string {
	if len(r.Arms) == 0 {
		return "no arm"
	}
	var names []string
	for _, a := range r.Arms {
		names = append(names, a.Name)
	}
	return strings.Join(names, ", ")
}

// sameSchedule requires the same phases, by name, start and end: a count
// over a phase of another length is not comparable.
func sameSchedule(base, next *reports.Report) error {
	sched := func(r *reports.Report) string {
		var parts []string
		for _, p := range r.Phases {
			parts = append(parts, fmt.Sprintf("%s %g–%g s", p.Name, p.StartS, p.EndS))
		}
		if len(parts) == 0 {
			return "no phases"
		}
		return strings.Join(parts, ", ")
	}
	b, n := sched(base), sched(next)
	if b != n {
		return fmt.Errorf("%w: different schedules (base: %s; new: %s); compare runs of the same phases", ErrIncompatible, b, n)
	}
	return nil
}

// differences lists what differs between the runs' settings and faults, in
// one note each.
func differences(base, next *reports.Report) []string {
	var notes []string
	if base.UpgradedFrom != next.UpgradedFrom || base.Attribution != next.Attribution {
		for _, x := range []struct {
			who string
			r   *reports.Report
		}{{"base", base}, {"new", next}} {
			if x.r.UpgradedFrom != "" {
				notes = append(notes, fmt.Sprintf("the %s report was upgraded from %s, which counted requests by send time (attribution %q) and lacks the values v2 added: they show n/a", x.who, x.r.UpgradedFrom, x.r.Attribution))
			}
		}
	}
	for i, p := range base.Phases {
		q := next.Phases[i] // sameSchedule: same length
		if !slices.Equal(p.Faults, q.Faults) {
			notes = append(notes, fmt.Sprintf("phase %s: faults differ (base %s; new %s)", p.Name, faultList(p.Faults), faultList(q.Faults)))
		}
	}
	bc, nc := flatten(base.Config), flatten(next.Config)
	var keys []string
	for k := range bc {
		keys = append(keys, k)
	}
	for k := range nc {
		if _, ok := bc[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var diffs []string
	for _, k := range keys {
		if bc[k] != nc[k] {
			diffs = append(diffs, fmt.Sprintf("%s %s → %s", k, orNone(bc[k]), orNone(nc[k])))
		}
	}
	if len(diffs) > 0 {
		notes = append(notes, "config differs: "+strings.Join(diffs, "; "))
	}
	if base.Partial || next.Partial {
		for _, x := range []struct {
			who string
			r   *reports.Report
		}{{"base", base}, {"new", next}} {
			if x.r.Partial {
				notes = append(notes, fmt.Sprintf("the %s run is partial (%s): its values cover only what was measured", x.who, x.r.PartialReason))
			}
		}
	}
	return notes
}

func faultList(f []string) string {
	if len(f) == 0 {
		return "none"
	}
	return strings.Join(f, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// flatten turns a config into dotted keys and their JSON values, so any
// field added to reports.Config is compared without a list to keep.
func flatten(cfg reports.Config) map[string]string {
	out := map[string]string{}
	b, err := json.Marshal(cfg)
	if err != nil {
		return out
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return out
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if prefix != "" {
					k = prefix + "." + k
				}
				walk(k, c)
			}
		case []any:
			var parts []string
			for _, c := range x {
				b, _ := json.Marshal(c)
				parts = append(parts, strings.Trim(string(b), `"`))
			}
			out[prefix] = strings.Join(parts, ", ")
		default:
			b, _ := json.Marshal(x)
			out[prefix] = strings.Trim(string(b), `"`)
		}
	}
	walk("", v)
	return out
}

func index(vs []reports.PathValue) map[string]reports.PathValue {
	m := make(map[string]reports.PathValue, len(vs))
	for _, v := range vs {
		m[v.Path] = v
	}
	return m
}

// unionPaths lists the base's paths in report order, then the new
// report's that the base lacks.
func unionPaths(base, next []reports.PathValue) []string {
	seen := map[string]bool{}
	var out []string
	for _, vs := range [][]reports.PathValue{base, next} {
		for _, v := range vs {
			if !seen[v.Path] {
				seen[v.Path] = true
				out = append(out, v.Path)
			}
		}
	}
	return out
}

// newRow builds the row of one path, or nil when the path belongs to an arm
// that is not compared.
func newRow(path string, arms, phases []string, base, next map[string]reports.PathValue) *reports.ComparisonRow {
	segs := strings.Split(path, ".")
	row := &reports.ComparisonRow{Path: path, Name: path}
	armNames := map[string]bool{}
	for _, a := range arms {
		armNames[a] = true
	}
	if len(segs) > 1 && !armNames[segs[0]] && !reports.IsRunValue(path) {
		return nil
	}
	if armNames[segs[0]] && len(segs) > 1 {
		row.Arm, row.Name = segs[0], strings.Join(segs[1:], ".")
		if len(segs) > 2 && slices.Contains(phases, segs[1]) {
			row.Phase, row.Name = segs[1], strings.Join(segs[2:], ".")
		}
	}
	b, okB := base[path]
	n, okN := next[path]
	switch {
	case !okB && !okN:
		return nil
	case !okB:
		b = reports.PathValue{Path: path, Kind: n.Kind, NoData: "not in this report"}
	case !okN:
		n = reports.PathValue{Path: path, Kind: b.Kind, NoData: "not in this report"}
	}
	row.Kind, row.Base, row.New = b.Kind, b, n
	numeric := row.Kind != reports.KindBool && row.Kind != reports.KindOutcome
	if numeric && b.NoData == "" && n.NoData == "" {
		row.Comparable = true
		row.Change = n.Value - b.Value
		switch {
		case row.Change == 0:
			row.Relative = 0
		case b.Value == 0:
			row.Relative = math.Inf(int(math.Copysign(1, row.Change)))
		default:
			row.Relative = row.Change / math.Abs(b.Value)
		}
	}
	return row
}

// keyNames are the per-phase values shown without --all: the catalogue's
// key values.
var keyNames = reports.KeyPhaseValues()

func key(row reports.ComparisonRow) bool {
	switch {
	case row.Arm == "":
		return reports.KeyRunValue(row.Path)
	case row.Phase == "":
		return strings.HasPrefix(row.Name, "figures.")
	}
	return slices.Contains(keyNames, row.Name)
}
