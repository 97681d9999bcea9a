package harness

import (
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/reports"
	"github.com/cbload/cbload/schedule"
)

// testClock returns phases as an arm's clock and its report plan, as Run
// sets them; the phases must be valid.
func testClock(phases []Phase) (*schedule.Schedule, []reports.Phase) {
	cfg := Config{Phases: phases}
	sched, err := cfg.schedule()
	if err != nil {
		panic(err)
	}
	cfg.sched = sched
	return sched, cfg.reportPhases()
}

// testRecorder is newRecorder over phases.
func testRecorder(start time.Time, phases []Phase, rate float64, lag time.Duration, withBreaker bool) *recorder {
	sched, plan := testClock(phases)
	return newRecorder(start, sched, plan, rate, lag, withBreaker)
}

// testExemplars is newExemplars over phases.
func testExemplars(start time.Time, phases []Phase, jaegerURL string) *exemplars {
	sched, _ := testClock(phases)
	return newExemplars(start, sched, jaegerURL)
}

func result(start time.Time, off, lat time.Duration, code uint16, outcome string) *vegeta.Result {
	h := http.Header{}
	if outcome != "" {
		h.Set(outcomeHeader, outcome)
	}
	return &vegeta.Result{Timestamp: start.Add(off), Latency: lat, Code: code, Headers: h}
}

// Outcomes and latencies count where a request completed; sends count
// where it was sent.
func TestRecorderBucketsByCompletion(t *testing.T) {
	start := time.Unix(1000, 0)
	phases := []Phase{{Name: "a", Duration: 2 * time.Second}, {Name: "b", Duration: 2 * time.Second}}
	rec := testRecorder(start, phases, 10, time.Second, true)
	rec.add(result(start, 100*time.Millisecond, 5*time.Millisecond, 200, outcomeOK), false)
	// Sent in second 1 (phase a), answered in second 3 (phase b).
	rec.add(result(start, 1900*time.Millisecond, 1500*time.Millisecond, 503, outcomeSaturated), true)
	rec.add(result(start, 2100*time.Millisecond, 2*time.Millisecond, 503, outcomeRejected), false)
	// Answered after the schedule's end: it counts in the last second.
	rec.add(result(start, 3500*time.Millisecond, 2*time.Second, 0, ""), false)
	for s := range 4 {
		rec.sample(s, gauge{state: reports.StateClosed, inflightPeak: int64(s), upstreamRequests: 10})
	}
	rec.flush(start.Add(10*time.Second), true)
	arm := rec.arm("breaker", nil, watchdogReport{}, 0, "")

	if got := len(arm.Series); got != 4 {
		t.Fatalf("series has %d seconds; want 4", got)
	}
	s1, s3 := arm.Series[1], arm.Series[3]
	if s1.Sent != 1 || s1.Collateral.Sent != 1 || s1.Collateral.Requests != 0 {
		t.Errorf("second 1: sent %d, /local sent %d, /local completed %d; want 1, 1, 0", s1.Sent, s1.Collateral.Sent, s1.Collateral.Requests)
	}
	if got := s3.Collateral.Outcomes.Saturated; got != 1 {
		t.Errorf("second 3 collateral saturated = %d; want 1 (completed at 3.4 s)", got)
	}
	if got := arm.Series[2].API.Outcomes.Rejected; got != 1 {
		t.Errorf("second 2 api rejected = %d; want 1", got)
	}
	if got := s3.API.Outcomes.ClientError; got != 1 {
		t.Errorf("second 3 api client errors = %d; want 1 (completed after the end)", got)
	}
	if got := s3.Phase; got != "b" {
		t.Errorf("second 3 phase = %q; want b", got)
	}
	a := arm.Summary["a"]
	if a.API.Requests != 1 || a.Collateral.Requests != 0 || a.UpstreamRequests != 20 || a.InflightPeak != 1 {
		t.Errorf("phase a summary = %+v; want 1 api, 0 collateral, 20 upstream, peak 1", a)
	}
	if got := arm.Summary["b"].Collateral.Outcomes.Saturated; got != 1 {
		t.Errorf("phase b collateral saturated = %d; want 1", got)
	}
	if got := arm.Load.Sent; got != 4 {
		t.Errorf("load generator sent = %d; want 4", got)
	}
	if got := arm.Load.Scheduled; got != 40 {
		t.Errorf("load generator scheduled = %d; want 40 (10/s for 4 s)", got)
	}
}

