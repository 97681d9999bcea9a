package harness

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/reports"
)

// startDependentService starts a service whose /api calls the upstream's
// /data with a 200 ms timeout. On a failed call it answers a fallback 200
// {"coordinates":null} when fallback is set, else a 502. Every shedEvery-th
// /api request (0: none) it sheds with a 429 before calling anything.
func startDependentService(t *testing.T, upAddr string, fallback bool, shedEvery int64) string {
	t.Helper()
	tr := &http.Transport{Proxy: nil}
	client := &http.Client{Transport: tr, Timeout: 200 * time.Millisecond}
	var n atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api", func(w http.ResponseWriter, r *http.Request) {
		if shedEvery > 0 && n.Add(1)%shedEvery == 0 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		resp, err := client.Get("http://" + upAddr + "/data")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		switch {
		case err == nil && resp.StatusCode < 500:
			io.WriteString(w, `{"coordinates":[1,2]}`)
		case fallback:
			io.WriteString(w, `{"coordinates":null}`)
		default:
			http.Error(w, "dependency failed", http.StatusBadGateway)
		}
	})
	mux.HandleFunc("GET /local", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); tr.CloseIdleConnections() })
	return srv.URL
}

// TestSuspectSuccesses runs a fallback service and an honest one through a
// latency fault and a hang: the fallback's ok answers while its calls time
// out are counted and said in the notes and report.md; the honest
// service's failures are not suspect, and its 429s are their own class.
func TestSuspectSuccesses(t *testing.T) {
	for _, fault := range []string{"latency:1s", "hang"} {
		t.Run(fault, func(t *testing.T) {
			upAddr := freeAddr(t)
			fb := startDependentService(t, upAddr, true, 0)
			honest := startDependentService(t, upAddr, false, 10)
			cfg := testConfig(t, fault)
			cfg.Rate = 50
			cfg.Phases[1].Duration, cfg.Phases[2].Duration = 3*time.Second, 2*time.Second
			cfg.Targets = []Target{
				{Name: "fallback", URL: fb + "/api", Collateral: fb + "/local"},
				{Name: "honest", URL: honest + "/api", Collateral: honest + "/local"},
			}
			if fault == "hang" {
				cfg.Targets = cfg.Targets[:1]
			}
			cfg.UpstreamAddr = upAddr
			r, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			a := r.Arm("fallback")
			fs := a.Summary["fault"].API
			// The fault's last second is not counted (a queued request's
			// call may be served after the fault): two of its three.
			if a.SuspectOK == nil || *a.SuspectOK < fs.OK*6/10 {
				got := int64(-1)
				if a.SuspectOK != nil {
					got = *a.SuspectOK
				}
				t.Errorf("fallback: suspect ok %d of %d ok answers during the fault; want most of them", got, fs.OK)
			}
			want := "answers were ok while their upstream call failed, timed out, was never made or was still held when the answer came back (per second, by send time): fallbacks? check them with --expect"
			if !hasNote(a.Notes, want) {
				t.Errorf("fallback notes %q; want %q", a.Notes, want)
			}
			var md bytes.Buffer
			if err := reports.WriteMarkdown(&md, r); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(md.String(), want) {
				t.Errorf("report.md does not say %q", want)
			}
			if fault == "hang" {
				return
			}
			h := r.Arm("honest")
			if h.SuspectOK == nil || *h.SuspectOK > 3 {
				t.Errorf("honest: suspect ok %v; want none (it fails when its calls do)", h.SuspectOK)
			}
			base := h.Summary["baseline"].API.Outcomes
			if base.Shed == 0 || base.ClientError != 0 {
				t.Errorf("honest baseline outcomes %+v; want its 429s as shed, none as client_error", base)
			}
			if !hasNote(h.Notes, "shed the load itself") {
				t.Errorf("honest notes %q; want the 429s named as the service shedding", h.Notes)
			}
		})
	}
}

