package main

import (
	"os"
	"os/exec"
	"runtime"
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

// The CPU figure is each generator's cost per request net of its
// process's cost without the load (cbload's start-up, probe and report),
// the median of the rounds' ratios.
func TestCPUFigureLeavesOutFixedCost(t *testing.T) {
	gen := func(name string, fixedUS float64, perUS ...float64) loadGen {
		tries := 0
		return loadGen{name: name, judge: func(rate float64, d time.Duration) (string, usage, error) {
			n := int64(rate * d.Seconds())
			if rate == 1 {
				return "", usage{cpuUS: fixedUS + 30*float64(n), sent: n}, nil
			}
			p := perUS[tries%len(perUS)]
			tries++
			return "", usage{cpuUS: fixedUS + p*float64(n), sent: n}, nil
		}}
	}
	// cbload: 400 ms fixed, 20 µs a request but 40 in one noisy round;
	// vegeta: 20 ms, 25 µs. Over 10 s at 1000 req/s the totals would say
	// 60 vs 27 µs.
	gens := []loadGen{gen("cbload", 400e3, 20, 40, 20), gen("vegeta", 20e3, 25)}
	var figs []figure
	if err := cpuFigure(gens, 1000, 10*time.Second, 3, func(f figure) { figs = append(figs, f) }); err != nil {
		t.Fatal(err)
	}
	if len(figs) != 1 || !figs[0].ok || !strings.HasPrefix(figs[0].value, "0.80× vegeta (0.80–1.60; median 20.0 vs 25.0 µs)") {
		t.Errorf("figures = %+v; want one, met: 0.80× (0.80–1.60), 20.0 vs 25.0 µs", figs)
	}
}

// A generator that sends no more at the rate than at 1 req/s has no cost
// per request to measure: an error, not a figure.
func TestCPUFigureNeedsMoreRequests(t *testing.T) {
	flat := loadGen{name: "stuck", judge: func(float64, time.Duration) (string, usage, error) {
		return "", usage{cpuUS: 1000, sent: 10}, nil
	}}
	err := cpuFigure([]loadGen{flat, flat}, 1000, time.Second, 3, func(figure) { t.Error("a figure from no requests") })
	if err == nil || !strings.Contains(err.Error(), "no cost per request") {
		t.Errorf("cpuFigure = %v; want an error saying there is no cost per request", err)
	}
}

// A child's peak resident set is its own: not the parent's, which Linux
// folds into the child's rusage Maxrss at exec.
func TestRunWatchedPeakIsTheChilds(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc here: runWatched falls back to the rusage")
	}
	const parent = 256 << 20
	ballast := make([]byte, parent)
	for i := range ballast { // touched, so resident
		ballast[i] = 1
	}
	p, err := runWatched(exec.Command("sleep", "0.3"))
	if err != nil {
		t.Fatal(err)
	}
	if p.peakKiB <= 0 || p.peakKiB >= 64<<10 {
		t.Errorf("sleep's peak = %d KiB; want its own few MiB, not this test's %d MiB (rusage Maxrss says %d KiB)", p.peakKiB, parent>>20, p.ru.Maxrss)
	}
	runtime.KeepAlive(ballast)
}
