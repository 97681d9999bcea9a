package harness

import (
	"testing"

	"github.com/cbload/cbload/internal/field"
)

func TestUseStormRate(t *testing.T) {
	for _, tt := range []struct {
		tiers, retries int
		rate           float64 // want; 0: an error
		note           bool
	}{
		{1, 3, 200, false},
		{3, 0, 200, false},
		{2, 3, 50, true},
		{MaxTiers + 1, 3, 200, false}, // Validate names the tiers
		{5, 10, 0, false},
	} {
		c := DefaultConfig()
		c.Rate, c.Tiers, c.Gateway.Retries = 200, tt.tiers, tt.retries
		note, err := c.UseStormRate()
		switch {
		case tt.rate == 0:
			want := "--tiers 5, --retries 10: the default rate for them is 0.0137 req/s (200 / (1+10)^4, so a retry storm fits on this machine), below the 1 req/s cbload paces; give --rate (1 to 20000), or fewer tiers or retries"
			if fe := field.As(err); fe == nil || fe.Path() != "gateway.tiers" || err.Error() != want {
				t.Errorf("UseStormRate(%d tiers, %d retries) = %v; want %q at gateway.tiers", tt.tiers, tt.retries, err, want)
			}
		case err != nil || c.Rate != tt.rate || (note != "") != tt.note:
			t.Errorf("UseStormRate(%d tiers, %d retries) = %q, %v, rate %v; want rate %v, a note %v", tt.tiers, tt.retries, note, err, c.Rate, tt.rate, tt.note)
		}
	}
}
