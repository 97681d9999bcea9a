package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cbload/cbload/internal/testenv"
	"github.com/cbload/cbload/reports"
)

// The Prometheus end-to-end test runs a real Prometheus server (Debian's
// prometheus package; .ci/run installs it) scraping a short run's
// --metrics-addr every second, and checks through Prometheus's HTTP API
// what a dashboard would show against the report. Without Prometheus it
// skips locally and fails in CI.

// prometheusBinaries returns the paths of prometheus and promtool.
func prometheusBinaries(t *testing.T) (server, tool string) {
	t.Helper()
	server, err1 := exec.LookPath("prometheus")
	tool, err2 := exec.LookPath("promtool")
	if err1 == nil && err2 == nil {
		return server, tool
	}
	testenv.SkipOrFail(t, "prometheus or promtool not on PATH; apt-get install prometheus to run this test; CI must install them (in .ci/run)")
	return "", ""
}

// checkMetricsPage fails the test unless promtool check metrics finds
// nothing to say about page.
func checkMetricsPage(t *testing.T, promtool string, page []byte) {
	t.Helper()
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = bytes.NewReader(page)
	if msg, err := check.CombinedOutput(); err != nil || len(bytes.TrimSpace(msg)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, msg)
	}
}

// promSample is one sample Prometheus returned: its time and value.
type promSample struct {
	t time.Time
	v float64
}

// promQuery runs an instant query and returns each series' samples (one
// for an instant vector, the raw samples for a range selector).
func promQuery(t *testing.T, base, q string) [][]promSample {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value  []any   `json:"value"`
				Values [][]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Status != "success" {
		t.Fatalf("query %s: status %q, error %q, decode %v", q, out.Status, out.Error, err)
	}
	parse := func(p []any) promSample {
		ts, _ := p[0].(float64)
		s, _ := p[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("query %s: sample %v", q, p)
		}
		sec, frac := math.Modf(ts)
		return promSample{time.Unix(int64(sec), int64(frac*1e9)), v}
	}
	var series [][]promSample
	for _, r := range out.Data.Result {
		var ss []promSample
		if r.Value != nil {
			ss = append(ss, parse(r.Value))
		}
		for _, p := range r.Values {
			ss = append(ss, parse(p))
		}
		series = append(series, ss)
	}
	return series
}

// promHistogramCount runs an instant query at time at for one native
// histogram series and returns its count, and whether the answer was a
// native histogram.
func promHistogramCount(t *testing.T, base, q string, at time.Time) (int64, bool) {
	t.Helper()
	u := base + "/api/v1/query?query=" + url.QueryEscape(q) + "&time=" + strconv.FormatFloat(float64(at.UnixNano())/1e9, 'f', 3, 64)
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Histogram []json.RawMessage `json:"histogram"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Status != "success" || len(out.Data.Result) != 1 {
		t.Fatalf("query %s: status %q, %d series, decode %v; want one series", q, out.Status, len(out.Data.Result), err)
	}
	h := out.Data.Result[0].Histogram
	if len(h) != 2 {
		return 0, false
	}
	var body struct {
		Count string `json:"count"`
	}
	if err := json.Unmarshal(h[1], &body); err != nil {
		t.Fatalf("query %s: histogram %s: %v", q, h[1], err)
	}
	n, err := strconv.ParseFloat(body.Count, 64)
	if err != nil {
		t.Fatalf("query %s: histogram count %q", q, body.Count)
	}
	return int64(n), true
}

// scraping reports whether Prometheus has tried to scrape its target.
func scraping(base string) bool {
	resp, err := http.Get(base + "/api/v1/targets")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			ActiveTargets []struct {
				LastScrape time.Time `json:"lastScrape"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&out) != nil {
		return false
	}
	for _, a := range out.Data.ActiveTargets {
		if a.LastScrape.Year() > 2000 {
			return true
		}
	}
	return false
}

// TestPrometheusScrapesRun is the end-to-end test of live metrics: a real
// Prometheus scrapes a short A/B run every second; what it stored must
// agree with the report.
func TestPrometheusScrapesRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Prometheus and a 28-second experiment")
	}
	promBin, promtool := prometheusBinaries(t)
	dir := t.TempDir()
	// Prometheus takes no port 0: the test names free ones.
	promPort, metricsPort := testenv.FreePort(t), testenv.FreePort(t)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: cbload
    static_configs:
      - targets: ["127.0.0.1:%d"]
