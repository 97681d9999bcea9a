package reports

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// This file is the tree of a report's values by path, built from the
// catalogue's tables (catalogue.go, catalogue_run.go): thresholds,
// `cbload compare` and the reference page read it, so that every value has
// one name, one unit and one getter wherever it is read.

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

// kinds lists every Kind constant.
var kinds = []string{KindNumber, KindCount, KindRatio, KindMS, KindSeconds, KindBool, KindOutcome}

// durationKind reports whether k is a duration.
func durationKind(k string) bool { return k == KindMS || k == KindSeconds }

// kindName says what a value of kind k is, in words.
func kindName(k string) string {
	switch k {
	case KindCount:
		return "a count"
	case KindRatio:
		return "a ratio"
	case KindMS, KindSeconds:
		return "a duration"
	case KindBool:
		return "true/false"
	case KindOutcome:
		return "an outcome"
	}
	return "a number"
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
	x := v.Value
	if v.Kind == KindMS {
		x /= 1000 // formatValue takes durations in seconds
	}
	return formatValue(x, v.Kind)
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
	return n.kind, nil
}

func valueAt(r *Report, path string, n *pathNode) PathValue {
	v := PathValue{Path: path, Kind: n.kind}
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

// formatValue formats v, a value of kind unit with durations in seconds.
func formatValue(v float64, unit string) string {
	if math.Abs(v) >= 1e15 {
		return strconv.FormatFloat(v, 'g', 6, 64) // not hundreds of digits
	}
	switch unit {
	case KindRatio:
		return strconv.FormatFloat(v*100, 'f', 2, 64) + "%"
	case KindMS:
		return strconv.FormatFloat(v*1000, 'f', 1, 64) + "ms"
	case KindSeconds:
		return strconv.FormatFloat(v, 'f', 3, 64) + "s"
	case KindBool:
		return strconv.FormatBool(v != 0)
	case KindOutcome:
		if i := int(v); i >= 0 && i < len(outcomes) {
			return outcomes[i]
		}
		return "?"
	case KindCount:
		if v == math.Trunc(v) {
			return strconv.FormatFloat(v, 'f', 0, 64)
		}
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// FormatKind formats x, a value of the given kind in the report's unit, the
// way PathValue.String does.
func FormatKind(x float64, kind string) string {
	return PathValue{Kind: kind, Value: x}.String()
}

// pathNode is one segment of the tree of values a threshold may name.
type pathNode struct {
	name     string
	children []*pathNode
	kind     string
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

var timeoutAtLeaves = []struct {
	name string
	get  func(t TimeoutAt) int64
}{
	{"load_runner", func(t TimeoutAt) int64 { return t.LoadRunner }},
	{"upstream_call", func(t TimeoutAt) int64 { return t.UpstreamCall }},
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

// worstRun returns the worst value of a figure over an arm's trials (the
// arm's own figure when it ran once); a figure that never happened in some
// trial is no data.
func worstRun(r *Report, a *Arm, worse int, get func(f *Figures) (float64, error)) (float64, error) {
	ta := r.Trials.TrialArm(a.Name)
	if ta == nil {
		return get(&a.Figures)
	}
	var w float64
	for i := range ta.Runs {
		v, err := get(&ta.Runs[i])
		if err != nil {
			return 0, errNoData{fmt.Sprintf("%s in trial %d", err, i+1)}
		}
		if i == 0 || float64(worse)*(v-w) > 0 {
			w = v
		}
	}
	return w, nil
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

// pathTree builds the tree of values for a run with these arms and phases
// from the catalogue: per arm, each phase's endpoint rows (endpointRows)
// and PhaseValues, the figures and the worst trial's figures (Catalogue);
// then RunValues.
func pathTree(arms, phases []string) *pathNode {
	root := &pathNode{}
	endpoint := endpointRows()
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
			summary := func(r *Report) (*PhaseSummary, error) {
				arm, err := armOf(r)
				if err != nil {
					return nil, err
				}
				s, ok := arm.Summary[phName]
				if !ok {
					return nil, errNoData{"arm " + armName + " has no phase " + phName}
				}
				return &s, nil
			}
			for _, ep := range []string{"api", "collateral"} {
				e := ph.add(&pathNode{name: ep})
				for _, v := range endpoint {
					e.addPath(v.Name, v.Kind, func(r *Report) (float64, error) {
						s, err := summary(r)
						if err != nil {
							return 0, err
						}
						if v.V1 != "" {
							if err := notInV1(r, v.V1); err != nil {
								return 0, err
							}
						}
						if ep == "api" {
							return v.Get(&s.API), nil
						}
						return v.Get(&s.Collateral), nil
					})
				}
				sc := e.child("status_codes")
				sc.dynamicName = "<code>"
				sc.dynamic = func(code string) *pathNode {
					if n, err := strconv.Atoi(code); err != nil || n < 0 || n > 999 || strconv.Itoa(n) != code {
						return nil
					}
					return &pathNode{name: code, kind: KindCount, get: func(r *Report) (float64, error) {
						s, err := summary(r)
						if err == nil {
							err = notInV1(r, "status codes")
						}
						if err != nil {
							return 0, err
						}
						if ep == "api" {
							return float64(s.API.StatusCodes[code]), nil
						}
						return float64(s.Collateral.StatusCodes[code]), nil
					}}
				}
			}
			for _, v := range PhaseValues {
				ph.addPath(v.Name, v.Kind, func(r *Report) (float64, error) {
					s, err := summary(r)
					if err != nil {
						return 0, err
					}
					return v.Get(r, s)
				})
			}
		}
		fig := a.add(&pathNode{name: "figures"})
		for _, f := range Catalogue {
			n := fig.addPath(f.Name, f.Kind, func(r *Report) (float64, error) {
				arm, err := armOf(r)
				if err != nil {
					return 0, err
				}
				if f.Breaker && arm.BreakerFigures == BreakerUnknown {
					return 0, errNoData{"breaker state is not observable"}
				}
				return f.Get(&arm.Figures)
			})
			if f.Breaker {
				n.inferred = func(r *Report) bool {
					arm, err := armOf(r)
					return err == nil && arm.BreakerFigures == BreakerInferred
				}
			}
		}
		worst := a.add(&pathNode{name: "worst"})
		for _, f := range Catalogue {
			worst.addPath(f.Name, f.Kind, func(r *Report) (float64, error) {
				arm, err := armOf(r)
				if err != nil {
					return 0, err
				}
				return worstRun(r, arm, f.Worse, f.Get)
			})
		}
	}
	// Each run of consecutive per-arm rows is added for one policy arm
	// after another.
	var policyArms []string
	for _, a := range arms {
		if a != ArmBreaker && a != ArmNoBreaker {
			policyArms = append(policyArms, a)
		}
	}
	for i := 0; i < len(RunValues); {
		if !RunValues[i].PerArm() {
			v := RunValues[i]
			root.addPath(v.Path, v.Kind, func(r *Report) (float64, error) { return v.Get(r, "") })
			i++
			continue
		}
		j := i
		for j < len(RunValues) && RunValues[j].PerArm() {
			j++
		}
		for _, arm := range policyArms {
			for _, v := range RunValues[i:j] {
				root.addPath(strings.Replace(v.Path, "<arm>", arm, 1), v.Kind, func(r *Report) (float64, error) { return v.Get(r, arm) })
			}
		}
		i = j
	}
	return root
}

// addPath adds a leaf at the dotted path below n, with the groups on the
// way made as needed, and returns it.
func (n *pathNode) addPath(path, kind string, get func(r *Report) (float64, error)) *pathNode {
	segs := strings.Split(path, ".")
	cur := n
	for _, s := range segs[:len(segs)-1] {
		next := cur.child(s)
		if next == nil {
			next = cur.add(&pathNode{name: s})
		}
		cur = next
	}
	return cur.add(&pathNode{name: segs[len(segs)-1], kind: kind, get: get})
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
