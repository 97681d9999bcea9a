package harness

import (
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

// A dry run lists the thresholds, marking those that abort the run, and
// says nothing of thresholds when there are none.
func TestThresholdsWritePlan(t *testing.T) {
	var th Thresholds
	for i, expr := range []string{"breaker.fault.api.success_ratio >= 99%", "verdict.cascade_prevented == true"} {
		c, err := reports.ParseThreshold(expr)
		if err != nil {
			t.Fatal(err)
		}
		th.Checks, th.Abort = append(th.Checks, c), append(th.Abort, i == 1)
	}
	var b strings.Builder
	th.WritePlan(&b)
	want := "thresholds:\n  breaker.fault.api.success_ratio >= 99%\n  verdict.cascade_prevented == true  (abort on fail)\n"
	if b.String() != want {
		t.Errorf("WritePlan wrote\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	(&Thresholds{}).WritePlan(&b)
	if b.Len() != 0 {
		t.Errorf("WritePlan with no thresholds wrote %q; want nothing", b.String())
	}
}
