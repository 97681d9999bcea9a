package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// schemaNode is the subset of JSON Schema that report.v2.schema.json uses.
type schemaNode struct {
	Ref                  string                 `json:"$ref"`
	Type                 any                    `json:"type"` // a string or a list of strings
	Const                any                    `json:"const"`
	Enum                 []any                  `json:"enum"`
	Required             []string               `json:"required"`
	Properties           map[string]*schemaNode `json:"properties"`
	AdditionalProperties *schemaNode            `json:"additionalProperties"`
	Items                *schemaNode            `json:"items"`
	Minimum              *float64               `json:"minimum"`
	Maximum              *float64               `json:"maximum"`
	MaxItems             *int                   `json:"maxItems"`
	Pattern              string                 `json:"pattern"`
	Defs                 map[string]*schemaNode `json:"$defs"`

	re *regexp.Regexp
}

// schemaRoot is JSONSchema, parsed once.
var schemaRoot = sync.OnceValue(func() *schemaNode {
	var s schemaNode
	if err := json.NewDecoder(bytes.NewReader(JSONSchema)).Decode(&s); err != nil {
		panic(fmt.Sprintf("reports: the embedded JSON Schema does not parse: %v", err))
	}
	var compile func(n *schemaNode)
	compile = func(n *schemaNode) {
		if n == nil {
			return
		}
		if n.Pattern != "" {
			n.re = regexp.MustCompile(n.Pattern)
		}
		for _, c := range n.Properties {
			compile(c)
		}
		for _, c := range n.Defs {
			compile(c)
		}
		compile(n.AdditionalProperties)
		compile(n.Items)
	}
	compile(&s)
	return &s
})

// nullable reports whether n allows null.
func (n *schemaNode) nullable() bool {
	if l, ok := n.Type.([]any); ok {
		return slices.Contains(l, any("null"))
	}
	return false
}

// pathStep is one step of a JSON path: a field name, or an index when key
// is empty.
type pathStep struct {
	key string
	idx int
}

// validator walks a report, keeping the path it is at and the first error.
type validator struct {
	root  *schemaNode
	path  []pathStep
	first *FieldError
	more  int
}

func (v *validator) push(key string) { v.path = append(v.path, pathStep{key: key}) }
func (v *validator) pushIdx(i int)   { v.path = append(v.path, pathStep{idx: i}) }
func (v *validator) pop()            { v.path = v.path[:len(v.path)-1] }

// enter pushes the steps of path (strings are fields, ints indexes) and
// returns the func that pops them.
func (v *validator) enter(path ...any) func() {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			v.push(p)
		case int:
			v.pushIdx(p)
		}
	}
	return func() { v.path = v.path[:len(v.path)-len(path)] }
}

// pathString formats the current path like shard.count or arms[1].name.
func (v *validator) pathString() string {
	var b strings.Builder
	for _, s := range v.path {
		switch {
		case s.key == "":
			fmt.Fprintf(&b, "[%d]", s.idx)
		case nameRE.MatchString(s.key) || strings.HasPrefix(s.key, "{"):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
		default: // a map key from the file
			b.WriteString("[" + shortQuote(s.key) + "]")
		}
	}
	if b.Len() == 0 {
		return "the report"
	}
	return b.String()
}

// failf records a rule broken at the current path.
func (v *validator) failf(format string, args ...any) {
	if v.first != nil {
		v.more++
		return
	}
	v.first = &FieldError{Path: v.pathString(), Msg: fmt.Sprintf(format, args...)}
}

var timeType = reflect.TypeFor[time.Time]()

// dataFields are the required arrays and objects that hold a run's data:
// null in one of them is data lost, where merge would merge the rest and
// the renderers show nothing. Other required arrays (a verdict's reasons,
// an error set) may be null in a report an older cbload wrote, or one cut
// short, and read as empty.
var dataFields = map[string]bool{"phases": true, "arms": true, "series": true, "summary": true}

