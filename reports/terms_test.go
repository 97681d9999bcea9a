package reports_test

import (
	"bytes"
	"encoding/json"
	htmlpkg "html"
	"regexp"
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

// targetSample turns the sample into the report of a run against a user's
// service at /orders, with a collateral endpoint /health or none, whose
// breaker arm's states are measured (a state URL), inferred or unknown;
// the no-breaker arm's are unknown. Text written by the harness (verdict,
// validity messages) is replaced by what a target run writes, so that any
// built-in wording left is the renderers'.
func targetSample(t testing.TB, collateral bool, breaker string) *reports.Report {
	r := sample(t)
	reqs := func(port string) []string {
		q := []string{"GET http://127.0.0.1:" + port + "/orders"}
		if collateral {
			q = append(q, "GET http://127.0.0.1:"+port+"/health (collateral)")
		}
		return q
	}
	r.Config.Targets = []reports.Target{
		{Name: reports.ArmBreaker, URL: "http://127.0.0.1:8081/orders", Requests: reqs("8081")},
		{Name: reports.ArmNoBreaker, URL: "http://127.0.0.1:8082/orders", Requests: reqs("8082")},
	}
	r.Config.Upstream.Addr = "127.0.0.1:3001"
	r.Config.Expect = []string{"status=200-299"}
	r.Command = "cbload run --target breaker=http://127.0.0.1:8081/orders --target no-breaker=http://127.0.0.1:8082/orders --upstream-addr 127.0.0.1:3001"
	r.Verdict = reports.Verdict{Outcome: reports.OutcomeInconclusive, Summary: "Inconclusive: target breaker has no collateral endpoint.", Reasons: []string{}}
	if collateral {
		r.Verdict = reports.Verdict{Outcome: reports.OutcomePrevented, CascadePrevented: true,
			Summary: "The breaker prevented the cascade: during the fault /health stayed at 100.0% success with it and fell to 46.3% without it.", Reasons: []string{}}
	} else {
		r.Config.CollateralShare = 0
	}
	for i := range r.Validity.Checks {
		r.Validity.Checks[i].Message = "as measured"
	}
	for i := range r.Arms {
		a := &r.Arms[i]
		mode := reports.BreakerUnknown
		if a.Name == reports.ArmBreaker {
			mode = breaker
		}
		a.BreakerFigures = mode
		a.Notes = []string{"in-flight: measured at the load runner (requests sent and not yet answered), not inside the service"}
		if mode == reports.BreakerUnknown {
			a.Breaker, a.Transitions, a.Figures.Opens = false, nil, 0
			a.Figures.TimeToOpenS, a.Figures.TimeToRecoverS = nil, nil
			for j := range a.Series {
				a.Series[j].State = reports.StateUnknown
			}
		} else {
			a.Breaker = true
		}
		if !collateral {
			a.Figures.CollateralSuccessDuringFault, a.Figures.CollateralP99DuringFaultMS = 0, 0
			for j := range a.Series {
				a.Series[j].Collateral = reports.Bucket{}
			}
			for k, s := range a.Summary {
				s.Collateral = reports.Stats{}
				a.Summary[k] = s
			}
		}
	}
	return r
}

// scriptRE matches the page's scripts; the chart data is kept apart.
var (
	scriptRE = regexp.MustCompile(`(?s)<script>.*?</script>`)
	dataRE   = regexp.MustCompile(`(?s)<script type="application/json" id="cbload-data">(.*?)</script>`)
)

// TestTargetReportsInEveryFormat renders reports of a user's service —
// with and without a collateral endpoint, its breaker measured, inferred or
// unknown — as HTML (text and chart data) and Markdown, and checks that no
// wording of cbload's own gateway is left: the service's paths, in flight
// at the load runner, no collateral figure without a collateral endpoint,
// and each breaker said to be measured, inferred or unknown.
func TestTargetReportsInEveryFormat(t *testing.T) {
	builtIn := []string{"/api", "/local", "gateway", "Gateway", "worker pool", "Queue timeout", "Breaker open timeout", "Call timeout"}
	noCollateral := []string{"/health", "collateral success", "collateral p99", "collateral req", "collateral ok", "+ collateral", "<code>collateral</code>", "Share sent to", "success over time"}
	for _, tt := range []struct {
		name       string
		collateral bool
		breaker    string
		want       []string // in HTML and Markdown
		wantHTML   []string
		band       string // the breaker arm's state band
	}{
		{"collateral, measured", true, reports.BreakerMeasured,
			[]string{"/health success", "/orders success", "In-flight peak at the load runner"},
			[]string{"Measured: polled from the service's breaker state URL.", "/health success and p99", "Outcomes (/orders + /health)"}, "breaker"},
		{"collateral, inferred", true, reports.BreakerInferred,
			[]string{"/health success", "(inferred)"},
			[]string{"Inferred from the upstream's arrivals", "opens (inferred)"}, "breaker (inferred)"},
		{"no collateral, inferred", false, reports.BreakerInferred,
			[]string{"/orders success", "In-flight peak at the load runner", "(inferred)"},
			[]string{"No target has a collateral endpoint", "Outcomes (/orders)"}, "breaker (inferred)"},
		{"no collateral, unknown", false, reports.BreakerUnknown,
			[]string{"/orders success", "unknown (breaker state not observable)"},
			[]string{"The service's breaker state is unknown"}, "breaker (unknown)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := targetSample(t, tt.collateral, tt.breaker)
			var md, html bytes.Buffer
			if err := reports.WriteMarkdown(&md, r); err != nil {
				t.Fatal(err)
			}
			if err := reports.WriteHTML(&html, r); err != nil {
				t.Fatal(err)
			}
			m := dataRE.FindStringSubmatch(html.String())
			if m == nil {
				t.Fatal("the page has no chart data")
			}
			var data struct {
				Inflight string `json:"inflight"`
				API      string `json:"api"`
				Arms     []struct {
					Name, Band string
				} `json:"arms"`
			}
			if err := json.Unmarshal([]byte(m[1]), &data); err != nil {
				t.Fatalf("chart data: %v", err)
			}
			if data.Inflight != "In flight at the load runner" || data.API != "/orders" {
				t.Errorf("chart data names in-flight %q and the api %q; want the load runner's and /orders", data.Inflight, data.API)
			}
			for _, a := range data.Arms {
				want := map[string]string{reports.ArmBreaker: tt.band, reports.ArmNoBreaker: "no-breaker (unknown)"}[a.Name]
				if a.Band != want {
					t.Errorf("the %s arm's state band is named %q; want %q", a.Name, a.Band, want)
				}
			}
			page := htmlpkg.UnescapeString(scriptRE.ReplaceAllString(dataRE.ReplaceAllString(html.String(), ""), ""))
			for name, out := range map[string]string{"markdown": md.String(), "html": page} {
				for _, want := range tt.want {
					if !strings.Contains(out, want) {
						t.Errorf("%s lacks %q", name, want)
					}
				}
				bad := builtIn
				if !tt.collateral {
					bad = append(bad[:len(bad):len(bad)], noCollateral...)
				}
				// HTTP's own status texts are measurements, not cbload's words.
				out := strings.NewReplacer("504 Gateway Timeout", "504", "502 Bad Gateway", "502").Replace(out)
				for _, b := range bad {
					if i := strings.Index(out, b); i >= 0 {
						t.Errorf("%s says %q, which is not about the user's service: …%s…", name, b, out[max(0, i-80):min(len(out), i+80)])
					}
				}
			}
			for _, want := range tt.wantHTML {
				if !strings.Contains(page, want) {
					t.Errorf("html lacks %q", want)
				}
			}
		})
	}

	// cbload's own gateway keeps its words.
	var md, html bytes.Buffer
	r := sample(t)
	if err := reports.WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if err := reports.WriteHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	page := htmlpkg.UnescapeString(html.String())
	for _, want := range []string{"Gateway in-flight", "through the gateway's shared worker pool", "a fresh gateway whose worker pool is shared by", "Outcomes (/api + /local)"} {
		if !strings.Contains(page, want) {
			t.Errorf("built-in gateway html lacks %q", want)
		}
	}
	if !strings.Contains(md.String(), "/local success") || strings.Contains(md.String(), "inferred") || strings.Contains(md.String(), "at the load runner") {
		t.Errorf("built-in gateway markdown:\n%s", md.String())
	}
}
