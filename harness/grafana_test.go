package harness

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/client_golang/prometheus"
)

// declaredMetrics returns the name and type of every metric the run's
// instruments and the standalone upstream's declare.
func declaredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	m := NewMetrics()
	ch := make(chan *prometheus.Desc, 100)
	m.requests.Describe(ch)
	m.latency.Describe(ch)
	m.live.Describe(ch)
	upstreamCollector{}.Describe(ch)
	close(ch)
	nameRE := regexp.MustCompile(`fqName: "([^"]+)"`)
	names := map[string]bool{}
	for d := range ch {
		n := nameRE.FindStringSubmatch(d.String())
		if n == nil {
			t.Fatalf("desc %s has no name", d)
		}
		names[n[1]] = true
	}
	return names
}

// sdkErr returns err, except an empty list of errors: the SDK's generated
// code returns its nil cog.BuildErrors as a non-nil error.
func sdkErr(err error) error {
	var be cog.BuildErrors
	if errors.As(err, &be) && len(be) == 0 {
		return nil
	}
	return err
}

// TestGrafanaDashboard checks examples/grafana/cbload.json: it decodes
// strictly into the Grafana Foundation SDK's dashboard types (no unknown
// fields, every required one present, panels and Prometheus queries of
// known kinds), passes their validation, and every PromQL expression names
// only metrics cbload declares.
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile("../examples/grafana/cbload.json")
	if err != nil {
		t.Fatal(err)
	}
	plugins.RegisterDefaultPlugins()
	var d dashboard.Dashboard
	if err := sdkErr(d.UnmarshalJSONStrict(raw)); err != nil {
		t.Fatalf("cbload.json is not a valid Grafana dashboard: %v", err)
	}
	if err := sdkErr(d.Validate()); err != nil {
		t.Fatalf("cbload.json: %v", err)
	}
	// The check can fail: a misspelt field in a panel, or a query's, is
	// refused.
	for _, bad := range []string{`"gridPos"`, `"legendFormat"`} {
		var x dashboard.Dashboard
		mutated := strings.Replace(string(raw), bad, strings.TrimSuffix(bad, `"`)+`X"`, 1)
		if sdkErr(x.UnmarshalJSONStrict([]byte(mutated))) == nil {
			t.Errorf("strict decoding accepted %s misspelt; want an error", bad)
		}
	}
	if d.Uid == nil || d.Title == nil || len(d.Panels) < 6 {
		t.Fatalf("cbload.json: uid %v, title %v, %d panels; want a uid, a title and the A/B panels", d.Uid, d.Title, len(d.Panels))
	}

	// The queries, read plainly: every panel's exprs.
	var plain struct {
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &plain); err != nil {
		t.Fatal(err)
	}
	declared := declaredMetrics(t)
	metricRE := regexp.MustCompile(`\bcbload_[a-z0-9_]+`)
	seen := map[string]bool{}
	for _, p := range plain.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			names := metricRE.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: expr %q names no cbload metric", p.Title, tg.Expr)
			}
			for _, n := range names {
				base := n
				if h := strings.TrimSuffix(n, "_bucket"); h != n && declared[h] {
					base = h
				}
				if !declared[base] {
					t.Errorf("panel %q: expr %q names %s, which cbload does not declare", p.Title, tg.Expr, n)
				}
				seen[base] = true
			}
		}
	}
	// The A/B picture: collateral success and latency, breaker state,
	// upstream requests, in flight, offered vs sent.
	for _, want := range []string{"cbload_requests_total", "cbload_request_duration_seconds", "cbload_breaker_state_code",
		"cbload_upstream_requests_total", "cbload_in_flight_requests", "cbload_requests_offered_total", "cbload_requests_sent_total"} {
		if !seen[want] {
			t.Errorf("no panel shows %s", want)
		}
	}
}
