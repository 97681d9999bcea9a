package main

import (
	"strings"
	"testing"
	"time"
)

// The held-rate search never reports a rate that did not hold, and its
// finer steps near the edge end within 3.5% of the true limit (three bisection steps, as before, could end 6% below it).
func TestHighestRateBisectsNearTheEdge(t *testing.T) {
	for _, limit := range []float64{150, 7300, 12700, 19999} {
		var tried []float64
		g := loadGen{name: "fake", judge: func(rate float64, _ time.Duration) (string, usage, error) {
			tried = append(tried, rate)
			if rate > limit {
				return "too fast", usage{}, nil
			}
			return "", usage{}, nil
		}}
		h, err := highestRate(g, options{maxRate: maxHeldRate})
		if err != nil {
			t.Fatal(err)
		}
		if h.rate > limit || h.rate < 0.965*limit {
			t.Errorf("limit %.0f: held %.0f after trying %v; want within 3.5%% below the limit", limit, h.rate, tried)
		}
	}
}

// A generator that holds nothing is reported at 0, with why.
func TestHighestRateNothingHeld(t *testing.T) {
	g := loadGen{name: "fake", judge: func(float64, time.Duration) (string, usage, error) { return "late", usage{}, nil }}
	h, err := highestRate(g, options{maxRate: maxHeldRate})
	if err != nil {
		t.Fatal(err)
	}
	if h.rate != 0 || h.failed != "fake: late" {
		t.Errorf("highestRate = %+v; want rate 0, failed %q", h, "fake: late")
	}
}

func TestSummarize(t *testing.T) {
	got := summarize([]float64{1.2, 0.9, 1.05})
	if want := (spread{median: 1.05, lo: 0.9, hi: 1.2}); got != want {
		t.Errorf("summarize = %+v; want %+v", got, want)
	}
	if s := got.span(); s != "0.90–1.20" {
		t.Errorf("span = %q; want %q", s, "0.90–1.20")
	}
}

// The CPU figure is each generator's marginal cost per request: a fixed
// cost per process (cbload's start-up, probe and report) does not count
// as per-request work, however short the tries.
func TestCPUFigureLeavesOutFixedCost(t *testing.T) {
	gen := func(name string, fixedUS, perUS float64) loadGen {
		return loadGen{name: name, judge: func(rate float64, d time.Duration) (string, usage, error) {
			n := int64(rate * d.Seconds())
			return "", usage{cpuUS: fixedUS + perUS*float64(n), sent: n}, nil
		}}
	}
	// cbload: 400 ms fixed, 20 µs a request; vegeta: 20 ms, 25 µs. Over a
	// 5 s try at 1000 req/s the totals would say 100 vs 29 µs.
	gens := []loadGen{gen("cbload", 400e3, 20), gen("vegeta", 20e3, 25)}
	var figs []figure
	if err := cpuFigure(gens, 1000, 5*time.Second, func(f figure) { figs = append(figs, f) }); err != nil {
		t.Fatal(err)
	}
	if len(figs) != 1 || !figs[0].ok || !strings.HasPrefix(figs[0].value, "cbload 20.0, vegeta 25.0 µs = 0.80×") {
		t.Errorf("figures = %+v; want one, met, cbload 20.0 and vegeta 25.0 µs", figs)
	}
}

// A generator that sends no more in the long try than in the short one
// has no marginal cost to measure: an error, not a figure.
func TestCPUFigureNeedsMoreRequests(t *testing.T) {
	flat := loadGen{name: "stuck", judge: func(float64, time.Duration) (string, usage, error) {
		return "", usage{cpuUS: 1000, sent: 10}, nil
	}}
	err := cpuFigure([]loadGen{flat, flat}, 1000, time.Second, func(figure) { t.Error("a figure from no marginal requests") })
	if err == nil || !strings.Contains(err.Error(), "no marginal cost") {
		t.Errorf("cpuFigure = %v; want an error saying there is no marginal cost", err)
	}
}
