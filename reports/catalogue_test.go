package reports

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestCatalogueCoversFigures: every field of Figures is read by a row of
// the catalogue under its own JSON name (AfterTrigger by the two rows of
// the metastability rule), so a figure cannot be measured and then missed
// by thresholds, compare and the renderers.
func TestCatalogueCoversFigures(t *testing.T) {
	rows, fields := map[string]bool{}, map[string]bool{}
	for _, f := range Catalogue {
		if rows[f.Name] {
			t.Errorf("catalogue row %s declared twice", f.Name)
		}
		rows[f.Name], fields[f.JSONField()] = true, true
		if f.SpanField != "" {
			fields[f.SpanField] = true
		}
	}
	typ := reflect.TypeOf(Figures{})
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if !fields[name] {
			t.Errorf("Figures.%s (json %q) has no catalogue row", typ.Field(i).Name, name)
		}
		delete(fields, name)
	}
	for name := range fields {
		t.Errorf("a catalogue row reads figures.%s, which Figures does not have", name)
	}
}

// TestCatalogueSetGet: a row's Set stores what its Get reads, "never"
// included, so the trials' spread keeps every figure.
func TestCatalogueSetGet(t *testing.T) {
	for _, f := range Catalogue {
		if f.Set == nil {
			continue
		}
		var fs Figures
		f.Set(&fs, 7, true)
		if v, err := f.Get(&fs); err != nil || v != 7 {
			t.Errorf("%s: Set(7) then Get = %v, %v; want 7", f.Name, v, err)
		}
		if f.Kind == KindSeconds {
			f.Set(&fs, 0, false)
			if _, err := f.Get(&fs); err == nil {
				t.Errorf("%s: Set(never) then Get has a value; want no data", f.Name)
			}
		}
	}
}

// TestCatalogueRows: every row has a kind, a worse direction and an
// attribution, and one shown in the key figures has its words.
func TestCatalogueRows(t *testing.T) {
	groups := map[string]bool{}
	for _, g := range FigureGroups {
		groups[g.ID] = true
	}
	for _, f := range Catalogue {
		if !slices.Contains(kinds, f.Kind) {
			t.Errorf("%s: unknown kind %q", f.Name, f.Kind)
		}
		if f.Worse != 1 && f.Worse != -1 {
			t.Errorf("%s: Worse = %d; want +1 or -1", f.Name, f.Worse)
		}
		switch f.Attribution {
		case FigureByCompletion, FigureBySend, FigureByEvent:
		default:
			t.Errorf("%s: attribution %q", f.Name, f.Attribution)
		}
		if f.Group != "" && (!groups[f.Group] || f.Label == "" || f.Hint == "" || f.Short == "" || f.Text == nil) {
			t.Errorf("%s: shown in group %q without its group, label, hint, short label or text", f.Name, f.Group)
		}
	}
}

// TestVerdictOutcomes: each verdict outcome has one row with its words,
// mark and tone, and a word the table lacks reads as inconclusive.
func TestVerdictOutcomes(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range VerdictOutcomes {
		if seen[o.Name] {
			t.Errorf("outcome %s declared twice", o.Name)
		}
		seen[o.Name] = true
		if o.Label == "" || o.Emoji == "" || (o.Tone != ToneGood && o.Tone != ToneBad && o.Tone != ToneNeutral) {
			t.Errorf("outcome %s: label %q, emoji %q, tone %q", o.Name, o.Label, o.Emoji, o.Tone)
		}
		if o.Skip && o.Tone == ToneBad {
			t.Errorf("outcome %s: both skipped and failed in JUnit", o.Name)
		}
	}
	if got := verdictOutcome("no such outcome"); got.Name != OutcomeInconclusive {
		t.Errorf("verdictOutcome(unknown) = %s; want %s", got.Name, OutcomeInconclusive)
	}
}

