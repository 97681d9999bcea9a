package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestHelpGroups checks, for each command with grouped help, that every
// flag is in exactly one of its groups, and that the help shows usage,
// examples and the groups in their order before the long explanation.
func TestHelpGroups(t *testing.T) {
	for _, tt := range []struct {
		name       string
		cmd        *cobra.Command
		example    string // the start of the examples
		long, last string // the start of the long text, and a line after it
		first      string // the first group's first flag
	}{
		{"run", newRunCmd(&bytes.Buffer{}, &bytes.Buffer{}), "cbload run --fault=latency", "Run starts, in-process", "Exit codes:", "--fault stringArray"},
		{"serve", newServeCmd(&bytes.Buffer{}, &bytes.Buffer{}), "cbload serve --fault latency:200ms", "Serve runs the fault-injecting upstream", "Run a schedule", "--fault stringArray"},
	} {
		groups := commandFlagGroups[tt.name]
		if len(groups) == 0 {
			t.Fatalf("commandFlagGroups has no groups for %s", tt.name)
		}
		cmd := tt.cmd
		cmd.InitDefaultHelpFlag()
		seen := map[string]string{}
		for _, g := range groups {
			for _, f := range g.flags {
				if prev, ok := seen[f]; ok {
					t.Errorf("%s: flag --%s is in groups %q and %q", tt.name, f, prev, g.title)
				}
				seen[f] = g.title
				if cmd.Flags().Lookup(f) == nil {
					t.Errorf("%s: group %q lists --%s, which %s does not have", tt.name, g.title, f, tt.name)
				}
			}
		}
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if _, ok := seen[f.Name]; !ok {
				t.Errorf("%s: flag --%s is in no group of its commandFlagGroups entry (help.go): add it to one", tt.name, f.Name)
			}
		})

		var stdout, stderr bytes.Buffer
		if code := run([]string{tt.name, "--help"}, &stdout, &stderr); code != exitOK {
			t.Fatalf("%s --help = exit %d: %s", tt.name, code, stderr.String())
		}
		help := stdout.String()
		want := []string{"Usage:\n  cbload " + tt.name, "Examples:\n  " + tt.example}
		for _, g := range groups {
			want = append(want, "\n"+g.title+":\n")
		}
		want = append(want, tt.long, tt.last)
		at := 0
		for _, w := range want {
			i := strings.Index(help[at:], w)
			if i < 0 {
				t.Fatalf("%s --help lacks %q after position %d (or has it out of order):\n%s", tt.name, w, at, help)
			}
			at += i + len(w)
		}
		if strings.Contains(help, "Other flags:") {
			t.Errorf("%s --help has ungrouped flags:\n%s", tt.name, help)
		}
		if i, j := strings.Index(help, tt.first), strings.Index(help, "\n"+groups[1].title+":\n"); i < 0 || i > j {
			t.Errorf("%s --help: %s is not in the first group:\n%s", tt.name, tt.first, help)
		}
	}
}

