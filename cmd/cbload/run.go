package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/internal/printable"
	"github.com/cbload/cbload/reports"
)

// runOptions holds the flags of `cbload run`.
type runOptions struct {
	cfg         harness.Config
	phases      string
	faults      []string
	arms        commaList
	rateFlag    bool // --rate was given
	timeoutFlag bool // --client-timeout was given
	out         string
	force       bool
	progress    string
	// results is --results: a file for every raw result, vegeta's JSON.
	results string
	// summaryTemplate is --summary-template: a text/template rendered over
	// the report into summary.txt; summary is it parsed.
	summaryTemplate string
	summary         *reports.SummaryTemplate
	// traceSample is --trace-sample: "auto" or a ratio in [0,1].
	traceSample string
	// metricsAddr is --metrics-addr: where to serve live metrics.
	metricsAddr string
	repro       string // the command line that reruns this experiment, without --seed
	ci          ciOptions
	shard       shardOptions
	req         requestOptions
}

func newRunCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := newRunOptions()
	cmd := &cobra.Command{
		Use:     "run --fault KIND|SPEC [flags]",
		Short:   "Run the A/B experiment: the same fault with and without a circuit breaker",
		Long:    fillHelp(runLong, "<<faultKinds>>", faultserver.KindsHelp(), "<<ci>>", ciHelp, "<<requests>>", requestHelp, "<<shards>>", shardHelp),
		Example: runExample,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("run takes no arguments, got %q; faults go in --fault", args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.repro = reproCommand(cmd)
			opts.rateFlag = cmd.Flags().Changed("rate")
			opts.timeoutFlag = cmd.Flags().Changed("client-timeout")
			if err := applyScenario(cmd, opts); err != nil {
				return err
			}
			return opts.ci.inFile(runRun(cmd.Context(), opts, stdout, stderr))
		},
	}
	bindRunSettings(cmd, opts)
	useGroupedHelp(cmd)
	return cmd
}

