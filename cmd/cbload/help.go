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

// flagGroup is one titled group of flags in a command's --help.
type flagGroup struct {
	title string
	flags []string
}

// runFlagGroups groups the flags of `cbload run --help` as the flag ⇄ path
// table (runSettings) lists them.
var runFlagGroups = settingGroups(runSettings)

// serveFlagGroups groups the flags of `cbload serve --help`, as
// runFlagGroups does run's.
var serveFlagGroups = []flagGroup{
	{"Faults and schedule", []string{"fault", "phases", "scenario", "start-at", "exit-after-schedule", "seed"}},
	{"The run the schedule is for", []string{"arms", "trials", "client-timeout"}},
	{"Upstream", []string{"service-time", "jitter", "proxy-to", "grpc", "upstream-concurrency", "upstream-queue", "upstream-honor-cancel"}},
	{"Listeners and control API", []string{"addr", "control-addr", "control-token", "control-host", "allow-remote"}},
	{"Metrics", []string{"metrics-addr", "otlp-endpoint", "otlp-protocol"}},
	{"Slow clients and connection caps", []string{"read-header-timeout", "read-timeout", "idle-timeout", "stall-timeout", "max-conns", "control-max-conns"}},
	{"Help", []string{"help"}},
}

// commandFlagGroups holds the groups of each command with grouped help, by
// command name.
var commandFlagGroups = map[string][]flagGroup{"run": runFlagGroups, "serve": serveFlagGroups}

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

// useGroupedHelp gives cmd grouped help: usage, examples, then its flags
// under the titles of its commandFlagGroups entry, then the long text.
func useGroupedHelp(cmd *cobra.Command) {
	if _, ok := commandFlagGroups[cmd.Name()]; !ok {
		panic("no flag groups for " + cmd.Name()) // a command missing from commandFlagGroups
	}
	cmd.SetHelpTemplate(groupedHelpTemplate)
	cmd.SetUsageTemplate(groupedUsageTemplate)
}

// flagGroups renders cmd's flags under the titles of its groups; flags in
// no group come last, under "Other flags".
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
	for _, g := range commandFlagGroups[cmd.Name()] {
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

// registerServeCompletions completes the values of `cbload serve`'s flags:
// fault kinds and specs, the phases' form, listen addresses and the proxy
// URL's start; file names only for --scenario.
func registerServeCompletions(cmd *cobra.Command) {
	mustComplete(cmd, "fault", completeFaults)
	mustComplete(cmd, "phases", completeValues("5s,15s,10s\tbaseline,fault,recovery"))
	mustComplete(cmd, "scenario", cobra.FixedCompletions([]string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt))
	mustComplete(cmd, "addr", completeValues("127.0.0.1:8081\tloopback only (the default)", "0.0.0.0:8081\tevery interface (a container)"))
	mustComplete(cmd, "control-addr", completeValues("127.0.0.1:8474\tloopback only (the default)", "\tno control API"))
	mustComplete(cmd, "proxy-to", completeValues("http://127.0.0.1:", "https://"))
	mustComplete(cmd, "otlp-protocol", completeValues("grpc", "http/protobuf"))
	noFiles(cmd)
}

// registerFaultCompletions completes `cbload fault`: the action, then
// fault specs where the action takes one.
func registerFaultCompletions(cmd *cobra.Command) {
	cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		switch {
		case len(args) == 0:
			return []string{"list\tthe active faults", "set\treplace every fault", "add\tadd one named fault", "remove\tremove a named fault", "clear\tback to healthy"}, cobra.ShellCompDirectiveNoFileComp
		case args[0] == "set" || (args[0] == "add" && len(args) == 2):
			return completeFaults(cmd, args, toComplete)
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	mustComplete(cmd, "control", completeValues("http://127.0.0.1:8474"))
	noFiles(cmd)
}

// registerReportCompletions completes `cbload report`: report.json files,
// the formats, a template file and an output folder.
func registerReportCompletions(cmd *cobra.Command) {
	cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return []string{"json"}, cobra.ShellCompDirectiveFilterFileExt
	}
	mustComplete(cmd, "format", completeList(reports.Formats...))
	mustComplete(cmd, "template", cobra.FixedCompletions(nil, cobra.ShellCompDirectiveDefault))
	mustComplete(cmd, "out", cobra.FixedCompletions(nil, cobra.ShellCompDirectiveFilterDirs))
	noFiles(cmd)
}

// mustComplete registers f as the completion of cmd's flag name; a name
// the command lacks is a bug in the caller's table.
func mustComplete(cmd *cobra.Command, name string, f cobra.CompletionFunc) {
	if err := cmd.RegisterFlagCompletionFunc(name, f); err != nil {
		panic(err)
	}
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
