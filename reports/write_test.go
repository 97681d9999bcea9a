package reports_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cbload/cbload/reports"
)

func TestParseFormats(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", []string{"json", "md", "html"}},
		{"html", []string{"html"}},
		{"html, md,json", []string{"html", "md", "json"}},
		{"MD,markdown,md", []string{"md"}},
	}
	for _, tt := range tests {
		got, err := reports.ParseFormats(tt.in)
		if err != nil {
			t.Errorf("ParseFormats(%q) error: %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseFormats(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
	for _, in := range []string{"pdf", "html,", "html,png"} {
		if _, err := reports.ParseFormats(in); !errors.Is(err, reports.ErrFormat) {
			t.Errorf("ParseFormats(%q) = %v; want ErrFormat", in, err)
		}
	}
}

func TestWriteAll(t *testing.T) {
	dir := t.TempDir()
	r := sample(t)
	paths, err := reports.WriteAll(context.Background(), dir, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "report.json"), filepath.Join(dir, "report.md"), filepath.Join(dir, "report.html")}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("WriteAll paths (-want +got):\n%s", diff)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		info, _ := e.Info()
		if info.Mode().Perm() != 0o644 {
			t.Errorf("%s mode = %v; want 0644", e.Name(), info.Mode().Perm())
		}
	}
	if !slices.Equal(names, []string{"report.html", "report.json", "report.md"}) {
		t.Errorf("folder holds %q; want the three reports and no temporary files", names)
	}
	f, err := os.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := reports.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("report.json does not read back as written (-want +got):\n%s", diff)
	}

	// Writing again replaces the files in place.
	if _, err := reports.WriteAll(context.Background(), dir, r, []string{"md"}); err != nil {
		t.Fatal(err)
	}
}

func TestWriteAllUnknownFormatWritesNothing(t *testing.T) {
	dir := t.TempDir()
	_, err := reports.WriteAll(context.Background(), dir, sample(t), []string{"md", "pdf"})
	if !errors.Is(err, reports.ErrFormat) {
		t.Fatalf("WriteAll with pdf = %v; want ErrFormat", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("WriteAll wrote %d files before failing; want none", len(entries))
	}
}

func TestWriteAllMissingDir(t *testing.T) {
	_, err := reports.WriteAll(context.Background(), filepath.Join(t.TempDir(), "missing"), sample(t), []string{"md"})
	if err == nil {
		t.Fatal("WriteAll into a missing folder succeeded")
	}
}

// TestWriteAllSpecialFiles: a report file that is a symbolic link keeps
// being one (its file gets the report), and a folder in the way of one is
// an error, not replaced.
func TestWriteAllSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	elsewhere := filepath.Join(t.TempDir(), "kept.md")
	if err := os.WriteFile(elsewhere, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(dir, "report.md")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "report.html"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := reports.WriteAll(context.Background(), dir, sample(t), []string{"md", "html"})
	if err == nil {
		t.Fatal("WriteAll over a folder named report.html succeeded")
	}
	if li, err := os.Lstat(filepath.Join(dir, "report.md")); err != nil || li.Mode()&os.ModeSymlink == 0 {
		t.Errorf("report.md, a symbolic link, was replaced (%v)", err)
	}
	if b, _ := os.ReadFile(elsewhere); !strings.Contains(string(b), "#") {
		t.Errorf("the linked file did not get the report: %q", b)
	}
	if fi, err := os.Stat(filepath.Join(dir, "report.html")); err != nil || !fi.IsDir() {
		t.Errorf("the folder report.html was replaced (%v)", err)
	}
}

// TestWriteEach checks that each format is written on its own: a folder in
// the way of report.md costs that file only, with an error naming it once.
func TestWriteEach(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "report.md"), 0o755); err != nil {
		t.Fatal(err)
	}
	paths, trimmed, errs := reports.WriteEach(context.Background(), dir, sample(t))
	want := []string{filepath.Join(dir, "report.json"), filepath.Join(dir, "report.html")}
	if !slices.Equal(paths, want) || trimmed != 0 || len(errs) != 1 {
		t.Fatalf("WriteEach = %q, %d, %v; want %q, 0 and one error", paths, trimmed, errs, want)
	}
	if msg := errs[0].Error(); !strings.HasPrefix(msg, "could not write "+filepath.Join(dir, "report.md")+": ") || strings.Count(msg, "report.md") != 1 {
		t.Errorf("error %q; want report.md named once", msg)
	}
}

// TestWriteThresholdLines checks the PASS and FAIL lines and their count.
func TestWriteThresholdLines(t *testing.T) {
	r := &reports.Report{Thresholds: []reports.ThresholdResult{
		{Expr: "a > 1", Pass: true, Measured: "2", Message: "ok"},
		{Expr: "b < 1", Measured: "3", Message: "over"},
	}}
	var b strings.Builder
	if failed := reports.WriteThresholdLines(&b, r); failed != 1 || b.String() != "\nthresholds:\n  PASS  a > 1  measured 2; ok\n  FAIL  b < 1  measured 3; over\n" {
		t.Errorf("WriteThresholdLines = %d, %q", failed, b.String())
	}
	b.Reset()
	if failed := reports.WriteThresholdLines(&b, &reports.Report{}); failed != 0 || b.Len() != 0 {
		t.Errorf("WriteThresholdLines of none = %d, %q; want nothing", failed, b.String())
	}
}

// WriteJUnitFile creates the file's folder and writes what WriteJUnit
// does; AppendMarkdown adds the Markdown and a blank line each time.
func TestWriteJUnitFileAppendMarkdown(t *testing.T) {
	ctx, r := context.Background(), sample(t)
	path := filepath.Join(t.TempDir(), "ci", "junit.xml")
	if err := reports.WriteJUnitFile(ctx, path, r); err != nil {
		t.Fatalf("WriteJUnitFile: %v", err)
	}
	var want strings.Builder
	if err := reports.WriteJUnit(&want, r); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != want.String() {
		t.Errorf("WriteJUnitFile wrote %d bytes; want the %d of WriteJUnit", len(got), want.Len())
	}
	summary := filepath.Join(t.TempDir(), "summary.md")
	for range 2 {
		if err := reports.AppendMarkdown(ctx, summary, r); err != nil {
			t.Fatalf("AppendMarkdown: %v", err)
		}
	}
	var md strings.Builder
	if err := reports.WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(summary); string(got) != strings.Repeat(md.String()+"\n", 2) {
		t.Errorf("two AppendMarkdown calls wrote %d bytes; want the Markdown and a blank line twice (%d)", len(got), 2*(md.Len()+1))
	}
}
