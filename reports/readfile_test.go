package reports

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFind checks what a report argument names: a file, a folder's
// report.json, the run folders below a folder, or nothing.
func TestFind(t *testing.T) {
	dir := t.TempDir()
	mk := func(rel string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file := mk("one/report.json")
	runB, runA := mk("runs/b/report.json"), mk("runs/a/report.json")
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path string
		want []string
	}{
		{file, []string{file}},
		{filepath.Join(dir, "one"), []string{file}},
		{filepath.Join(dir, "runs"), []string{runA, runB}},
		{filepath.Join(dir, "empty"), nil},
	} {
		if got, err := Find(tt.path); err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Find(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
	if _, err := Find(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Find(missing) error %v; want os.ErrNotExist", err)
	}
	for _, tt := range []struct{ path, want, err string }{
		{filepath.Join(dir, "one"), file, ""},
		{filepath.Join(dir, "empty"), "", filepath.Join(dir, "empty") + ": a folder with no report.json in it or in a run folder below it; name the report.json"},
		{filepath.Join(dir, "runs"), "", filepath.Join(dir, "runs") + ": holds 2 runs (a/report.json, b/report.json); name the one to compare"},
	} {
		got, err := FindOne(tt.path, "compare")
		if got != tt.want || (err == nil) != (tt.err == "") || err != nil && err.Error() != tt.err {
			t.Errorf("FindOne(%q) = %q, %v; want %q, %q", tt.path, got, err, tt.want, tt.err)
		}
	}
	for _, r := range []string{"c", "d"} {
		mk("runs/" + r + "/report.json")
	}
	if _, err := FindOne(filepath.Join(dir, "runs"), "compare"); err == nil || !strings.Contains(err.Error(), "holds 4 runs (a/report.json, b/report.json, c/report.json, …)") {
		t.Errorf("FindOne(4 runs) = %v; want the first three and …", err)
	}
	if _, err := ReadFile(context.Background(), file); err == nil || !strings.HasPrefix(err.Error(), file+": ") {
		t.Errorf("ReadFile(%q) = %v; want an error naming the file", file, err)
	}
}

// ReadSummaryTemplate reads and parses a template file; a file that does
// not parse or is too large names itself in a *TemplateFileError, a
// missing one has the file system's error.
func TestReadSummaryTemplate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx := context.Background()
	if _, err := ReadSummaryTemplate(ctx, write("ok.tmpl", "{{.RunID}}\n")); err != nil {
		t.Errorf("ReadSummaryTemplate(ok) = %v", err)
	}
	var fe *TemplateFileError
	bad := write("bad.tmpl", "{{.RunID")
	if _, err := ReadSummaryTemplate(ctx, bad); !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), bad+": ") {
		t.Errorf("ReadSummaryTemplate(bad) = %v; want a *TemplateFileError naming it", err)
	}
	huge := write("huge.tmpl", strings.Repeat("x", MaxSummaryTemplate+1))
	if _, err := ReadSummaryTemplate(ctx, huge); !errors.As(err, &fe) || err.Error() != huge+": larger than the 1 MiB limit for a template" {
		t.Errorf("ReadSummaryTemplate(huge) = %v; want a *TemplateFileError on its size", err)
	}
	if _, err := ReadSummaryTemplate(ctx, filepath.Join(dir, "gone")); errors.As(err, &fe) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadSummaryTemplate(missing) = %v; want the file system's error", err)
	}
}
