package main

import (
	"fmt"
	"net/url"
	"strings"

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
// targets, resolving /paths against each target's origin.
func (ci *ciOptions) resolveTargets() ([]harness.Target, error) {
	var out []harness.Target
	if len(ci.targets) > 0 {
		for _, t := range ci.targets {
			name, u, ok := strings.Cut(t, "=")
			if !ok || name == "" || u == "" {
				return nil, flagErrorf("--target", " %q: want NAME=URL like breaker=http://127.0.0.1:8080/api", t)
			}
			if err := checkURL(u, ci.allow); err != nil {
				return nil, flagErrorf("--target", " %s: %v", name, err)
			}
			out = append(out, harness.Target{Name: name, URL: u})
		}
	} else {
		for i, t := range ci.fileTargets {
			where := fmt.Sprintf("scenario %s: line %d: targets[%d]", ci.scenarioName, t.Line, i)
			if t.Name == "" || t.URL == "" {
				return nil, usagef("%s: name and url are required", where)
			}
			if err := checkURL(t.URL, ci.allow); err != nil {
				return nil, usagef("%s.url: %v", where, err)
			}
			ht := harness.Target{Name: t.Name, URL: t.URL}
			var err error
			if ht.Collateral, err = resolveRef(t.URL, t.Collateral, ci.allow); err != nil {
				return nil, usagef("%s.collateral: %v", where, err)
			}
			if ht.BreakerStateURL, err = resolveRef(t.URL, t.BreakerStateURL, ci.allow); err != nil {
				return nil, usagef("%s.breaker_state_url: %v", where, err)
			}
			out = append(out, ht)
		}
	}
	for i := range out {
		var err error
		if ci.collateral != "" && (out[i].Collateral == "" || ci.collateralFlag) {
			if out[i].Collateral, err = resolveRef(out[i].URL, ci.collateral, ci.allow); err != nil {
				return nil, flagErrorf("--collateral", ": %v", err)
			}
		}
		if ci.breakerStateURL != "" && (out[i].BreakerStateURL == "" || ci.stateFlag) {
			if out[i].BreakerStateURL, err = resolveRef(out[i].URL, ci.breakerStateURL, ci.allow); err != nil {
				return nil, flagErrorf("--breaker-state-url", ": %v", err)
			}
		}
	}
	if ci.stateMap != "" && ci.stateMetric == "" {
		return nil, flagErrorf("--breaker-state-map", ": only used with --breaker-state-metric")
	}
	if ci.stateMetric != "" {
		sm, err := harness.ParseStateMetric(ci.stateMetric, ci.stateMap)
		if err != nil {
			return nil, usagef("--%v", err)
		}
		for i := range out {
			if out[i].BreakerStateURL == "" {
				return nil, flagErrorf("--breaker-state-metric", ": target %s has no --breaker-state-url to read it from", out[i].Name)
			}
			out[i].StateMetric = sm
		}
	}
	return out, nil
}

// resolveRef resolves ref against base when it is a /path; otherwise ref
// must be a URL cbload may send to itself.
func resolveRef(base, ref string, allow harness.AllowList) (string, error) {
	if ref == "" {
		return "", nil
	}
	if strings.HasPrefix(ref, "/") {
		b, err := url.Parse(base)
		if err != nil {
			return "", err
		}
		return b.Scheme + "://" + b.Host + ref, nil
	}
	if err := checkURL(ref, allow); err != nil {
		return "", fmt.Errorf("%v (or give a /path on the target)", err)
	}
	return ref, nil
}

// checkURL checks a URL cbload will send requests to: loopback, http(s),
// and a port, when given, from 1 to 65535. The port is checked here, with
// the rest, so a bad one is a usage error rather than an unreachable
// target.
func checkURL(raw string, allow harness.AllowList) error {
	if err := harness.CheckTargetURL(raw, allow); err != nil {
		return err
	}
	return checkPort(raw)
}

// checkPort checks the port of an absolute URL, if it has one.
func checkPort(raw string) error { return harness.CheckPort(raw) }
