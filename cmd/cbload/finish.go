package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/reports"
)

// finishing is what run and merge leave behind once their report is
// complete, in one order: the terminal summary first (so the measured
// results reach the user even when no file can be written), the report
// files and the command's own files beside them with their paths, what the
// command prints next, the threshold lines, the JUnit file and the GitHub
// step summary.
type finishing struct {
	dir string
	rep *reports.Report
	ci  *ciOptions
	// abort is the run's abort, if a threshold stopped it.
	abort *harness.AbortError
	// files, when set, writes the command's files into dir after the
	// reports; their paths are printed with the reports'.
	files func() (paths []string, errs []error)
	// more, when set, prints and writes what follows the paths.
	more func() []error
}

// write finishes: it returns the outputs that could not be written, each
// already printed on stderr, and the threshold outcome (exit 99 when one
// failed).
func (f *finishing) write(ctx context.Context, stdout, stderr io.Writer) (writeErrs []error, thresholdErr error) {
	f.ci.th.Evaluate(f.rep, f.abort)
	_ = reports.WriteTerminal(stdout, f.rep) // stdout errors are ignored, as every line before it
	paths, trimmed, writeErrs := reports.WriteEach(ctx, f.dir, f.rep)
	if trimmed > 0 {
		fmt.Fprintf(stderr, "cbload: report.json would be %.1f MiB with every second's histograms, over the %d MiB cbload reads back: they are left out (the figures stay; the report cannot be merged), as its notes say\n", float64(trimmed)/(1<<20), reports.MaxJSONSize>>20)
	}
	if f.files != nil {
		p, errs := f.files()
		paths, writeErrs = append(paths, p...), append(writeErrs, errs...)
	}
	for _, p := range paths {
		fmt.Fprintf(stdout, "report: %s\n", p)
	}
	if f.more != nil {
		writeErrs = append(writeErrs, f.more()...)
	}
	ciErrs, thresholdErr := finishCI(ctx, stdout, f.ci, f.rep)
	writeErrs = append(writeErrs, ciErrs...)
	for _, e := range writeErrs {
		fmt.Fprintf(stderr, "cbload: %v\n", e)
	}
	return writeErrs, thresholdErr
}

// notWritten is the exit (5) when some outputs could not be written; done
// says what was, like "load ran and the summary above is complete".
func notWritten(done string, writeErrs []error) error {
	return withCode(exitNotWritten, fmt.Errorf("%s, but %d result file(s) could not be written", done, len(writeErrs)))
}

// notValid says on stderr which check failed first and returns the exit (4)
// of an experiment, named what, that was not valid.
func notValid(stderr io.Writer, what string, rep *reports.Report) error {
	c := rep.Validity.Failed()[0]
	fmt.Fprintf(stderr, "cbload: %s was not valid (%s failed for the %s arm); the verdict is inconclusive\n", what, c.Name, c.Arm)
	return withCode(exitNotValid, errSilent)
}

// unwrapWrite drops the "write PATH:" that outfile.Write puts in front of
// an error, for a message that names the path once.
func unwrapWrite(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// stepSummaryEnv is set by GitHub Actions to a file whose Markdown is shown
// on the run's summary page.
const stepSummaryEnv = "GITHUB_STEP_SUMMARY"

// finishCI prints one line per threshold and writes the JUnit file and the
// step summary. It returns the outputs that could not be written and the
// threshold outcome (exit 99 when one failed).
func finishCI(ctx context.Context, stdout io.Writer, ci *ciOptions, r *reports.Report) (writeErrs []error, thresholdErr error) {
	failed := reports.WriteThresholdLines(stdout, r)
	var errs []error
	if ci.junit != "" {
		// CheckCreatable removed the folders it made for its probe.
		if err := reports.WriteJUnitFile(ctx, ci.junit, r); err != nil {
			errs = append(errs, fmt.Errorf("could not write --junit %s: %w", ci.junit, unwrapWrite(err)))
		} else {
			fmt.Fprintf(stdout, "junit: %s\n", ci.junit)
		}
	}
	if path := os.Getenv(stepSummaryEnv); path != "" && !ci.noStepSummary {
		if err := reports.AppendMarkdown(ctx, path, r); err != nil {
			errs = append(errs, fmt.Errorf("could not append to $%s: %w (pass --no-step-summary to skip it)", stepSummaryEnv, unwrapWrite(err)))
		}
	}
	if failed > 0 {
		return errs, withCode(exitThreshold, fmt.Errorf("%d of %d thresholds failed", failed, len(r.Thresholds)))
	}
	return errs, nil
}
