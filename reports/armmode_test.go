package reports_test

import (
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

// A run whose arms ran at once says so where its settings are shown; one
// that ran them one after the other, the default, shows nothing new.
func TestArmModeShown(t *testing.T) {
	for _, mode := range []string{"", "sequential", "concurrent"} {
		r := sample(t)
		r.Config.ArmMode = mode
		md, html, term := render(t, reports.WriteMarkdown, r), render(t, reports.WriteHTML, r), render(t, reports.WriteTerminal, r)
		concurrent := mode == "concurrent"
		if got := strings.Contains(md, " req/s · arms concurrent · seed "); got != concurrent {
			t.Errorf("arm mode %q: Markdown names concurrent arms: %v; want %v", mode, got, concurrent)
		}
		if got := strings.Contains(term, "\narms run concurrently: all at once on one clock"); got != concurrent {
			t.Errorf("arm mode %q: the terminal summary names concurrent arms: %v; want %v", mode, got, concurrent)
		}
		if got := strings.Contains(html, "(concurrent: all at once on one clock, each with its own gateway and upstream)"); got != concurrent {
			t.Errorf("arm mode %q: HTML names concurrent arms: %v; want %v", mode, got, concurrent)
		}
	}
}