func runRun(ctx context.Context, opts *runOptions, stdout, stderr io.Writer) error {
	cfg := opts.cfg
	cfg, err := runConfig(ctx, opts, stderr)
	if err != nil {
		return err
	}
	picked := cfg.Seed == 0
	if picked {
		cfg.Seed = randomSeed()
	}
	if opts.ci.dryRun {
		return dryRun(ctx, stdout, &cfg, opts, picked)
	}
	// The output folder is locked before anything is said of the run: a
	// process that says when it starts holds its folder.
	dir := opts.out
	if dir == "" {
		dir = filepath.Join("cbload-out", time.Now().Format("20060102-150405")+fmt.Sprintf("-seed%d", cfg.Seed))
	}
	_, statErr := os.Stat(dir)
	release, err := prepareOut(dir, opts.force)
	if err != nil {
		return err
	}
	defer release()
	fmt.Fprintf(stderr, "cbload: seed %d\n", cfg.Seed)
	if line := cfg.ShardLine(); line != "" {
		fmt.Fprintf(stderr, "cbload: %s\n", line)
	}
	if !cfg.Tracing.Exporting() {
		fmt.Fprintln(stderr, "cbload: tracing off: no OTLP endpoint (set --otlp-endpoint or OTEL_EXPORTER_OTLP_ENDPOINT to export traces)")
	}

	if opts.metricsAddr != "" {
		cfg.Metrics = harness.NewMetrics()
		ms, err := startMetricsServer(opts.metricsAddr, cfg.Metrics.Handler())
		if err != nil {
			return err
		}
		defer ms.Close()
		fmt.Fprintf(stderr, "cbload: metrics at %s\n", ms.URL)
	}

	if opts.results != "" {
		// checkWritable removed the folders it made for its probe.
		err := os.MkdirAll(filepath.Dir(opts.results), 0o755)
		if err == nil {
			cfg.Results, err = harness.CreateResultsFile(ctx, opts.results, harness.MaxResultsFile)
		}
		if err != nil {
			if statErr != nil {
				os.Remove(dir)
			}
			if ctx.Err() != nil {
				return errInterrupted // a signal while a FIFO waited for its reader
			}
			return withCode(exitCouldNotRun, fmt.Errorf("--results %s: %w", opts.results, unwrapWrite(err)))
		}
	}
	progress := newProgressPrinter(opts.progress, stderr, cfg.Terms())
	if progress != nil {
		if cfg.ArmMode == harness.ArmsConcurrent {
			progress.Together(len(cfg.Arms))
		}
		cfg.Progress = progress.Show
	}

	rep, runErr := harness.RunValidated(ctx, cfg) // validated above
	// The load has stopped: what follows writes what was measured, after
	// a signal too.
	holdWatchdog(resultsWriteGrace)
	progress.Done()
	var resultsSum *reports.ResultsFile
	var resultsErr error
	if cfg.Results != nil {
		resultsSum, resultsErr = cfg.Results.Close()
		if resultsSum.Written == 0 && (rep == nil || len(rep.Arms) == 0) {
			os.Remove(resultsSum.Path) // no load was sent: leave nothing behind
		}
	}
	var setup *harness.SetupError
	if errors.As(runErr, &setup) && (rep == nil || len(rep.Arms) == 0) {
		if statErr != nil {
			os.Remove(dir) // created above, and still empty: leave nothing behind
		}
		if ctx.Err() != nil {
			return errInterrupted // a signal during setup or the target probe
		}
		return withCode(exitCouldNotRun, runErr)
	}
	if rep == nil {
		if ctx.Err() != nil {
			return errInterrupted
		}
		return runErr
	}
	if errors.Is(runErr, context.Canceled) && len(rep.Arms) == 0 {
		if statErr != nil {
			os.Remove(dir) // created above, and still empty: leave nothing behind
		}
		fmt.Fprintln(stderr, "cbload: interrupted before the start time; no load was sent and no report written")
		return withCode(exitInterrupted, errSilent)
	}
	rep.CbloadVersion = version
	rep.Results = resultsSum
	if t := rep.Tracing; t != nil && t.Enabled {
		fmt.Fprintf(stderr, "cbload: traces: %d spans exported to %s, %d dropped, %d failed\n", t.SpansExported, t.Endpoint, t.SpansDropped, t.SpansFailed)
		if t.LastError != "" {
			fmt.Fprintf(stderr, "cbload: traces: last export error: %s\n", printable.String(t.LastError, harness.MaxLibraryText))
		}
	}
	rep.Command = opts.repro + fmt.Sprintf(" --seed=%d", cfg.Seed)
	var abort *harness.AbortError
	if !errors.As(runErr, &abort) {
		abort = nil
	}
	// Load was sent: the summary comes first, so the measured results reach
	// the user even when no file can be written.
	fin := &finishing{dir: dir, rep: rep, ci: &opts.ci, abort: abort}
	fin.files = func() ([]string, []error) {
		if cfg.UpstreamTLSDir == "" {
			return nil, nil
		}
		// After a signal too, like the partial report: the file is a
		// regular one (the run loaded it), which cannot block.
		ca, err := harness.CopyUpstreamCA(context.WithoutCancel(ctx), cfg.UpstreamTLSDir, dir)
		if err != nil {
			return nil, []error{fmt.Errorf("could not copy the upstream's CA: %w", err)}
		}
		return []string{ca}, nil
	}
	fin.more = func() []error {
		var errs []error
		if s := resultsSum; s != nil {
			fmt.Fprintf(stdout, "results: %s (%d results, vegeta JSON)\n", s.Path, s.Written)
			if s.Dropped > 0 && s.Error == "" {
				fmt.Fprintf(stderr, "cbload: --results %s: reached its limit of %d GiB; the last %d results were not written\n", s.Path, s.LimitBytes>>30, s.Dropped)
			}
		}
		if resultsErr != nil {
			errs = append(errs, fmt.Errorf("could not write all results: %w", resultsErr))
		}
		if opts.summary != nil {
			p, err := writeSummaryFile(ctx, dir, opts.summary, opts.summaryTemplate, rep)
			if err != nil {
				errs = append(errs, err)
			} else {
				fmt.Fprintf(stdout, "summary: %s\n", p)
			}
		}
		return errs
	}
	writeErrs, thresholdErr := fin.write(ctx, stdout, stderr)
	switch {
	case errors.Is(runErr, context.Canceled):
		what := "the partial report was written"
		if len(writeErrs) > 0 {
			what = "the partial report could not all be written"
		}
		fmt.Fprintf(stderr, "cbload: interrupted; %s\n", what)
		return withCode(exitInterrupted, errSilent)
	case len(writeErrs) > 0:
		return notWritten("load ran and the summary above is complete", writeErrs)
	case runErr != nil && abort == nil:
		return withCode(exitCouldNotRun, runErr)
	case len(rep.Validity.Failed()) > 0:
		return notValid(stderr, "the experiment", rep)
	case abort != nil:
		fmt.Fprintf(stderr, "cbload: %s; the partial report was written\n", abort.Reason)
		return withCode(exitThreshold, errSilent)
	default:
		return thresholdErr
	}
}
