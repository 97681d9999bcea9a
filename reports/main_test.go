package reports_test

import (
	"flag"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/cbload/cbload/reports"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// sample loads testdata/report.json, the report of a real
// `cbload run --fault=latency --phases 3s,8s,5s --seed 42`.
func sample(t testing.TB) *reports.Report {
	t.Helper()
	f, err := os.Open("testdata/report.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := reports.ReadJSON(f)
	if err != nil {
		t.Fatalf("ReadJSON(testdata/report.json): %v", err)
	}
	return r
}

// invalidSample loads testdata/report.invalid.json, the report of the same
// command on a machine so busy that the validity checks failed.
func invalidSample(t testing.TB) *reports.Report {
	t.Helper()
	f, err := os.Open("testdata/report.invalid.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := reports.ReadJSON(f)
	if err != nil {
		t.Fatalf("ReadJSON(testdata/report.invalid.json): %v", err)
	}
	return r
}

// variants are the verdicts a report must state in its first line, made from
// the sample by changing only the verdict and the partial flag.
func variants(t testing.TB) map[string]*reports.Report {
	out := map[string]*reports.Report{}
	r := sample(t)
	out["prevented"] = r

	r = sample(t)
	r.Verdict = reports.Verdict{Outcome: reports.OutcomeNothingToPrevent,
		Summary: "Nothing to prevent: without the breaker /local stayed healthy (100.0%) during the fault, so there was no cascade.",
		Reasons: []string{}}
	out["nothing"] = r

	r = sample(t)
	r.Verdict = reports.Verdict{Outcome: reports.OutcomeWorse,
		Summary: "The breaker made things worse: it turned a partial failure into rejection.", Reasons: []string{}}
	out["worse"] = r

	r = sample(t)
	r.Partial = true
	r.PartialReason = "interrupted"
	r.Arms[1].Series = r.Arms[1].Series[:6]
	delete(r.Arms[1].Summary, "recovery")
	r.Verdict.Summary = "Partial run (interrupted): " + r.Verdict.Summary
	out["partial"] = r

	r = sample(t)
	r.Verdict = reports.Verdict{Outcome: reports.OutcomeNotPrevented,
		Summary: "The breaker did not prevent the cascade: /local degraded with it (80.0%) as well as without it (52.9%).", Reasons: []string{}}
	out["not-prevented"] = r
	return out
}