// Figures under "during the fault" cover the fault phases only.
func TestRecorderFaultFiguresArePhaseTrue(t *testing.T) {
	start := time.Unix(1000, 0)
	phases := []Phase{{Name: "base", Duration: 2 * time.Second}, {Name: "fault", Duration: 2 * time.Second, Faults: faults(t, "hang")}, {Name: "rec", Duration: 2 * time.Second}}
	rec := testRecorder(start, phases, 10, time.Second, false)
	peaks := []int64{40, 3, 7, 2, 90, 1}
	for s, p := range peaks {
		rec.sample(s, gauge{inflightPeak: p})
	}
	rec.flush(start.Add(10*time.Second), true)
	arm := rec.arm("no-breaker", nil, watchdogReport{}, 0, "")
	if arm.Figures.InflightPeak != 7 || arm.Figures.InflightPeakWholeRun != 90 {
		t.Errorf("in-flight peak: during the fault %d, whole run %d; want 7, 90", arm.Figures.InflightPeak, arm.Figures.InflightPeakWholeRun)
	}
}

func faults(t *testing.T, specs ...string) []faultserver.Spec {
	t.Helper()
	var out []faultserver.Spec
	for _, s := range specs {
		sp, err := faultserver.ParseSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sp)
	}
	return out
}

// Time to recover is dated at 100 ms resolution from the transition log and
// the /api completions, not at whole seconds.
func TestRecorderTimeToRecover(t *testing.T) {
	start := time.Unix(1000, 0)
	phases := []Phase{{Name: "base", Duration: 2 * time.Second}, {Name: "fault", Duration: 4 * time.Second, Faults: faults(t, "hang")}, {Name: "rec", Duration: 4 * time.Second}}
	tests := []struct {
		name    string
		breaker bool
		closeAt float64 // seconds; the breaker rejects until then
		failTo  time.Duration
		want    *float64
	}{
		{"breaker closes mid-second", true, 7.05, 0, ptr(1.1)},
		{"breaker closes on a slot boundary", true, 6.3, 0, ptr(0.3)},
		{"no breaker, failures until 6.45 s", false, 0, 6450 * time.Millisecond, ptr(0.5)},
		{"never closes", true, 99, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := testRecorder(start, phases, 100, time.Second, tt.breaker)
			var trans []reports.Transition
			if tt.breaker {
				trans = []reports.Transition{{T: 2.5, From: "closed", To: "open"}, {T: 3.5, From: "open", To: "half-open"}, {T: 3.6, From: "half-open", To: "open"}}
				if tt.closeAt < 10 {
					trans = append(trans, reports.Transition{T: tt.closeAt - 0.01, From: "open", To: "half-open"}, reports.Transition{T: tt.closeAt, From: "half-open", To: "closed"})
				}
			}
			for i := range 1000 {
				off := time.Duration(i) * 10 * time.Millisecond
				bad := off < 6*time.Second && off >= 2*time.Second || off < tt.failTo ||
					tt.breaker && off.Seconds() < tt.closeAt && off >= 2*time.Second
				res := result(start, off, time.Millisecond, 200, outcomeOK)
				if bad {
					res = result(start, off, time.Millisecond, 503, outcomeRejected)
				}
				res.Seq = uint64(i)
				rec.add(res, false)
			}
			rec.flush(start.Add(20*time.Second), true)
			arm := rec.arm("a", trans, watchdogReport{}, 0, "")
			got := arm.Figures.TimeToRecoverS
			switch {
			case tt.want == nil && got != nil:
				t.Errorf("time to recover = %v; want never", *got)
			case tt.want != nil && (got == nil || *got != *tt.want):
				t.Errorf("time to recover = %v; want %v", show(got), *tt.want)
			}
		})
	}
}

func ptr(v float64) *float64 { return &v }

