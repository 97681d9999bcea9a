package harness

import (
	"fmt"
	"math"
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
