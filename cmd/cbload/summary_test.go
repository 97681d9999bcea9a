package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

// TestWriteSummaryColumnsNeverTouch checks that a value as wide as a column
// ("back in 0.00 s", "0.53 s (inferred)") still leaves a gap before the next
// one: the terminal summary once printed "back in 0.00 sback in 0.10 s".
func TestWriteSummaryColumnsNeverTouch(t *testing.T) {
	r := readReport(t, sampleReport)
	zero, tenth := 0.0, 0.1
	for i, v := range []*float64{&zero, &tenth} {
		if i < len(r.Arms) {
			r.Arms[i].Figures.AfterTrigger = &reports.Recovery{Recovered: true, TimeToRecoverS: v}
		}
	}
	var out bytes.Buffer
	_ = reports.WriteTerminal(&out, r)
	gap := regexp.MustCompile(`\S(\s{2,})\S`)
	for _, line := range strings.Split(out.String(), "\n") {
		if !strings.HasPrefix(line, "after the trigger") {
			continue
		}
		cells := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
		if want := 1 + len(r.Arms); len(cells) != want {
			t.Fatalf("after the trigger row %q splits into %d cells, want %d (label and one per arm)", line, len(cells), want)
		}
		if !gap.MatchString(line) {
			t.Fatalf("no gap between columns in %q", line)
		}
		return
	}
	t.Fatalf("no 'after the trigger' row in:\n%s", out.String())
}

// TestFlagValueErrorsSayTheAcceptedForm checks that a flag value pflag
// cannot parse gets one line naming the flag, the value and what it
// accepts, never a Go parse error.
func TestFlagValueErrorsSayTheAcceptedForm(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--rate", "abc"}, `cbload: --rate "abc": want a number like 200 or 0.5`},
		{[]string{"run", "--trials", "x"}, `cbload: --trials "x": want a whole number like 32`},
		{[]string{"run", "--call-timeout", "5"}, `cbload: --call-timeout "5": want a duration like 500ms, 2s or 1m30s`},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, &stdout, &stderr); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", tc.args, code, exitUsage)
		}
		first, _, _ := strings.Cut(stderr.String(), "\n")
		if first != tc.want {
			t.Errorf("%v: stderr first line %q, want %q", tc.args, first, tc.want)
		}
		if strings.Contains(stderr.String(), "strconv") {
			t.Errorf("%v: a Go parse error reached the user: %q", tc.args, stderr.String())
		}
	}
}
