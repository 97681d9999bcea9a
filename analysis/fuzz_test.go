package analysis_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cbload/cbload/analysis"
	"github.com/cbload/cbload/reports"
)

// readFuzzed reads in as merge and compare do (reports.ReadJSON); an error
// must be one line wrapping ErrSchema or ErrMalformed.
func readFuzzed(t *testing.T, in []byte) *reports.Report {
	t.Helper()
	r, err := reports.ReadJSON(bytes.NewReader(in))
	if err != nil {
		if !errors.Is(err, reports.ErrSchema) && !errors.Is(err, reports.ErrMalformed) {
			t.Errorf("ReadJSON = %v; want ErrSchema or ErrMalformed", err)
		}
		if strings.ContainsAny(err.Error(), "\n\r") {
			t.Errorf("ReadJSON error spans lines: %q", err)
		}
		return nil
	}
	return r
}

// shardSeeds adds the real run of testdata/run.json as shards 0 and 1 of
// two, the seed of the fuzzers of two reports.
func shardSeeds(f *testing.F) {
	data, err := os.ReadFile("testdata/run.json")
	if err != nil {
		f.Fatal(err)
	}
	shard := func(i int) []byte {
		return bytes.Replace(data, []byte(`"schema": "cbload/report/v2",`),
			[]byte(`"schema": "cbload/report/v2", "shard": {"index": `+string(rune('0'+i))+`, "count": 2, "rate": 20, "seed": 1, "clock_offset": "unknown"},`), 1)
	}
	f.Add(shard(0), shard(1))
	f.Add(data, data)
}

// FuzzMergeShards checks the report reader as merge uses it, and merge
// itself: no input makes either panic or run for ages, every error is one
// line, and a merged report reads back (report and compare can read what
// merge writes).
func FuzzMergeShards(f *testing.F) {
	shardSeeds(f)
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ra, rb := readFuzzed(t, a), readFuzzed(t, b)
		if ra == nil || rb == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m, err := analysis.Merge(ctx, []analysis.Shard{{Source: "a", Report: ra}, {Source: "b", Report: rb}})
		if ctx.Err() != nil {
			t.Fatalf("Merge ran past 10 s")
		}
		if err != nil {
			var mm *analysis.MismatchError
			if !errors.As(err, &mm) || strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("Merge = %v; want a one-line *MismatchError", err)
			}
			return
		}
		m.Validity = &reports.Validity{Checks: []reports.ValidityCheck{}} // judged by the caller
		var out bytes.Buffer
		if err := reports.WriteJSON(&out, m); err != nil {
			t.Fatalf("WriteJSON(merged) = %v", err)
		}
		if _, err := reports.ReadJSON(&out); err != nil {
			t.Errorf("the merged report does not read back: %v", err)
		}
	})
}

// FuzzCompareReports checks the report reader as compare uses it, and
// compare itself: no input makes either panic, and every comparison
// renders.
func FuzzCompareReports(f *testing.F) {
	shardSeeds(f)
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ra, rb := readFuzzed(t, a), readFuzzed(t, b)
		if ra == nil || rb == nil {
			return
		}
		c, err := analysis.Compare(ra, rb, analysis.CompareOptions{BaseLabel: "a", NewLabel: "b", All: true})
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("Compare error spans lines: %q", err)
			}
			return
		}
		for _, w := range []func(io.Writer, *reports.Comparison) error{reports.WriteComparisonMarkdown, reports.WriteComparisonText} {
			if err := w(io.Discard, c); err != nil {
				t.Errorf("render of a comparison: %v", err)
			}
		}
	})
}
