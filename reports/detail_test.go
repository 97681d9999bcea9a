package reports_test

import (
	"os"
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

// TestDetailThresholds checks the new threshold paths against the sample,
// a real run: its breaker arm answered /api during the fault mostly with
// the breaker's 503s, and /local never failed.
func TestDetailThresholds(t *testing.T) {
	r := sample(t)
	fault := r.Arm("breaker").Summary["fault"]
	n503 := fault.API.StatusCodes["503"]
	if n503 == 0 || fault.API.LatencyMS.P95 == 0 || fault.API.LatencyMS.Mean == 0 || fault.API.BytesIn == 0 {
		t.Fatalf("sample fault /api: 503s %d, p95 %v, mean %v, bytes in %d; want all measured", n503, fault.API.LatencyMS.P95, fault.API.LatencyMS.Mean, fault.API.BytesIn)
	}
	tests := []struct {
		expr string
		pass bool
	}{
		{"breaker.fault.api.status_codes.503 > 0.9 * breaker.fault.api.requests", true},
		{"breaker.fault.api.status_codes.5xx == breaker.fault.api.requests", false}, // a 200 got through
		{"breaker.fault.api.status_codes.5xx >= breaker.fault.api.status_codes.503", true},
		{"breaker.fault.api.status_codes.418 == 0", true},
		{"breaker.fault.collateral.status_codes.2xx == breaker.fault.collateral.requests", true},
		{"breaker.fault.collateral.errors.total == 0", true},
		{"breaker.fault.api.errors.distinct >= 1", true},
		{"breaker.fault.api.errors.other == 0", true},
		{"breaker.fault.api.errors.total > 1000", true},
		{"breaker.baseline.api.bytes_in > 0", true},
		{"breaker.baseline.api.bytes_out == 0", true}, // GET requests have no body
		{"breaker.baseline.api.latency_ms.p95 <= breaker.baseline.api.latency_ms.p99", true},
		{"breaker.baseline.api.latency_ms.p95 >= breaker.baseline.api.latency_ms.p50", true},
		{"breaker.baseline.api.latency_ms.mean < 100ms", true},
		{"breaker.baseline.api.latency_ms.mean <= breaker.baseline.api.latency_ms.max", true},
	}
	for _, tt := range tests {
		th, err := reports.ParseThreshold(tt.expr)
		if err == nil {
			err = th.Check([]string{"breaker", "no-breaker"}, []string{"baseline", "fault", "recovery"})
		}
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		if res := th.Evaluate(r); res.Pass != tt.pass {
			t.Errorf("%s: pass = %v (%s, %s); want %v", tt.expr, res.Pass, res.Measured, res.Message, tt.pass)
		}
	}
}

// TestDetailUnknownInV1: a v1 report never recorded p95, the mean, status
// codes, errors or bytes: thresholds find no data and renderers say
// unknown, instead of reporting zeros.
func TestDetailUnknownInV1(t *testing.T) {
	f, err := os.Open("testdata/report.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := reports.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, expr := range []string{
		"breaker.fault.api.latency_ms.p95 < 1s", "breaker.fault.api.latency_ms.mean < 1s",
		"breaker.fault.api.status_codes.503 == 0", "breaker.fault.api.status_codes.5xx == 0",
		"breaker.fault.api.errors.total == 0", "breaker.fault.api.bytes_in == 0",
	} {
		th, err := reports.ParseThreshold(expr)
		if err != nil {
			t.Fatal(err)
		}
		if res := th.Evaluate(r); res.Pass || !strings.Contains(res.Message, "no data: ") || !strings.Contains(res.Message, "upgraded from cbload/report/v1") {
			t.Errorf("%s on a v1 report: pass %v, %q; want no data naming the upgrade", expr, res.Pass, res.Message)
		}
	}
	if th, _ := reports.ParseThreshold("breaker.fault.api.latency_ms.p99 > 0"); !th.Evaluate(r).Pass {
		t.Errorf("p99, which v1 had, must still evaluate")
	}
	s := r.Arm("breaker").Summary["fault"].API
	for name, got := range map[string]string{
		"LatencyText":     reports.LatencyText(r, s.LatencyMS),
		"StatusCodesText": reports.StatusCodesText(r, s),
		"ErrorSetText":    reports.ErrorSetText(r, s, 3, 80),
		"BytesText":       reports.BytesText(r, s),
	} {
		if !strings.Contains(got, "unknown") {
			t.Errorf("%s on a v1 report = %q; want unknown", name, got)
		}
	}
	md := render(t, reports.WriteMarkdown, r)
	if !strings.Contains(md, "p95 unknown") || strings.Contains(md, "p95 0 ms") {
		t.Errorf("v1 Markdown does not call p95 unknown")
	}
}

func TestErrorSetText(t *testing.T) {
	r := &reports.Report{}
	s := reports.Stats{Errors: []reports.ErrorCount{
		{Error: "503 Service Unavailable", Count: 40}, {Error: strings.Repeat("é", 60), Count: 3},
		{Error: "504 Gateway Timeout", Count: 2}, {Error: "EOF", Count: 1},
	}, ErrorsOther: 7}
	got := reports.ErrorSetText(r, s, 2, 10)
	want := "503 Servic… ×40 · ééééé… ×3 · 2 more texts ×3 · other (beyond the first 20 texts) ×7"
	if got != want {
		t.Errorf("ErrorSetText = %q; want %q", got, want)
	}
	if got := reports.ErrorSetText(r, reports.Stats{}, 3, 0); got != "none" {
		t.Errorf("ErrorSetText(no errors) = %q; want none", got)
	}
	if got := reports.StatusCodesText(r, reports.Stats{StatusCodes: map[string]int64{"503": 2, "0": 1, "200": 1200}}); got != "no response ×1 · 200 ×1,200 · 503 ×2" {
		t.Errorf("StatusCodesText = %q", got)
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 5 << 20: "5.0 MiB"} {
		if got := reports.Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q; want %q", n, got, want)
		}
	}
}
