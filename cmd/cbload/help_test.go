package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestRunHelpGroups checks that every flag of `cbload run` is in one of
// the help's groups, and that the help shows usage, examples and the groups
// in their order before the long explanation.
func TestRunHelpGroups(t *testing.T) {
	cmd := newRunCmd(&bytes.Buffer{}, &bytes.Buffer{})
	cmd.InitDefaultHelpFlag()
	seen := map[string]string{}
	for _, g := range runFlagGroups {
		for _, f := range g.flags {
			if prev, ok := seen[f]; ok {
				t.Errorf("flag --%s is in groups %q and %q", f, prev, g.title)
			}
			seen[f] = g.title
			if cmd.Flags().Lookup(f) == nil {
				t.Errorf("group %q lists --%s, which run does not have", g.title, f)
			}
		}
	}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if _, ok := seen[f.Name]; !ok {
			t.Errorf("flag --%s is in no group of runFlagGroups (help.go): add it to one", f.Name)
		}
	})

	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", "--help"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("run --help = exit %d: %s", code, stderr.String())
	}
	help := stdout.String()
	want := []string{"Usage:\n  cbload run", "Examples:\n  cbload run --fault=latency"}
	for _, g := range runFlagGroups {
		want = append(want, "\n"+g.title+":\n")
	}
	want = append(want, "Run starts, in-process", "Exit codes:")
	at := 0
	for _, w := range want {
		i := strings.Index(help[at:], w)
		if i < 0 {
			t.Fatalf("run --help lacks %q after position %d (or has it out of order):\n%s", w, at, help)
		}
		at += i + len(w)
	}
	if strings.Contains(help, "Other flags:") {
		t.Errorf("run --help has ungrouped flags:\n%s", help)
	}
	if i, j := strings.Index(help, "--fault stringArray"), strings.Index(help, "\nLoad:\n"); i < 0 || i > j {
		t.Errorf("--fault is not the first group's:\n%s", help)
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
