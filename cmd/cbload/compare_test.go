package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cbload/cbload/internal/testenv"
	"github.com/cbload/cbload/reports"
)

// realRun runs `cbload run` with a latency fault, the breaker arm only and
// short phases, plus extra flags, and returns its output folder and whether
// the run was valid. A run the machine was too busy to make valid (exit 4)
// is tried again, up to three times in all.
func realRun(t *testing.T, extra ...string) (string, bool) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		out := t.TempDir()
		args := append([]string{"run", "--fault=latency", "--arms", "breaker", "--phases", "1s,3s,2s",
			"--seed", "7", "--out", out, "--progress", "never", "--no-step-summary"}, extra...)
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		switch {
		case code == exitOK:
			for _, want := range []string{"requests completed in phase fault:", " · p95 ", "status 200 ×", "503 Service Unavailable ×"} {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("the run's summary lacks %q:\n%s", want, stdout.String())
				}
			}
			return out, true
		case code != exitNotValid:
			t.Fatalf("cbload %s: exit %d\n%s\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
		case attempt == 3:
			t.Logf("run still not valid after %d attempts (a busy machine): %s", attempt, stderr.String())
			return out, false
		}
		t.Logf("attempt %d was not valid (a busy machine); running again", attempt)
	}
}

// TestCompareRealRuns compares two real runs: one with the default breaker
// and one whose breaker can never trip (its only rule needs a million
// calls). The second lets the cascade through, so a rule on /local fails
// (exit 99) one way and holds the other way (exit 0). When the machine was
// too busy for a run to be valid, compare must say so and exit 4 instead,
// still showing the rule's result.
func TestCompareRealRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two real experiments")
	}
	good, goodValid := realRun(t)
	broken, brokenValid := realRun(t, "--breaker-consecutive-failures", "0", "--breaker-min-requests", "1000000")
	wantCode := func(code int) int {
		if !goodValid || !brokenValid {
			return exitNotValid
		}
		return code
	}
	rule := "breaker.fault.collateral.success_ratio < -1%"

	var stdout, stderr bytes.Buffer
	code := run([]string{"compare", good, broken, "--fail-on", rule}, &stdout, &stderr)
	if want := wantCode(exitThreshold); code != want {
		t.Fatalf("compare good broken: exit %d; want %d\n%s\n%s", code, want, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"1 of 1 rules failed: " + rule,
		"FAIL  " + rule,
		"config differs: breaker.consecutive_failures 5 → 0; breaker.min_requests 20 → 1000000",
		"fault.collateral.success_ratio",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if code == exitThreshold {
		if want := "cbload: 1 of 1 --fail-on rules failed: " + rule; !strings.HasPrefix(stderr.String(), want) || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("stderr = %q; want one line starting %q", stderr.String(), want)
		}
	}

	stdout.Reset()
	stderr.Reset()
	code = run([]string{"compare", filepath.Join(broken, "report.json"), good, "--fail-on", rule, "--format", "md"}, &stdout, &stderr)
	if want := wantCode(exitOK); code != want {
		t.Fatalf("compare broken good (an improvement): exit %d; want %d\n%s\n%s", code, want, stdout.String(), stderr.String())
	}
	if !strings.Contains(firstLine(stdout.String()), "cbload compare: ") || !strings.Contains(firstLine(stdout.String()), "all 1 rules hold") {
		t.Errorf("markdown starts %q; want the rules' outcome first", firstLine(stdout.String()))
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TestCompareExitCodes uses the repository's testdata reports: real runs of
// `cbload run --fault=latency --phases 3s,8s,5s --seed 42`, as v2, as v1 and
// on a machine too busy for the run to be valid.
func TestCompareExitCodes(t *testing.T) {
	const td = "../../reports/testdata/"
	dir := t.TempDir()
	write := func(name, content string) string { return testenv.WriteFile(t, dir, name, content) }
	sample, err := os.ReadFile(td + "report.json")
	if err != nil {
		t.Fatal(err)
	}
	// The same run with a fault phase 2 s shorter: another schedule.
	shorter := strings.Replace(strings.Replace(string(sample), `"end_s": 11`, `"end_s": 9`, 1), `"start_s": 11`, `"start_s": 9`, 1)
	if shorter == string(sample) {
		t.Fatal("testdata/report.json has no fault phase ending at 11 s to shorten")
	}
	write("shorter/report.json", shorter)
	write("two/a/report.json", string(sample))
	write("two/b/report.json", string(sample))
	write("one/run-1/report.json", string(sample))
	write("empty/notes.txt", "")
	huge := write("huge.json", "")
	if err := os.Truncate(huge, reports.MaxJSONSize+1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"same report", []string{td + "report.json", td + "report.json", "--fail-on", "breaker.fault.collateral.success_ratio < -1%"}, exitOK, ""},
		{"v1 against v2", []string{td + "report.v1.json", td + "report.json"}, exitOK, ""},
		{"folder with one run folder", []string{filepath.Join(dir, "one"), td + "report.json"}, exitOK, ""},
		{"not valid", []string{td + "report.json", td + "report.invalid.json"}, exitNotValid, "the comparison is not valid: new: "},
		{"other schedule", []string{td + "report.json", filepath.Join(dir, "shorter")}, exitUsage, "incompatible reports: different schedules (base: baseline 0–3 s, fault 3–11 s, recovery 11–16 s; new: baseline 0–3 s, fault 3–9 s, recovery 9–16 s)"},
		{"folder with two runs", []string{filepath.Join(dir, "two"), td + "report.json"}, exitUsage, "holds 2 runs (a/report.json, b/report.json); name the one to compare"},
		{"folder with none", []string{filepath.Join(dir, "empty"), td + "report.json"}, exitUsage, "no report.json in it"},
		{"missing file", []string{filepath.Join(dir, "nope.json"), td + "report.json"}, exitUsage, "no such file"},
		{"not a report", []string{write("x.json", `{"a": 1}`), td + "report.json"}, exitUsage, `no "schema" field`},
		{"malformed", []string{write("y.json", `{"schema": "cbload/report/v2", "arms": 3}`), td + "report.json"}, exitUsage, "malformed report"},
		{"too large", []string{huge, td + "report.json"}, exitUsage, "larger than the 256 MiB limit for a report.json"},
		{"one argument", []string{td + "report.json"}, exitUsage, "want two arguments"},
		{"bad rule", []string{td + "report.json", td + "report.json", "--fail-on", "breaker.fault.collateral.success_ratio == 1%"}, exitUsage, `"==" is not a comparison`},
		{"rule on unknown path", []string{td + "report.json", td + "report.json", "--fail-on", "breaker.fault.local.success_ratio < -1%"}, exitUsage, `"local" is not a value here`},
		{"bad format", []string{td + "report.json", td + "report.json", "--format", "html"}, exitUsage, `--format "html": want text, md or junit`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"compare"}, tt.args...), &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout.String(), stderr.String())
			}
			if tt.want != "" && !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr = %q; want it to contain %q", stderr.String(), tt.want)
			}
			if code == exitUsage && strings.Count(stderr.String(), "\n") > 2 {
				t.Errorf("stderr has %d lines; want the message and at most a hint:\n%s", strings.Count(stderr.String(), "\n"), stderr.String())
			}
			if strings.Contains(stderr.String(), "goroutine ") {
				t.Errorf("stack trace in stderr:\n%s", stderr.String())
			}
		})
	}
}

