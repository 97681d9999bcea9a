package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// JUnit XML, in the shape CI systems read (Jenkins, GitLab, GitHub test
// reporters): one <testsuite> with a <testcase> per threshold and one for
// the verdict.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes r as JUnit XML: a test case per threshold, failing with
// the measured value when the threshold failed, and one for the verdict,
// which fails when the breaker did not prevent a cascade or made things
// worse and is skipped when the verdict is inconclusive, and one per
// validity check, failing when the check failed (the process exits 4 then).
// Otherwise the process exit code depends on thresholds only; add
// `verdict.outcome != worse` to gate on the verdict.
func WriteJUnit(w io.Writer, r *Report) error {
	suite := junitSuite{
		Name: "cbload",
		Time: fmt.Sprintf("%.3f", r.FinishedAt.Sub(r.StartedAt).Seconds()),
		Properties: []junitProperty{
			{"run_id", r.RunID}, {"seed", fmt.Sprint(r.Seed)}, {"command", r.Command},
			{"partial", fmt.Sprint(r.Partial)},
		},
	}
	if r.PartialReason != "" {
		suite.Properties = append(suite.Properties, junitProperty{"partial_reason", r.PartialReason})
	}
	if !r.StartedAt.IsZero() {
		suite.Timestamp = r.StartedAt.UTC().Format("2006-01-02T15:04:05")
	}
	if r.FinishedAt.Before(r.StartedAt) {
		suite.Time = "0.000"
	}
	for _, t := range r.Thresholds {
		c := junitCase{Name: t.Expr, Classname: "cbload.thresholds", Time: "0",
			SystemOut: "measured " + t.Measured + junitSuffix(t.Message)}
		if !t.Pass {
			c.Failure = &junitFailure{
				Message: "measured " + t.Measured + junitSuffix(t.Message),
				Type:    "threshold",
				Text:    fmt.Sprintf("%s\nmeasured: %s\n%s\n", t.Expr, t.Measured, t.Message),
			}
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, c)
	}
	if r.Validity != nil {
		for _, c := range r.Validity.Checks {
			jc := junitCase{Name: c.Name + " (" + c.Arm + ")", Classname: "cbload.validity", Time: "0", SystemOut: c.Message}
			if !c.Pass {
				jc.Failure = &junitFailure{Message: c.Message, Type: "validity", Text: c.Message + "\n"}
				suite.Failures++
			}
			suite.Cases = append(suite.Cases, jc)
		}
	}
	v := junitCase{Name: "verdict", Classname: "cbload.verdict", Time: "0",
		SystemOut: r.Verdict.Summary + "\n" + strings.Join(r.Verdict.Reasons, "\n")}
	switch o := verdictOutcome(r.Verdict.Outcome); {
	case o.Tone == ToneBad:
		v.Failure = &junitFailure{Message: r.Verdict.Outcome + ": " + r.Verdict.Summary, Type: "verdict",
			Text: strings.Join(r.Verdict.Reasons, "\n")}
		suite.Failures++
	case o.Skip:
		v.Skipped = &junitSkipped{Message: r.Verdict.Summary}
		suite.Skipped++
	}
	suite.Cases = append(suite.Cases, v)
	suite.Tests = len(suite.Cases)
	doc := junitSuites{Name: "cbload", Tests: suite.Tests, Failures: suite.Failures, Skipped: suite.Skipped,
		Time: suite.Time, Suites: []junitSuite{suite}}
	return writeJUnitDoc(w, doc)
}

func junitSuffix(msg string) string {
	if msg == "" {
		return ""
	}
	return "; " + msg
}

// writeJUnitDoc writes doc as an indented JUnit XML document with its header.
func writeJUnitDoc(w io.Writer, doc junitSuites) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}
