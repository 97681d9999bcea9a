package harness

import (
	"net/http"
	"runtime"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cbload/cbload/reports"
)

func result(start time.Time, off, lat time.Duration, code uint16, outcome string) *vegeta.Result {
	h := http.Header{}
	if outcome != "" {
		h.Set(outcomeHeader, outcome)
	}
	return &vegeta.Result{Timestamp: start.Add(off), Latency: lat, Code: code, Headers: h}
}

func TestRecorderBucketsBySendSecondAndPhase(t *testing.T) {
	start := time.Unix(1000, 0)
	phases := []Phase{{Name: "a", Duration: 2 * time.Second}, {Name: "b", Duration: 2 * time.Second}}
	rec := newRecorder(start, phases, time.Second, true)
	rec.add(result(start, 100*time.Millisecond, 5*time.Millisecond, 200, outcomeOK), false)
	// Sent in second 1, answered in second 3: it belongs to second 1, phase a.
	rec.add(result(start, 1900*time.Millisecond, 1500*time.Millisecond, 503, outcomeSaturated), true)
	rec.add(result(start, 2100*time.Millisecond, 2*time.Millisecond, 503, outcomeRejected), false)
	rec.add(result(start, 3500*time.Millisecond, 0, 0, ""), false)
	for s := range 4 {
		rec.sample(s, gauge{state: reports.StateClosed, inflightPeak: int64(s), upstreamRequests: 10})
	}
	rec.flush(start.Add(10*time.Second), true)
	arm := rec.arm("breaker", nil)

	if got := len(arm.Series); got != 4 {
		t.Fatalf("series has %d seconds; want 4", got)
	}
	if got := arm.Series[1].Collateral.Outcomes.Saturated; got != 1 {
		t.Errorf("second 1 collateral saturated = %d; want 1", got)
	}
	if got := arm.Series[2].API.Outcomes.Rejected; got != 1 {
		t.Errorf("second 2 api rejected = %d; want 1", got)
	}
	if got := arm.Series[3].API.Outcomes.ClientError; got != 1 {
		t.Errorf("second 3 api client errors = %d; want 1", got)
	}
	if got := arm.Series[3].Phase; got != "b" {
		t.Errorf("second 3 phase = %q; want b", got)
	}
	a := arm.Summary["a"]
	if a.API.Requests != 1 || a.Collateral.Requests != 1 || a.UpstreamRequests != 20 || a.InflightPeak != 1 {
		t.Errorf("phase a summary = %+v; want 1 api, 1 collateral, 20 upstream, peak 1", a)
	}
	if got := arm.Summary["b"].API.SuccessRatio; got != 0 {
		t.Errorf("phase b api success = %v; want 0", got)
	}
}

func TestClassify(t *testing.T) {
	start := time.Now()
	tests := []struct {
		code    uint16
		outcome string
		want    outcome
	}{
		{200, outcomeOK, oOK},
		{503, outcomeRejected, oRejected},
		{503, outcomeSaturated, oSaturated},
		{504, outcomeTimeout, oTimeout},
		{502, outcomeUpstreamError, oUpstreamError},
		{0, "", oClientError},
		// A user's own service: no header, status code only.
		{204, "", oOK},
		{504, "", oTimeout},
		{500, "", oUpstreamError},
		{404, "", oClientError},
	}
	for _, tt := range tests {
		if got := classify(result(start, 0, 0, tt.code, tt.outcome)); got != tt.want {
			t.Errorf("classify(%d, %q) = %v; want %v", tt.code, tt.outcome, got, tt.want)
		}
	}
}

// A ten-minute run must not hold meaningfully more memory than a one-minute
// run: the recorder keeps one small Second per second and nothing per result.
func TestRecorderMemoryIsFlat(t *testing.T) {
	start := time.Unix(0, 0)
	const rate = 500
	phases := []Phase{{Name: "only", Duration: 600 * time.Second}}
	rec := newRecorder(start, phases, 2*time.Second, true)
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
	// 540 more Seconds in the series at a few hundred bytes each; one retained
	// result per request would be 540 × 500 × ~200 B ≈ 54 MB.
	if perSecond := grew / 540; perSecond > 2048 {
		t.Errorf("heap grew %d bytes over 540 simulated seconds (%d B/s at %d req/s); want ≤ 2 KiB/s", grew, perSecond, rate)
	}
	runtime.KeepAlive(rec)
}

func BenchmarkRecorderAdd(b *testing.B) {
	start := time.Now()
	rec := newRecorder(start, []Phase{{Name: "p", Duration: time.Hour}}, time.Second, true)
	res := result(start, 0, 3*time.Millisecond, 200, outcomeOK)
	for i := 0; b.Loop(); i++ {
		res.Timestamp = start.Add(time.Duration(i) * time.Millisecond)
		rec.add(res, i%5 == 0)
		if i%1000 == 999 {
			rec.flush(res.Timestamp, false)
		}
	}
}
