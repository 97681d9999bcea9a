package analysis_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cbload/cbload/analysis"
	"github.com/cbload/cbload/reports"
)

// writeShards writes n shard reports of the run in testdata/run.json into
// run folders s0, s1, … of a temporary folder, which it returns.
func writeShards(t *testing.T, n int, edit func(i int, r *reports.Report)) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		r := readRun(t)
		r.Shard = &reports.Shard{Index: i, Count: n}
		if edit != nil {
			edit(i, r)
		}
		var b bytes.Buffer
		if err := reports.WriteJSON(&b, r); err != nil {
			t.Fatal(err)
		}
		sub := filepath.Join(dir, "s"+string(rune('0'+i)))
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, "report.json"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// ShardFiles expands a folder into its run folders' reports; MergeFiles
// reads, merges and judges them.
func TestMergeFiles(t *testing.T) {
	dir := writeShards(t, 2, nil)
	files, err := analysis.ShardFiles([]string{dir})
	if err != nil {
		t.Fatalf("ShardFiles: %v", err)
	}
	if len(files) != 2 || !strings.HasSuffix(files[1], filepath.Join("s1", "report.json")) {
		t.Fatalf("ShardFiles = %q; want s0's and s1's report.json", files)
	}
	rep, err := analysis.MergeFiles(context.Background(), files)
	if err != nil {
		t.Fatalf("MergeFiles: %v", err)
	}
	if rep.Shard != nil || rep.Verdict.Outcome == "" {
		t.Errorf("merged report: shard %v, verdict %q; want no shard and a verdict", rep.Shard, rep.Verdict.Outcome)
	}
}

// Reports that cannot be merged are an *InputError whose message says why.
func TestMergeFilesInputErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := analysis.ShardFiles([]string{empty}); !isInput(err, empty+": no report.json in it or in its subfolders") {
		t.Errorf("ShardFiles(empty folder) = %v; want an *InputError naming it", err)
	}
	if _, err := analysis.ShardFiles([]string{filepath.Join(empty, "gone")}); !isInput(err, "no such file") {
		t.Errorf("ShardFiles(missing) = %v; want an *InputError", err)
	}
	one := filepath.Join(writeShards(t, 1, nil), "s0", "report.json")
	many := make([]string, analysis.MaxShards+1)
	for i := range many {
		many[i] = one
	}
	if _, err := analysis.ShardFiles(many); !isInput(err, "more than the") {
		t.Errorf("ShardFiles(%d reports) = %v; want an *InputError", len(many), err)
	}

	badID := writeShards(t, 2, func(i int, r *reports.Report) { r.RunID = "../x" })
	files, _ := analysis.ShardFiles([]string{badID})
	if _, err := analysis.MergeFiles(context.Background(), files); !isInput(err, "report.json: run_id") {
		t.Errorf("MergeFiles(bad run id) = %v; want an *InputError naming run_id", err)
	}
	twice := writeShards(t, 2, func(i int, r *reports.Report) { r.Shard.Index = 0 })
	files, _ = analysis.ShardFiles([]string{twice})
	if _, err := analysis.MergeFiles(context.Background(), files); !isInput(err, "merge: ") {
		t.Errorf("MergeFiles(shard 0 twice) = %v; want an *InputError starting merge:", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := analysis.MergeFiles(ctx, files); !errors.Is(err, context.Canceled) {
		t.Errorf("MergeFiles(cancelled) = %v; want context.Canceled", err)
	}
}

func isInput(err error, want string) bool {
	var ie *analysis.InputError
	return errors.As(err, &ie) && strings.Contains(err.Error(), want)
}
