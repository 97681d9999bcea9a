package main

import (
	"testing"
)

// The held-rate search never reports a rate that did not hold, and its
// finer steps near the edge end within 3.5% of the true limit (three bisection steps, as before, could end 6% below it).
func TestHighestRateBisectsNearTheEdge(t *testing.T) {
	for _, limit := range []float64{150, 7300, 12700, 19999} {
		var tried []float64
		g := loadGen{name: "fake", judge: func(rate float64) (string, float64, error) {
			tried = append(tried, rate)
			if rate > limit {
				return "too fast", 0, nil
			}
			return "", 0, nil
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
	g := loadGen{name: "fake", judge: func(float64) (string, float64, error) { return "late", 0, nil }}
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
