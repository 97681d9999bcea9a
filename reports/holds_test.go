package reports

import (
	"os"
	"path/filepath"
	"testing"
)

func TestHoldsReport(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	md := write("report.md", "# not json")
	if HoldsReport(md) {
		t.Fatal("a report.md with no report.json beside it counted as a report")
	}
	loose := write("out.json", "{\n  \"schema\": \""+Schema+"\",\n}")
	write("report.json", "{}")
	if !HoldsReport(md) || !HoldsReport(loose) {
		t.Fatal("want a report.md beside a report.json, and a file starting as a report.json does, to count as reports")
	}
	if HoldsReport(write("notes.txt", "hello")) || HoldsReport(dir) || HoldsReport(filepath.Join(dir, "missing")) {
		t.Fatal("a plain file, a folder or a missing file counted as a report")
	}
}
