package harness

import (
	"fmt"
	"math"

	"github.com/cbload/cbload/internal/field"
)

// StormRate is the default rate of a chain of tiers that retry: the default
// divided by (1 + retries)^(tiers − 1), so that when every attempt fails the
// bottom tier is asked for no more than one tier is at the default rate.
// Without that a 3 × 3 retry storm at 200 req/s would need ~13k requests/s
// across the tiers, more than a 2-core machine serves, and the pools'
// saturation — not the retries — would set what reaches the upstream. why
// is empty when the default rate stands.
func StormRate(cfg Config) (rate float64, why string) {
	if cfg.Tiers <= 1 || cfg.Gateway.Retries == 0 {
		return cfg.Rate, ""
	}
	div := math.Pow(float64(1+cfg.Gateway.Retries), float64(cfg.Tiers-1))
	rate = cfg.Rate / div
	return rate, fmt.Sprintf("--rate defaults to %g req/s with %d tiers × %d retries (%g / %g), so a retry storm fits on this machine; set --rate to override",
		rate, cfg.Tiers, cfg.Gateway.Retries, cfg.Rate, div)
}

// UseStormRate sets c.Rate, the default rate, to StormRate's for c's tiers
// and retries, and returns the note that says so ("" when the default
// stands). Tiers or retries out of range leave the rate for Validate to
// name them. A storm rate below MinRate is a *field.Error naming both.
func (c *Config) UseStormRate() (note string, err error) {
	if c.Tiers > MaxTiers || c.Gateway.Retries > MaxRetries {
		return "", nil
	}
	r, why := StormRate(*c)
	if why == "" {
		return "", nil
	}
	if r < MinRate {
		// One line that says what to change, not the note and then the
		// rate's own error.
		return "", field.All([]string{"gateway.tiers", "gateway.retries"}, []string{fmt.Sprintf("--tiers %d", c.Tiers), fmt.Sprintf("--retries %d", c.Gateway.Retries)},
			"the default rate for them is %.3g req/s (%g / (1+%d)^%d, so a retry storm fits on this machine), below the %d req/s cbload paces; give --rate (%d to %d), or fewer tiers or retries",
			r, c.Rate, c.Gateway.Retries, c.Tiers-1, MinRate, MinRate, MaxRate)
	}
	c.Rate = r
	return why, nil
}
