package main

import (
	"github.com/cbload/cbload/harness"
)

// applyTargets sets the user's services, if any, as the system under test
// on cfg. It runs before cfg is validated.
func applyTargets(cfg *harness.Config, opts *runOptions) error {
	ci := &opts.ci
	targets, err := ci.resolveTargets()
	if err != nil {
		return err
	}
	if len(targets) > 0 {
		if ci.armsFlag {
			return flagErrorf("--arms", ": not used with --target; each target is an arm (name them breaker and no-breaker for the A/B verdict)")
		}
		// A shard never starts the upstream: every shard's service calls
		// one, run by another process (cbload serve) on the run's schedule.
		if ci.upstreamAddr == "" && len(opts.req.upstreams) == 0 && cfg.Shard.Sharded() {
			cfg.UpstreamExternal = true
		}
		if ci.upstreamAddr == "" && len(opts.req.upstreams) == 0 && !cfg.UpstreamExternal {
			return flagErrorf("--upstream-addr", ": required with --target; the loopback host:port your service calls as its upstream, like 127.0.0.1:9090 (or --upstream NAME=ADDR for each of several)")
		}
		cfg.Targets, cfg.UpstreamAddr = targets, ci.upstreamAddr
	} else {
		for flag, v := range map[string]string{"collateral": ci.collateral, "breaker-state-url": ci.breakerStateURL, "upstream-addr": ci.upstreamAddr, "breaker-state-metric": ci.stateMetric, "breaker-state-map": ci.stateMap} {
			if v != "" {
				return flagErrorf("--"+flag, ": only used with --target")
			}
		}
		if opts.shard.upstreamExternal {
			return flagErrorf("--upstream-external", ": only used with --target (cbload's own gateway calls its own upstream)")
		}
	}
	return nil
}

// resolveTargets turns --target flags (or the file's targets) into harness
// targets (harness.TargetSettings.Resolve).
func (ci *ciOptions) resolveTargets() ([]harness.Target, error) {
	s := harness.TargetSettings{
		Flags: ci.targets, Collateral: ci.collateral, CollateralFlag: ci.collateralFlag,
		BreakerStateURL: ci.breakerStateURL, StateFlag: ci.stateFlag, StateMetric: ci.stateMetric, StateMap: ci.stateMap,
	}
	for _, t := range ci.fileTargets {
		s.File = append(s.File, harness.Target{Name: t.Name, URL: t.URL, Collateral: t.Collateral, BreakerStateURL: t.BreakerStateURL})
	}
	targets, err := s.Resolve(ci.allow)
	return targets, asUsage(err)
}
