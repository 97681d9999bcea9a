package analysis_test

import (
	"testing"

	"github.com/cbload/cbload/analysis"
	"github.com/cbload/cbload/reports"
)

func TestSymptoms(t *testing.T) {
	lat := []string{"latency:1s"}
	phases := []reports.Phase{{Name: "baseline"}, {Name: "retry", Faults: lat}, {Name: "shed", Faults: lat}, {Name: "recovery"}, {Name: "idle"}}
	ps := func(api int64, ups ...int64) reports.PhaseSummary {
		s := reports.PhaseSummary{API: reports.Stats{Requests: api}, Upstreams: map[string]reports.UpstreamPhase{}}
		for i, n := range ups {
			s.Upstreams[string(rune('a'+i))] = reports.UpstreamPhase{Requests: n}
		}
		return s
	}
	a := reports.Arm{Summary: map[string]reports.PhaseSummary{
		"baseline": ps(100, 100, 100), // two dependencies, one call each
		"retry":    ps(100, 400, 400),
		"shed":     ps(100, 5, 5),
		"recovery": ps(100, 105, 100),
		"idle":     ps(0, 0, 0),
	}}
	analysis.Symptoms(&a, phases)
	for _, tt := range []struct {
		phase, effect string
		attempts      float64
	}{
		{"baseline", reports.EffectBaseline, 2},
		{"retry", reports.EffectAmplification, 8},
		{"shed", reports.EffectShedding, 0.1},
		{"recovery", reports.EffectAsBaseline, 2.05},
	} {
		s := a.Summary[tt.phase]
		if s.UpstreamEffect != tt.effect || s.UpstreamAttemptsPerAPIRequest == nil || *s.UpstreamAttemptsPerAPIRequest != tt.attempts {
			t.Errorf("%s: effect %q attempts %v; want %q %v", tt.phase, s.UpstreamEffect, s.UpstreamAttemptsPerAPIRequest, tt.effect, tt.attempts)
		}
	}
	if s := a.Summary["idle"]; s.UpstreamAttemptsPerAPIRequest != nil || s.UpstreamEffect != "" {
		t.Errorf("a phase without /api requests: %v %q; want nothing", s.UpstreamAttemptsPerAPIRequest, s.UpstreamEffect)
	}

	// Without a fault-free baseline, one attempt per request is the yardstick.
	b := reports.Arm{Summary: map[string]reports.PhaseSummary{"retry": ps(100, 300)}}
	analysis.Symptoms(&b, phases[1:2])
	if s := b.Summary["retry"]; s.UpstreamEffect != reports.EffectAmplification {
		t.Errorf("no baseline, 3 attempts per request: %q; want amplification", s.UpstreamEffect)
	}
}
