package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

// TestSingleTargetVerdict runs cbload against one service — a gobreaker
// around its upstream call, and the same service without it — and checks
// the verdict on one arm in every format: the terminal summary, the JSON,
// Markdown, HTML and JUnit, and a threshold on one of its parts.
func TestSingleTargetVerdict(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		breaker   bool
		outcome   string
		headline  string
		threshold string
		code      int
		lines     []string // in the terminal summary
	}{
		{"with its breaker", true, reports.OutcomeHeld, "Steady state held", "verdict.shed == true", exitOK,
			[]string{"contained: yes — /local during the fault", "shed: yes — ", "failed fast: yes — ", "recovered: yes — "}},
		// Its 8 workers fill with calls to the slow upstream: /local
		// starves and /api waits (the full pool still sheds calls, so
		// shedding is not what fails).
		{"without it", false, reports.OutcomeNotContained, "Damage not contained", "verdict.contained == true", exitThreshold,
			[]string{"contained: no — /local during the fault", "failed fast: no — "}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			upstream := freeAddr(t)
			svc := startTestService(t, "breaker", "-upstream", "http://"+upstream, "-state-log", os.DevNull, "-breaker="+map[bool]string{true: "true", false: "false"}[tt.breaker])
			out := t.TempDir()
			junit := filepath.Join(out, "junit.xml")
			code, stdout, stderr := cbloadProc(t, nil, "run", "--upstream-addr", upstream, "--rate", "100", "--seed", "9", "--progress", "never", "--out", out,
				"--fault", "latency:1s", "--phases", "2s,4s,3s", "--target", "svc="+svc+"/api", "--collateral", "/local",
				"--junit", junit, "--threshold", tt.threshold)
			if code != tt.code {
				t.Fatalf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			r := readReport(t, filepath.Join(out, "report.json"))
			if r.Verdict.Outcome != tt.outcome || r.Verdict.Steady == nil {
				t.Fatalf("verdict %s (%s), steady state %+v; want %s\nreasons:\n%s", r.Verdict.Outcome, r.Verdict.Summary, r.Verdict.Steady, tt.outcome, strings.Join(r.Verdict.Reasons, "\n"))
			}
			for _, want := range append([]string{"verdict: " + r.Verdict.Summary}, tt.lines...) {
				if !strings.Contains(stdout, want) {
					t.Errorf("terminal summary lacks %q:\n%s", want, stdout)
				}
			}
			for _, f := range []string{"report.md", "report.html"} {
				b, err := os.ReadFile(filepath.Join(out, f))
				if err != nil {
					t.Fatal(err)
				}
				for _, want := range append([]string{tt.headline}, tt.lines...) {
					if !strings.Contains(string(b), want) {
						t.Errorf("%s lacks %q", f, want)
					}
				}
			}
			b, err := os.ReadFile(junit)
			if err != nil {
				t.Fatal(err)
			}
			failed := strings.Contains(string(b), `<failure message="`+tt.outcome+`: `)
			if failed != (tt.outcome != reports.OutcomeHeld) {
				t.Errorf("junit: verdict case failed %v; want %v for %s:\n%s", failed, tt.outcome != reports.OutcomeHeld, tt.outcome, b)
			}
		})
	}
}
