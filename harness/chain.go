package harness

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/cbload/cbload/policy"
	"github.com/cbload/cbload/reports"
)

// chain is an arm's gateway tiers, top (the one the load runner calls)
// first, each with its own worker pool, call timeout, retries and policy
// instance; the last calls the upstream. The caller must call close.
type chain struct {
	tiers    []*gateway
	policies []policy.Policy
}

// startChain starts cfg.Tiers gateways in front of the upstream at
// upstreamURL, bottom first, each with a fresh policy of arm, traced through
// tel when not nil. The bottom tier's policy is named "upstream"; a tier
// above it is named after the tier it calls ("tier2", …).
func startChain(cfg *Config, arm, upstreamURL string, tel *gatewayTracing) (*chain, error) {
	n := max(cfg.Tiers, 1)
	c := &chain{tiers: make([]*gateway, n), policies: make([]policy.Policy, n)}
	target, chained := upstreamURL+"/work", false
	epoch := time.Now()
	for i := n - 1; i >= 0; i-- {
		name := "upstream"
		if i < n-1 {
			name = fmt.Sprintf("tier%d", i+2)
		}
		// Each tier draws from its own stream of the run's seed.
		seed := uint64(cfg.Seed) + uint64(i)*0x9e37_79b9_7f4a_7c15
		pol, adm, err := newPolicy(arm, name, cfg, tel, epoch, seed)
		if err != nil {
			return nil, errors.Join(err, c.close())
		}
		gw, err := newGateway(cfg.Gateway, target, chained, adm, tel, seed)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("start gateway tier %d: %w", i+1, err), c.close())
		}
		c.tiers[i], c.policies[i] = gw, pol
		target, chained = gw.url()+"/api", true
	}
	return c, nil
}

// top is the tier the load runner calls; its policy's state and
// transitions are the arm's.
func (c *chain) top() *gateway { return c.tiers[0] }

func (c *chain) topPolicy() policy.Policy { return c.policies[0] }

// lowerTransitions returns the state changes up to now of the policies of
// tiers 2 … N (tier 1 is the top's), in seconds from start, each with its
// tier, by time; nil when none changed state.
func (c *chain) lowerTransitions(now, start time.Time) []reports.Transition {
	var out []reports.Transition
	for i := 1; i < len(c.policies); i++ {
		for _, t := range transitions(c.policies[i].Transitions(now), start) {
			t.Tier = i + 1
			out = append(out, t)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].T < out[j].T })
	return out
}

// bottom is the tier that calls the upstream; its call latencies are the
// arm's upstream call latencies.
func (c *chain) bottom() *gateway { return c.tiers[len(c.tiers)-1] }

// resourceErrors sums every tier's resource errors (file descriptors,
// ports) and returns the last one seen, the top tier's first.
func (c *chain) resourceErrors() (int64, string) {
	var n int64
	var last string
	for _, g := range c.tiers {
		k, l := g.resourceErrors()
		n += k
		if last == "" {
			last = l
		}
	}
	return n, last
}

// close stops every tier that was started, top first.
func (c *chain) close() error {
	var errs []error
	for _, g := range c.tiers {
		if g != nil {
			errs = append(errs, g.close())
		}
	}
	return errors.Join(errs...)
}
