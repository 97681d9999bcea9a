package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/internal/outfile"
	"github.com/cbload/cbload/reports"
)

// reportOptions holds the arguments and flags of `cbload report`.
type reportOptions struct {
	input   string // path to a report.json
	out     string // output folder; "" means the input's folder
	formats string // comma-separated: html, md, json
	// template is --template: a text/template rendered over the report to
	// stdout; formatSet says --format was given too.
	template  string
	formatSet bool
	force     bool // --force: overwrite another run's report in --out
	// summary is --summary: the terminal summary run and merge end with,
	// to stdout; as with --template, files only with --format.
	summary bool
}

func newReportCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := &reportOptions{}
	cmd := &cobra.Command{
		Use:     "report path/to/report.json [--out DIR] [--format html,md,json] [--template FILE.tmpl] [--summary]",
		Short:   "Render a saved report.json again as HTML, Markdown and JSON",
		Long:    reportLong,
		Example: reportExample,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("report: want one argument, the path to a report.json; got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.input = args[0]
			opts.formatSet = cmd.Flags().Changed("format")
			return runReport(cmd.Context(), opts, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.out, "out", "", "output folder (default: the folder of the input report.json)")
	f.StringVar(&opts.formats, "format", "html,md,json", "formats to write, comma-separated: html, md, json")
	f.BoolVar(&opts.force, "force", false, "overwrite the report of another run in --out")
	f.StringVar(&opts.template, "template", "", "render this Go text/template over the report to stdout (see above for the data it gets)")
	f.BoolVar(&opts.summary, "summary", false, "print the summary cbload run ends with (key figures, fault phases, verdict) to stdout; other formats are written only with --format")
	registerReportCompletions(cmd)
	return cmd
}

// readReportFile reads the report.json at path (reports.ReadFile); its
// errors are ready for the exit code: 2 for a file that cannot be used,
// 130 when ctx was cancelled.
func readReportFile(ctx context.Context, path string) (*reports.Report, error) {
	r, err := reports.ReadFile(ctx, path)
	if ctx.Err() != nil {
		return nil, errInterrupted
	}
	return r, asUsage(err)
}

// runReport renders opts.input into opts.out and prints the paths written.
func runReport(ctx context.Context, opts *reportOptions, stdout, stderr io.Writer) error {
	formats, err := reports.ParseFormats(opts.formats)
	if err != nil {
		return usagef("--format: %v", err)
	}
	var tmpl *reports.SummaryTemplate
	if opts.template != "" {
		if tmpl, err = readSummaryTemplate(ctx, opts.template, "--template"); err != nil {
			return err
		}
	}
	r, err := readReportFile(ctx, opts.input)
	if err != nil {
		return err
	}
	if opts.summary {
		if err := reports.WriteTerminal(stdout, r); err != nil {
			return fmt.Errorf("print the summary: %w", err)
		}
	}
	if tmpl != nil {
		if err := renderSummary(ctx, stdout, tmpl, opts.template, r); err != nil {
			return err
		}
	}
	if (tmpl != nil || opts.summary) && !opts.formatSet {
		return nil
	}
	dir := opts.out
	if dir == "" {
		dir = filepath.Dir(opts.input)
	}
	// Rewriting the input itself would only drop the fields of a newer v1
	// report that this cbload does not know: leave it as it is.
	same := outfile.Same(opts.input, filepath.Join(dir, "report.json"))
	var write, names []string
	for _, f := range formats {
		if f == "json" && same {
			continue
		}
		write = append(write, f)
		names = append(names, "report."+f)
	}
	if err := checkOutputDir("--out", dir, names, []namedPath{{"the input report", opts.input}}); err != nil {
		return err
	}
	// A report.json that is not the input is another run's.
	if !same && !opts.force {
		if _, err := os.Stat(filepath.Join(dir, "report.json")); err == nil {
			return usagef("--out %s: already holds the report of another run; pass --force to overwrite it or choose another folder", dir)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	release, err := lockOut(dir)
	if err != nil {
		return err
	}
	defer release()
	if ctx.Err() != nil {
		return errInterrupted
	}
	paths, err := reports.WriteAll(ctx, dir, r, write)
	for _, p := range paths {
		fmt.Fprintf(stdout, "report: %s\n", p)
	}
	if same && err == nil {
		fmt.Fprintf(stdout, "report: %s (the input, left as it is)\n", opts.input)
	}
	return err
}

// readSummaryTemplate reads and parses the template file of flag, with the
// size cap and deadline of every file cbload reads.
func readSummaryTemplate(ctx context.Context, path, flag string) (*reports.SummaryTemplate, error) {
	t, err := reports.ReadSummaryTemplate(ctx, path)
	var fe *reports.TemplateFileError
	switch {
	case ctx.Err() != nil:
		return nil, errInterrupted
	case errors.As(err, &fe):
		// A flagError, so a value from a scenario file is named by its line.
		return nil, flagErrorf(flag, " %v", err)
	case err != nil:
		return nil, flagErrorf(flag, ": %v", err)
	}
	return t, nil
}

// renderSummary executes the template over r onto w: a template that fails
// while it runs, or runs past its limits, is bad input, like one that does
// not parse.
func renderSummary(ctx context.Context, w io.Writer, t *reports.SummaryTemplate, path string, r *reports.Report) error {
	err := t.Execute(ctx, w, r)
	var te *reports.TemplateError
	if ctx.Err() != nil {
		return errInterrupted
	}
	if errors.As(err, &te) || errors.Is(err, reports.ErrSummaryTooLarge) {
		return usagef("--template %s: %v", path, err)
	}
	return err
}

// writeSummaryFile renders the --summary-template of a run over r into
// summary.txt in dir and returns its path. The load has run: a template
// that fails now is a result that could not be written. After an
// interrupt (ctx cancelled), the partial report's summary gets a second.
func writeSummaryFile(ctx context.Context, dir string, t *reports.SummaryTemplate, path string, r *reports.Report) (string, error) {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
	}
	var b bytes.Buffer
	if err := t.Execute(ctx, &b, r); err != nil {
		return "", fmt.Errorf("--summary-template %s: %w", path, err)
	}
	out := filepath.Join(dir, "summary.txt")
	if err := outfile.Write(ctx, out, b.Bytes()); err != nil {
		return "", fmt.Errorf("could not write %s: %w", out, unwrapWrite(err))
	}
	return out, nil
}

// checkSummaryFields refuses, before any load is sent, a --summary-template
// that is wrong whatever the run measures (SummaryTemplate.CheckFields over
// the run's arms and phases).
func checkSummaryFields(ctx context.Context, t *reports.SummaryTemplate, path string, cfg *harness.Config) error {
	err := t.CheckFields(ctx, cfg.ArmNames(), cfg.PhaseNames())
	if ctx.Err() != nil {
		return errInterrupted
	}
	if err != nil {
		return usagef("--summary-template %s: %v", path, err)
	}
	return nil
}
