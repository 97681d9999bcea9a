package reports

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func TestWriteJUnit(t *testing.T) {
	r := thReport()
	r.StartedAt = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	r.FinishedAt = r.StartedAt.Add(61500 * time.Millisecond)
	r.Verdict.Summary = "The breaker prevented the cascade <&> \"quoted\"."
	var ths []Threshold
	for _, s := range []string{
		"breaker.fault.collateral.success_ratio >= 99%",
		"breaker.fault.api.latency_ms.p99 < 500ms",
	} {
		th, err := ParseThreshold(s)
		if err != nil {
			t.Fatal(err)
		}
		ths = append(ths, th)
	}
	r.Thresholds, _ = EvaluateThresholds(ths, r)

	var buf bytes.Buffer
	if err := WriteJUnit(&buf, r); err != nil {
		t.Fatalf("WriteJUnit: %v", err)
	}
	var got junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("the JUnit XML does not parse back: %v\n%s", err, buf.String())
	}
	if got.Tests != 3 || got.Failures != 1 || len(got.Suites) != 1 || len(got.Suites[0].Cases) != 3 {
		t.Fatalf("JUnit = %d tests, %d failures, %d suites; want 3 tests (2 thresholds + verdict), 1 failure, 1 suite\n%s",
			got.Tests, got.Failures, len(got.Suites), buf.String())
	}
	s := got.Suites[0]
	if s.Time != "61.500" || s.Timestamp != "2026-11-26T10:00:00" {
		t.Errorf("suite time %q, timestamp %q; want 61.500 and 2026-11-26T10:00:00", s.Time, s.Timestamp)
	}
	pass, fail, verdict := s.Cases[0], s.Cases[1], s.Cases[2]
	if pass.Name != "breaker.fault.collateral.success_ratio >= 99%" || pass.Failure != nil {
		t.Errorf("first case = %+v; want the passing threshold without a failure", pass)
	}
	if fail.Failure == nil || !strings.Contains(fail.Failure.Message, "measured 550.0ms") || fail.Failure.Type != "threshold" {
		t.Errorf("second case = %+v; want a threshold failure carrying the measured 550.0ms", fail)
	}
	if verdict.Name != "verdict" || verdict.Failure != nil || verdict.Skipped != nil || !strings.Contains(verdict.SystemOut, `<&> "quoted"`) {
		t.Errorf("verdict case = %+v; want a pass with the summary, escaped and read back intact", verdict)
	}
}

func TestWriteJUnitVerdict(t *testing.T) {
	for _, tt := range []struct {
		outcome        string
		failed, skiped bool
	}{
		{OutcomePrevented, false, false},
		{OutcomeNothingToPrevent, false, false},
		{OutcomeWorse, true, false},
		{OutcomeNotPrevented, true, false},
		{OutcomeInconclusive, false, true},
		// The verdict on one arm (a single target).
		{OutcomeHeld, false, false},
		{OutcomeNotContained, true, false},
		{OutcomeStuck, true, false},
		{OutcomeNotShed, true, false},
		{OutcomeSlowFailure, true, false},
	} {
		r := &Report{Verdict: Verdict{Outcome: tt.outcome, Summary: "s", Reasons: []string{"a", "b"}}}
		var buf bytes.Buffer
		if err := WriteJUnit(&buf, r); err != nil {
			t.Fatal(err)
		}
		var got junitSuites
		if err := xml.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatalf("%s: %v", tt.outcome, err)
		}
		c := got.Suites[0].Cases[0]
		if (c.Failure != nil) != tt.failed || (c.Skipped != nil) != tt.skiped {
			t.Errorf("verdict %s: failure %v, skipped %v; want failure %v, skipped %v", tt.outcome, c.Failure != nil, c.Skipped != nil, tt.failed, tt.skiped)
		}
	}
}
