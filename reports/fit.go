package reports

import (
	"encoding/json"
	"fmt"
)

// FitJSON makes r's report.json at most MaxJSONSize bytes, the most
// ReadJSON reads, so that cbload report, compare and merge read back every
// report cbload writes. When r with its raw aggregates — every second's
// histograms and the /api counts per 100 ms — would be larger, FitJSON
// leaves them out of every arm and says so in each
// arm's notes: the summaries, percentiles and figures stay as measured, but
// the report can no longer be merged or its figures derived again. It
// returns the size r's JSON had with the raw aggregates when it left them
// out, and 0 when they fit. WriteJSON refuses a report still too large.
func FitJSON(r *Report) (int, error) { return fitJSON(r, MaxJSONSize) }

// fitJSON is FitJSON with the limit as a parameter, for tests.
func fitJSON(r *Report, limit int) (int, error) {
	n, err := jsonSize(r)
	if err != nil || n <= limit {
		return 0, err
	}
	note := fmt.Sprintf("raw data left out: with every second's histograms and the /api counts per 100 ms this report would be %s, over the %s that cbload report, compare and merge read; the summaries, percentiles and figures are as measured, but the report cannot be merged or its figures derived again",
		mebibytes(n), mebibytes(limit))
	leaveOut := func(a *Arm) {
		a.APISlots = nil
		for i := range a.Series {
			s := &a.Series[i]
			s.SendLagHist, s.UpstreamCallHist, s.API.LatencyHist, s.Collateral.LatencyHist = nil, nil, nil, nil
		}
		a.Notes = append(a.Notes, note)
	}
	for i := range r.Arms {
		leaveOut(&r.Arms[i])
	}
	return n, nil
}

// jsonSize returns the size of r's report.json as WriteJSON writes it.
func jsonSize(r *Report) (int, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return 0, fmt.Errorf("encode report: %w", err)
	}
	return len(b) + 1, nil
}

// mebibytes formats n bytes in MiB, like "70.2 MiB".
func mebibytes(n int) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
