package reports_test

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

const schemaFile = "schema/report.v2.schema.json"

// catalogueProperties lists, per definition of the schema, the properties
// the catalogue declares, each with its schema by its row's kind: the
// figures (Catalogue), the phase summary's values (PhaseValues) and the
// counts of a second (RawCounts).
func catalogueProperties() map[string]map[string]string {
	byKind := func(kind string) string {
		switch kind {
		case reports.KindCount:
			return `{"type": "integer", "minimum": 0}`
		case reports.KindSeconds:
			return `{"type": ["number", "null"]}`
		case reports.KindRatio:
			return `{"type": "number", "minimum": 0, "maximum": 1}`
		}
		return `{"type": "number", "minimum": 0}`
	}
	out := map[string]map[string]string{"figures": {}, "phase_summary": {}, "second": {}}
	for _, f := range reports.Catalogue {
		if f.Field == "" {
			out["figures"][f.Name] = byKind(f.Kind)
		}
	}
	for _, v := range reports.PhaseValues {
		out["phase_summary"][v.Name] = byKind(v.Kind)
	}
	var s reports.Second
	typ := reflect.TypeOf(s)
	for _, c := range reports.RawCounts() {
		off := reflect.ValueOf(c.Second(&s)).Pointer() - reflect.ValueOf(&s).Pointer()
		for i := range typ.NumField() {
			if typ.Field(i).Offset == off {
				name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
				out["second"][name] = byKind(reports.KindCount)
			}
		}
	}
	return out
}

// TestSchemaGeneratedFromCatalogue: the schema's figures, phase summary
// and second list a property for every catalogue row; -update adds the
// missing ones, typed by their rows' kinds, so a new figure, per-phase
// value or raw count reaches the schema from its row.
func TestSchemaGeneratedFromCatalogue(t *testing.T) {
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	defs := loadSchema(t).Defs
	changed := false
	for def, props := range catalogueProperties() {
		// The definition's properties open on the first line after its
		// name that says so.
		at := -1
		for i, l := range lines {
			if strings.TrimSpace(l) == fmt.Sprintf("%q: {", def) {
				at = i
			}
			if at >= 0 && i > at && strings.TrimSpace(l) == `"properties": {` {
				at = i
				break
			}
		}
		if at < 0 || defs[def] == nil {
			t.Fatalf("%s has no definition %s with its properties", schemaFile, def)
		}
		for name, schema := range props {
			if defs[def].Properties[name] != nil {
				continue
			}
			if !*update {
				t.Errorf("%s: $defs.%s has no property %s, which the catalogue declares; run go test ./reports -run TestSchemaGeneratedFromCatalogue -update", schemaFile, def, name)
				continue
			}
			indent := lines[at][:len(lines[at])-len(strings.TrimLeft(lines[at], " "))] + "  "
			lines = append(lines[:at+1], append([]string{fmt.Sprintf("%s%q: %s,", indent, name, schema)}, lines[at+1:]...)...)
			changed = true
		}
	}
	if changed {
		if err := os.WriteFile(schemaFile, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