// startAbandoningFallback starts a service whose /api calls the
// upstream's /data with no timeout and gives up waiting after 200 ms,
// answering a fallback 200 while the call goes on (as opossum's timeout
// leaves it). It returns its URL; its calls end when the run clears the
// faults.
func startAbandoningFallback(t *testing.T, upAddr string) string {
	t.Helper()
	tr := &http.Transport{Proxy: nil}
	client := &http.Client{Transport: tr}
	var calls sync.WaitGroup
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api", func(w http.ResponseWriter, r *http.Request) {
		done := make(chan bool, 1)
		calls.Add(1)
		go func() {
			defer calls.Done()
			resp, err := client.Get("http://" + upAddr + "/data")
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			done <- err == nil && resp.StatusCode < 500
		}()
		select {
		case ok := <-done:
			if ok {
				io.WriteString(w, `{"coordinates":[1,2]}`)
				return
			}
		case <-time.After(200 * time.Millisecond): // the call goes on
		}
		io.WriteString(w, `{"coordinates":null}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); calls.Wait(); tr.CloseIdleConnections() })
	return srv.URL
}

// TestSuspectAbandonedCalls runs a hang against a service that answers a
// fallback while its call is still held, and serves it in full once the
// fault clears: those calls ended after the answers, so they fed none, and
// the answers are suspect — most of the fault's ok answers.
func TestSuspectAbandonedCalls(t *testing.T) {
	upAddr := freeAddr(t)
	svc := startAbandoningFallback(t, upAddr)
	cfg := testConfig(t, "hang")
	cfg.Rate = 50
	cfg.Phases[1].Duration, cfg.Phases[2].Duration = 3*time.Second, 2*time.Second
	cfg.Targets = []Target{{Name: "svc", URL: svc + "/api"}}
	cfg.UpstreamAddr = upAddr
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := r.Arm("svc")
	fs := a.Summary["fault"].API
	// The fault's last second is not counted: two of its three.
	if a.SuspectOK == nil || *a.SuspectOK < fs.OK*6/10 {
		got := int64(-1)
		if a.SuspectOK != nil {
			got = *a.SuspectOK
		}
		t.Errorf("suspect ok %d of %d ok answers during the fault; want most of them (notes %q)", got, fs.OK, a.Notes)
	}
}

// TestExternalUpstreamUnknown runs a service whose upstream another
// process runs (--upstream-external): what it received is unknown in
// every format — no upstream counts in report.json, "unknown" in
// report.md's phases and fault → symptom and in the key figures of both.
func TestExternalUpstreamUnknown(t *testing.T) {
	up, err := faultserver.New(faultserver.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	svc := startDependentService(t, strings.TrimPrefix(up.URL(), "http://"), false, 0)
	cfg := testConfig(t, "latency:1s")
	cfg.Rate = 50
	cfg.Phases[0].Duration, cfg.Phases[1].Duration, cfg.Phases[2].Duration = time.Second, time.Second, 2*time.Second
	cfg.Targets = []Target{{Name: "svc", URL: svc + "/api", Collateral: svc + "/local"}}
	cfg.UpstreamExternal = true
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The breaker is unknown, so is when it let the service recover: in
	// the JSON as in every other format.
	var js bytes.Buffer
	if err := reports.WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	if a := r.Arm("svc"); a.BreakerFigures != reports.BreakerUnknown || a.Figures.TimeToRecoverS != nil || !strings.Contains(js.String(), `"time_to_recover_s": null`) {
		t.Errorf("breaker figures %s, time to recover %v; want unknown, and no time to recover in report.json", a.BreakerFigures, a.Figures.TimeToRecoverS)
	}
	if s := r.Arm("svc").Summary["baseline"]; s.Upstreams != nil || s.UpstreamEffect != "" {
		t.Errorf("baseline upstreams %v, effect %q; want none counted and no effect: the run did not see them", s.Upstreams, s.UpstreamEffect)
	}
	var md, html bytes.Buffer
	if err := reports.WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if err := reports.WriteHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"unknown (external upstream)", "| baseline | svc |", "unknown: the upstream is run by another process"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report.md has no %q", want)
		}
	}
	_, phases, _ := strings.Cut(md.String(), "### Per phase")
	phases, _, _ = strings.Cut(phases, "###")
	for _, line := range strings.Split(phases, "\n") {
		if strings.HasPrefix(line, "| baseline | svc |") && !strings.Contains(line, "unknown") {
			t.Errorf("report.md row %q: want the upstream requests unknown", line)
		}
	}
	if strings.Contains(md.String(), "shedding") {
		t.Errorf("report.md calls the unseen upstream shedding")
	}
	if !strings.Contains(html.String(), "unknown (external upstream)") {
		t.Errorf("report.html has no %q", "unknown (external upstream)")
	}
}

// TestRequestMixRows drives a service with two api requests — one that
// calls the failing upstream, one that does not — and checks that each
// gets its own figures, in report.json and the notes, besides the whole.
func TestRequestMixRows(t *testing.T) {
	upAddr := freeAddr(t)
	svc := startDependentService(t, upAddr, false, 0)
	cfg := testConfig(t, "latency:1s")
	cfg.Rate = 50
	cfg.Phases[1].Duration, cfg.Phases[2].Duration = 2*time.Second, time.Second
	cfg.Targets = []Target{{Name: "svc", URL: svc + "/api", Requests: []Request{
		{Method: http.MethodGet, URL: svc + "/api"},
		{Method: http.MethodGet, URL: svc + "/local"},
		{Method: http.MethodGet, URL: svc + "/local?from=collateral", Collateral: true},
	}}}
	cfg.UpstreamAddr = upAddr
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := r.Arm("svc")
	if len(a.RequestMix) != 3 {
		t.Fatalf("request mix %+v; want a row per request", a.RequestMix)
	}
	byName := map[string]reports.RequestFigures{}
	for _, f := range a.RequestMix {
		byName[f.Request] = f
	}
	api, local := byName["GET /api"], byName["GET /local"]
	if api.Requests == 0 || api.OK > api.Requests/10 || local.Requests == 0 || local.OK != local.Requests || api.Total < api.Requests {
		t.Errorf("GET /api %+v, GET /local %+v; want /api failing during the fault and /local all ok", api, local)
	}
	if sum := api.Requests + local.Requests; sum != a.Summary["fault"].API.Requests {
		t.Errorf("the api requests' rows count %d during the fault; the api total is %d (%+v; %+v)", sum, a.Summary["fault"].API.Requests, a.RequestMix, a.Summary["fault"].API.Outcomes)
	}
	if !hasNote(a.Notes, "per request, success during the fault: GET /api ") {
		t.Errorf("notes %q; want each request's success", a.Notes)
	}
}
