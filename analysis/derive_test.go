package analysis_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cbload/cbload/analysis"
	"github.com/cbload/cbload/reports"
)

// A report's summaries and figures are exactly what its raw aggregates
// give: blank every derived field of a real run's report, derive again, and
// the report is unchanged. This is what lets merge recompute shards.
func TestDeriveRecomputesWhatTheRunWrote(t *testing.T) {
	r := readRun(t)
	for i := range r.Arms {
		a := &r.Arms[i]
		if !analysis.HasRaw(a) {
			t.Fatalf("arm %s has no raw aggregates", a.Name)
		}
		want := cloneArm(t, a)
		// Keep only the per-phase details, which are raw data kept per
		// phase; blank everything derived.
		for name, ps := range a.Summary {
			a.Summary[name] = reports.PhaseSummary{
				API: reports.Stats{StatusCodes: ps.API.StatusCodes, Errors: ps.API.Errors, ErrorsOther: ps.API.ErrorsOther, BytesIn: ps.API.BytesIn, BytesOut: ps.API.BytesOut},
				Collateral: reports.Stats{StatusCodes: ps.Collateral.StatusCodes, Errors: ps.Collateral.Errors, ErrorsOther: ps.Collateral.ErrorsOther,
					BytesIn: ps.Collateral.BytesIn, BytesOut: ps.Collateral.BytesOut},
			}
		}
		a.Figures = reports.Figures{}
		a.Load.Scheduled, a.Load.Sent, a.Load.SendLagMS = 0, 0, reports.Latency{}
		for j := range a.Series {
			s := &a.Series[j]
			s.Phase, s.SendLagMS = "", reports.Lag{}
			s.API.Requests, s.API.LatencyMS = 0, reports.Latency{}
			s.Collateral.Requests, s.Collateral.LatencyMS = 0, reports.Latency{}
		}
		analysis.Derive(a, r.Phases)
		// Attempts per request and the recovery after the trigger are the
		// cascade analysis's (analysis.Judge), run after Derive.
		ignore := cmpopts.IgnoreFields(reports.PhaseSummary{}, "AttemptsPerRequest")
		ignoreFig := cmpopts.IgnoreFields(reports.Figures{}, "AttemptsPerRequestDuringFault", "AfterTrigger")
		if diff := cmp.Diff(want, a, ignore, ignoreFig); diff != "" {
			t.Errorf("arm %s derived again differs from the report (-want +got):\n%s", a.Name, diff)
		}
	}
}

func cloneArm(t *testing.T, a *reports.Arm) *reports.Arm {
	t.Helper()
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var out reports.Arm
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// Derive's recovery search stops at the last /api slot: a schedule that
// claims to end 10^12 s after the fault (reports.Validate refuses one; a
// caller may not have validated) is no loop over 10^13 empty slots.
func TestDeriveStopsAtTheLastSlot(t *testing.T) {
	r := readRun(t)
	a := &r.Arms[0]
	phases := append([]reports.Phase(nil), r.Phases...)
	phases[len(phases)-1].EndS = 1e12
	// An arm that never recovers: the search runs to its end.
	for i := range a.APISlots.OK {
		a.APISlots.OK[i] = 0
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		analysis.Derive(a, phases)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Derive over a schedule ending at 1e12 s did not return within 20 s")
	}
	if a.Figures.TimeToRecoverS != nil {
		t.Errorf("time to recover %v; want nil, as no /api call succeeded", *a.Figures.TimeToRecoverS)
	}
}
