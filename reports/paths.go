package reports

import (
	"errors"
	"strings"
)

// This file exposes the threshold path table (pathTree in threshold.go) to
// other readers of a report — `cbload compare` above all — so that every
// value has one name, one unit and one getter wherever it is read.

// Kinds of values, as PathValue.Kind names them. They decide the unit a
// value is written and compared in.
const (
	KindNumber  = "number"  // a plain number
	KindCount   = "count"   // a number of requests or events
	KindRatio   = "ratio"   // a fraction in [0,1], written as a percentage
	KindMS      = "ms"      // a duration in milliseconds
	KindSeconds = "s"       // a duration in seconds
	KindBool    = "bool"    // true (1) or false (0)
	KindOutcome = "outcome" // a verdict outcome, by its index in the outcome list
)

var kindNames = map[valueKind]string{
	kindNone: KindNumber, kindCount: KindCount, kindRatio: KindRatio, kindMS: KindMS,
	kindSeconds: KindSeconds, kindBool: KindBool, kindOutcome: KindOutcome,
}

// PathValue is one value of a report, named by the path a threshold uses
// for it (breaker.fault.collateral.success_ratio).
type PathValue struct {
	Path string
	// Kind is one of the Kind constants.
	Kind string
	// Value is in the report's own unit: milliseconds for KindMS, seconds
	// for KindSeconds, a fraction for KindRatio, 1 or 0 for KindBool.
	Value float64
	// NoData says why the report has no such value (the breaker never
	// opened, the arm did not run); Value is then 0.
	NoData string
}

// String formats the value as threshold results show it: "99.50%",
// "412.0ms", "1.200s", "true", a count; "n/a" without data.
func (v PathValue) String() string {
	if v.NoData != "" {
		return "n/a"
	}
	k := kindOf(v.Kind)
	x := v.Value
	if k == kindMS {
		x /= 1000 // formatValue takes durations in seconds
	}
	return formatValue(x, k)
}

func kindOf(name string) valueKind {
	for k, n := range kindNames {
		if n == name {
			return k
		}
	}
	return kindNone
}

// armsAndPhases lists the names a report's paths are built from.
func armsAndPhases(r *Report) (arms, phases []string) {
	for _, a := range r.Arms {
		arms = append(arms, a.Name)
	}
	for _, p := range r.Phases {
		phases = append(phases, p.Name)
	}
	return arms, phases
}

// Values returns every value a threshold may name in r, in report order,
// with each status code the report counted (…status_codes.503) after the
// status classes of its endpoint.
func Values(r *Report) []PathValue {
	arms, phases := armsAndPhases(r)
	root := pathTree(arms, phases)
	var out []PathValue
	add := func(p string) {
		if n, err := root.lookup(p); err == nil {
			out = append(out, valueAt(r, p, n))
		}
	}
	for _, p := range ThresholdPaths(arms, phases) {
		add(p)
		prefix, ok := strings.CutSuffix(p, ".status_codes.5xx")
		if !ok {
			continue
		}
		for _, code := range statusCodesAt(r, prefix) {
			add(prefix + ".status_codes." + code)
		}
	}
	return out
}

// statusCodesAt lists, in order, the status codes counted at
// <arm>.<phase>.<endpoint>.
func statusCodesAt(r *Report, prefix string) []string {
	segs := strings.Split(prefix, ".")
	if len(segs) != 3 {
		return nil
	}
	a := r.Arm(segs[0])
	if a == nil {
		return nil
	}
	s := a.Summary[segs[1]].API
	if segs[2] == "collateral" {
		s = a.Summary[segs[1]].Collateral
	}
	return sortedCodes(s.StatusCodes)
}

// Lookup returns the value at path in r. Its error is a threshold's for an
// unknown path: it names the bad segment and the valid choices there.
func Lookup(r *Report, path string) (PathValue, error) {
	arms, phases := armsAndPhases(r)
	n, err := pathTree(arms, phases).lookup(path)
	if err != nil {
		return PathValue{}, err
	}
	return valueAt(r, path, n), nil
}

// PathKind returns the Kind of the value at path in a run with these arms
// and phases, or an error naming the bad part of the path.
func PathKind(path string, arms, phases []string) (string, error) {
	n, err := pathTree(arms, phases).lookup(path)
	if err != nil {
		return "", err
	}
	return kindNames[n.kind], nil
}

func valueAt(r *Report, path string, n *pathNode) PathValue {
	v := PathValue{Path: path, Kind: kindNames[n.kind]}
	x, err := n.get(r)
	var nd errNoData
	switch {
	case errors.As(err, &nd):
		v.NoData = nd.why
	case err != nil:
		v.NoData = err.Error()
	default:
		v.Value = x
	}
	return v
}

// FormatKind formats x, a value of the given kind in the report's unit, the
// way PathValue.String does.
func FormatKind(x float64, kind string) string {
	return PathValue{Kind: kind, Value: x}.String()
}