func show(v *float64) string {
	if v == nil {
		return "never"
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}

// The schedule counts the requests vegeta's constant pacer sends: one every
// 1/rate, the first after one interval, the last at or just past the end.
func TestRecorderScheduled(t *testing.T) {
	for _, rate := range []float64{1, 2.5, 3, 200, 20000} {
		rec := testRecorder(time.Now(), []Phase{{Name: "p", Duration: 4 * time.Second}}, rate, time.Second, false)
		var total int64
		for s := range 4 {
			got := rec.scheduled(s)
			total += got
			if lo := int64(rate) - 1; got < lo || got > int64(rate)+2 {
				t.Errorf("rate %v: scheduled(%d) = %d; want about %v", rate, s, got, rate)
			}
		}
		if want := int64((4*time.Second + sendInterval(rate) - 1) / sendInterval(rate)); total != want {
			t.Errorf("rate %v: %d scheduled over 4 s; want %d", rate, total, want)
		}
	}
}

func TestClassify(t *testing.T) {
	start := time.Now()
	tests := []struct {
		code    uint16
		outcome string
		err     string
		want    outcome
	}{
		{200, outcomeOK, "", oOK},
		{503, outcomeRejected, "", oRejected},
		{503, outcomeSaturated, "", oSaturated},
		{504, outcomeTimeout, "", oTimeoutUpstream},
		{502, outcomeUpstreamError, "", oUpstreamError},
		{0, "", `Get "http://127.0.0.1:1/api": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`, oTimeoutClient},
		{0, "", `Get "http://127.0.0.1:1/api": dial tcp 127.0.0.1:1: i/o timeout`, oTimeoutClient},
		{0, "", `Get "http://127.0.0.1:1/api": dial tcp 127.0.0.1:1: connect: connection refused`, oConnection},
		{0, "", `Get "http://127.0.0.1:1/api": read tcp 127.0.0.1:5->127.0.0.1:1: read: connection reset by peer`, oConnection},
		{0, "", `Get "http://127.0.0.1:1/api": EOF`, oConnection},
		// Broken answers (faultserver's truncate, garbage and tls kinds).
		{0, "", `unexpected EOF`, oConnection},
		{0, "", `Get "http://127.0.0.1:1/api": net/http: HTTP/1.x transport connection broken: malformed HTTP response "\x9c"`, oConnection},
		{0, "", `Get "https://127.0.0.1:1/api": remote error: tls: internal error`, oConnection},
		{0, "", `Get "https://127.0.0.1:1/api": tls: failed to verify certificate: x509: certificate has expired or is not yet valid`, oConnection},
		{0, "", `Get "https://localhost:1/api": tls: failed to verify certificate: x509: certificate is valid for wrong-name.invalid, not localhost`, oConnection},
		{0, "", `Get "http://127.0.0.1:1/api": context deadline exceeded (Client.Timeout or context cancellation while reading body)`, oTimeoutClient},
		{0, "", `Get "http://127.0.0.1:1/api": dial tcp 127.0.0.1:1: socket: too many open files`, oConnection},
		{0, "", `Get "http://127.0.0.1:1/api": context canceled`, oClientError},
		// A user's own service: no header, status code only.
		{204, "", "", oOK},
		{302, "", "", oRedirect},
		{304, "", "", oRedirect},
		{504, "", "", oTimeoutUpstream},
		{500, "", "", oUpstreamError},
		{404, "", "", oClientError},
	}
	for _, tt := range tests {
		res := result(start, 0, 0, tt.code, tt.outcome)
		res.Error = tt.err
		if got := classify(res); got != tt.want {
			t.Errorf("classify(%d, %q, %q) = %v; want %v", tt.code, tt.outcome, tt.err, got, tt.want)
		}
	}
}

// A ten-minute run must not hold meaningfully more memory than a one-minute
// run: the recorder keeps one small Second per second and nothing per result.
func TestRecorderMemoryIsFlat(t *testing.T) {
	start := time.Unix(0, 0)
	const rate = 500
	phases := []Phase{{Name: "only", Duration: 600 * time.Second}}
	rec := testRecorder(start, phases, rate, 2*time.Second, true)
	heapAt := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	var at60 uint64
	for s := range 600 {
		for i := range rate {
			off := time.Duration(s)*time.Second + time.Duration(i)*time.Second/rate
			rec.add(result(start, off, time.Duration(i%97)*time.Millisecond, 200, outcomeOK), i%5 == 0)
		}
		rec.sample(s, gauge{state: reports.StateClosed})
		rec.flush(start.Add(time.Duration(s+1)*time.Second), false)
		if s == 59 {
			at60 = heapAt()
		}
	}
	at600 := heapAt()
	grew := int64(at600) - int64(at60)
	// 540 more Seconds in the series, each with three sparse histograms of
	// at most ~100 buckets here (latencies spread over 97 ms); one retained
	// result per request would be 540 × 500 × ~200 B ≈ 54 MB, 100 KB/s.
	if perSecond := grew / 540; perSecond > 8192 {
		t.Errorf("heap grew %d bytes over 540 simulated seconds (%d B/s at %d req/s); want ≤ 8 KiB/s", grew, perSecond, rate)
	}
	runtime.KeepAlive(rec)
}

func BenchmarkRecorderAdd(b *testing.B) {
	start := time.Now()
	rec := testRecorder(start, []Phase{{Name: "p", Duration: time.Hour}}, 200, time.Second, true)
	res := result(start, 0, 3*time.Millisecond, 200, outcomeOK)
	for i := 0; b.Loop(); i++ {
		res.Timestamp = start.Add(time.Duration(i) * time.Millisecond)
		rec.add(res, i%5 == 0)
		if i%1000 == 999 {
			rec.flush(res.Timestamp, false)
		}
	}
}

// TestRecorderDetails: status codes, the error set (with local ports folded
// and a cap with an "other" bucket), bytes and p95/mean per phase and
// endpoint.
func TestRecorderDetails(t *testing.T) {
	start := time.Unix(1000, 0)
	rec := testRecorder(start, []Phase{{Name: "a", Duration: 2 * time.Second}}, 10, time.Second, true)
	add := func(code uint16, errText string, lat time.Duration, bodyBytes string, collateral bool) {
		res := result(start, 100*time.Millisecond, lat, code, "")
		res.Error = errText
		if bodyBytes != "" {
			res.Headers.Set(bodyBytesHeader, bodyBytes)
		}
		rec.add(res, collateral)
	}
	for i := range 10 {
		add(200, "", time.Duration(i+1)*time.Millisecond, "100", false)
	}
	add(503, "503 Service Unavailable", time.Millisecond, "20", false)
	add(503, "503 Service Unavailable", time.Millisecond, "20", false)
	// Two resets on different connections are one failure mode.
	add(0, `Get "http://127.0.0.1:8080/api": read tcp 127.0.0.1:54321->127.0.0.1:8080: read: connection reset by peer`, time.Millisecond, "", false)
	add(0, `Get "http://127.0.0.1:8080/api": read tcp 127.0.0.1:40000->127.0.0.1:8080: read: connection reset by peer`, time.Millisecond, "", false)
	add(0, `dial tcp [::1]:5555->[::1]:80: connect: connection refused`, time.Millisecond, "", false)
	// Enough distinct texts to pass the cap, on /local.
	for i := range reports.MaxErrorTexts + 5 {
		add(0, "weird error "+strconv.Itoa(i), time.Millisecond, "", true)
	}
	add(0, "weird error 0", time.Millisecond, "", true) // a kept text still counts

	rec.flush(start.Add(5*time.Second), true)
	arm := rec.arm("breaker", nil, watchdogReport{}, 0, "")
	api, local := arm.Summary["a"].API, arm.Summary["a"].Collateral

	if api.StatusCodes["200"] != 10 || api.StatusCodes["503"] != 2 || api.StatusCodes["0"] != 3 || len(api.StatusCodes) != 3 {
		t.Errorf("/api status codes = %v; want 200:10 503:2 0:3", api.StatusCodes)
	}
	wantErrors := []reports.ErrorCount{
		{Error: "503 Service Unavailable", Count: 2},
		{Error: `Get "http://127.0.0.1:8080/api": read tcp 127.0.0.1:*->127.0.0.1:8080: read: connection reset by peer`, Count: 2},
		{Error: `dial tcp [::1]:*->[::1]:80: connect: connection refused`, Count: 1},
	}
	if len(api.Errors) != len(wantErrors) {
		t.Fatalf("/api errors = %+v; want %+v", api.Errors, wantErrors)
	}
	for i := range wantErrors {
		if api.Errors[i] != wantErrors[i] {
			t.Errorf("/api errors[%d] = %+v; want %+v", i, api.Errors[i], wantErrors[i])
		}
	}
	if api.BytesIn != 10*100+2*20 || api.BytesOut != 0 {
		t.Errorf("/api bytes in/out = %d/%d; want 1040/0", api.BytesIn, api.BytesOut)
	}
	if len(local.Errors) != reports.MaxErrorTexts || local.ErrorsOther != 5 {
		t.Errorf("/local: %d texts kept, %d other; want %d and 5", len(local.Errors), local.ErrorsOther, reports.MaxErrorTexts)
	}
	if local.Errors[0] != (reports.ErrorCount{Error: "weird error 0", Count: 2}) {
		t.Errorf("/local most frequent error = %+v; want weird error 0 ×2", local.Errors[0])
	}
	// /api latencies: ten of 1..10 ms and five of 1 ms.
	l := api.LatencyMS
	if wantMean := (55.0 + 5) / 15; l.Mean < wantMean-0.01 || l.Mean > wantMean+0.01 {
		t.Errorf("/api mean = %v ms; want %.3f", l.Mean, wantMean)
	}
	if l.P95 < 9*0.99 || l.P95 > 10*1.01 || l.P95 > l.P99 || l.P95 < l.P90 {
		t.Errorf("/api p95 = %v ms (p90 %v, p99 %v); want about 9–10 ms, between p90 and p99", l.P95, l.P90, l.P99)
	}
}

func TestErrorTextCut(t *testing.T) {
	long := strings.Repeat("é", reports.MaxErrorText) // 2 bytes each
	got := errorText(long)
	if len(got) > reports.MaxErrorText+len("…") || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
		t.Errorf("errorText(%d bytes) = %d bytes, valid UTF-8 %v; want at most %d plus …", len(long), len(got), utf8.ValidString(got), reports.MaxErrorText)
	}
}
