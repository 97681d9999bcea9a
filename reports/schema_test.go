package reports_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cbload/cbload/reports"
)

// schemaNode is the subset of JSON Schema that report.v1.schema.json uses.
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
	Pattern              string                 `json:"pattern"`
	Defs                 map[string]*schemaNode `json:"$defs"`
}

func loadSchema(t *testing.T) *schemaNode {
	t.Helper()
	return parseSchema(t, reports.JSONSchema)
}

func parseSchema(t *testing.T, doc []byte) *schemaNode {
	t.Helper()
	var s schemaNode
	dec := json.NewDecoder(bytes.NewReader(doc))
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("parse the embedded JSON Schema: %v", err)
	}
	return &s
}

// validate checks v (decoded with UseNumber) against n and returns every
// violation with its JSON path.
func validate(root, n *schemaNode, v any, path string) []string {
	if n.Ref != "" {
		name, ok := strings.CutPrefix(n.Ref, "#/$defs/")
		if !ok || root.Defs[name] == nil {
			return []string{fmt.Sprintf("%s: unresolvable $ref %q", path, n.Ref)}
		}
		return validate(root, root.Defs[name], v, path)
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	if n.Const != nil && fmt.Sprint(n.Const) != fmt.Sprint(v) {
		fail("want %v, got %v", n.Const, v)
	}
	if n.Enum != nil && !slices.ContainsFunc(n.Enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		fail("%v is not one of %v", v, n.Enum)
	}
	if n.Type != nil {
		var types []string
		switch ty := n.Type.(type) {
		case string:
			types = []string{ty}
		case []any:
			for _, x := range ty {
				types = append(types, x.(string))
			}
		}
		if !slices.ContainsFunc(types, func(ty string) bool { return hasType(v, ty) }) {
			fail("want type %v, got %T %v", types, v, v)
			return errs
		}
	}
	switch x := v.(type) {
	case map[string]any:
		for _, k := range n.Required {
			if _, ok := x[k]; !ok {
				fail("missing required %q", k)
			}
		}
		for k, val := range x {
			if p, ok := n.Properties[k]; ok {
				errs = append(errs, validate(root, p, val, path+"."+k)...)
			} else if n.AdditionalProperties != nil {
				errs = append(errs, validate(root, n.AdditionalProperties, val, path+"."+k)...)
			}
		}
	case []any:
		if n.Items != nil {
			for i, val := range x {
				errs = append(errs, validate(root, n.Items, val, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	case json.Number:
		f, _ := x.Float64()
		if n.Minimum != nil && f < *n.Minimum {
			fail("%v is below the minimum %v", f, *n.Minimum)
		}
		if n.Maximum != nil && f > *n.Maximum {
			fail("%v is above the maximum %v", f, *n.Maximum)
		}
	case string:
		if n.Pattern != "" && !regexp.MustCompile(n.Pattern).MatchString(x) {
			fail("%q does not match %s", x, n.Pattern)
		}
	}
	return errs
}

func hasType(v any, ty string) bool {
	switch ty {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		if _, err := n.Int64(); err == nil {
			return true
		}
		f, err := n.Float64()
		return err == nil && f == math.Trunc(f)
	}
	return false
}

func validateReport(t *testing.T, r *reports.Report) {
	t.Helper()
	var b bytes.Buffer
	if err := reports.WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var v any
	dec := json.NewDecoder(&b)
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	root := loadSchema(t)
	for _, e := range validate(root, root, v, "$") {
		t.Error(e)
	}
}

func TestSampleMatchesSchema(t *testing.T) {
	validateReport(t, sample(t))
}

func TestFullReportMatchesSchema(t *testing.T) {
	r := sample(t)
	r.Partial, r.PartialReason = true, "interrupted"
	r.Config.Upstream.Addr = "127.0.0.1:9999"
	r.Config.Targets = []reports.Target{{Name: "api", URL: "http://127.0.0.1:8080/api"}}
	r.Thresholds = []reports.ThresholdResult{{Expr: "collateral.success>=0.99", Value: 1, Measured: "100.0%", Pass: true, Message: "ok"}}
	r.Tracing = &reports.Tracing{Enabled: true, Endpoint: "http://127.0.0.1:4318", Protocol: "http/protobuf", Sampler: "parentbased_traceidratio", SamplerArg: 0.1, SpansExported: 10, SpansDropped: 1, JaegerURL: "http://127.0.0.1:16686"}
	r.Arms[0].Exemplars = []reports.Exemplar{{Phase: "fault", Kind: "first_rejection", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", URL: "http://127.0.0.1:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736"}}
	r.Arms[0].Notes = []string{"a note"}
	r.Arms[0].SuspectOK = new(int64(3))
	r.Verdict.Arms = []reports.ArmVerdict{{Arm: "breaker", Outcome: reports.OutcomePrevented, CascadePrevented: true, Summary: "s"}}
	r.Verdict.Outcome = reports.OutcomeHeld
	r.Verdict.Steady = &reports.SteadyState{Arm: "api", Contained: reports.SteadyCheck{Finding: "no collateral endpoint"},
		Shed: reports.SteadyCheck{Judged: true, Held: true, Finding: "f"}, FailedFast: reports.SteadyCheck{Judged: true, Finding: "f"}, Recovered: reports.SteadyCheck{Judged: true, Held: true, Finding: "f"}}
	validateReport(t, r)
}

// The v1 schema stays in the repository, and v1 reports still match it.
func TestV1SampleMatchesV1Schema(t *testing.T) {
	raw, err := os.ReadFile("testdata/report.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	root := parseSchema(t, reports.JSONSchemaV1)
	for _, e := range validate(root, root, v, "$") {
		t.Error(e)
	}
}

func TestInvalidSampleMatchesSchema(t *testing.T) {
	validateReport(t, invalidSample(t))
}

func TestSchemaRejects(t *testing.T) {
	root := loadSchema(t)
	tests := []struct {
		name, doc, want string
	}{
		{"other version", `{"schema": "cbload/report/v1"}`, "$.schema: want cbload/report/v2"},
		{"missing arms", `{"schema": "cbload/report/v2"}`, `$: missing required "arms"`},
		{"missing validity", `{"schema": "cbload/report/v2"}`, `$: missing required "validity"`},
		{"unknown check", `{"validity": {"valid": false, "checks": [{"name": "vibes"}]}}`, "$.validity.checks[0].name: vibes is not one of"},
		{"bad outcome", `{"verdict": {"outcome": "great"}}`, "$.verdict.outcome: great is not one of"},
		{"ratio above 1", `{"arms": [{"figures": {"collateral_success_during_fault": 1.5}}]}`, "$.arms[0].figures.collateral_success_during_fault: 1.5 is above the maximum 1"},
		{"numeric duration", `{"config": {"call_timeout": 500}}`, "$.config.call_timeout: want type [string]"},
		{"bad state", `{"arms": [{"transitions": [{"t_s": 1, "from": "closed", "to": "ajar"}]}]}`, "$.arms[0].transitions[0].to: ajar is not one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			dec := json.NewDecoder(strings.NewReader(tt.doc))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			errs := validate(root, root, v, "$")
			if !slices.ContainsFunc(errs, func(e string) bool { return strings.HasPrefix(e, tt.want) }) {
				t.Errorf("validate(%s) = %q; want an error starting %q", tt.doc, errs, tt.want)
			}
		})
	}
}

// TestSchemaCoversReport keeps the schema and the Go types in step: every
// object in the schema lists exactly the JSON fields of its Go type.
func TestSchemaCoversReport(t *testing.T) {
	root := loadSchema(t)
	seen := map[reflect.Type]bool{}
	var walk func(rt reflect.Type, n *schemaNode, path string)
	walk = func(rt reflect.Type, n *schemaNode, path string) {
		for n.Ref != "" {
			n = root.Defs[strings.TrimPrefix(n.Ref, "#/$defs/")]
		}
		for rt.Kind() == reflect.Pointer || rt.Kind() == reflect.Slice {
			rt = rt.Elem()
			if n.Items != nil {
				n = n.Items
				for n.Ref != "" {
					n = root.Defs[strings.TrimPrefix(n.Ref, "#/$defs/")]
				}
			}
		}
		if rt.Kind() == reflect.Map {
			walk(rt.Elem(), n.AdditionalProperties, path+"{}")
			return
		}
		// A type with its own JSON encoding (Histogram) is checked against
		// its wire form by its own tests.
		if rt.Kind() != reflect.Struct || rt == reflect.TypeFor[time.Time]() || reflect.PointerTo(rt).Implements(reflect.TypeFor[json.Marshaler]()) || seen[rt] {
			return
		}
		seen[rt] = true
		var fields []string
		for f := range rt.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			fields = append(fields, name)
			if p := n.Properties[name]; p != nil {
				walk(f.Type, p, path+"."+name)
			}
		}
		var props []string
		for k := range n.Properties {
			props = append(props, k)
		}
		sort.Strings(fields)
		sort.Strings(props)
		if diff := cmp.Diff(fields, props); diff != "" {
			t.Errorf("%s (%s): JSON fields of the Go type (-) and schema properties (+) differ:\n%s", path, rt, diff)
		}
	}
	walk(reflect.TypeFor[reports.Report](), root, "$")
}

// TestSchemaFiguresFromCatalogue: the schema's figures object lists the
// catalogue's figures, each typed by its row's kind, and nothing else.
func TestSchemaFiguresFromCatalogue(t *testing.T) {
	props := loadSchema(t).Defs["figures"].Properties
	seen := map[string]bool{}
	for _, f := range reports.Catalogue {
		field := f.JSONField()
		seen[field] = true
		if f.SpanField != "" {
			if props[f.SpanField] == nil {
				t.Errorf("schema figures has no %s, the span of %s", f.SpanField, field)
			}
			seen[f.SpanField] = true
		}
		p := props[field]
		if p == nil {
			t.Errorf("catalogue figure %s: the schema's figures object has no property %q", f.Name, field)
			continue
		}
		if f.Field != "" {
			continue // a finding with its own definition
		}
		types := fmt.Sprint(p.Type)
		var want string
		switch f.Kind {
		case reports.KindCount:
			want = "integer"
		case reports.KindSeconds:
			want = "[number null]"
		default:
			want = "number"
		}
		if types != want {
			t.Errorf("schema figures.%s type %s; want %s for a %s", field, types, want, f.Kind)
		}
		if f.Kind == reports.KindRatio && (p.Minimum == nil || *p.Minimum != 0 || p.Maximum == nil || *p.Maximum != 1) {
			t.Errorf("schema figures.%s: a ratio without minimum 0 and maximum 1", field)
		}
	}
	for name := range props {
		if !seen[name] {
			t.Errorf("schema figures.%s is no catalogue figure", name)
		}
	}
}

// TestSchemaPhaseValuesFromCatalogue: the schema's phase summary has a
// property for each per-phase value of the catalogue, and its stats one
// for each endpoint value.
func TestSchemaPhaseValuesFromCatalogue(t *testing.T) {
	defs := loadSchema(t).Defs
	for _, v := range reports.PhaseValues {
		if defs["phase_summary"].Properties[v.Name] == nil {
			t.Errorf("catalogue per-phase value %s: the schema's phase_summary has no property %q", v.Name, v.Name)
		}
	}
	for _, v := range reports.EndpointValues {
		if defs["stats"].Properties[v.Name] == nil {
			t.Errorf("catalogue endpoint value %s: the schema's stats has no property %q", v.Name, v.Name)
		}
	}
}

// TestSchemaOutcomesFromCatalogue: the schema's outcomes object has a
// property for each outcome class of the catalogue, and no other count.
func TestSchemaOutcomesFromCatalogue(t *testing.T) {
	props := loadSchema(t).Defs["outcomes"].Properties
	keys := map[string]bool{"timeout_at": true} // where the timeouts happened, not a class
	for _, c := range reports.OutcomeClasses {
		keys[c.Key] = true
		if props[c.Key] == nil {
			t.Errorf("outcome class %s: the schema's outcomes object has no property %q", c.Key, c.Key)
		}
	}
	for name := range props {
		if !keys[name] {
			t.Errorf("schema outcomes.%s is no outcome class of the catalogue", name)
		}
	}
}