// completions runs cbload's hidden __complete command and returns the
// candidates and the directive.
func completions(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"__complete"}, args...), &stdout, &stderr); code != exitOK {
		t.Fatalf("__complete %q = exit %d: %s", args, code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	directive := lines[len(lines)-1]
	var out []string
	for _, l := range lines[:len(lines)-1] {
		v, _, _ := strings.Cut(l, "\t")
		out = append(out, v)
	}
	return out, directive
}

// TestCompletion checks the value completion of the enumerated flags and
// of fault kinds, and that file names are offered only where a file is
// wanted.
func TestCompletion(t *testing.T) {
	const noFiles, fileExt, dirs = ":4", ":8", ":16"
	tests := []struct {
		args      []string
		want      []string
		directive string
	}{
		{[]string{"run", "--fault", ""}, []string{"latency", "latency:1s", "error:503", "hang", "refuse", "reset", "slowbody:1KiB/s"}, noFiles},
		{[]string{"run", "--arms", ""}, []string{"breaker", "no-breaker"}, noFiles},
		{[]string{"run", "--arms", "no-breaker,"}, []string{"no-breaker,breaker"}, noFiles},
		{[]string{"run", "--progress", ""}, []string{"auto", "always", "never"}, noFiles},
		{[]string{"run", "--arm-mode", ""}, []string{"sequential", "concurrent"}, noFiles},
		{[]string{"run", "--otlp-protocol", ""}, []string{"grpc", "http/protobuf"}, noFiles},
		{[]string{"run", "--trace-sample", ""}, []string{"auto"}, noFiles},
		{[]string{"run", "--threshold", "breaker.fault.collateral.s"}, []string{"breaker.fault.collateral.success_ratio"}, ":6"},
		{[]string{"run", "--target", ""}, []string{"breaker=http://127.0.0.1:"}, noFiles},
		{[]string{"run", "--rate", ""}, nil, noFiles},
		{[]string{"run", "--call-timeout", ""}, nil, noFiles},
		{[]string{"run", "--upstream-addr", ""}, nil, noFiles},
		{[]string{"run", "--scenario", ""}, []string{"yaml", "yml"}, fileExt},
		{[]string{"run", "--junit", ""}, []string{"xml"}, fileExt},
		{[]string{"run", "--out", ""}, nil, dirs},
		{[]string{"report", "--format", ""}, []string{"json", "md", "html"}, noFiles},
		{[]string{"report", "--format", "md,"}, []string{"md,json", "md,html"}, noFiles},
		{[]string{"report", ""}, []string{"json"}, fileExt},
		{[]string{"compare", "--format", ""}, []string{"text", "md", "junit"}, noFiles},
		{[]string{"compare", "--fail-on", "breaker.fault.collateral.s"}, []string{"breaker.fault.collateral.success_ratio"}, ":6"},
		{[]string{"compare", "-o", ""}, nil, ":0"},
		{[]string{"compare", "a.json", "b.json", ""}, nil, noFiles},
		{[]string{"serve", "--fault", ""}, []string{"latency:1s", "slowdown:2x", "hang", "truncate:1KiB", "empty", "garbage:64B", "slowclose:1s", "slowupload:1KiB/s", "tls:handshake"}, noFiles},
		{[]string{"serve", "--phases", ""}, []string{"5s,15s,10s"}, noFiles},
		{[]string{"serve", "--scenario", ""}, []string{"yaml", "yml"}, fileExt},
		{[]string{"serve", "--addr", ""}, []string{"127.0.0.1:8081", "0.0.0.0:8081"}, noFiles},
		{[]string{"serve", "--proxy-to", ""}, []string{"http://127.0.0.1:"}, noFiles},
		{[]string{"serve", "--start-at", ""}, nil, noFiles},
		{[]string{"serve", "--service-time", ""}, nil, noFiles},
		{[]string{"fault", ""}, []string{"list", "set", "add", "remove", "clear"}, noFiles},
		{[]string{"fault", "set", ""}, []string{"latency:1s", "error:503"}, noFiles},
		{[]string{"fault", "add", "slow", ""}, []string{"latency:1s"}, noFiles},
		{[]string{"fault", "--control", ""}, []string{"http://127.0.0.1:8474"}, noFiles},
		{[]string{"fault", "--token-env", ""}, nil, noFiles},
	}
	for _, tt := range tests {
		got, directive := completions(t, tt.args...)
		if directive != tt.directive {
			t.Errorf("complete %q: directive %s; want %s", tt.args, directive, tt.directive)
		}
		for _, w := range tt.want {
			if !strings.Contains("\n"+strings.Join(got, "\n")+"\n", "\n"+w+"\n") {
				t.Errorf("complete %q = %q; want %q among them", tt.args, got, w)
			}
		}
	}
}

// TestUnknownCommandWithFlags checks that a mistyped command is named as
// such, with a suggestion, even when flags of the intended command follow.
func TestUnknownCommandWithFlags(t *testing.T) {
	for _, args := range [][]string{{"runn", "--fault", "x"}, {"reprot", "--format", "md", "r.json"}, {"runn"}} {
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		first, _, _ := strings.Cut(stderr.String(), "\n")
		want := `cbload: unknown command "` + args[0] + `"; did you mean `
		if code != exitUsage || !strings.HasPrefix(first, want) {
			t.Errorf("cbload %q = exit %d, stderr %q; want exit %d and %q…", args, code, stderr.String(), exitUsage, want)
		}
	}
}

// TestDryRunSeed checks that the dry run prints a real seed, not 0: the one
// given, or one picked at random with how to use it.
func TestDryRunSeed(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", "--dry-run", "--fault", "hang"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("dry run = exit %d: %s", code, stderr.String())
	}
	m := regexp.MustCompile(`seed (\d+) \(picked at random.*add --seed=(\d+) to run with this one\)`).FindStringSubmatch(stdout.String())
	if m == nil || m[1] == "0" || m[1] != m[2] {
		t.Errorf("dry run without --seed:\n%s\nwant a picked seed and the flag to use it", stdout.String())
	}
	stdout.Reset()
	if code := run([]string{"run", "--dry-run", "--fault", "hang", "--seed", "5"}, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "seed 5\n") {
		t.Errorf("dry run with --seed 5 = exit %d:\n%s", code, stdout.String())
	}
}

// TestOutHoldsReportFirst checks that a run into a folder that holds a
// report says so before anything else, and that the dry run finds it too.
func TestOutHoldsReportFirst(t *testing.T) {
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "report.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]string{nil, {"--dry-run"}} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"run", "--fault", "hang", "--out", out}, extra...), &stdout, &stderr)
		want := "cbload: --out " + out + ": already holds a report; pass --force"
		if code != exitUsage || !strings.HasPrefix(stderr.String(), want) || stdout.Len() > 0 {
			t.Errorf("run %q into a folder with a report = exit %d, stdout %q, stderr %q; want exit %d and %q first", extra, code, stdout.String(), stderr.String(), exitUsage, want)
		}
	}
}
