package harness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

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

// runTogether runs every arm of names at once per trial, the trials one
// after the other: arm(ctx, name, k, gate) runs the k-th arm run (k =
// trial × len(names) + the arm's index), starting it on gate's clock. It
// returns each trial's arms in names order and the order they ran in,
// names order per trial. An arm run that fails stops its siblings (their
// ctx is cancelled) and the trials after it; the error returned is the
// first that is not that cancellation.
func runTogether(ctx context.Context, trials int, names []string, arm func(ctx context.Context, name string, k int, gate *startGate) (*reports.Arm, error)) (runs [][]reports.Arm, order []string, err error) {
	for t := range max(trials, 1) {
		tctx, cancel := context.WithCancel(ctx)
		gate := newStartGate(len(names))
		arms := make([]*reports.Arm, len(names))
		errs := make([]error, len(names))
		var wg sync.WaitGroup
		for i, n := range names {
			wg.Go(func() {
				arms[i], errs[i] = arm(tctx, n, t*len(names)+i, gate)
				if errs[i] != nil {
					cancel()
				}
			})
		}
		wg.Wait()
		cancel()
		var got []reports.Arm
		for i, n := range names {
			if arms[i] != nil {
				got = append(got, *arms[i])
				order = append(order, fmt.Sprintf("%s#%d", n, t+1))
			}
		}
		if len(got) > 0 {
			runs = append(runs, got)
		}
		if err = firstCause(ctx, errs); err != nil {
			return runs, order, err
		}
	}
	return runs, order, nil
}

// firstCause returns the first of errs that is not a sibling's
// cancellation — the failure that stopped the others — or, when every
// one is, or ctx itself ended, the first.
func firstCause(ctx context.Context, errs []error) error {
	var first error
	for _, err := range errs {
		switch {
		case err == nil:
		case ctx.Err() == nil && !errors.Is(err, context.Canceled):
			return err
		case first == nil:
			first = err
		}
	}
	return first
}

// finish completes a report from its trials (analysis.JudgeTrials).
func finish(r *reports.Report, runs [][]reports.Arm, order []string, n int) {
	analysis.JudgeTrials(r, runs, order, n)
}
