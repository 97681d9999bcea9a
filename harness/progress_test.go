package harness

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

// On a terminal the live line of each arm is rewritten in place: arms one
// after the other each get a line below the last, and arms that run at
// once keep one line each, the cursor moving up to an earlier arm's line
// and back.
func TestProgressInPlace(t *testing.T) {
	tests := []struct {
		name     string
		together int
		arms     []string
		want     string // the output, each line written shown by its arm
	}{
		{"sequential", 0, []string{"a", "a", "b", "b", "a"}, "\r[a]\r[a]\n\r[b]\r[b]\n\r[a]"},
		{"concurrent", 2, []string{"a", "b", "a", "b", "a"}, "\r[a]\n\r[b]\x1b[1A\r[a]\x1b[1B\r[b]\x1b[1A\r[a]\x1b[1B"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			p := NewProgressPrinter(&b, true, 1, reports.Terms{})
			p.Together(tt.together)
			for i, arm := range tt.arms {
				p.Show(Progress{Arm: arm, Second: i, Phase: "baseline", APIOK: -1, LocalOK: -1})
			}
			p.Done()
			// Each line written is the arm's progress line: keep its arm only.
			got := strings.TrimSuffix(b.String(), "\n")
			for _, arm := range []string{"a", "b"} {
				for i := range tt.arms {
					line := Progress{Arm: arm, Second: i, Phase: "baseline", APIOK: -1, LocalOK: -1}.Line(reports.Terms{})
					got = strings.ReplaceAll(got, "\x1b[K"+line, "["+arm+"]")
				}
			}
			if got != tt.want {
				t.Errorf("output %q; want %q", got, tt.want)
			}
		})
	}
}
