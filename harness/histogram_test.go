package harness

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

func TestHistogramQuantilesWithinOnePercent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h histogram
	vals := make([]float64, 0, 20000)
	for range 20000 {
		// lognormal around 5 ms with a long tail up to seconds
		d := time.Duration(math.Exp(rng.NormFloat64()*1.2+math.Log(5e6))) * time.Nanosecond
		h.record(d)
		vals = append(vals, float64(d)/1e6)
	}
	sort.Float64s(vals)
	for _, q := range []float64{0.5, 0.9, 0.99} {
		want := vals[int(q*float64(len(vals)))-1]
		got := h.quantileMS(q)
		if math.Abs(got-want)/want > 0.02 {
			t.Errorf("quantileMS(%v) = %.3f; want %.3f ± 2%%", q, got, want)
		}
	}
	if got, want := h.quantileMS(1), vals[len(vals)-1]; math.Abs(got-want) > 0.001 {
		t.Errorf("quantileMS(1) = %v; want exact max %v", got, want)
	}
}

func TestHistogramIndexIsMonotonic(t *testing.T) {
	prev := -1
	for us := uint64(0); us < 1<<22; us += 7 {
		i := histIndex(us)
		if i < prev {
			t.Fatalf("histIndex(%d) = %d < histIndex of a smaller value (%d)", us, i, prev)
		}
		if v := histValue(i); math.Abs(v-float64(us)) > float64(us)/64+1 {
			t.Fatalf("histValue(histIndex(%d)) = %v; want within 1/64", us, v)
		}
		prev = i
	}
	if i := histIndex(math.MaxUint64); i != histBuckets-1 {
		t.Errorf("histIndex(max) = %d; want last bucket %d", i, histBuckets-1)
	}
}

func TestHistogramEmptyAndMerge(t *testing.T) {
	var a, b histogram
	if got := a.quantileMS(0.99); got != 0 {
		t.Errorf("empty quantileMS = %v; want 0", got)
	}
	a.record(10 * time.Millisecond)
	b.record(30 * time.Millisecond)
	a.merge(&b)
	if a.n != 2 || a.max != 30*time.Millisecond {
		t.Errorf("merged n=%d max=%v; want 2, 30ms", a.n, a.max)
	}
	if got := a.meanMS(); got != 20 {
		t.Errorf("merged meanMS = %v; want 20 (exact, not from buckets)", got)
	}
	var empty histogram
	if got := empty.meanMS(); got != 0 {
		t.Errorf("empty meanMS = %v; want 0", got)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h histogram
	for i := 0; b.Loop(); i++ {
		h.record(time.Duration(i%5000) * time.Microsecond)
	}
}
