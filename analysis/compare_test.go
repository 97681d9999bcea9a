package analysis_test

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/cbload/cbload/analysis"
	"github.com/cbload/cbload/reports"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// load reads one of the reports package's testdata reports: report.json is
// a real `cbload run --fault=latency --phases 3s,8s,5s --seed 42`,
// report.v1.json a real run of the same command by a v1 cbload.
func load(t *testing.T, name string) *reports.Report {
	t.Helper()
	f, err := os.Open("../reports/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := reports.ReadJSON(f)
	if err != nil {
		t.Fatalf("ReadJSON(%s): %v", name, err)
	}
	return r
}

func rules(t *testing.T, exprs ...string) []analysis.Rule {
	t.Helper()
	var out []analysis.Rule
	for _, e := range exprs {
		r, err := analysis.ParseRule(e)
		if err != nil {
			t.Fatalf("ParseRule(%q): %v", e, err)
		}
		out = append(out, r)
	}
	return out
}

func row(t *testing.T, c *reports.Comparison, path string) reports.ComparisonRow {
	t.Helper()
	for _, r := range c.Rows {
		if r.Path == path {
			return r
		}
	}
	t.Fatalf("no row %s", path)
	return reports.ComparisonRow{}
}

// TestCompareRegression makes the new run's collateral worse during the
// fault and its /api p99 slower: relative and absolute rules catch it.
func TestCompareRegression(t *testing.T) {
	base, next := load(t, "report.json"), load(t, "report.json")
	s := next.Arm("breaker").Summary["fault"]
	s.Collateral.SuccessRatio = 0.97 // from 1.0: -3%, -3 pp
	s.API.LatencyMS.P99 += 80
	next.Arm("breaker").Summary["fault"] = s
	c, err := analysis.Compare(base, next, analysis.CompareOptions{Rules: rules(t,
		"breaker.fault.collateral.success_ratio < -1%",
		"breaker.fault.collateral.success_ratio < -2pp",
		"breaker.fault.collateral.success_ratio < -5%",
		"breaker.fault.api.latency_ms.p99 > +50ms",
		"breaker.fault.api.latency_ms.p99 > +0.1s",
	)})
	if err != nil {
		t.Fatal(err)
	}
	wantFailed := []bool{true, true, false, true, false}
	for i, r := range c.Rules {
		if r.Failed != wantFailed[i] {
			t.Errorf("rule %q failed = %v; want %v (%s)", r.Rule, r.Failed, wantFailed[i], r.Message)
		}
	}
	got := row(t, c, "breaker.fault.collateral.success_ratio")
	if math.Abs(got.Change-(-0.03)) > 1e-9 || math.Abs(got.Relative-(-0.03)) > 1e-9 {
		t.Errorf("change = %v, relative %v; want -0.03 and -0.03", got.Change, got.Relative)
	}
	if txt := got.ChangeText(); txt != "-3.00 pp (-3.0%)" {
		t.Errorf("ChangeText() = %q; want %q", txt, "-3.00 pp (-3.0%)")
	}
	if got.Arm != "breaker" || got.Phase != "fault" || got.Name != "collateral.success_ratio" {
		t.Errorf("row parts = %q %q %q; want breaker fault collateral.success_ratio", got.Arm, got.Phase, got.Name)
	}
}

// TestCompareImprovement: the same rules hold when the new run is better.
func TestCompareImprovement(t *testing.T) {
	base, next := load(t, "report.json"), load(t, "report.json")
	nb := next.Arm("no-breaker")
	nb.Figures.CollateralSuccessDuringFault = 0.9 // was 0.4533
	nb.Figures.TimeToRecoverS = new(float64)
	c, err := analysis.Compare(base, next, analysis.CompareOptions{Rules: rules(t,
		"no-breaker.figures.collateral_success_during_fault < -1%",
		"no-breaker.figures.time_to_recover_s > 0",
		"breaker.fault.collateral.success_ratio < -1%",
	)})
	if err != nil {
		t.Fatal(err)
	}
	if f := c.Failed(); len(f) > 0 {
		t.Errorf("failed rules %v; want none for an improvement", f)
	}
	got := row(t, c, "no-breaker.figures.collateral_success_during_fault")
	if !got.Comparable || got.Change <= 0 {
		t.Errorf("collateral change %v (comparable %v); want a rise", got.Change, got.Comparable)
	}
}

// TestCompareZeroAndMissing: a base of zero makes a relative change
// infinite, and a value one report lacks fails its rule with "no data".
func TestCompareZeroAndMissing(t *testing.T) {
	base, next := load(t, "report.json"), load(t, "report.json")
	base.Arm("breaker").Figures.Opens = 0
	next.Arm("breaker").Figures.TimeToOpenS = nil
	c, err := analysis.Compare(base, next, analysis.CompareOptions{Rules: rules(t,
		"breaker.figures.opens > 100%",
		"breaker.figures.time_to_open_s > +1s",
	)})
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Rules[0]; !r.Failed || !math.IsInf(r.Row.Relative, 1) || r.Row.ChangeText() != "+4 (new)" {
		t.Errorf("opens 0 → 4: failed %v, relative %v, %q; want failed, +Inf, \"+4 (new)\"", r.Failed, r.Row.Relative, r.Row.ChangeText())
	}
	if r := c.Rules[1]; !r.Failed || !strings.Contains(r.Message, "no data: new: the breaker never opened") {
		t.Errorf("time to open missing in new: failed %v, %q; want a no-data failure naming the new report", r.Failed, r.Message)
	}
}

func TestCompareIncompatible(t *testing.T) {
	base := load(t, "report.json")
	other := load(t, "report.json")
	other.Phases[1].EndS = 12
	other.Phases[2].StartS = 12
	_, err := analysis.Compare(base, other, analysis.CompareOptions{})
	if !errors.Is(err, analysis.ErrIncompatible) || !strings.Contains(err.Error(), "different schedules") || strings.Contains(err.Error(), "\n") {
		t.Errorf("other schedule: err = %v; want one line wrapping ErrIncompatible about the schedules", err)
	}

	target := load(t, "report.json")
	target.Arms[0].Name, target.Arms[1].Name = "svc-a", "svc-b"
	_, err = analysis.Compare(base, target, analysis.CompareOptions{})
	if !errors.Is(err, analysis.ErrIncompatible) || !strings.Contains(err.Error(), "no arm in common (base ran breaker, no-breaker; new ran svc-a, svc-b)") {
		t.Errorf("no common arm: err = %v", err)
	}

	oneArm := load(t, "report.json")
	oneArm.Arms = oneArm.Arms[:1]
	_, err = analysis.Compare(base, oneArm, analysis.CompareOptions{Rules: rules(t, "no-breaker.fault.collateral.success_ratio < -1%")})
	var re *analysis.RuleError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), `"no-breaker" is not a value here`) {
		t.Errorf("rule on an arm only the base has: err = %v; want a RuleError naming the arm", err)
	}
	c, err := analysis.Compare(base, oneArm, analysis.CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Arms) != 1 || !hasNote(c, "not compared: arm no-breaker ran only in the base") {
		t.Errorf("arms %v, notes %q; want breaker only and a note about no-breaker", c.Arms, c.Notes)
	}
	for _, r := range c.Rows {
		if r.Arm == "no-breaker" {
			t.Errorf("row %s of an arm that is not compared", r.Path)
		}
	}
}

