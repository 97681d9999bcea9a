package main

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cbload/cbload/analysis"
	"github.com/cbload/cbload/internal/outfile"
	"github.com/cbload/cbload/reports"
)

// mergeOptions holds the arguments and flags of `cbload merge`.
type mergeOptions struct {
	inputs []string
	out    string
	force  bool
	ci     ciOptions
}

func newMergeCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := &mergeOptions{}
	cmd := &cobra.Command{
		Use:     "merge REPORT... [--out DIR] [--threshold EXPR]... [--junit FILE]",
		Short:   "Merge the reports of the shards of one run (cbload run --shard I/N) exactly",
		Long:    mergeLong,
		Example: mergeExample,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("merge: want the shards' report.json files or folders, got none")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.inputs = args
			return runMerge(cmd.Context(), opts, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.out, "out", "", "output folder (default ./cbload-out/merged-<run id>)")
	f.BoolVar(&opts.force, "force", false, "overwrite an existing report in --out")
	f.StringArrayVar(&opts.ci.thresholds, "threshold", nil, "check a value of the merged report, e.g. 'breaker.fault.collateral.success_ratio >= 99%' (repeatable; exit 99 when one fails)")
	f.StringVar(&opts.ci.junit, "junit", "", "write the threshold and verdict results as JUnit XML to this file")
	f.BoolVar(&opts.ci.noStepSummary, "no-step-summary", false, "do not append the Markdown report to $"+stepSummaryEnv)
	return cmd
}

// runMerge merges the shards' reports, judges the merged data and writes
// every format.
func runMerge(ctx context.Context, opts *mergeOptions, stdout, stderr io.Writer) error {
	files, err := analysis.ShardFiles(opts.inputs)
	if err != nil {
		return asUsage(err)
	}
	var inputs []namedPath
	for _, p := range files {
		inputs = append(inputs, namedPath{"the shard report " + p, p})
	}
	if opts.ci.junit != "" {
		others := inputs
		if opts.out != "" {
			for _, n := range reports.FileNames {
				others = append(others, namedPath{"the " + n + " of --out", filepath.Join(opts.out, n)})
			}
		}
		if err := checkOutputFile("--junit", opts.ci.junit, "junit.xml", others, opts.force); err != nil {
			return err
		}
		if err := outfile.CheckCreatable(opts.ci.junit); err != nil {
			return usagef("--junit %s: %v", opts.ci.junit, err)
		}
	}
	rep, err := analysis.MergeFiles(ctx, files)
	var ie *analysis.InputError
	switch {
	case ctx.Err() != nil:
		return errInterrupted
	case errors.As(err, &ie):
		return asUsage(err)
	case err != nil:
		return err
	}
	rep.Command = "cbload merge " + strings.Join(quoteAll(files), " ")

	ci := &opts.ci
	for _, expr := range opts.ci.thresholds {
		th, err := reports.ParseThresholdFor(expr, rep.Config.Arms, rep.PhaseNames())
		if err != nil {
			return usagef("--threshold: %v", err)
		}
		ci.th.Checks = append(ci.th.Checks, th)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := opts.out
	if dir == "" {
		dir = filepath.Join("cbload-out", "merged-"+rep.RunID)
	}
	if err := checkOutputDir("--out", dir, reports.FileNames, inputs); err != nil {
		return err
	}
	if opts.ci.junit != "" {
		for _, n := range reports.FileNames {
			if p := filepath.Join(dir, n); outfile.Same(p, opts.ci.junit) {
				return usagef("--junit %s: is the %s of --out %s; choose another file", opts.ci.junit, n, dir)
			}
		}
	}
	release, err := prepareOut(dir, opts.force)
	if err != nil {
		return err
	}
	defer release()
	_ = reports.WriteMergeHeader(stdout, rep) // as the lines of the summary below: a failing stdout shows there
	// As cbload run: the summary first, then the files.
	fin := &finishing{dir: dir, rep: rep, ci: ci}
	writeErrs, thresholdErr := fin.write(ctx, stdout, stderr)
	switch {
	case len(writeErrs) > 0:
		return notWritten("the merge's summary above is complete", writeErrs)
	case len(rep.Validity.Failed()) > 0:
		return notValid(stderr, "the merged experiment", rep)
	default:
		return thresholdErr
	}
}

func quoteAll(v []string) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = shellQuote(s)
	}
	return out
}
