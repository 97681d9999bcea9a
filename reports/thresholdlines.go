package reports

import (
	"fmt"
	"io"
)

// WriteThresholdLines writes one line per threshold result of r, PASS or
// FAIL with what was measured, under a "thresholds:" heading; nothing
// when r has none. It returns how many failed.
func WriteThresholdLines(w io.Writer, r *Report) (failed int) {
	if len(r.Thresholds) > 0 {
		fmt.Fprintln(w, "\nthresholds:")
	}
	for _, t := range r.Thresholds {
		mark := "PASS"
		if !t.Pass {
			mark = "FAIL"
			failed++
		}
		fmt.Fprintf(w, "  %s  %s  measured %s; %s\n", mark, t.Expr, t.Measured, t.Message)
	}
	return failed
}