`, metricsPort)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// With native histograms on, Prometheus asks for protobuf: the
	// latency histogram must then come as a native one.
	prom := testenv.Start(t, promBin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort), "--log.level=warn", "--enable-feature=native-histograms")
	base := fmt.Sprintf("http://127.0.0.1:%d", promPort)
	prom.WaitHTTP(t, base+"/-/ready", 30*time.Second)

	// Prometheus applies new targets every 5 s: wait until it scrapes the
	// (not yet listening) metrics address, so that it sees the whole run.
	for deadline := time.Now().Add(30 * time.Second); !scraping(base); {
		if time.Now().After(deadline) {
			t.Fatalf("prometheus did not scrape the target within 30s:\n%s", prom.Log())
		}
		time.Sleep(100 * time.Millisecond) // polling Prometheus's state, not waiting for it blindly
	}

	// The run, in the background; meanwhile the test keeps the last scrape
	// of the metrics that shows the breaker's state, for promtool.
	out := filepath.Join(dir, "out")
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	var stdout, stderr bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"run", "--fault", "latency:1s", "--phases", "4s,5s,5s", "--seed", "7",
			"--rate", "100", "--gateway-workers", "8", "--call-timeout", "300ms", "--queue-timeout", "500ms",
			"--client-timeout", "2s", "--breaker-timeout", "1s", "--progress", "never", "--no-step-summary",
			"--metrics-addr", fmt.Sprintf("127.0.0.1:%d", metricsPort), "--out", out}, &stdout, &stderr)
	}()
	var scrape []byte
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var exit int
wait:
	for {
		select {
		case exit = <-code:
			break wait
		case <-tick.C:
			resp, err := http.Get(metricsURL)
			if err != nil {
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if bytes.Contains(body, []byte("cbload_breaker_state{")) {
				scrape = body
			}
		}
	}
	if exit != exitOK && exit != exitNotValid {
		t.Fatalf("cbload run = exit %d; stderr:\n%s", exit, stderr.String())
	}
	data, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep reports.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	b := rep.Arm(reports.ArmBreaker)
	if b == nil || len(b.Transitions) < 2 {
		t.Fatalf("the breaker arm made no closed → open → closed cycle: %+v", b)
	}

	// promtool finds nothing to say about the exposition.
	if scrape == nil {
		t.Fatalf("no scrape of %s during the run showed the breaker state", metricsURL)
	}
	checkMetricsPage(t, promtool, scrape)

	// The breaker arm's /local ok count, as Prometheus last scraped it
	// (the breaker arm ended a whole arm ago), is the report's.
	var localOK int64
	for _, s := range b.Series {
		localOK += s.Collateral.Outcomes.OK
	}
	// (The run has ended: its series are stale now, hence last_over_time.)
	got := promQuery(t, base, `last_over_time(cbload_requests_total{arm="breaker",endpoint="local",outcome="ok"}[5m])`)
	if len(got) != 1 || int64(got[0][0].v) != localOK {
		t.Errorf("Prometheus has breaker /local ok = %v; the report counts %d", got, localOK)
	}

	// The state series: closed, then open (or half-open already) within a
	// scrape of the report's first transition, and closed again within a
	// scrape of its last. A sample is stamped with the time its scrape
	// began, and the state is read as the answer is made, up to the scrape
	// timeout later: so a scrape either way.
	states := promQuery(t, base, `cbload_breaker_state_code{arm="breaker"}[5m]`)
	if len(states) != 1 {
		t.Fatalf("breaker state series: %v; want one", states)
	}
	ss := states[0]
	const slack = 1250 * time.Millisecond // one scrape interval and its jitter
	first, last := b.Transitions[0], b.Transitions[len(b.Transitions)-1]
	at := func(tr reports.Transition) time.Time {
		return b.StartedAt.Add(time.Duration(tr.T * float64(time.Second)))
	}
	if first.To != reports.StateOpen || last.To != reports.StateClosed {
		t.Fatalf("report transitions %v; want the first to open and the last to close", b.Transitions)
	}
	if ss[0].v != 0 {
		t.Errorf("first state sample %v; want 0 (closed)", ss[0])
	}
	opened, closed := -1, -1
	for i, s := range ss {
		if opened < 0 && s.v != 0 {
			opened = i
		}
		if opened >= 0 && s.v == 0 && (i == 0 || ss[i-1].v != 0) {
			closed = i
		}
	}
	if opened < 0 || closed < 0 {
		t.Fatalf("state samples %v; want closed (0) → open (2) → closed (0)", ss)
	}
	if d := ss[opened].t.Sub(at(first)); d < -slack || d > slack {
		t.Errorf("Prometheus saw the breaker open at %v, %v after the report's transition at %v; want within one scrape", ss[opened].t, d, at(first))
	}
	if d := ss[closed].t.Sub(at(last)); d < -slack || d > slack {
		t.Errorf("Prometheus saw the breaker close at %v, %v after the report's transition at %v; want within one scrape", ss[closed].t, d, at(last))
	}
	for _, s := range ss[closed:] {
		if s.v != 0 {
			t.Errorf("state sample %v after the breaker closed for good; want 0", s)
		}
	}

	// The breaker arm's /local latency, as Prometheus stored it at its
	// last scrape of the run (the arm long over): a native histogram
	// holding every /local request of the report.
	var localAll int64
	for _, s := range b.Series {
		localAll += s.Collateral.Outcomes.Total()
	}
	if n, native := promHistogramCount(t, base, `cbload_request_duration_seconds{arm="breaker",endpoint="local"}`, ss[len(ss)-1].t); !native || n != localAll {
		t.Errorf("Prometheus has the breaker /local latency as a native histogram %v, count %d; want native, the report's %d", native, n, localAll)
	}
	if t.Failed() {
		t.Logf("report transitions: %v (arm started %v)", b.Transitions, b.StartedAt)
		for _, s := range ss {
			t.Logf("state sample %s %v", s.t.Format("15:04:05.000"), s.v)
		}
		t.Logf("scrape durations: %v", promQuery(t, base, `scrape_duration_seconds[5m]`))
	}
}