// walk checks rv against the schema node n.
func (v *validator) walk(n *schemaNode, rv reflect.Value) {
	for n.Ref != "" {
		name, ok := strings.CutPrefix(n.Ref, "#/$defs/")
		if !ok || v.root.Defs[name] == nil {
			panic("reports: unresolvable $ref " + n.Ref)
		}
		n = v.root.Defs[name]
	}
	switch rv.Kind() {
	case reflect.Pointer:
		if !rv.IsNil() {
			v.walk(n, rv.Elem())
		}
	case reflect.Struct:
		if rv.Type() == timeType {
			return
		}
		for i := range rv.NumField() {
			f := rv.Type().Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			p := n.Properties[name]
			if name == "" || name == "-" || p == nil {
				continue
			}
			fv := rv.Field(i)
			if (strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")) && fv.IsZero() {
				continue // absent from the file
			}
			v.push(name)
			switch {
			case fv.Kind() == reflect.Pointer || fv.Kind() == reflect.Slice || fv.Kind() == reflect.Map:
				if !fv.IsNil() {
					v.walk(p, fv)
				} else if dataFields[name] && slices.Contains(n.Required, name) && !p.nullable() && fv.Kind() != reflect.Pointer {
					v.failf("missing or null; want %s", schemaKind(v.root, p))
				}
			default:
				v.walk(p, fv)
			}
			v.pop()
		}
	case reflect.Slice:
		if n.MaxItems != nil && rv.Len() > *n.MaxItems {
			v.failf("%d items; want at most %d", rv.Len(), *n.MaxItems)
		}
		if n.Items == nil {
			return
		}
		for i := range rv.Len() {
			v.pushIdx(i)
			v.walk(n.Items, rv.Index(i))
			v.pop()
		}
	case reflect.Map:
		if n.AdditionalProperties == nil {
			return
		}
		keys := rv.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			v.push(k.String())
			v.walk(n.AdditionalProperties, rv.MapIndex(k))
			v.pop()
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.Minimum == nil && n.Maximum == nil {
			return // a seed, or a duration (a string on the wire)
		}
		x := rv.Int()
		v.number(n, float64(x))
		if x > MaxCount && v.path[len(v.path)-1].key != "sum_ns" { // a sum of nanoseconds is no count
			v.failf("%d: want at most %d", x, int64(MaxCount))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.number(n, float64(rv.Uint()))
	case reflect.Float32, reflect.Float64:
		v.number(n, rv.Float())
	case reflect.String:
		s := rv.String()
		if s == "" && n.Enum != nil && v.pathString() == "verdict.outcome" {
			return // absent in a report cut short
		}
		switch {
		case n.Const != nil && fmt.Sprint(n.Const) != s:
			v.failf("%s: want %v", shortQuote(s), n.Const)
		case n.Enum != nil && !slices.ContainsFunc(n.Enum, func(e any) bool { return fmt.Sprint(e) == s }):
			var names []string
			for _, e := range n.Enum {
				names = append(names, fmt.Sprint(e))
			}
			v.failf("%s: want one of %s", shortQuote(s), strings.Join(names, ", "))
		case n.re != nil && !n.re.MatchString(s):
			v.failf("%s: does not match %s", shortQuote(s), n.Pattern)
		}
	}
}

// number checks x against n's minimum and maximum.
func (v *validator) number(n *schemaNode, x float64) {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		v.failf("%v: want a finite number", x)
	case n.Minimum != nil && x < *n.Minimum:
		v.failf("%s: want at least %s", fmtNum(x), fmtNum(*n.Minimum))
	case n.Maximum != nil && x > *n.Maximum:
		v.failf("%s: want at most %s", fmtNum(x), fmtNum(*n.Maximum))
	}
}

func fmtNum(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// schemaKind names what n wants, for "missing or null" messages.
func schemaKind(root *schemaNode, n *schemaNode) string {
	for n.Ref != "" {
		n = root.Defs[strings.TrimPrefix(n.Ref, "#/$defs/")]
	}
	switch t, _ := n.Type.(string); t {
	case "array":
		return "an array"
	case "object":
		return "an object"
	case "":
		return "a value"
	default:
		return "a " + t
	}
}

// failAt records a rule broken at rel, a path below the current one
// ("count", "[3].t_s").
func (v *validator) failAt(rel string, format string, args ...any) {
	if v.first != nil {
		v.more++
		return
	}
	v.failf(format, args...)
	switch p := v.first.Path; {
	case p == "the report":
		v.first.Path = strings.TrimPrefix(rel, ".")
	case strings.HasPrefix(rel, "["):
		v.first.Path = p + rel
	case rel != "":
		v.first.Path = p + "." + rel
	}
}
