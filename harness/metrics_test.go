package harness

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/internal/testenv"
	"github.com/cbload/cbload/reports"
)

// gather returns every metric family m holds, by name.
func gather(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// value returns the value of the series of family name whose labels
// include want, and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsMatchReport runs a short A/B experiment with live metrics,
// scraping them all along (under -race, this checks that a scrape may
// read the running arm), and checks that the phase gauges follow the
// schedule, that the counters at the end agree with the report — requests
// by outcome, latency counts, offered and sent, upstream requests and
// injected faults, breaker transitions — and that the series are the
// closed set the configuration makes, not one more.
func TestMetricsMatchReport(t *testing.T) {
	cfg := testConfig(t, "latency:1s")
	cfg.Phases[0].Duration, cfg.Phases[1].Duration, cfg.Phases[2].Duration = time.Second, 3*time.Second, 3*time.Second
	m := NewMetrics()
	cfg.Metrics = m
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var scrapes int
	var scrapeErr error
	phases := map[float64]bool{}   // cbload_phase values seen
	phaseInfo := map[string]bool{} // cbload_phase_info arm/phase pairs seen
	wg.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			resp, err := http.Get(srv.URL)
			if err != nil {
				scrapeErr = err
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), "cbload_requests_total") {
				scrapeErr = &scrapeError{resp.StatusCode, string(body)}
				return
			}
			fams, err := testenv.ParsePromText(string(body))
			if err != nil {
				scrapeErr = err
				return
			}
			for _, f := range fams {
				for _, mt := range f.GetMetric() {
					switch f.GetName() {
					case "cbload_phase":
						phases[mt.GetGauge().GetValue()] = true
					case "cbload_phase_info":
						var arm, phase string
						for _, l := range mt.GetLabel() {
							switch l.GetName() {
							case "arm":
								arm = l.GetValue()
							case "phase":
								phase = l.GetValue()
							}
						}
						phaseInfo[arm+"/"+phase] = true
					}
				}
			}
			scrapes++
		}
	})
	r := runOrFail(t, cfg)
	close(stop)
	wg.Wait()
	if scrapeErr != nil {
		t.Fatalf("scrape during the run: %v", scrapeErr)
	}
	if scrapes < 10 {
		t.Errorf("%d scrapes during the run; want one every 200ms", scrapes)
	}
	// Phases of 1 s, 3 s and 3 s, scraped every 200 ms: each is seen.
	for i, p := range cfg.Phases {
		if !phases[float64(i)] {
			t.Errorf("cbload_phase was never %d (%s) during the run; saw %v", i, p.Name, phases)
		}
		for _, a := range cfg.Arms {
			if !phaseInfo[a+"/"+p.Name] {
				t.Errorf("cbload_phase_info{arm=%q,phase=%q} never seen during the run; saw %v", a, p.Name, phaseInfo)
			}
		}
	}
	if len(phases) != len(cfg.Phases) {
		t.Errorf("cbload_phase took %d values, %v; want the %d phase indexes", len(phases), phases, len(cfg.Phases))
	}

	fams := gather(t, m)
	for _, a := range r.Arms {
		var api, local reports.Outcomes
		var offered, sent, upReq int64
		injected := map[string]int64{}
		for _, s := range a.Series {
			add(&api, s.API.Outcomes)
			add(&local, s.Collateral.Outcomes)
			offered += s.Scheduled
			sent += s.Sent
		}
		for _, p := range a.Summary {
			for _, u := range p.Upstreams {
				upReq += u.Requests
				for k, n := range u.Injected {
					injected[k] += n
				}
			}
		}
		for _, c := range []struct {
			endpoint string
			o        reports.Outcomes
		}{{endpointAPI, api}, {endpointLocal, local}} {
			for _, oc := range []struct {
				label string
				want  int64
			}{{"ok", c.o.OK}, {"rejected", c.o.Rejected}, {"saturated", c.o.Saturated}, {"timeout_upstream", c.o.TimeoutAt.UpstreamCall}, {"timeout_client", c.o.TimeoutAt.LoadRunner}} {
				got, _ := value(fams, "cbload_requests_total", map[string]string{"arm": a.Name, "endpoint": c.endpoint, "outcome": oc.label})
				if int64(got) != oc.want {
					t.Errorf("%s %s %s: cbload_requests_total = %v; the report counts %d", a.Name, c.endpoint, oc.label, got, oc.want)
				}
			}
			got, _ := value(fams, "cbload_request_duration_seconds", map[string]string{"arm": a.Name, "endpoint": c.endpoint})
			if int64(got) != c.o.Total() {
				t.Errorf("%s %s: cbload_request_duration_seconds count = %v; the report counts %d", a.Name, c.endpoint, got, c.o.Total())
			}
		}
		for _, c := range []struct {
			name string
			want int64
		}{{"cbload_requests_offered_total", offered}, {"cbload_requests_sent_total", sent}} {
			if got, _ := value(fams, c.name, map[string]string{"arm": a.Name}); int64(got) != c.want {
				t.Errorf("%s: %s = %v; the report says %d", a.Name, c.name, got, c.want)
			}
		}
		if got, _ := value(fams, "cbload_upstream_requests_total", map[string]string{"arm": a.Name}); int64(got) != upReq {
			t.Errorf("%s: cbload_upstream_requests_total = %v; the report counts %d", a.Name, got, upReq)
		}
		if got, _ := value(fams, "cbload_upstream_faults_injected_total", map[string]string{"arm": a.Name, "kind": "latency"}); int64(got) != injected["latency"] || got == 0 {
			t.Errorf("%s: latency faults injected = %v; the report counts %d (want above 0)", a.Name, got, injected["latency"])
		}
		if got, _ := value(fams, "cbload_in_flight_requests", map[string]string{"arm": a.Name}); got != 0 {
			t.Errorf("%s: cbload_in_flight_requests = %v after the run; want 0", a.Name, got)
		}
		code, ok := value(fams, "cbload_breaker_state_code", map[string]string{"arm": a.Name})
		trans, _ := value(fams, "cbload_breaker_transitions_total", map[string]string{"arm": a.Name})
		if a.Name != reports.ArmBreaker {
			if ok {
				t.Errorf("%s: has a breaker state series; want none for an arm without a breaker", a.Name)
			}
			continue
		}
		if !ok || int(trans) != len(a.Transitions) || trans == 0 {
			t.Errorf("%s: state code %v (present %v), %v transitions; want present and the report's %d (above 0)", a.Name, code, ok, trans, len(a.Transitions))
		}
		last := a.Transitions[len(a.Transitions)-1].To
		if want := float64(indexOf(breakerStates[:], last)); code != want {
			t.Errorf("%s: final state code %v; want %v (%s)", a.Name, code, want, last)
		}
		if v, _ := value(fams, "cbload_breaker_state", map[string]string{"arm": a.Name, "state": last}); v != 1 {
			t.Errorf(`%s: cbload_breaker_state{state=%q} = %v; want 1`, a.Name, last, v)
		}
	}
	if _, ok := value(fams, "cbload_phase_info", nil); ok {
		t.Errorf("cbload_phase_info present after the run; want none while no arm runs")
	}

	// Cardinality: the series are those of the closed sets — arms,
	// endpoints, outcomes, breaker states, upstreams, fault kinds — so a
	// longer run has no more of them.
	arms, breakers := len(r.Arms), 0
	for _, a := range r.Arms {
		if a.Name == reports.ArmBreaker {
			breakers++
		}
	}
	kinds := len(faultserver.Kinds())
	want := map[string]int{
		"cbload_requests_total":                 arms * 2 * len(outcomeLabels),
		"cbload_request_duration_seconds":       arms * 2,
		"cbload_requests_offered_total":         arms,
		"cbload_requests_sent_total":            arms,
		"cbload_in_flight_requests":             arms,
		"cbload_breaker_state":                  breakers * len(breakerStates),
		"cbload_breaker_state_code":             breakers,
		"cbload_breaker_transitions_total":      breakers,
		"cbload_upstream_requests_total":        arms,
		"cbload_upstream_in_flight_requests":    arms,
		"cbload_upstream_faults_injected_total": arms * kinds,
		"cbload_phase":                          1,
	}
	var total, wantTotal int
	for name, f := range fams {
		if len(f.GetMetric()) != want[name] {
			t.Errorf("%s has %d series; want %d", name, len(f.GetMetric()), want[name])
		}
		total += len(f.GetMetric())
	}
	for _, n := range want {
		wantTotal += n
	}
	if total != wantTotal {
		t.Errorf("%d series in all; want %d", total, wantTotal)
	}
}

