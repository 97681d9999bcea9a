package reports

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// GRPCOtherMethod is the upstreams[…].grpc key of the calls to methods
// beyond the first 256 a gRPC upstream saw.
const GRPCOtherMethod = "(other)"

// grpcMethodRE is a full gRPC method name, /package.Service/Method, and
// grpcCodeRE a status code's canonical name or, for a code without one,
// its number.
var (
	grpcMethodRE = regexp.MustCompile(`^/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	grpcCodeRE   = regexp.MustCompile(`^(OK|CANCELLED|UNKNOWN|INVALID_ARGUMENT|DEADLINE_EXCEEDED|NOT_FOUND|ALREADY_EXISTS|PERMISSION_DENIED|RESOURCE_EXHAUSTED|FAILED_PRECONDITION|ABORTED|OUT_OF_RANGE|UNIMPLEMENTED|INTERNAL|UNAVAILABLE|DATA_LOSS|UNAUTHENTICATED|[0-9]{1,10})$`)
)

// FieldError is a report that breaks a rule of the contract: the field,
// by its JSON path (shard.count, arms[1].series[3].t_s), and what is wrong
// with its value.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// Validate checks r against the rules of the report's JSON Schema
// (reports/schema: ranges, patterns, enumerations, and the arrays and
// objects that hold the data present) and the invariants of the run that
// wrote it: shard index
// below the shard count and the count at most MaxShards, a schedule of 1 to
// MaxPhases increasing phases within MaxScheduleS, arms named once and
// listed in config.arms, seconds in order within the schedule, /api slots
// of a width that divides a second, outcomes that add up to the requests
// and seconds that add up to the phase summaries, counts and their sums at
// most MaxCount. It is what ReadJSON checks. The
// error names the first field that breaks a rule, and how many more do
// when more than one does; it is a *FieldError but for a name or
// enumerated value that could smuggle markup into the renderers, checked
// first.
func Validate(r *Report) error {
	// Names first: they are what a hostile file would use to smuggle
	// markup into the renderers.
	if err := checkContract(r); err != nil {
		return err
	}
	v := &validator{root: schemaRoot()}
	v.shards(r) // the whole range in words, before the schema's minimum
	if v.first == nil {
		v.walk(v.root, reflect.ValueOf(r).Elem())
	}
	if v.first == nil {
		v.invariants(r)
	}
	if v.first == nil {
		return nil
	}
	if v.more > 0 {
		return &FieldError{Path: v.first.Path, Msg: fmt.Sprintf("%s (and %d more)", v.first.Msg, v.more)}
	}
	return v.first
}

// invariants checks what the schema cannot say: the rules every report a
// run writes keeps, which merge, compare and the renderers rely on.
func (v *validator) invariants(r *Report) {
	v.path = v.path[:0]
	if r.Validity == nil && r.UpgradedFrom == "" {
		v.failAt("validity", "missing or null; want an object")
	}
	if t := r.Trials; t != nil && (t.N > MaxTrials || len(t.Order) > MaxTrials*MaxArms || len(t.Outcomes) > t.N || len(t.Arms) > MaxArms) {
		v.failAt("trials", "%d trials of %d arms, %d outcomes, %d runs: want at most %d trials of at most %d arms, an outcome per trial", t.N, len(t.Arms), len(t.Outcomes), len(t.Order), MaxTrials, MaxArms)
	}
	switch n := len(r.Config.Arms); {
	case n < 1 || n > MaxArms:
		v.failAt("config.arms", "%d arms: want 1..%d", n, MaxArms)
	default:
		seen := map[string]bool{}
		for i, a := range r.Config.Arms {
			if seen[a] {
				v.failAt(fmt.Sprintf("config.arms[%d]", i), "%s: named twice; want each arm once", shortQuote(a))
			}
			seen[a] = true
		}
	}
	end := v.phases(r.Phases)
	if v.first != nil {
		return // the arms are checked against the schedule
	}
	names := map[string]bool{}
	for i := range r.Arms {
		a := &r.Arms[i]
		at := fmt.Sprintf("arms[%d]", i)
		if names[a.Name] {
			v.failAt(at+".name", "%s: a second arm of that name; want each arm once", shortQuote(a.Name))
		} else if !slices.Contains(r.Config.Arms, a.Name) {
			v.failAt(at+".name", "%s: not in config.arms", shortQuote(a.Name))
		}
		names[a.Name] = true
		v.arm(r, a, at, end)
		if v.first != nil {
			return
		}
	}
}

// shards checks a shard's index and count, and a merged report's shards.
func (v *validator) shards(r *Report) {
	if s := r.Shard; s != nil {
		switch {
		case s.Count < 1 || s.Count > MaxShards:
			v.failAt("shard.count", "%d: want 1..%d", s.Count, MaxShards)
		case s.Index < 0 || s.Index >= s.Count:
			v.failAt("shard.index", "%d: want 0..%d, below the count %d", s.Index, s.Count-1, s.Count)
		}
	}
	if m := r.Merge; m != nil {
		v.merge(r, m)
	}
}

// merge checks a merged report's shard list: every index below the count
// once, given or missing.
func (v *validator) merge(r *Report, m *Merge) {
	switch {
	case r.Shard != nil:
		v.failAt("merge", "a report has shard or merge, not both")
		return
	case m.Count < 1 || m.Count > MaxShards:
		v.failAt("merge.count", "%d: want 1..%d", m.Count, MaxShards)
		return
	case len(m.Shards)+len(m.Missing) != m.Count:
		v.failAt("merge", "%d shards merged and %d missing: want the %d of the count", len(m.Shards), len(m.Missing), m.Count)
		return
	}
	seen := make([]bool, m.Count)
	check := func(at string, idx int) {
		switch {
		case idx < 0 || idx >= m.Count:
			v.failAt(at, "index %d: want 0..%d", idx, m.Count-1)
		case seen[idx]:
			v.failAt(at, "index %d: listed twice; want each shard once", idx)
		default:
			seen[idx] = true
		}
	}
	for i, s := range m.Shards {
		check(fmt.Sprintf("merge.shards[%d].index", i), s.Index)
	}
	for i, idx := range m.Missing {
		check(fmt.Sprintf("merge.missing[%d]", i), idx)
	}
}

// phases checks the schedule and returns its end in seconds.
func (v *validator) phases(ps []Phase) float64 {
	if len(ps) < 1 || len(ps) > MaxPhases {
		v.failAt("phases", "%d phases: want 1..%d", len(ps), MaxPhases)
		return 0
	}
	seen := map[string]bool{}
	prev := 0.0
	for i, p := range ps {
		at := fmt.Sprintf("phases[%d]", i)
		switch {
		case seen[p.Name]:
			v.failAt(at+".name", "%s: a second phase of that name; want each phase once", shortQuote(p.Name))
		case p.StartS < prev:
			v.failAt(at+".start_s", "%s: before the end of the phase before it (%s); want phases in order", fmtNum(p.StartS), fmtNum(prev))
		case !(p.EndS >= p.StartS && p.EndS <= MaxScheduleS):
			v.failAt(at+".end_s", "%s: want %s..%d, from the phase's start to the limit of a schedule", fmtNum(p.EndS), fmtNum(p.StartS), MaxScheduleS)
		}
		seen[p.Name] = true
		prev = max(prev, p.EndS)
	}
	return prev
}

// arm checks one arm, at path at, against the schedule, which ends at end
// seconds.
func (v *validator) arm(r *Report, a *Arm, at string, end float64) {
	phase := map[string]bool{}
	for _, p := range r.Phases {
		phase[p.Name] = true
	}
	for _, k := range slices.Sorted(maps.Keys(a.Summary)) {
		if !phase[k] {
			v.failAt(at+".summary["+shortQuote(k)+"]", "no phase of that name")
		}
	}
	if n := len(a.Transitions) + len(a.LowerTierTransitions); n > MaxTransitions {
		v.failAt(at+".transitions", "%d transitions: want at most %d", n, MaxTransitions)
	}
	v.grpcCalls(a, at)
	if a.Load == nil && r.UpgradedFrom == "" {
		v.failAt(at+".load_generator", "missing or null; want an object")
	}
	// Seconds: in order, within the schedule (requests completing after
	// its end count in its last second).
	lastT := int(math.Ceil(end))
	var sums counter
	prev := -1
	for i := range a.Series {
		s := &a.Series[i]
		si := fmt.Sprintf("%s.series[%d]", at, i)
		switch {
		case s.T <= prev:
			v.failAt(si+".t_s", "%d: not after the second before it (%d); want seconds in order, each once", s.T, prev)
		case s.T > lastT:
			v.failAt(si+".t_s", "%d: after the schedule's end at %s s", s.T, fmtNum(end))
		case s.Phase != "" && !phase[s.Phase]:
			v.failAt(si+".phase", "%s: no phase of that name", shortQuote(s.Phase))
		}
		prev = s.T
		for _, b := range []struct {
			name string
			b    *Bucket
		}{{"api", &s.API}, {"collateral", &s.Collateral}} {
			if t := b.b.Outcomes.Total(); t != b.b.Requests && r.UpgradedFrom == "" {
				v.failAt(si+"."+b.name+".requests", "%d, but its outcomes add up to %d", b.b.Requests, t)
			}
		}
		sums.add(v, si, reflect.ValueOf(s).Elem())
		if v.first != nil {
			return
		}
	}
	// The seconds are the raw data, the summaries what they add up to:
	// seconds emptied or cut would be data lost without a word.
	if r.UpgradedFrom == "" {
		var inSeries, inSummary [2]int64
		for i := range a.Series {
			inSeries[0] += a.Series[i].API.Requests
			inSeries[1] += a.Series[i].Collateral.Requests
		}
		for _, ps := range a.Summary {
			inSummary[0] += ps.API.Requests
			inSummary[1] += ps.Collateral.Requests
		}
		if inSeries != inSummary {
			v.failAt(at+".series", "its seconds hold %d /api and %d collateral requests, its summary %d and %d; want the same", inSeries[0], inSeries[1], inSummary[0], inSummary[1])
			return
		}
	}
	sl := a.APISlots
	if sl == nil {
		return
	}
	maxSlots := int(math.Ceil(end*1000/float64(max(sl.WidthMS, 1)))) + MaxSlotMS
	switch {
	case sl.WidthMS < MinSlotMS || sl.WidthMS > MaxSlotMS || 1000%sl.WidthMS != 0:
		v.failAt(at+".api_slots.width_ms", "%d: want %d..%d ms, dividing a second", sl.WidthMS, MinSlotMS, MaxSlotMS)
	case len(sl.OK) != len(sl.N):
		v.failAt(at+".api_slots", "%d ok counts and %d n counts: want one of each per slot", len(sl.OK), len(sl.N))
	case len(sl.N) > maxSlots:
		v.failAt(at+".api_slots.n", "%d slots of %d ms: more than the schedule of %s s holds", len(sl.N), sl.WidthMS, fmtNum(end))
	default:
		var total int64
		for i := range sl.N {
			if sl.OK[i] > sl.N[i] {
				v.failAt(fmt.Sprintf("%s.api_slots.ok[%d]", at, i), "%d: more than the %d completions of its slot", sl.OK[i], sl.N[i])
				return
			}
			if total += sl.N[i]; total > MaxCount {
				v.failAt(fmt.Sprintf("%s.api_slots.n[%d]", at, i), "the slots add up to more than %d", int64(MaxCount))
				return
			}
		}
	}
}

// counter sums the integer fields of an arm's seconds, by field, to hold
// each sum to MaxCount.
type counter struct {
	sums map[string]int64
}

// add adds the integers of the struct sv (a Second, at path at) and fails
// at the field whose sum passes MaxCount.
func (c *counter) add(v *validator, at string, sv reflect.Value) {
	if c.sums == nil {
		c.sums = map[string]int64{}
	}
	var walk func(rv reflect.Value, key string)
	walk = func(rv reflect.Value, key string) {
		switch rv.Kind() {
		case reflect.Pointer:
			if !rv.IsNil() {
				walk(rv.Elem(), key)
			}
		case reflect.Struct:
			for i := range rv.NumField() {
				name, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("json"), ",")
				if name == "" || name == "-" {
					continue
				}
				walk(rv.Field(i), key+"."+name)
			}
		case reflect.Int, reflect.Int64:
			x := rv.Int()
			if x <= 0 || strings.HasSuffix(key, ".sum_ns") || strings.HasSuffix(key, ".max_us") {
				return // a sum of nanoseconds or a maximum, not a count
			}
			if c.sums[key] += x; c.sums[key] > MaxCount {
				v.failAt(at+key, "%d: the arm's seconds add up to more than %d", x, int64(MaxCount))
				c.sums[key] = math.MinInt64 / 2 // report it once
			}
		}
	}
	walk(sv, "")
}

// grpcCalls checks each gRPC upstream's calls by method and status code:
// at most MaxGRPCMethods methods, each a full method name (or
// GRPCOtherMethod) of at most MaxGRPCMethodLen bytes, each counted by
// status code names. It reports the first field that breaks a rule.
func (v *validator) grpcCalls(a *Arm, at string) {
	for _, phase := range slices.Sorted(maps.Keys(a.Summary)) {
		ups := a.Summary[phase].Upstreams
		for _, up := range slices.Sorted(maps.Keys(ups)) {
			calls := ups[up].GRPC
			field := at + ".summary" + pathKey(phase) + ".upstreams" + pathKey(up) + ".grpc"
			if len(calls) > MaxGRPCMethods {
				v.failAt(field, "%d methods: want at most %d (256 by name, the rest as %q)", len(calls), MaxGRPCMethods, GRPCOtherMethod)
				return
			}
			for _, m := range slices.Sorted(maps.Keys(calls)) {
				if m != GRPCOtherMethod && (len(m) > MaxGRPCMethodLen || !grpcMethodRE.MatchString(m)) {
					v.failAt(field, "method %s: want a full method name like /package.Service/Method (letters, digits, _ . -; at most %d bytes) or %q", shortQuote(m), MaxGRPCMethodLen, GRPCOtherMethod)
					return
				}
				for _, c := range slices.Sorted(maps.Keys(calls[m])) {
					if !grpcCodeRE.MatchString(c) {
						v.failAt(field+pathKey(m), "status code %s: want a gRPC code name like OK or UNAVAILABLE, or a number", shortQuote(c))
						return
					}
				}
			}
		}
	}
}

// pathKey formats a map key of a field's path as pathString does.
func pathKey(k string) string {
	if nameRE.MatchString(k) {
		return "." + k
	}
	return "[" + shortQuote(k) + "]"
}