// TestCompareOutputFile writes JUnit to -o and checks it names the failed
// rule, while the text form still reaches stdout.
func TestCompareOutputFile(t *testing.T) {
	const td = "../../reports/testdata/"
	out := filepath.Join(t.TempDir(), "compare.xml")
	rule := "no-breaker.fault.collateral.success_ratio > +1%" // 45.3% in report.json, 52.9% in report.v1.json
	var stdout, stderr bytes.Buffer
	code := run([]string{"compare", td + "report.json", td + "report.v1.json", "--fail-on", rule, "--format", "junit", "-o", out}, &stdout, &stderr)
	if code != exitThreshold {
		t.Fatalf("exit %d; want %d\n%s\n%s", code, exitThreshold, stdout.String(), stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("junit: %v\n%s", err, data)
	}
	if doc.Failures != 1 || len(doc.Suites) != 1 || doc.Suites[0].Cases[0].Name != rule || doc.Suites[0].Cases[0].Failure == nil {
		t.Errorf("junit: %d failures, cases %+v; want the rule failing\n%s", doc.Failures, doc.Suites, data)
	}
	if !strings.Contains(stdout.String(), "FAIL  "+rule) || !strings.Contains(stdout.String(), "compare: "+out) {
		t.Errorf("stdout lacks the text comparison or the file written:\n%s", stdout.String())
	}
}
