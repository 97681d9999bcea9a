package analysis_test

import (
	"testing"

	"github.com/cbload/cbload/analysis"
	"github.com/cbload/cbload/reports"
)

func TestSymptoms(t *testing.T) {
	lat := []string{"latency:1s"}
	phases := []reports.Phase{{Name: "baseline"}, {Name: "retry", Faults: lat}, {Name: "shed", Faults: lat}, {Name: "slow", Faults: lat},
		{Name: "recovery"}, {Name: "refused", Faults: []string{"b=refuse"}}, {Name: "idle"}}
	// api is the /api requests answered in the phase; sent (in the series)
	// those sent in it.
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
		// A slow fault: 100 sent and called once each, but only 40
		// answered before the phase ended; the rest count in the next.
		"slow":     ps(40, 100, 100),
		"recovery": ps(160, 105, 100),
		"refused":  ps(100, 100, 0),
		"idle":     ps(0, 0, 0),
	}}
	for i, p := range phases {
		sent := int64(100)
		if p.Name == "idle" {
			sent = 0
		}
		a.Series = append(a.Series, reports.Second{T: i, Phase: p.Name, API: reports.Bucket{Sent: sent}})
	}
	analysis.Symptoms(&a, phases)
	for _, tt := range []struct {
		phase, effect string
		attempts      float64
	}{
		{"baseline", reports.EffectBaseline, 2},
		{"retry", reports.EffectAmplification, 8},
		{"shed", reports.EffectShedding, 0.1},
		{"slow", reports.EffectAsBaseline, 2},
		{"recovery", reports.EffectAsBaseline, 2.05},
	} {
		s := a.Summary[tt.phase]
		if s.UpstreamEffect != tt.effect || s.UpstreamAttemptsPerAPIRequest == nil || *s.UpstreamAttemptsPerAPIRequest != tt.attempts {
			t.Errorf("%s: effect %q attempts %v; want %q %v", tt.phase, s.UpstreamEffect, s.UpstreamAttemptsPerAPIRequest, tt.effect, tt.attempts)
		}
	}
	// Upstream b refused connections: the calls it was sent are not
	// counted, so the attempts are unknown, not shedding.
	if s := a.Summary["refused"]; s.UpstreamAttemptsPerAPIRequest != nil || s.UpstreamEffect != reports.EffectUnknown {
		t.Errorf("a phase with a refusing upstream: %v %q; want no attempts and effect %q", s.UpstreamAttemptsPerAPIRequest, s.UpstreamEffect, reports.EffectUnknown)
	}
	if s := a.Summary["idle"]; s.UpstreamAttemptsPerAPIRequest != nil || s.UpstreamEffect != "" {
		t.Errorf("a phase without /api requests: %v %q; want nothing", s.UpstreamAttemptsPerAPIRequest, s.UpstreamEffect)
	}

	// Without a fault-free baseline, one attempt per request is the yardstick.
	b := reports.Arm{Summary: map[string]reports.PhaseSummary{"retry": ps(100, 300)},
		Series: []reports.Second{{Phase: "retry", API: reports.Bucket{Sent: 100}}}}
	analysis.Symptoms(&b, phases[1:2])
	if s := b.Summary["retry"]; s.UpstreamEffect != reports.EffectAmplification {
		t.Errorf("no baseline, 3 attempts per request: %q; want amplification", s.UpstreamEffect)
	}
}

// TestRefuses reads which phases make a counted upstream refuse: an
// unnamed fault applies to every upstream, a named one to its own; a spec's
// own key=value is not a name.
func TestRefuses(t *testing.T) {
	ps := reports.PhaseSummary{Upstreams: map[string]reports.UpstreamPhase{"payments": {}, "upstream": {}}}
	for _, tt := range []struct {
		faults []string
		want   bool
	}{
		{[]string{"refuse"}, true},
		{[]string{"refuse,rate=0.5"}, true},
		{[]string{"payments=refuse"}, true},
		{[]string{"other=refuse"}, false}, // not an upstream this arm counts
		{[]string{"reset,rate=0.2"}, false},
		{[]string{"error:503,rate=0.5", "payments=latency:1s"}, false},
		{nil, false},
	} {
		if got := analysis.Refuses(reports.Phase{Faults: tt.faults}, ps); got != tt.want {
			t.Errorf("Refuses(%q) = %v; want %v", tt.faults, got, tt.want)
		}
	}
}

// TestFailsHandshakes: a tls fault hides the calls it fails from the
// upstream's count, as refuse does, so a phase with one has unknown
// attempts rather than shedding.
func TestFailsHandshakes(t *testing.T) {
	ps := reports.PhaseSummary{Upstreams: map[string]reports.UpstreamPhase{"payments": {}}}
	for _, tt := range []struct {
		faults []string
		want   bool
	}{
		{[]string{"tls:expired"}, true},
		{[]string{"payments=tls:handshake,rate=0.5"}, true},
		{[]string{"other=tls"}, false},
		{[]string{"truncate:1KiB"}, false},
	} {
		if got := analysis.FailsHandshakes(reports.Phase{Faults: tt.faults}, ps); got != tt.want {
			t.Errorf("FailsHandshakes(%q) = %v; want %v", tt.faults, got, tt.want)
		}
	}
	phases := []reports.Phase{{Name: "baseline"}, {Name: "tls", Faults: []string{"tls:expired"}}}
	a := reports.Arm{
		Summary: map[string]reports.PhaseSummary{
			"baseline": {API: reports.Stats{Requests: 100}, Upstreams: map[string]reports.UpstreamPhase{"u": {Requests: 100}}},
			"tls":      {API: reports.Stats{Requests: 100}, Upstreams: map[string]reports.UpstreamPhase{"u": {Requests: 0}}},
		},
		Series: []reports.Second{{Phase: "baseline", API: reports.Bucket{Sent: 100}}, {T: 1, Phase: "tls", API: reports.Bucket{Sent: 100}}},
	}
	analysis.Symptoms(&a, phases)
	if s := a.Summary["tls"]; s.UpstreamAttemptsPerAPIRequest != nil || s.UpstreamEffect != reports.EffectUnknown {
		t.Errorf("a phase whose upstream fails every handshake: %v %q; want no attempts and effect %q, not shedding", s.UpstreamAttemptsPerAPIRequest, s.UpstreamEffect, reports.EffectUnknown)
	}
}
