package harness

import (
	"fmt"
	"slices"

	"github.com/cbload/cbload/analysis"
	"github.com/cbload/cbload/reports"
)

// MaxTrials is the most trials a run may ask for.
const MaxTrials = 20

// runTrials runs every arm of names once per trial, the arms interleaved —
// A B, then B A, then A B … — so that slow drift of the machine lands on
// both arms alike. It returns each trial's arms in names order, and stops at
// the first error, which it returns with what ran until then.
func runTrials(trials int, names []string, arm func(name string) (*reports.Arm, error)) (runs [][]reports.Arm, order []string, err error) {
	for t := range max(trials, 1) {
		seq := slices.Clone(names)
		if t%2 == 1 {
			slices.Reverse(seq)
		}
		byName := map[string]reports.Arm{}
		for _, n := range seq {
			a, aerr := arm(n)
			if a != nil {
				byName[n] = *a
				order = append(order, fmt.Sprintf("%s#%d", n, t+1))
			}
			if aerr != nil {
				err = aerr
				break
			}
		}
		var got []reports.Arm
		for _, n := range names {
			if a, ok := byName[n]; ok {
				got = append(got, a)
			}
		}
		if len(got) > 0 {
			runs = append(runs, got)
		}
		if err != nil {
			return runs, order, err
		}
	}
	return runs, order, nil
}

// finish completes a report from its trials (analysis.JudgeTrials).
func finish(r *reports.Report, runs [][]reports.Arm, order []string, n int) {
	analysis.JudgeTrials(r, runs, order, n)
}