// TestOutcomeClassesCoverOutcomes: every count of Outcomes is an outcome
// class of the table, read by its own getter.
func TestOutcomeClassesCoverOutcomes(t *testing.T) {
	classes := map[string]OutcomeClass{}
	for _, c := range OutcomeClasses {
		classes[c.Key] = c
	}
	typ := reflect.TypeOf(Outcomes{})
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if typ.Field(i).Type.Kind() != reflect.Int64 {
			continue // timeout_at: where the timeouts happened
		}
		c, ok := classes[name]
		if !ok {
			t.Errorf("Outcomes.%s (json %q) is no outcome class", typ.Field(i).Name, name)
			continue
		}
		var o Outcomes
		reflect.ValueOf(&o).Elem().Field(i).SetInt(7)
		if got := c.Get(o); got != 7 {
			t.Errorf("outcome class %s reads %d from Outcomes.%s = 7", name, got, typ.Field(i).Name)
		}
	}
}

// TestRawCountsCoverSecond: every count of a second (each int64 field of
// Second) is one raw count, a PhaseValue's Raw or a row of SecondCounts,
// with its rules, so a merge and the phase summaries combine it by its
// row and a new recorder count cannot be dropped or combined by accident.
func TestRawCountsCoverSecond(t *testing.T) {
	var s Second
	base := reflect.ValueOf(&s).Pointer()
	byOffset := map[uintptr]int{}
	for _, c := range RawCounts() {
		byOffset[reflect.ValueOf(c.Second(&s)).Pointer()-base]++
		if c.Shards != CombineSum && c.Shards != CombineMax {
			t.Errorf("raw count at offset %d: shards rule %q; want %s or %s", reflect.ValueOf(c.Second(&s)).Pointer()-base, c.Shards, CombineSum, CombineMax)
		}
		if c.Phase != nil && c.Seconds != CombineSum && c.Seconds != CombineMax {
			t.Errorf("raw count at offset %d: seconds rule %q; want %s or %s", reflect.ValueOf(c.Second(&s)).Pointer()-base, c.Seconds, CombineSum, CombineMax)
		}
	}
	typ := reflect.TypeOf(s)
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Type.Kind() != reflect.Int64 {
			continue
		}
		if n := byOffset[f.Offset]; n != 1 {
			t.Errorf("Second.%s is declared by %d raw counts; want 1 (a PhaseValue's Raw or a row of SecondCounts)", f.Name, n)
		}
	}
}

// TestCombine: the combine rules add or keep the largest.
func TestCombine(t *testing.T) {
	for _, tc := range []struct {
		rule       string
		a, b, want int64
	}{{CombineSum, 2, 3, 5}, {CombineMax, 2, 3, 3}, {CombineMax, 3, 2, 3}} {
		if got := Combine(tc.rule, tc.a, tc.b); got != tc.want {
			t.Errorf("Combine(%s, %d, %d) = %d; want %d", tc.rule, tc.a, tc.b, got, tc.want)
		}
	}
}

// TestCatalogueFromPhases: a figure derived from a per-phase value names
// one that is derived from the raw seconds, so Derive can read it.
func TestCatalogueFromPhases(t *testing.T) {
	for _, f := range Catalogue {
		if f.FromPhases == nil {
			continue
		}
		v := PhaseValueNamed(f.FromPhases.Value)
		if v == nil || v.Raw.Phase == nil || f.Set == nil {
			t.Errorf("%s: derived from %q, which is no per-phase value with a Raw.Phase, or the figure has no Set", f.Name, f.FromPhases.Value)
		}
	}
}

// TestRunValueRoots: a path is the run's by its first segment among the
// RunValues rows', and compare's key run values are the Key rows.
func TestRunValueRoots(t *testing.T) {
	for path, want := range map[string]bool{"verdict.outcome": true, "verdict.throttle.outcome": true, "validity.valid": true, "partial": true, "breaker.figures.opens": false, "verdicts.outcome": false} {
		if got := IsRunValue(path); got != want {
			t.Errorf("IsRunValue(%q) = %v; want %v", path, got, want)
		}
	}
	for path, want := range map[string]bool{"verdict.outcome": true, "validity.valid": true, "partial": false, "verdict.cascade_prevented": false} {
		if got := KeyRunValue(path); got != want {
			t.Errorf("KeyRunValue(%q) = %v; want %v", path, got, want)
		}
	}
}
