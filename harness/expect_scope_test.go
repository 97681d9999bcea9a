package harness

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cbload/cbload/reports"
)

func TestParseExpectationScope(t *testing.T) {
	for _, tt := range []struct {
		in    string
		scope expectScope
		err   string
	}{
		{"status=200", scopeAPI, ""},
		{"json:.source=primary", scopeAPI, ""},
		{"api:json:.source=primary", scopeAPI, ""},
		{"collateral:body-contains=ok", scopeCollateral, ""},
		{"all:status=2xx", scopeAll, ""},
		{"body-contains=a:b", scopeAPI, ""},
		{"colateral:body-contains=ok", 0, `scope "colateral" is not api, collateral or all`},
		{"status:200", 0, `scope "status" is not api, collateral or all`},
		{"api:", 0, "unknown check"},
		{"api:collateral:status=200", 0, "unknown check"},
	} {
		e, err := ParseExpectation(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "want status=") || strings.Contains(err.Error(), "\n") {
				t.Errorf("ParseExpectation(%q) = %v; want one line containing %q and the accepted forms", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || e.scope != tt.scope || e.String() != tt.in {
			t.Errorf("ParseExpectation(%q) = scope %d, %q, %v; want scope %d, the text as given", tt.in, e.scope, e.String(), err, tt.scope)
		}
	}
}

// TestExpectTransportScopes checks that each check judges only the answers
// of its scope: an unscoped one api answers (as before scopes existed), a
// collateral: one collateral answers, an all: one both.
func TestExpectTransportScopes(t *testing.T) {
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			io.WriteString(w, "status: degraded") // a fallback page, answered 200
			return
		}
		io.WriteString(w, `{"source":"primary"}`)
	}))
	defer svc.Close()
	isColl := func(r *http.Request) bool { return r.URL.Path == "/health" }
	parse := func(ss ...string) expectations { return mustExpect(t, ss...) }
	for _, tt := range []struct {
		name           string
		checks         expectations
		apiOK, collOK  bool
		wantNoteSubstr string
	}{
		{"unscoped judges api answers only", parse("body-contains=primary"), true, true, ""},
		{"unscoped miss on api", parse("body-contains=ok"), false, true, "1 api responses missed --expect body-contains=ok"},
		{"collateral scope", parse("json:.source=primary", "collateral:body-contains=ok"), true, false, "1 collateral responses missed --expect collateral:body-contains=ok"},
		{"all scope", parse("all:body-lacks=degraded"), true, false, "1 collateral responses missed --expect all:body-lacks=degraded"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			et := newExpectTransport(tr, tt.checks, isColl)
			for _, c := range []struct {
				path string
				ok   bool
			}{{"/api", tt.apiOK}, {"/health", tt.collOK}} {
				req, _ := http.NewRequest(http.MethodGet, svc.URL+c.path, nil)
				resp, err := et.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if len(body) == 0 {
					t.Errorf("%s: the check ate the body", c.path)
				}
				if got := resp.Header.Get(outcomeHeader) != outcomeAssertionFailed; got != c.ok {
					t.Errorf("%s: counted ok = %v; want %v", c.path, got, c.ok)
				}
			}
			notes := strings.Join(et.notes(), "\n")
			if (tt.wantNoteSubstr == "") != (notes == "") || !strings.Contains(notes, tt.wantNoteSubstr) {
				t.Errorf("notes %q; want %q", notes, tt.wantNoteSubstr)
			}
		})
	}
}

// degradingService is a user's service whose /api calls its upstream and
// whose /health never does — but, when degrade is set, answers a 200
// "degraded" page for 500 ms after an upstream call failed: a collateral
// endpoint that a status check calls healthy and that is not.
type degradingService struct {
	srv      *httptest.Server
	degraded atomic.Int64 // unix nanoseconds until which /health is degraded
	pages    atomic.Int64 // degraded pages answered
}

func startDegradingService(t *testing.T, upstream string, degrade bool) *degradingService {
	t.Helper()
	s := &degradingService{}
	tr := &http.Transport{}
	client := &http.Client{Transport: tr, Timeout: 300 * time.Millisecond}
	mux := http.NewServeMux()
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		resp, err := client.Get(upstream)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err != nil || resp.StatusCode >= 500 {
			if degrade {
				s.degraded.Store(time.Now().Add(500 * time.Millisecond).UnixNano())
			}
			http.Error(w, "upstream failed", http.StatusBadGateway)
			return
		}
		io.WriteString(w, `{"source":"primary"}`)
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if time.Now().UnixNano() < s.degraded.Load() {
			s.pages.Add(1)
			io.WriteString(w, "status: degraded")
			return
		}
		io.WriteString(w, "status: ok")
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		s.srv.Close()
	})
	return s
}

