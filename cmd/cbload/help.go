package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/reports"
)

// runFlagGroups groups the flags of `cbload run --help`: groups in the
// order shown, what most runs set first, and the flags of each in the order
// listed. A new flag needs its name in one row; TestRunHelpGroups fails for
// a flag in none.
var runFlagGroups = []struct {
	title string
	flags []string
}{
	{"Experiment: faults and schedule", []string{"fault", "phases", "scenario", "dry-run", "seed", "trials"}},
	{"Load", []string{"rate", "collateral-share", "client-timeout"}},
	{"Thresholds", []string{"threshold"}},
	{"Output", []string{"out", "force", "progress", "junit", "no-step-summary"}},
	{"Your own service (targets)", []string{"target", "upstream-addr", "upstream", "collateral", "breaker-state-url", "allow-remote"}},
	{"Requests to your service", []string{"method", "header", "header-env", "body", "body-file", "targets", "expect", "insecure", "ca-cert", "upstream-tls"}},
	{"Gateway", []string{"gateway-workers", "queue-timeout", "call-timeout", "local-work"}},
	{"Breaker", []string{"arms", "breaker-timeout", "breaker-max-requests", "breaker-interval", "breaker-bucket-period",
		"breaker-consecutive-failures", "breaker-failure-ratio", "breaker-min-requests"}},
	{"Upstream (faults apply to it)", []string{"service-time", "jitter"}},
	{"Tracing", []string{"otlp-endpoint", "otlp-protocol", "trace-sample", "jaeger-url"}},
	{"Help", []string{"help"}},
}

// groupedHelpTemplate shows the usage line, the examples and the flags by
// group before the long explanation: the common cases first.
const groupedHelpTemplate = `{{.Short}}

{{.UsageString}}
{{.Long | trimTrailingWhitespaces}}
`

const groupedUsageTemplate = `Usage:
  {{.UseLine}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}

{{flagGroups .}}`

func init() {
	cobra.AddTemplateFunc("flagGroups", flagGroups)
}

// useGroupedHelp gives cmd the grouped help of `cbload run`.
func useGroupedHelp(cmd *cobra.Command) {
	cmd.SetHelpTemplate(groupedHelpTemplate)
	cmd.SetUsageTemplate(groupedUsageTemplate)
}

// flagGroups renders cmd's flags under the titles of runFlagGroups; flags
// in no group come last, under "Other flags".
func flagGroups(cmd *cobra.Command) string {
	var b strings.Builder
	listed := map[string]bool{}
	section := func(title string, flags []*pflag.Flag) {
		set := pflag.NewFlagSet(title, pflag.ContinueOnError)
		set.SortFlags = false
		for _, f := range flags {
			set.AddFlag(f)
		}
		if set.HasFlags() {
			fmt.Fprintf(&b, "%s:\n%s\n", title, set.FlagUsages())
		}
	}
	for _, g := range runFlagGroups {
		var flags []*pflag.Flag
		for _, name := range g.flags {
			if f := cmd.Flags().Lookup(name); f != nil {
				flags = append(flags, f)
				listed[name] = true
			}
		}
		section(g.title, flags)
	}
	var other []*pflag.Flag
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !listed[f.Name] {
			other = append(other, f)
		}
	})
	section("Other flags", other)
	return b.String()
}

// registerRunCompletions completes the values of every flag of `cbload
// run`: fault kinds and specs, enumerations, threshold paths, target names;
// file names only where a file is wanted.
func registerRunCompletions(cmd *cobra.Command) {
	must := func(name string, f cobra.CompletionFunc) {
		if err := cmd.RegisterFlagCompletionFunc(name, f); err != nil {
			panic(err) // a flag name in this table that the command lacks
		}
	}
	must("fault", completeFaults)
	must("arms", completeList(harness.DefaultConfig().Arms...))
	must("progress", completeValues("auto\tlive lines when stderr is a terminal", "always", "never"))
	must("otlp-protocol", completeValues("grpc", "http/protobuf"))
	must("trace-sample", completeValues("auto\tevery request up to 20,000 per run", "1", "0.1", "0.01", "0"))
	must("threshold", completeThreshold)
	must("target", completeValues("breaker=http://127.0.0.1:", "no-breaker=http://127.0.0.1:"))
	must("phases", completeValues("5s,15s,10s\tbaseline,fault,recovery"))
	must("scenario", cobra.FixedCompletions([]string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt))
	must("junit", cobra.FixedCompletions([]string{"xml"}, cobra.ShellCompDirectiveFilterFileExt))
	must("out", cobra.FixedCompletions(nil, cobra.ShellCompDirectiveFilterDirs))
	noFiles(cmd)
}

// registerReportCompletions completes `cbload report`: report.json files,
// the formats and an output folder.
func registerReportCompletions(cmd *cobra.Command) {
	cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return []string{"json"}, cobra.ShellCompDirectiveFilterFileExt
	}
	if err := cmd.RegisterFlagCompletionFunc("format", completeList(reports.Formats...)); err != nil {
		panic(err)
	}
	if err := cmd.RegisterFlagCompletionFunc("out", cobra.FixedCompletions(nil, cobra.ShellCompDirectiveFilterDirs)); err != nil {
		panic(err)
	}
	noFiles(cmd)
}

// noFiles turns off file-name completion for every flag of cmd that has no
// completion of its own: numbers, durations, URLs.
func noFiles(cmd *cobra.Command) {
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if _, ok := cmd.GetFlagCompletionFunc(f.Name); !ok && f.Value.Type() != "bool" {
			_ = cmd.RegisterFlagCompletionFunc(f.Name, cobra.NoFileCompletions)
		}
	})
}

// completeValues offers fixed values ("value\tdescription"), no files.
func completeValues(values ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
}

// completeList completes one more item of a comma-separated list, leaving
// out the items already given.
func completeList(items ...string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		done, prefix := "", toComplete
		if i := strings.LastIndexByte(toComplete, ','); i >= 0 {
			done, prefix = toComplete[:i+1], toComplete[i+1:]
		}
		have := strings.Split(strings.TrimSuffix(done, ","), ",")
		var out []string
		for _, it := range items {
			if strings.HasPrefix(it, prefix) && !slices.Contains(have, it) {
				out = append(out, done+it)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeFaults offers every fault kind, bare and with its default
// argument, described.
func completeFaults(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []string
	for _, k := range faultserver.Kinds() {
		desc := k.Description
		if i := strings.IndexAny(desc, ";("); i > 0 {
			desc = strings.TrimSpace(desc[:i])
		}
		out = append(out, cobra.CompletionWithDesc(k.Name, desc))
		if k.DefaultArg != "" {
			out = append(out, cobra.CompletionWithDesc(k.Name+":"+k.DefaultArg, desc))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeThreshold offers the report paths of a default run, the start of
// a threshold expression.
func completeThreshold(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []string
	for _, p := range reports.ThresholdPaths(harness.DefaultConfig().Arms, []string{"baseline", "fault", "recovery"}) {
		if strings.HasPrefix(p, toComplete) {
			out = append(out, p)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// unknownCommand returns the error for a command line whose first word is
// not a command, before its flags are parsed: `cbload runn --fault x`
// would otherwise fail on the flag, hiding the typo.
func unknownCommand(root *cobra.Command, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") || strings.HasPrefix(args[0], "__complete") {
		return nil
	}
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == args[0] || c.HasAlias(args[0]) {
			return nil
		}
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := root.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %s?", s[0])
	}
	return &usageError{err: fmt.Errorf("%s", msg), hint: "Run 'cbload --help' for usage."}
}
