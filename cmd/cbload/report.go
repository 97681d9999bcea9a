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

	"github.com/cbload/cbload/internal/inputfile"
	"github.com/cbload/cbload/reports"
)

// reportOptions holds the arguments and flags of `cbload report`.
type reportOptions struct {
	input   string // path to a report.json
	out     string // output folder; "" means the input's folder
	formats string // comma-separated: html, md, json
}

func newReportCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := &reportOptions{}
	cmd := &cobra.Command{
		Use:   "report path/to/report.json [--out DIR] [--format html,md,json]",
		Short: "Render a saved report.json again as HTML, Markdown and JSON",
		Long: `Report reads a report.json written by 'cbload run' and renders it again, so
a newer cbload can present an old experiment without rerunning it.

It writes report.html (one self-contained page that loads nothing from the
network), report.md (for a CI job summary or a pull-request comment) and
report.json into --out, which defaults to the folder of the input file, and
prints the paths it wrote.

The input may be at most 256 MiB and must be read within 10s. Names and
enumerated values (arms, phases, breaker states, outcomes) are checked
against the schema, so a hostile file cannot put markup into report.md.

Exit codes: 0 done, 2 bad input (unreadable, too large, malformed, a value
the schema does not allow, or an unknown schema version), 1 the output could
not be written, 130 interrupted.`,
		Example: `  cbload report cbload-out/20261127-024214-seed42/report.json
  cbload report report.json --format md --out /tmp/summary
  cbload report report.json --format md && cat report.md >> "$GITHUB_STEP_SUMMARY"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("report: want one argument, the path to a report.json; got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.input = args[0]
			return runReport(cmd.Context(), opts, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.out, "out", "", "output folder (default: the folder of the input report.json)")
	f.StringVar(&opts.formats, "format", "html,md,json", "formats to write, comma-separated: html, md, json")
	registerReportCompletions(cmd)
	return cmd
}

// reportReadTimeout is how long reading a report.json may take, so a FIFO
// no one writes to cannot hold the process.
const reportReadTimeout = 10 * time.Second

// readReportFile reads the report.json at path with the size cap and
// deadline of every report cbload reads; its errors are ready for the exit
// code: 2 for a file that cannot be used, 130 when ctx was cancelled.
func readReportFile(ctx context.Context, path string) (*reports.Report, error) {
	data, err := inputfile.Read(ctx, path, reports.MaxJSONSize, reportReadTimeout)
	var tl *inputfile.TooLargeError
	switch {
	case ctx.Err() != nil:
		return nil, errInterrupted
	case errors.As(err, &tl):
		return nil, usagef("%s: larger than the %s limit for a report.json", path, inputfile.Size(tl.Limit))
	case errors.Is(err, inputfile.ErrTimeout):
		return nil, usagef("%s: not read to its end within %v; want a regular file (a pipe must be written and closed)", path, reportReadTimeout)
	case err != nil:
		return nil, usagef("%v", err)
	}
	r, err := reports.ReadJSON(bytes.NewReader(data))
	switch {
	case errors.Is(err, reports.ErrSchema), errors.Is(err, reports.ErrMalformed), errors.Is(err, reports.ErrTooLarge):
		return nil, usagef("%s: %v", path, err)
	case err != nil:
		return nil, asUsage(fmt.Errorf("read %s: %w", path, err))
	}
	return r, nil
}

// runReport renders opts.input into opts.out and prints the paths written.
func runReport(ctx context.Context, opts *reportOptions, stdout, stderr io.Writer) error {
	formats, err := reports.ParseFormats(opts.formats)
	if err != nil {
		return usagef("--format: %v", err)
	}
	r, err := readReportFile(ctx, opts.input)
	if err != nil {
		return err
	}
	dir := opts.out
	if dir == "" {
		dir = filepath.Dir(opts.input)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	// Rewriting the input itself would only drop the fields of a newer v1
	// report that this cbload does not know: leave it as it is.
	same := false
	if in, err := os.Stat(opts.input); err == nil {
		if out, err := os.Stat(filepath.Join(dir, "report.json")); err == nil && os.SameFile(in, out) {
			same = true
		}
	}
	var write []string
	for _, f := range formats {
		if f == "json" && same {
			continue
		}
		write = append(write, f)
	}
	if ctx.Err() != nil {
		return errInterrupted
	}
	paths, err := reports.WriteAll(dir, r, write)
	for _, p := range paths {
		fmt.Fprintf(stdout, "report: %s\n", p)
	}
	if same && err == nil {
		fmt.Fprintf(stdout, "report: %s (the input, left as it is)\n", opts.input)
	}
	return err
}
