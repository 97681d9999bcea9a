package reports

import (
	"fmt"
	"io"
	"strings"
)

// WriteComparisonJUnit writes c as JUnit XML: one test case per rule,
// failing when the rule failed, and one per report for its validity checks,
// failing when any failed.
func WriteComparisonJUnit(w io.Writer, c *Comparison) error {
	suite := junitSuite{
		Name: "cbload compare", Time: "0",
		Properties: []junitProperty{
			{"base", c.Base.Label}, {"base_run_id", c.Base.RunID},
			{"new", c.New.Label}, {"new_run_id", c.New.RunID},
		},
	}
	for _, r := range c.Rules {
		tc := junitCase{Name: r.Rule, Classname: "cbload.compare.rules", Time: "0",
			SystemOut: fmt.Sprintf("%s → %s; %s", shown(r.Row.Base), shown(r.Row.New), r.Message)}
		if r.Failed {
			tc.Failure = &junitFailure{Message: r.Message, Type: "rule",
				Text: fmt.Sprintf("%s\nbase: %s\nnew: %s\n%s\n", r.Rule, shown(r.Row.Base), shown(r.Row.New), r.Message)}
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, tc)
	}
	for _, who := range []string{"base", "new"} {
		tc := junitCase{Name: "validity (" + who + ")", Classname: "cbload.compare.validity", Time: "0"}
		var failed []string
		for _, ic := range c.Invalid {
			if ic.Report == who {
				failed = append(failed, ic.String())
			}
		}
		if len(failed) > 0 {
			tc.Failure = &junitFailure{Message: failed[0], Type: "validity", Text: strings.Join(failed, "\n") + "\n"}
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, tc)
	}
	suite.Tests = len(suite.Cases)
	doc := junitSuites{Name: "cbload compare", Tests: suite.Tests, Failures: suite.Failures, Time: "0", Suites: []junitSuite{suite}}
	return writeJUnitDoc(w, doc)
}
