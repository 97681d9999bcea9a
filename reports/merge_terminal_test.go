package reports

import (
	"strings"
	"testing"
)

func TestWriteMergeHeader(t *testing.T) {
	var b strings.Builder
	if err := WriteMergeHeader(&b, &Report{RunID: "x"}); err != nil || b.Len() != 0 {
		t.Fatalf("a report not merged wrote %q, %v; want nothing", b.String(), err)
	}
	r := &Report{RunID: "run\nforged line", Merge: &Merge{Count: 4, Missing: []int{2, 4},
		Shards: []MergedShard{{Index: 1}, {Index: 3, Problems: []string{"its clock is 2s off"}}}}}
	if err := WriteMergeHeader(&b, r); err != nil {
		t.Fatal(err)
	}
	want := "merged 2 of 4 shards of run run\\nforged line\nMISSING: shard 2, 4 of 4; the merged report is partial\nshard 3/4: its clock is 2s off\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}
