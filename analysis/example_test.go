package analysis_test

import (
	"fmt"
	"os"

	"github.com/cbload/cbload/analysis"
	"github.com/cbload/cbload/reports"
)

// Compare the report of a run with the same run's report from an older
// cbload, failing on a drop in /local's success without the breaker.
func ExampleCompare() {
	read := func(path string) *reports.Report {
		f, err := os.Open(path)
		if err != nil {
			panic(err)
		}
		defer f.Close()
		r, err := reports.ReadJSON(f)
		if err != nil {
			panic(err)
		}
		return r
	}
	rule, err := analysis.ParseRule("no-breaker.fault.collateral.success_ratio < -1%")
	if err != nil {
		panic(err)
	}
	c, err := analysis.Compare(read("../reports/testdata/report.v1.json"), read("../reports/testdata/report.json"),
		analysis.CompareOptions{Rules: []analysis.Rule{rule}})
	if err != nil {
		panic(err)
	}
	for _, r := range c.Rules {
		fmt.Println(r.Rule, "failed:", r.Failed)
	}
	// Output: no-breaker.fault.collateral.success_ratio < -1% failed: true
}
