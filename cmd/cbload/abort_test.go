package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAbortOnFail runs a real A/B experiment whose threshold on the
// breaker arm's fault phase must fail (fast 503s: /api cannot reach 99%):
// once that phase has settled the run stops, the no-breaker arm never
// runs, and every format holds the partial report with the reason; exit 99.
func TestAbortOnFail(t *testing.T) {
	dir := t.TempDir()
	junit := filepath.Join(dir, "junit.xml")
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--fault", "error:503", "--phases", "1s,2s,3s", "--rate", "50", "--seed", "3",
		"--threshold", "breaker.fault.collateral.success_ratio >= 50%",
		"--threshold", "breaker.fault.api.success_ratio >= 99%",
		"--threshold", "no-breaker.fault.api.success_ratio >= 0%",
		"--abort-on-fail", "--junit", junit, "--progress", "never", "--out", dir}, &stdout, &stderr)
	if code != exitThreshold {
		t.Fatalf("exit %d; want %d\nstdout %s\nstderr %s", code, exitThreshold, stdout.String(), stderr.String())
	}
	const reason = "aborted: threshold breaker.fault.api.success_ratio >= 99% failed and could no longer pass, after phase fault of arm breaker"
	if !strings.Contains(stderr.String(), "cbload: "+reason+"; the partial report was written\n") {
		t.Errorf("stderr %q; want the reason", stderr.String())
	}
	r := readReport(t, filepath.Join(dir, "report.json"))
	if !r.Partial || r.PartialReason != reason {
		t.Errorf("report partial=%v reason %q; want true, %q", r.Partial, r.PartialReason, reason)
	}
	if len(r.Arms) != 1 || r.Arms[0].Name != "breaker" {
		t.Fatalf("report has %d arms; want only breaker: no-breaker must not run", len(r.Arms))
	}
	// The fault phase ends at 3 s; 503s are answered at once, so it
	// settles within a few hundred ms, and the load stops within a second
	// of that: nothing completes after 4.5 s (the schedule runs to 6 s).
	a := r.Arms[0]
	if last := a.Series[len(a.Series)-1].T; last >= 5 {
		t.Errorf("the breaker arm ran to second %d; want it stopped within a second of the fault phase's end (3 s)", last)
	}
	// The figure is the one a full run would report: the fault phase is whole.
	if got := a.Summary["fault"].API.Requests; got < 50 {
		t.Errorf("fault /api requests = %d; want the whole phase's (about 80)", got)
	}
	if len(r.Thresholds) != 3 {
		t.Fatalf("%d threshold results; want 3", len(r.Thresholds))
	}
	if th := r.Thresholds[1]; th.Pass || !strings.Contains(th.Message, "aborted the run after phase fault of arm breaker") {
		t.Errorf("aborting threshold: %+v; want failed, saying it aborted the run", th)
	}
	if th := r.Thresholds[0]; !th.Pass || strings.Contains(th.Message, "not final") {
		t.Errorf("settled passing threshold: %+v; want pass, final", th)
	}
	if th := r.Thresholds[2]; th.Pass || !strings.Contains(th.Message, "no-breaker did not run") || !strings.Contains(th.Message, "not final: the run was aborted") {
		t.Errorf("threshold on the arm that never ran: %+v; want no data, not final", th)
	}
	// The partial report reads back: every second has its state.
	if _, err := readReportFile(t.Context(), filepath.Join(dir, "report.json")); err != nil {
		t.Errorf("cbload report cannot read the partial report: %v", err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	unescaped := strings.NewReplacer(`\`, "", "&gt;", ">", "&lt;", "<").Replace(string(md))
	if err != nil || !strings.Contains(unescaped, reason) {
		t.Errorf("report.md lacks the reason (%v)", err)
	}
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil || !strings.Contains(string(html), "aborted: threshold breaker.fault.api.success_ratio &gt;= 99% failed") {
		t.Errorf("report.html lacks the reason (%v)", err)
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Properties []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	props := map[string]string{}
	for _, p := range doc.Suites[0].Properties {
		props[p.Name] = p.Value
	}
	if props["partial"] != "true" || props["partial_reason"] != reason {
		t.Errorf("junit properties %v; want partial true and the reason", props)
	}
	if c := doc.Suites[0].Cases[1]; c.Name != "breaker.fault.api.success_ratio >= 99%" || c.Failure == nil {
		t.Errorf("junit case 2 = %+v; want the aborting threshold, failed", c)
	}
}

// TestAbortOnFailPasses: a threshold that holds never aborts; the run is
// whole, both arms, exit 0 — also from a scenario's abort_on_fail.
func TestAbortOnFailPasses(t *testing.T) {
	dir := t.TempDir()
	scen := writeScenario(t, `load: {rate: 50}
seed: 4
phases:
  - {name: baseline, duration: 1s}
  - {name: fault, duration: 2s, faults: ["error:503"]}
  - {name: recovery, duration: 1s}
thresholds:
  - {check: "breaker.fault.collateral.success_ratio >= 50%", abort_on_fail: true}
  - {check: "no-breaker.figures.collateral_success_during_fault >= 50%", abort_on_fail: true}
output: {progress: never}
`)
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--scenario", scen, "--out", dir}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d; want 0\nstdout %s\nstderr %s", code, stdout.String(), stderr.String())
	}
	r := readReport(t, filepath.Join(dir, "report.json"))
	if r.Partial || len(r.Arms) != 2 {
		t.Errorf("report partial=%v (%q) with %d arms; want a whole run of 2", r.Partial, r.PartialReason, len(r.Arms))
	}
	for _, th := range r.Thresholds {
		if !th.Pass || strings.Contains(th.Message, "abort") {
			t.Errorf("threshold %+v; want pass, no abort", th)
		}
	}
}

// TestAbortOnFailArmEnd: a figure of the breaker arm rests on the whole
// arm, so it is judged when the arm ends — not after its fault phase — and
// then stops the run before the no-breaker arm.
func TestAbortOnFailArmEnd(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--fault", "error:503", "--phases", "1s,2s,1s", "--rate", "50", "--seed", "5",
		"--threshold", "breaker.figures.api_success_during_fault >= 99%", "--abort-on-fail",
		"--progress", "never", "--out", dir}, &stdout, &stderr)
	if code != exitThreshold {
		t.Fatalf("exit %d; want %d\nstderr %s", code, exitThreshold, stderr.String())
	}
	r := readReport(t, filepath.Join(dir, "report.json"))
	const reason = "aborted: threshold breaker.figures.api_success_during_fault >= 99% failed and could no longer pass, after arm breaker"
	if r.PartialReason != reason || len(r.Arms) != 1 {
		t.Fatalf("reason %q, %d arms; want %q and only breaker", r.PartialReason, len(r.Arms), reason)
	}
	// The arm ran to its end.
	if a := r.Arms[0]; a.Series[len(a.Series)-1].T != 3 {
		t.Errorf("breaker arm's last second %d; want 3 (the whole arm ran)", a.Series[len(a.Series)-1].T)
	}
}

// TestAbortOnFailUsage: --abort-on-fail needs a threshold, and a shard
// cannot stop the run alone.
func TestAbortOnFailUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--abort-on-fail"}, "--abort-on-fail: no threshold to abort on"},
		{[]string{"--abort-on-fail", "--threshold", "breaker.fault.api.requests > 0", "--shard", "1/2", "--seed", "3"}, "--abort-on-fail: not with --shard"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"run", "--fault", "error:503", "--dry-run"}, tt.args...), &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), tt.want) || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line containing %q", tt.args, code, stderr.String(), tt.want)
		}
	}
}

// TestRunResults: --results (or output.results) streams the raw results
// beside the report, which records the file; a folder is refused up front.
func TestRunResults(t *testing.T) {
	dir := t.TempDir()
	res := filepath.Join(dir, "raw", "results.json")
	scen := writeScenario(t, "load: {rate: 40}\nseed: 2\narms: [breaker]\nphases: [{name: f, duration: 2s, faults: [error:503]}]\noutput: {progress: never, results: "+res+"}\n")
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--scenario", scen, "--out", filepath.Join(dir, "out")}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\nstderr %s", code, stderr.String())
	}
	r := readReport(t, filepath.Join(dir, "out", "report.json"))
	b, err := os.ReadFile(res)
	if err != nil {
		t.Fatal(err)
	}
	s := r.Arms[0].Summary["f"]
	lines := int64(strings.Count(string(b), "\n"))
	if rf := r.Results; rf == nil || rf.Path != res || rf.Written != lines || lines != s.API.Requests+s.Collateral.Requests || rf.Bytes != int64(len(b)) {
		t.Errorf("report's results_file %+v; file has %d lines, %d bytes; the report counts %d requests", rf, lines, len(b), s.API.Requests+s.Collateral.Requests)
	}
	if !strings.Contains(stdout.String(), "results: "+res+" (") {
		t.Errorf("stdout does not name the results file:\n%s", stdout.String())
	}

	stderr.Reset()
	code = run([]string{"run", "--fault", "hang", "--results", dir, "--dry-run"}, &stdout, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "--results "+dir+": is a folder") {
		t.Errorf("--results on a folder: exit %d, stderr %q; want 2 and a line naming --results", code, stderr.String())
	}
}

// TestAbortOnFailTarget: against a user's own services (here two small
// in-process ones that call the upstream) an abort works the same: the
// first target's fault phase fails its threshold and the second never runs.
func TestAbortOnFailTarget(t *testing.T) {
	upstream := freeAddr(t)
	client := &http.Client{Timeout: time.Second}
	svc := func() string {
		mux := http.NewServeMux()
		mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
			resp, err := client.Get("http://" + upstream + "/")
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			w.WriteHeader(resp.StatusCode)
		})
		mux.HandleFunc("/local", func(w http.ResponseWriter, r *http.Request) {})
		s := httptest.NewServer(mux)
		t.Cleanup(s.Close)
		return s.URL
	}
	a, b := svc(), svc()
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--upstream-addr", upstream, "--fault", "error:503", "--phases", "1s,2s,2s", "--rate", "40", "--seed", "8",
		"--target", "a=" + a + "/api", "--target", "b=" + b + "/api", "--collateral", "/local",
		"--threshold", "a.fault.api.success_ratio >= 99%", "--abort-on-fail", "--progress", "never", "--out", dir}, &stdout, &stderr)
	if code != exitThreshold {
		t.Fatalf("exit %d; want %d\nstderr %s", code, exitThreshold, stderr.String())
	}
	r := readReport(t, filepath.Join(dir, "report.json"))
	const reason = "aborted: threshold a.fault.api.success_ratio >= 99% failed and could no longer pass, after phase fault of arm a"
	if r.PartialReason != reason || len(r.Arms) != 1 || r.Arms[0].Name != "a" {
		t.Errorf("reason %q with %d arms; want %q and only a", r.PartialReason, len(r.Arms), reason)
	}
}

// TestAbortOnFailTrials: with trials a figure is the median over every
// trial of the arm, so it is final only once the arm's last trial ended —
// here the third, which runs first in trial 3 (A B, B A, A B): the run
// stops there, and no-breaker's third trial never runs.
func TestAbortOnFailTrials(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--fault", "error:503", "--phases", "1s,1s,1s", "--rate", "40", "--seed", "6", "--trials", "3",
		"--threshold", "breaker.figures.api_success_during_fault >= 99%", "--abort-on-fail",
		"--progress", "never", "--out", dir}, &stdout, &stderr)
	if code != exitThreshold {
		t.Fatalf("exit %d; want %d\nstderr %s", code, exitThreshold, stderr.String())
	}
	r := readReport(t, filepath.Join(dir, "report.json"))
	const reason = "aborted: threshold breaker.figures.api_success_during_fault >= 99% failed and could no longer pass, after arm breaker (trial 3)"
	if r.PartialReason != reason {
		t.Errorf("reason %q; want %q", r.PartialReason, reason)
	}
	if r.Trials == nil || strings.Join(r.Trials.Order, " ") != "breaker#1 no-breaker#1 no-breaker#2 breaker#2 breaker#3" {
		t.Errorf("trials %+v; want the order up to breaker#3", r.Trials)
	}
}
