package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/internal/outfile"
)

// checkEnv checks the OpenTelemetry variables a run reads (see
// harness.CheckEnv), then $GITHUB_STEP_SUMMARY unless the step summary is
// off. A signal (ctx's end) while reading a file a variable names is
// errInterrupted.
func checkEnv(ctx context.Context, stepSummary bool) error {
	if err := harness.CheckEnv(ctx); ctx.Err() != nil {
		return errInterrupted
	} else if err != nil {
		return asUsage(err)
	}
	if v := os.Getenv(stepSummaryEnv); v != "" && stepSummary {
		if err := checkStepSummary(v); err != nil {
			return err
		}
	}
	return nil
}

// checkMetricsEnv checks the OpenTelemetry variables `cbload serve` reads
// (see harness.CheckMetricsEnv). A signal while reading a file a variable
// names is errInterrupted.
func checkMetricsEnv(ctx context.Context) error {
	if err := harness.CheckMetricsEnv(ctx); ctx.Err() != nil {
		return errInterrupted
	} else if err != nil {
		return asUsage(err)
	}
	return nil
}

// checkStepSummary checks $GITHUB_STEP_SUMMARY before any load is sent: a
// folder or a missing folder is bad input; a file that cannot be appended
// to means the run could not report, like an unwritable --junit.
func checkStepSummary(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return usagef("$%s %q: is a folder; want the file GitHub Actions names (or pass --no-step-summary)", stepSummaryEnv, path)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return usagef("$%s %q: its folder does not exist; want the file GitHub Actions names (or pass --no-step-summary)", stepSummaryEnv, path)
	}
	// Not created here: a dry run leaves nothing behind.
	var err error
	if _, serr := os.Stat(path); serr == nil {
		var f *os.File
		if f, err = outfile.OpenAppend(path, 0); err == nil {
			err = f.Close()
		}
		if err != nil {
			err = errors.Unwrap(err)
		}
	} else {
		err = outfile.ProbeDir(filepath.Dir(path), 0)
	}
	if err != nil {
		return withCode(exitCouldNotRun, fmt.Errorf("$%s %q: cannot append to it: %w (pass --no-step-summary to skip it)", stepSummaryEnv, path, err))
	}
	return nil
}
