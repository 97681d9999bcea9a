package main

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/cbload/cbload/analysis"
	"github.com/cbload/cbload/internal/outfile"
	"github.com/cbload/cbload/reports"
)

// compareOptions holds the arguments and flags of `cbload compare`.
type compareOptions struct {
	base, next string
	failOn     []string
	format     string // text, md or junit
	out        string // "" means stdout
	all        bool
	force      bool // --force: -o may overwrite a cbload report
}

// maxRules caps --fail-on.
const maxRules = 100

func newCompareCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := &compareOptions{}
	cmd := &cobra.Command{
		Use:     "compare BASE NEW [--fail-on 'PATH OP CHANGE']... [--format text|md|junit] [-o FILE]",
		Short:   "Compare two runs figure by figure and fail CI on a regression",
		Long:    compareLong,
		Example: compareExample,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usagef("compare: want two arguments, BASE and NEW (each a report.json or a folder holding one); got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.base, opts.next = args[0], args[1]
			return runCompare(cmd.Context(), opts, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&opts.failOn, "fail-on", nil, "fail (exit 99) when a value changed like this: 'PATH OP CHANGE', e.g. 'breaker.fault.collateral.success_ratio < -1%' (repeatable)")
	f.StringVar(&opts.format, "format", "text", "output format: text, md or junit")
	f.StringVarP(&opts.out, "output", "o", "", "write the --format output to this file (default: stdout)")
	f.BoolVar(&opts.force, "force", false, "let -o overwrite a file that holds a cbload report (never BASE or NEW)")
	f.BoolVar(&opts.all, "all", false, "show every value a threshold can name, not only the key ones")
	cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) >= 2 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return nil, cobra.ShellCompDirectiveDefault // a report.json or a folder
	}
	mustComplete(cmd, "fail-on", completeThreshold) // the same paths
	mustComplete(cmd, "format", completeList("text", "md", "junit"))
	mustComplete(cmd, "output", cobra.FixedCompletions(nil, cobra.ShellCompDirectiveDefault)) // a file name
	noFiles(cmd)
	return cmd
}

// runCompare compares opts.base with opts.next and writes the comparison.
func runCompare(ctx context.Context, opts *compareOptions, stdout, stderr io.Writer) error {
	format, write, ok := reports.ComparisonWriter(opts.format)
	if !ok {
		return usagef("--format %q: want text, md or junit", opts.format)
	}
	if len(opts.failOn) > maxRules {
		return usagef("--fail-on: %d rules; at most %d", len(opts.failOn), maxRules)
	}
	var rules []analysis.Rule
	for _, s := range opts.failOn {
		r, err := analysis.ParseRule(s)
		if err != nil {
			return asUsage(err)
		}
		rules = append(rules, r)
	}
	base, baseLabel, err := readCompared(ctx, opts.base)
	if err != nil {
		return err
	}
	next, nextLabel, err := readCompared(ctx, opts.next)
	if err != nil {
		return err
	}
	if opts.out != "" {
		inputs := []namedPath{{"BASE", baseLabel}, {"NEW", nextLabel}}
		if err := checkOutputFile("-o", opts.out, "compare.md", inputs, opts.force); err != nil {
			return err
		}
	}
	c, err := analysis.Compare(base, next, analysis.CompareOptions{BaseLabel: baseLabel, NewLabel: nextLabel, Rules: rules, All: opts.all})
	if err != nil {
		return asUsage(err)
	}
	if opts.out == "" {
		err = write(stdout, c)
	} else {
		var b bytes.Buffer
		if err = write(&b, c); err == nil {
			err = outfile.Write(ctx, opts.out, b.Bytes())
		}
		if err != nil {
			return fmt.Errorf("-o %s: %w", opts.out, unwrapWrite(err))
		}
		if format != "text" {
			err = reports.WriteComparisonText(stdout, c)
		}
		fmt.Fprintf(stdout, "compare: %s\n", opts.out)
	}
	if err != nil {
		return err
	}
	if len(c.Invalid) > 0 {
		fmt.Fprintf(stderr, "cbload: the comparison is not valid: %s\n", c.Invalid[0])
		return withCode(exitNotValid, errSilent)
	}
	if failed := c.Failed(); len(failed) > 0 {
		return withCode(exitThreshold, fmt.Errorf("%d of %d --fail-on rules failed: %s (%s)", len(failed), len(c.Rules), failed[0].Rule, failed[0].Message))
	}
	return nil
}

// readCompared reads the report at path — a report.json, or a folder that
// holds one or holds exactly one run folder with one (reports.FindOne) —
// like `cbload report` does, and returns it with the path of the file read.
func readCompared(ctx context.Context, path string) (*reports.Report, string, error) {
	file, err := reports.FindOne(path, "compare")
	if err != nil {
		return nil, "", asUsage(err)
	}
	r, err := readReportFile(ctx, file)
	return r, file, err
}