// TestCollateralExpectationDegradesVerdict runs two instances of a service
// whose collateral endpoint answers a 200 fallback page while its upstream
// fails — only in the no-breaker instance. Status alone calls both
// healthy; with --expect collateral:body-contains=ok the fallback pages
// count as assertion_failed in the collateral figures, the no-breaker
// arm's collateral success falls, and the verdict sees the cascade.
func TestCollateralExpectationDegradesVerdict(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upAddr := ln.Addr().String()
	ln.Close()
	healthy := startDegradingService(t, "http://"+upAddr+"/", false)
	sick := startDegradingService(t, "http://"+upAddr+"/", true)

	cfg := testConfig(t, "error:503")
	cfg.Rate = 50
	cfg.CollateralShare = 0.3
	cfg.Phases = []Phase{
		{Name: "baseline", Duration: 2 * time.Second},
		{Name: "fault", Duration: 2 * time.Second, Faults: cfg.Phases[1].Faults},
		{Name: "recovery", Duration: time.Second},
	}
	cfg.UpstreamAddr = upAddr
	cfg.Targets = []Target{
		{Name: reports.ArmBreaker, URL: healthy.srv.URL + "/api", Collateral: healthy.srv.URL + "/health"},
		{Name: reports.ArmNoBreaker, URL: sick.srv.URL + "/api", Collateral: sick.srv.URL + "/health"},
	}
	e, err := ParseExpectation("collateral:body-contains=ok")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Expect = []Expectation{e}
	r := runOrFail(t, cfg)

	n, b := r.Arm(reports.ArmNoBreaker), r.Arm(reports.ArmBreaker)
	fc := n.Summary["fault"].Collateral
	if fc.Outcomes.AssertionFailed == 0 || fc.Outcomes.AssertionFailed > sick.pages.Load() {
		t.Errorf("no-breaker fault collateral outcomes %+v; want the %d degraded pages counted as assertion_failed, and no more", fc.Outcomes, sick.pages.Load())
	}
	if n.Figures.CollateralSuccessDuringFault > 0.9 {
		t.Errorf("no-breaker collateral success during the fault %s; want it down with the degraded pages", reports.Percent(n.Figures.CollateralSuccessDuringFault))
	}
	if c := b.Summary["fault"].Collateral; c.Outcomes.AssertionFailed != 0 || c.OK != c.Requests || c.Requests == 0 {
		t.Errorf("breaker fault collateral %+v; want every answer ok", c)
	}
	for _, a := range r.Arms {
		if af := a.Summary["baseline"].API.Outcomes.AssertionFailed; af != 0 {
			t.Errorf("%s: %d api answers failed a collateral-scoped check", a.Name, af)
		}
	}
	if r.Verdict.Outcome != reports.OutcomePrevented {
		t.Errorf("verdict %s (%s); want prevented: only the no-breaker arm's collateral answered fallbacks", r.Verdict.Outcome, r.Verdict.Summary)
	}
	if !strings.Contains(r.Verdict.Summary, "/health") || strings.Contains(r.Verdict.Summary, "/local") {
		t.Errorf("verdict %q; want it to name the service's collateral path /health", r.Verdict.Summary)
	}
	if notes := strings.Join(n.Notes, "\n"); !strings.Contains(notes, "collateral responses missed --expect collateral:body-contains=ok") {
		t.Errorf("no-breaker notes %q; want the collateral assertion failures explained", notes)
	}
}

// TestCollateralExpectationNeedsCollateral checks that a collateral-scoped
// check without any collateral endpoint is refused in one line.
func TestCollateralExpectationNeedsCollateral(t *testing.T) {
	cfg := testConfig(t, "error:503")
	cfg.UpstreamAddr = "127.0.0.1:1"
	cfg.Targets = []Target{{Name: "svc", URL: "http://127.0.0.1:2/api"}}
	e, err := ParseExpectation("collateral:body-contains=ok")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Expect = []Expectation{e}
	err = cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), `expect "collateral:body-contains=ok": judges collateral answers, and no target has a collateral endpoint`) || strings.Contains(err.Error(), "\n") {
		t.Errorf("Validate() = %v; want one line saying no target has a collateral endpoint", err)
	}
}
