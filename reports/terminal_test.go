package reports

import (
	"bytes"
	"fmt"
	"testing"
)

func TestWriteColumnsWidensToTheLongestCell(t *testing.T) {
	var out bytes.Buffer
	writeColumns(&out, [][]string{
		{"during the fault", "breaker", "no-breaker"},
		{"time to open", "0.53 s (inferred)", "no breaker"},
	})
	// The label column is 34 wide; the breaker column widens to its
	// longest cell plus a two-space gap (19), the other keeps its 14.
	want := fmt.Sprintf("%-34s%19s%14s\n%-34s%19s%14s\n",
		"during the fault", "breaker", "no-breaker", "time to open", "0.53 s (inferred)", "no breaker")
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}
