package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cbload/cbload/internal/testenv"
	"github.com/cbload/cbload/reports"
)

const sampleReport = "../../reports/testdata/report.json"

// copySample puts the sample report.json into a fresh folder.
func copySample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(sampleReport)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "report.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunReportDefaultsToInputFolder(t *testing.T) {
	in := copySample(t)
	before, _ := os.ReadFile(in)
	var stdout, stderr bytes.Buffer
	err := runReport(context.Background(), &reportOptions{input: in, formats: "html,md,json"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("runReport: %v", err)
	}
	dir := filepath.Dir(in)
	want := "report: " + filepath.Join(dir, "report.html") + "\n" +
		"report: " + filepath.Join(dir, "report.md") + "\n" +
		"report: " + in + " (the input, left as it is)\n"
	if diff := cmp.Diff(want, stdout.String()); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	after, _ := os.ReadFile(in)
	if !bytes.Equal(before, after) {
		t.Error("runReport rewrote its input report.json")
	}
	for _, name := range []string{"report.html", "report.md"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s not written: %v", name, err)
		}
	}
}

func TestRunReportOutAndFormat(t *testing.T) {
	out := filepath.Join(t.TempDir(), "new", "folder")
	var stdout bytes.Buffer
	err := runReport(context.Background(), &reportOptions{input: sampleReport, out: out, formats: "md,json"}, &stdout, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("runReport: %v", err)
	}
	want := "report: " + filepath.Join(out, "report.md") + "\nreport: " + filepath.Join(out, "report.json") + "\n"
	if diff := cmp.Diff(want, stdout.String()); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 2 {
		t.Errorf("--out holds %d files; want report.md and report.json", len(entries))
	}
}

// TestReportExitCodes drives the whole CLI: bad input exits 2 with a
// one-line message.
func TestReportExitCodes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string { return testenv.WriteFile(t, dir, name, content) }
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"ok", []string{"report", sampleReport, "--out", filepath.Join(dir, "ok"), "--format", "md"}, exitOK, ""},
		{"unknown schema", []string{"report", write("v9.json", `{"schema": "cbload/report/v9"}`)}, exitUsage, `unsupported report schema "cbload/report/v9"`},
		{"no schema", []string{"report", write("other.json", `{"name": "x"}`)}, exitUsage, "not a cbload report"},
		{"malformed", []string{"report", write("bad.json", "{\"schema\": \"cbload/report/v1\",\n  \"arms\": [")}, exitUsage, "malformed report: line 2"},
		{"missing file", []string{"report", filepath.Join(dir, "nope.json")}, exitUsage, "no such file"},
		{"no argument", []string{"report"}, exitUsage, "want one argument"},
		{"bad format", []string{"report", sampleReport, "--format", "pdf"}, exitUsage, `unknown report format "pdf"`},
		{"two arguments", []string{"report", sampleReport, sampleReport}, exitUsage, "want one argument"},
		{"a folder", []string{"report", dir}, exitUsage, "is a directory"},
		{"empty file", []string{"report", write("empty.json", "")}, exitUsage, "the file is empty"},
		{"not an object", []string{"report", write("list.json", "[]")}, exitUsage, "must be an object"},
		{"unknown flag", []string{"report", sampleReport, "--fromat", "md"}, exitUsage, "unknown flag: --fromat"},
		{"unknown command", []string{"reprot", sampleReport}, exitUsage, `unknown command "reprot"; did you mean report?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("cbload %s exited %d; want %d (stderr %q)", strings.Join(tt.args, " "), code, tt.code, stderr.String())
			}
			if tt.want == "" {
				return
			}
			msg := stderr.String()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("stderr = %q; want it to contain %q", msg, tt.want)
			}
			if first, _, _ := strings.Cut(msg, "\n"); !strings.HasPrefix(first, "cbload: ") {
				t.Errorf("stderr first line = %q; want a one-line cbload: message", first)
			}
		})
	}
}

// TestReportHostile renders report.json files edited to carry markup in
// names and enumerations: `cbload report` must refuse each with exit 2 and
// one line naming the field, and write nothing.
func TestReportHostile(t *testing.T) {
	b, err := os.ReadFile(sampleReport)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ old, new, want string }{
		{`"name": "breaker"`, `"name": "<script>alert(1)</script>"`, `arms[0].name "<script>alert(1)</script>": want a letter`},
		{`"from": "closed"`, `"from": "<img src=x onerror=alert(1)>"`, `arms[0].transitions[0].from "<img src=x onerror=alert(1)>": want one of closed, open`},
		{`"state": "closed"`, `"state": "shut"`, `arms[0].series[0].state "shut"`},
		{`"outcome": "prevented"`, `"outcome": "won"`, `verdict.outcome "won"`},
		{`"name": "fault"`, "\"name\": \"a```\"", `phases[1].name "a` + "```" + `"`},
	}
	for _, tt := range tests {
		body := strings.Replace(string(b), tt.old, tt.new, 1)
		dir := t.TempDir()
		in := filepath.Join(dir, "report.json")
		if err := os.WriteFile(in, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		code := run([]string{"report", in}, &stdout, &stderr)
		msg := strings.TrimSpace(stderr.String())
		if code != exitUsage || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
			t.Errorf("cbload report with %s = exit %d, stderr %q; want exit %d and one line containing %q", tt.new, code, msg, exitUsage, tt.want)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("cbload report with %s wrote files: %v", tt.new, entries)
		}
	}
}

// TestRunReportSummary: --summary prints the summary run and merge end
// with — the terminal renderer's — and, without --format, writes no file.
func TestRunReportSummary(t *testing.T) {
	in := copySample(t)
	var stdout bytes.Buffer
	if err := runReport(context.Background(), &reportOptions{input: in, formats: "html,md,json", summary: true}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatalf("runReport: %v", err)
	}
	var want bytes.Buffer
	if err := reports.WriteTerminal(&want, readReport(t, in)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.String(), stdout.String()); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	for _, line := range []string{"during the fault", "verdict: "} {
		if !strings.Contains(stdout.String(), line) {
			t.Errorf("stdout lacks %q:\n%s", line, stdout.String())
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(in))
	if len(entries) != 1 {
		t.Errorf("the folder holds %d files; want only the input: --summary without --format writes nothing", len(entries))
	}
}