func hasNote(c *reports.Comparison, want string) bool {
	for _, n := range c.Notes {
		if strings.Contains(n, want) {
			return true
		}
	}
	return false
}

// TestCompareV1WithV2: a v1 report is compared after its upgrade, with a note,
// and what v1 lacked shows no data instead of a fake change.
func TestCompareV1WithV2(t *testing.T) {
	c, err := analysis.Compare(load(t, "report.v1.json"), load(t, "report.json"), analysis.CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !hasNote(c, "the base report was upgraded from cbload/report/v1") {
		t.Errorf("notes %q; want one about the v1 upgrade", c.Notes)
	}
	if got := row(t, c, "validity.valid"); got.Base.NoData == "" || got.ChangeText() != "n/a" {
		t.Errorf("validity.valid: base %+v, change %q; want no data in the v1 base and n/a", got.Base, got.ChangeText())
	}
}

func TestCompareNotesConfigAndFaults(t *testing.T) {
	base, next := load(t, "report.json"), load(t, "report.json")
	next.Config.Rate = 100
	next.Config.Breaker.Timeout = reports.Duration(3e9)
	next.Phases[1].Faults = []string{"hang"}
	c, err := analysis.Compare(base, next, analysis.CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"breaker.timeout 2s → 3s", "rate 200 → 100", "phase fault: faults differ (base latency:1s; new hang)"} {
		if !hasNote(c, want) {
			t.Errorf("notes %q lack %q", c.Notes, want)
		}
	}
}

// TestCompareRowsSelection: without All only key values (and ruled ones)
// are rows; with All every threshold path of the compared arms is.
func TestCompareRowsSelection(t *testing.T) {
	base := load(t, "report.json")
	c, err := analysis.Compare(base, base, analysis.CompareOptions{Rules: rules(t, "breaker.recovery.api.outcomes.timeout > 10")})
	if err != nil {
		t.Fatal(err)
	}
	all, err := analysis.Compare(base, base, analysis.CompareOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(reports.Values(base)); len(all.Rows) != want {
		t.Errorf("All: %d rows; want every value, %d", len(all.Rows), want)
	}
	if len(c.Rows) >= len(all.Rows) || len(c.Rows) < 40 {
		t.Errorf("key rows: %d of %d; want the key ones only", len(c.Rows), len(all.Rows))
	}
	row(t, c, "breaker.recovery.api.outcomes.timeout") // named by a rule
	row(t, c, "no-breaker.figures.time_to_recover_s")
	row(t, c, "verdict.outcome")
	for _, r := range c.Rows {
		if r.Comparable && r.Change != 0 {
			t.Errorf("%s changed by %v comparing a report with itself", r.Path, r.Change)
		}
	}
}

func TestParseRule(t *testing.T) {
	bad := []struct{ in, want string }{
		{"", "empty"},
		{"breaker.fault.api.success_ratio", "missing comparison"},
		{"breaker.fault.api.success_ratio == -1%", `"==" is not a comparison`},
		{"breaker.fault.api.success_ratio != 1%", `"!=" is not a comparison`},
		{"< -1%", "missing the path"},
		{"breaker.fault.api.success_ratio <", "missing the change"},
		{"breaker.fault.api.success_ratio < -x%", `"-x%" is not a number`},
		{"breaker.fault.api.success_ratio < 1e3%", `"1e3%" is not a number`},
		{"breaker.fault.api.success_ratio < -1 %", `"-1 %" is not a number`},
		{"breaker.fault.api.success_ratio < -1kg", `unknown unit "kg"`},
		{"breaker fault < 1", "is not one path"},
	}
	for _, tt := range bad {
		_, err := analysis.ParseRule(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseRule(%q) = %v; want one line containing %q", tt.in, err, tt.want)
		}
	}
	arms, phases := []string{"breaker", "no-breaker"}, []string{"baseline", "fault", "recovery"}
	checks := []struct{ in, want string }{
		{"breaker.fault.api.success_ratio < -1%", ""},
		{"breaker.fault.api.success_ratio < -1pp", ""},
		{"breaker.fault.api.success_ratio < -0.01", ""},
		{"breaker.fault.api.latency_ms.p99 > +0.05s", ""},
		{"breaker.figures.time_to_open_s > 500ms", ""},
		{"breaker.fault.upstream_requests > 100", ""},
		{"breaker.fault.api.success_ratio < -1", "write -1pp for percentage points or -1%"},
		{"breaker.fault.api.latency_ms.p99 > 5pp", "its change is written in ms, s or %, not pp"},
		{"breaker.fault.upstream_requests > 5ms", "is a count; its change is written in a plain number or %"},
		{"verdict.cascade_prevented < 1", "not a number, so it has no change"},
		{"breaker.faul.api.success_ratio < -1%", "did you mean breaker.fault"},
	}
	for _, tt := range checks {
		r, err := analysis.ParseRule(tt.in)
		if err != nil {
			t.Fatalf("ParseRule(%q): %v", tt.in, err)
		}
		err = r.Check(arms, phases)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Check(%q) = %v; want nil", tt.in, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("Check(%q) = %v; want an error containing %q", tt.in, err, tt.want)
		}
	}
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestCompareGolden renders the comparison of the v1 and v2 testdata runs
// with a failing and a passing rule in every format.
func TestCompareGolden(t *testing.T) {
	c, err := analysis.Compare(load(t, "report.v1.json"), load(t, "report.json"), analysis.CompareOptions{
		BaseLabel: "v1/report.json", NewLabel: "v2/report.json",
		Rules: rules(t, "no-breaker.fault.collateral.success_ratio < -1%", "breaker.figures.time_to_recover_s > +10%"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name  string
		write func(io.Writer, *reports.Comparison) error
	}{
		{"compare.golden.txt", reports.WriteComparisonText},
		{"compare.golden.md", reports.WriteComparisonMarkdown},
		{"compare.golden.xml", reports.WriteComparisonJUnit},
	} {
		var b bytes.Buffer
		if err := f.write(&b, c); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", f.name)
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./analysis -update to create it)", err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s differs; run go test ./analysis -update and review the diff", path)
		}
	}
}

// TestCompareMarkdownEscapes: names from a report cannot break the
// Markdown of a PR comment.
func TestCompareMarkdownEscapes(t *testing.T) {
	base, next := load(t, "report.json"), load(t, "report.json")
	next.Phases[1].Faults = []string{"<img src=x onerror=alert(1)>|`x`"}
	c, err := analysis.Compare(base, next, analysis.CompareOptions{BaseLabel: "a`|b.json", NewLabel: "n.json"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := reports.WriteComparisonMarkdown(&b, c); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<img", "a`|b", "|`x`"} {
		if strings.Contains(b.String(), bad) {
			t.Errorf("markdown carries %q unescaped:\n%s", bad, b.String())
		}
	}
}