type scrapeError struct {
	code int
	body string
}

func (e *scrapeError) Error() string { return "status " + http.StatusText(e.code) + ": " + e.body }

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func add(t *reports.Outcomes, o reports.Outcomes) {
	t.OK += o.OK
	t.UpstreamError += o.UpstreamError
	t.Timeout += o.Timeout
	t.TimeoutAt.LoadRunner += o.TimeoutAt.LoadRunner
	t.TimeoutAt.UpstreamCall += o.TimeoutAt.UpstreamCall
	t.Rejected += o.Rejected
	t.Saturated += o.Saturated
	t.ConnectionError += o.ConnectionError
	t.Redirect += o.Redirect
	t.ClientError += o.ClientError
	t.AssertionFailed += o.AssertionFailed
}

// TestUpstreamMetrics checks that a standalone upstream's handler shows
// its requests and injected faults as they are when scraped.
func TestUpstreamMetrics(t *testing.T) {
	spec, err := faultserver.ParseSpec("error:503")
	if err != nil {
		t.Fatal(err)
	}
	s, err := faultserver.New(faultserver.Config{Addr: "127.0.0.1:0", Seed: 1, Faults: []faultserver.Spec{spec}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 3 {
		resp, err := http.Get(s.URL() + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	rec := httptest.NewRecorder()
	UpstreamMetrics(s.Stats).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{"cbload_upstream_requests_total 3\n", `cbload_upstream_faults_injected_total{kind="error"} 3` + "\n", `cbload_upstream_faults_injected_total{kind="latency"} 0` + "\n", "cbload_upstream_in_flight_requests 0\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("upstream metrics lack %q:\n%s", want, body)
		}
	}
}

// BenchmarkMetricsObserve measures what live metrics add to each request
// in the measurement loop: classifying it, a counter and a histogram.
func BenchmarkMetricsObserve(b *testing.B) {
	m := NewMetrics()
	o := m.observer(reports.ArmBreaker)
	res := &vegeta.Result{Code: 200, Latency: 3 * time.Millisecond, Headers: http.Header{outcomeHeader: []string{outcomeOK}}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		res.Latency = time.Duration(i%5000) * time.Microsecond
		o.observe(res, i%4 == 0)
		i++
	}
}

// TestMetricsHistogramFormats checks that the latency histogram has
// classic buckets in the text format and native buckets when the scraper
// asks for protobuf, as Prometheus does with native histograms on.
func TestMetricsHistogramFormats(t *testing.T) {
	m := NewMetrics()
	o := m.observer(reports.ArmBreaker)
	for _, ms := range []int{1, 3, 40, 700} {
		o.observe(&vegeta.Result{Code: 200, Latency: time.Duration(ms) * time.Millisecond}, true)
	}
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `cbload_request_duration_seconds_bucket{arm="breaker",endpoint="local",le="0.05"} 3`; !strings.Contains(string(text), want) {
		t.Errorf("text exposition lacks %q", want)
	}

	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var found bool
	for len(body) > 0 {
		n, k := protowire.ConsumeVarint(body)
		if k < 0 || int(n) > len(body)-k {
			t.Fatalf("bad delimited protobuf")
		}
		var f dto.MetricFamily
		if err := proto.Unmarshal(body[k:k+int(n)], &f); err != nil {
			t.Fatal(err)
		}
		body = body[k+int(n):]
		if f.GetName() != "cbload_request_duration_seconds" {
			continue
		}
		for _, mt := range f.GetMetric() {
			h := mt.GetHistogram()
			if h.GetSampleCount() == 4 {
				found = true
				if len(h.GetPositiveSpan()) == 0 || len(h.GetPositiveDelta()) == 0 {
					t.Errorf("protobuf histogram has no native buckets: %v", h)
				}
				if len(h.GetBucket()) != len(latencyBuckets) {
					t.Errorf("protobuf histogram has %d classic buckets; want %d as well", len(h.GetBucket()), len(latencyBuckets))
				}
			}
		}
	}
	if !found {
		t.Error("no histogram with the 4 observations in the protobuf exposition")
	}
}

// TestMetricsTarget runs a user's service (a stub whose breaker state URL
// says open during the fault) with live metrics: the target arm's requests
// and its polled state and transitions agree with the report.
func TestMetricsTarget(t *testing.T) {
	var faulty atomic.Bool
	var upAddr string
	client := &http.Client{Timeout: 300 * time.Millisecond}
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api":
			resp, err := client.Get("http://" + upAddr + "/")
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			resp.Body.Close()
			w.Write([]byte("ok"))
		case "/breaker":
			if faulty.Load() {
				w.Write([]byte(`{"state": "open"}`))
			} else {
				w.Write([]byte(`{"state": "closed"}`))
			}
		default:
			w.Write([]byte("ok"))
		}
	}))
	defer svc.Close()
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upAddr = up.Addr().String()
	up.Close()
	defer client.CloseIdleConnections()

	cfg := testConfig(t, "latency:1s")
	cfg.Phases[0].Duration, cfg.Phases[1].Duration, cfg.Phases[2].Duration = 2*time.Second, 2*time.Second, 2*time.Second
	cfg.Rate = 50
	cfg.Targets = []Target{{Name: "svc", URL: svc.URL + "/api", Collateral: svc.URL + "/local", BreakerStateURL: svc.URL + "/breaker"}}
	cfg.UpstreamAddr = upAddr
	m := NewMetrics()
	cfg.Metrics = m
	cfg.Progress = func(p Progress) { faulty.Store(p.Phase == "fault") }
	r := runOrFail(t, cfg)

	fams := gather(t, m)
	a := r.Arm("svc")
	var api, local reports.Outcomes
	for _, s := range a.Series {
		add(&api, s.API.Outcomes)
		add(&local, s.Collateral.Outcomes)
	}
	for ep, want := range map[string]int64{endpointAPI: api.Total(), endpointLocal: local.OK} {
		if got, _ := value(fams, "cbload_request_duration_seconds", map[string]string{"arm": "svc", "endpoint": ep}); ep == endpointAPI && (int64(got) != want || want == 0) {
			t.Errorf("svc %s requests = %v; the report counts %d (want above 0)", ep, got, want)
		}
		if got, _ := value(fams, "cbload_requests_total", map[string]string{"arm": "svc", "endpoint": ep, "outcome": "ok"}); ep == endpointLocal && (int64(got) != want || want == 0) {
			t.Errorf("svc %s ok = %v; the report counts %d (want above 0)", ep, got, want)
		}
	}
	trans, _ := value(fams, "cbload_breaker_transitions_total", map[string]string{"arm": "svc"})
	if int(trans) != len(a.Transitions) || trans < 2 {
		t.Errorf("svc transitions = %v; the report has %d (%v), want at least 2", trans, len(a.Transitions), a.Transitions)
	}
	if code, ok := value(fams, "cbload_breaker_state_code", map[string]string{"arm": "svc"}); !ok || code != 0 {
		t.Errorf("svc final state code = %v (present %v); want 0, closed", code, ok)
	}
}
