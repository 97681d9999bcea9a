package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cbload/cbload/internal/testenv"
	"github.com/cbload/cbload/reports"
)

// TestReportTemplate renders a user's template with a line per arm: the
// values come from the report, through the template's functions.
func TestReportTemplate(t *testing.T) {
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "summary.tmpl")
	text := `{{.Verdict.Outcome}} seed {{.Seed}}
{{range .Arms}}{{.Name}}: /local {{percent .Figures.CollateralSuccessDuringFault}}, p99 {{millis .Figures.CollateralP99DuringFaultMS}}, opened after {{seconds .Figures.TimeToOpenS}}, fault /api requests {{(index .Summary "fault").API.Requests}}
{{end}}`
	if err := os.WriteFile(tmpl, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := readReportFile(t.Context(), sampleReport)
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	fmt.Fprintf(&want, "%s seed %d\n", r.Verdict.Outcome, r.Seed)
	for _, a := range r.Arms {
		opened := "never"
		if a.Figures.TimeToOpenS != nil {
			opened = fmt.Sprintf("%.2f s", *a.Figures.TimeToOpenS)
		}
		fmt.Fprintf(&want, "%s: /local %s, p99 %s, opened after %s, fault /api requests %d\n", a.Name,
			reports.Percent(a.Figures.CollateralSuccessDuringFault), reports.Millis(a.Figures.CollateralP99DuringFaultMS), opened, a.Summary["fault"].API.Requests)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"report", sampleReport, "--template", tmpl, "--out", filepath.Join(dir, "out")}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d; stderr %q", code, stderr.String())
	}
	if diff := cmp.Diff(want.String(), stdout.String()); diff != "" {
		t.Errorf("rendered template (-want +got):\n%s", diff)
	}
	if len(r.Arms) < 2 || !strings.Contains(stdout.String(), "\nno-breaker: /local ") {
		t.Errorf("want a line per arm, got %q", stdout.String())
	}
	// --template alone writes no other format.
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Errorf("--template without --format wrote the reports: %v", err)
	}
	// With --format too, both.
	stdout.Reset()
	code = run([]string{"report", sampleReport, "--template", tmpl, "--format", "md", "--out", filepath.Join(dir, "out")}, &stdout, &stderr)
	if code != exitOK || !strings.HasPrefix(stdout.String(), want.String()) {
		t.Errorf("--template --format md: exit %d, stdout %q", code, stdout.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "report.md")); err != nil {
		t.Errorf("--template --format md wrote no report.md: %v", err)
	}
}

// TestReportTemplateErrors: a template that does not parse or fails as it
// runs is one line naming its line, exit 2, and nothing on stdout.
func TestReportTemplateErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string { return testenv.WriteFile(t, dir, name, content) }
	huge := write("huge.tmpl", strings.Repeat("x", 1<<20+1))
	tests := []struct {
		name, file, want string
	}{
		{"parse error", write("parse.tmpl", "ok\n{{range .Arms}}\n{{.Name}\n{{end}}"), `parse.tmpl: line 3: bad character U+007D '}'`},
		{"unclosed action", write("unclosed.tmpl", "a\nb\n{{if .Partial}}yes"), "unclosed.tmpl: line 3: unexpected EOF"},
		{"unknown field", write("field.tmpl", "line one\n{{range .Arms}}{{.Nmae}}{{end}}"), "field.tmpl: line 2, column 17: at <.Nmae>: can't evaluate field Nmae in type reports.Arm"},
		{"missing key", write("key.tmpl", `{{(index .Arms 0).Summary.nope}}`), `key.tmpl: line 1, column 15: at <0>: map has no entry for key "nope"`},
		{"unknown function", write("func.tmpl", "\n\n{{shout .Seed}}"), `func.tmpl: line 3: function "shout" not defined`},
		{"output too large", write("big.tmpl", `{{range $a := .Arms}}{{range $a.Series}}{{range $a.Series}}{{range $a.Series}}{{range $a.Series}}`+strings.Repeat("x", 100)+`{{end}}{{end}}{{end}}{{end}}{{end}}`), "big.tmpl: the output is larger than the 4 MiB limit"},
		{"template too large", huge, "huge.tmpl: larger than the 1 MiB limit for a template"},
		{"missing template", filepath.Join(dir, "nope.tmpl"), "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run([]string{"report", sampleReport, "--template", tt.file}, &stdout, &stderr)
			if code != exitUsage {
				t.Errorf("exit %d; want %d (stderr %q)", code, exitUsage, stderr.String())
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout = %.80q; want nothing from a failed template", stdout.String())
			}
			msg := stderr.String()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("stderr = %q; want it to contain %q", msg, tt.want)
			}
			if strings.Count(strings.TrimSuffix(msg, "\n"), "\n") > 0 {
				t.Errorf("stderr = %q; want one line", msg)
			}
		})
	}
}

// TestRunSummaryTemplate: cbload run --summary-template renders the user's
// template over the run's report into summary.txt, a line per arm; one
// that does not parse, or names a field the report does not have, is
// refused before any load is sent.
func TestRunSummaryTemplate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string { return testenv.WriteFile(t, dir, name, content) }
	tmpl := write("s.tmpl", "{{range .Arms}}arm {{.Name}}: {{(index .Summary \"fault\").API.Requests}} /api requests in the fault\n{{end}}")
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--fault", "error:503", "--phases", "1s,1s,1s", "--rate", "40", "--seed", "2", "--progress", "never",
		"--summary-template", tmpl, "--out", out}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\nstderr %s", code, stderr.String())
	}
	r := readReport(t, filepath.Join(out, "report.json"))
	var want strings.Builder
	for _, a := range r.Arms {
		fmt.Fprintf(&want, "arm %s: %d /api requests in the fault\n", a.Name, a.Summary["fault"].API.Requests)
	}
	got, err := os.ReadFile(filepath.Join(out, "summary.txt"))
	if err != nil || string(got) != want.String() || len(r.Arms) != 2 {
		t.Errorf("summary.txt = %q (%v); want %q", got, err, want.String())
	}
	if !strings.Contains(stdout.String(), "summary: "+filepath.Join(out, "summary.txt")+"\n") {
		t.Errorf("stdout does not name summary.txt:\n%s", stdout.String())
	}

	for _, tt := range []struct{ name, text, want string }{
		{"parse", "{{if}}", "b.tmpl: line 1: missing value for if"},
		{"field", "x\n{{range .Arms}}{{.Figures.Nope}}{{end}}", "b.tmpl: line 2, column 25: at <.Figures.Nope>: can't evaluate field Nope in type reports.Figures"},
	} {
		stderr.Reset()
		bad := write("b.tmpl", tt.text)
		code := run([]string{"run", "--fault", "error:503", "--summary-template", bad, "--dry-run"}, &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), "--summary-template "+bad) || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", tt.name, code, stderr.String(), tt.want)
		}
	}
}
