package analysis_test

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/cbload/cbload/analysis"
	"github.com/cbload/cbload/reports"
)

// TestCatalogueCarried: every figure of the value catalogue reaches
// thresholds, compare, a merge of shards (derived again from the raw
// data and judged, as cbload merge does), and — for a key figure — the terminal summary, Markdown and HTML,
// by its row alone; every per-phase value reaches thresholds, a merged
// report, compare (a key value) and the per-phase tables (one with a
// column). A figure added to the catalogue is checked here
// without editing this test.
func TestCatalogueCarried(t *testing.T) {
	base := readRun(t)
	base.Config.Retries = 1 // the terminal shows attempts per request only with retries
	arms, phases := []string{}, []string{}
	for _, a := range base.Arms {
		arms = append(arms, a.Name)
	}
	for _, p := range base.Phases {
		phases = append(phases, p.Name)
	}
	var shards []analysis.Shard
	for i := range 2 {
		r := readRun(t)
		r.Shard = &reports.Shard{Index: i, Count: 2}
		shards = append(shards, analysis.Shard{Source: []string{"a", "b"}[i], Report: r})
	}
	merged, err := analysis.Merge(context.Background(), shards)
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	analysis.Judge(merged) // as cbload merge does
	c, err := analysis.Compare(base, base, analysis.CompareOptions{BaseLabel: "a", NewLabel: "b"})
	if err != nil {
		t.Fatalf("Compare: %v", err)
	}
	compared := map[string]bool{}
	for _, row := range c.Rows {
		compared[row.Path] = true
	}
	var term, md, html bytes.Buffer
	for _, w := range []func() error{
		func() error { return reports.WriteTerminal(&term, base) },
		func() error { return reports.WriteMarkdown(&md, base) },
		func() error { return reports.WriteHTML(&html, base) },
	} {
		if err := w(); err != nil {
			t.Fatal(err)
		}
	}
	mergedValues := map[string]reports.PathValue{}
	for _, v := range reports.Values(merged) {
		mergedValues[v.Path] = v
	}
	for _, f := range reports.Catalogue {
		path := arms[0] + ".figures." + f.Name
		check := path + " >= 0"
		if f.Kind == reports.KindBool {
			check = path + " != true"
		}
		th, err := reports.ParseThreshold(check)
		if err == nil {
			err = th.Check(arms, phases)
		}
		if err != nil {
			t.Errorf("%s: threshold: %v", f.Name, err)
		}
		if !compared[path] {
			t.Errorf("%s: compare has no row %s", f.Name, path)
		}
		want, _ := reports.Lookup(base, path)
		if got, ok := mergedValues[path]; !ok || (got.NoData != "") != (want.NoData != "") {
			t.Errorf("%s: the merged report's %s is %+v; want a value as the shards' (%+v)", f.Name, path, got, want)
		}
		if f.Group == "" {
			continue
		}
		for _, out := range []struct {
			name, text, label string
		}{{"terminal", term.String(), f.Short}, {"Markdown", md.String(), f.Label}, {"HTML", html.String(), f.Label}} {
			if !strings.Contains(out.text, out.label) {
				t.Errorf("%s: the %s summary lacks %q", f.Name, out.name, out.label)
			}
		}
	}
	t1 := reports.TermsOf(base.Config)
	for _, v := range reports.PhaseValues {
		path := arms[0] + "." + phases[len(phases)-1] + "." + v.Name
		th, err := reports.ParseThreshold(path + " >= 0")
		if err == nil {
			err = th.Check(arms, phases)
		}
		if err != nil {
			t.Errorf("%s: threshold: %v", v.Name, err)
		}
		if v.Key && !compared[path] {
			t.Errorf("%s: a key value, but compare has no row %s", v.Name, path)
		}
		if _, ok := mergedValues[path]; !ok {
			t.Errorf("%s: the merged report has no value %s", v.Name, path)
		}
		if v.Column == nil {
			continue
		}
		long, short := v.Column(t1)
		if !strings.Contains(md.String(), "| "+long+" |") || !strings.Contains(html.String(), "<th>"+short+"</th>") {
			t.Errorf("%s: the per-phase tables lack its column %q (Markdown) or %q (HTML)", v.Name, long, short)
		}
	}
}

// TestMergeKeepsEverySecondCount: every count a second of raw data holds
// survives a merge of shards (summed or taken at its largest), so a
// per-phase value derived from a new field of the recorder's seconds is
// not silently zero in a merged report.
func TestMergeKeepsEverySecondCount(t *testing.T) {
	var shards []analysis.Shard
	for i := range 2 {
		r := readRun(t)
		r.Shard = &reports.Shard{Index: i, Count: 2}
		for k := range r.Arms {
			for j := range r.Arms[k].Series {
				v := reflect.ValueOf(&r.Arms[k].Series[j]).Elem()
				for f := range v.NumField() {
					if fv := v.Field(f); fv.Kind() == reflect.Int64 {
						fv.SetInt(1)
					}
				}
			}
		}
		shards = append(shards, analysis.Shard{Source: []string{"a", "b"}[i], Report: r})
	}
	m, err := analysis.Merge(context.Background(), shards)
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	typ := reflect.TypeOf(reports.Second{})
	for _, a := range m.Arms {
		for _, s := range a.Series {
			v := reflect.ValueOf(s)
			for f := range v.NumField() {
				if fv := v.Field(f); fv.Kind() == reflect.Int64 && fv.Int() < 1 {
					t.Errorf("%s second %d: merged %s = %d; want the shards' 1 summed or kept", a.Name, s.T, typ.Field(f).Name, fv.Int())
				}
			}
		}
	}
}
