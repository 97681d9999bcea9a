package main

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

// verdictExample is one example of the README's verdict table: a fault
// that, at the defaults, gives the verdict of its row.
type verdictExample struct {
	outcome string
	fault   string
}

// readmeVerdictExamples parses the table under "### The verdict rule":
// each row's bold verdict and every `--fault=…` in its example column.
func readmeVerdictExamples(t *testing.T) []verdictExample {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "### The verdict rule")
	if !ok {
		t.Fatal(`README.md has no "### The verdict rule" section`)
	}
	section, _, _ = strings.Cut(section, "\n### ")
	outcomes := map[string]string{
		"prevented": reports.OutcomePrevented, "not prevented": reports.OutcomeNotPrevented,
		"nothing to prevent": reports.OutcomeNothingToPrevent, "worse": reports.OutcomeWorse,
	}
	bold := regexp.MustCompile(`\*\*([a-z ]+)\*\*`)
	fault := regexp.MustCompile("`--fault=([^`]+)`")
	var out []verdictExample
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 4 || strings.HasPrefix(cells[0], "---") || cells[0] == "breaker arm" {
			continue
		}
		m := bold.FindStringSubmatch(cells[2])
		if m == nil || outcomes[m[1]] == "" {
			t.Fatalf("README verdict row %q: verdict %q is not one of %v", line, cells[2], outcomes)
		}
		for _, f := range fault.FindAllStringSubmatch(cells[3], -1) {
			out = append(out, verdictExample{outcome: outcomes[m[1]], fault: f[1]})
		}
	}
	return out
}

// TestReadmeVerdictExamples runs every example of the README's verdict
// table at the defaults, with phases cut to 2s,4s,2s, and checks that it
// gives the verdict its row claims. A run the machine was too busy to make
// valid (exit 4, verdict inconclusive) is run again, up to three times.
func TestReadmeVerdictExamples(t *testing.T) {
	examples := readmeVerdictExamples(t)
	seen := map[string]bool{}
	for _, e := range examples {
		seen[e.outcome] = true
	}
	for _, want := range []string{reports.OutcomePrevented, reports.OutcomeNotPrevented, reports.OutcomeNothingToPrevent, reports.OutcomeWorse} {
		if !seen[want] {
			t.Errorf("the README's verdict table has no example for %s", want)
		}
	}
	if testing.Short() {
		t.Skip("runs one real experiment per example")
	}
	for i, e := range examples {
		t.Run(e.fault, func(t *testing.T) {
			for attempt := 1; ; attempt++ {
				out := t.TempDir()
				args := []string{"run", "--fault=" + e.fault, "--phases", "2s,4s,2s", "--seed", strconv.Itoa(100 + i),
					"--out", out, "--progress", "never", "--no-step-summary"}
				var stdout, stderr bytes.Buffer
				code := run(args, &stdout, &stderr)
				if code == exitNotValid && attempt < 3 {
					t.Logf("attempt %d was not valid (a busy machine); running again", attempt)
					continue
				}
				if code != exitOK {
					t.Fatalf("cbload %s: exit %d\n%s\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
				}
				r := readReport(t, out+"/report.json")
				if r.Verdict.Outcome != e.outcome {
					t.Errorf("--fault=%s: verdict %s (%s); the README claims %s", e.fault, r.Verdict.Outcome, r.Verdict.Summary, e.outcome)
				}
				return
			}
		})
	}
}
