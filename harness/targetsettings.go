package harness

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/cbload/cbload/internal/field"
)

// TargetSettings are the settings that name a user's services, as given:
// the --target flags, or else a scenario file's targets, and the
// collateral and breaker state endpoints of every target. Resolve checks
// them and returns the targets.
type TargetSettings struct {
	Flags []string // --target NAME=URL
	// File holds a scenario file's targets, used when Flags is empty;
	// their errors are named by path, targets[i].url.
	File []Target
	// Collateral and BreakerStateURL are a URL or a /path on each target;
	// a file target's own wins unless the flag gave them (CollateralFlag,
	// StateFlag).
	Collateral      string
	CollateralFlag  bool
	BreakerStateURL string
	StateFlag       bool
	// StateMetric and StateMap read the state from a Prometheus page:
	// see ParseStateMetric.
	StateMetric string
	StateMap    string
}

// Resolve returns the targets, each /path resolved against its target's
// origin and every URL one cbload may send to (loopback, or in allow).
// A setting that cannot be used is a *field.Error named by its flag, or
// by its path in the file.
func (s *TargetSettings) Resolve(allow AllowList) ([]Target, error) {
	var out []Target
	if len(s.Flags) > 0 {
		for _, t := range s.Flags {
			name, u, ok := strings.Cut(t, "=")
			if !ok || name == "" || u == "" {
				return nil, field.InvalidValue("targets", "--target", "%q: want NAME=URL like breaker=http://127.0.0.1:8080/api", t)
			}
			if err := checkSendURL(u, allow); err != nil {
				return nil, field.InvalidValue("targets", "--target", "%s: %w", name, err)
			}
			out = append(out, Target{Name: name, URL: u})
		}
	} else {
		for i, t := range s.File {
			at := func(suffix string, err error) error {
				p := fmt.Sprintf("targets[%d]%s", i, suffix)
				return field.Invalid(p, p, "%w", err)
			}
			if t.Name == "" || t.URL == "" {
				p := fmt.Sprintf("targets[%d]", i)
				return nil, field.Invalid(p, p, "name and url are required")
			}
			if err := checkSendURL(t.URL, allow); err != nil {
				return nil, at(".url", err)
			}
			ht := Target{Name: t.Name, URL: t.URL}
			var err error
			if ht.Collateral, err = resolveRef(t.URL, t.Collateral, allow); err != nil {
				return nil, at(".collateral", err)
			}
			if ht.BreakerStateURL, err = resolveRef(t.URL, t.BreakerStateURL, allow); err != nil {
				return nil, at(".breaker_state_url", err)
			}
			out = append(out, ht)
		}
	}
	for i := range out {
		var err error
		if s.Collateral != "" && (out[i].Collateral == "" || s.CollateralFlag) {
			if out[i].Collateral, err = resolveRef(out[i].URL, s.Collateral, allow); err != nil {
				return nil, field.Invalid("collateral", "--collateral", "%w", err)
			}
		}
		if s.BreakerStateURL != "" && (out[i].BreakerStateURL == "" || s.StateFlag) {
			if out[i].BreakerStateURL, err = resolveRef(out[i].URL, s.BreakerStateURL, allow); err != nil {
				return nil, field.Invalid("breaker_state_url", "--breaker-state-url", "%w", err)
			}
		}
	}
	if s.StateMap != "" && s.StateMetric == "" {
		return nil, field.Invalid("breaker_state_map", "--breaker-state-map", "only used with --breaker-state-metric")
	}
	if s.StateMetric != "" {
		sm, err := ParseStateMetric(s.StateMetric, s.StateMap)
		if err != nil {
			return nil, err // a *field.Error at the setting it is about
		}
		for i := range out {
			if out[i].BreakerStateURL == "" {
				return nil, field.Invalid("breaker_state_metric", "--breaker-state-metric", "target %s has no --breaker-state-url to read it from", out[i].Name)
			}
			out[i].StateMetric = sm
		}
	}
	return out, nil
}

// resolveRef resolves ref against base when it is a /path; otherwise ref
// must be a URL cbload may send to.
func resolveRef(base, ref string, allow AllowList) (string, error) {
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
	if err := checkSendURL(ref, allow); err != nil {
		return "", fmt.Errorf("%v (or give a /path on the target)", err)
	}
	return ref, nil
}

// checkSendURL checks a URL cbload will send requests to: loopback (or in
// allow), http(s), and a port, when given, from 1 to 65535. The port is
// checked here, with the rest, so a bad one is bad input rather than an
// unreachable target.
func checkSendURL(raw string, allow AllowList) error {
	if err := CheckTargetURL(raw, allow); err != nil {
		return err
	}
	return CheckPort(raw)
}
