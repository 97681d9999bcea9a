package reports

import (
	"fmt"
	"io"
	"strings"

	"github.com/cbload/cbload/internal/printable"
)

// WriteMergeHeader writes the lines cbload merge prints above a merged
// report's summary: how many of the run's shards it merged, the missing
// ones, and each shard's problems. The run id comes from the shards'
// files: it is printed escaped, so that a line break in it cannot forge a
// line of the output. A report that is not merged writes nothing.
func WriteMergeHeader(w io.Writer, r *Report) error {
	m := r.Merge
	if m == nil {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "merged %d of %d shards of run %s\n", len(m.Shards), m.Count, printable.Clip(r.RunID))
	if len(m.Missing) > 0 {
		parts := make([]string, len(m.Missing))
		for i, n := range m.Missing {
			parts[i] = fmt.Sprint(n)
		}
		fmt.Fprintf(&b, "MISSING: shard %s of %d; the merged report is partial\n", strings.Join(parts, ", "), m.Count)
	}
	for _, s := range m.Shards {
		for _, p := range s.Problems {
			fmt.Fprintf(&b, "shard %d/%d: %s\n", s.Index, m.Count, p)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
