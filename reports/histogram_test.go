package reports

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// exactQuantileMS is the q-quantile by the rule Histogram.QuantileMS
// states, computed over the samples themselves.
func exactQuantileMS(sorted []time.Duration, q float64) float64 {
	rank := max(int(q*float64(len(sorted))+0.5), 1)
	return float64(sorted[rank-1]) / 1e6
}

func lognormal(rng *rand.Rand, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		// around 5 ms with a long tail up to seconds
		out[i] = time.Duration(math.Exp(rng.NormFloat64()*1.2 + math.Log(5e6)))
	}
	return out
}

// withinError reports whether got is within HistogramRelativeError of want,
// plus the microsecond recording truncates.
func withinError(got, want float64) bool {
	return math.Abs(got-want) <= want*HistogramRelativeError+0.001
}

func TestHistogramQuantilesWithinRelativeError(t *testing.T) {
	vals := lognormal(rand.New(rand.NewPCG(1, 2)), 20000)
	var h DenseHistogram
	for _, v := range vals {
		h.Record(v)
	}
	s := h.Sparse()
	slices.Sort(vals)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999} {
		if got, want := s.QuantileMS(q), exactQuantileMS(vals, q); !withinError(got, want) {
			t.Errorf("QuantileMS(%v) = %.4f; want %.4f within %.2f%%", q, got, want, HistogramRelativeError*100)
		}
	}
	if got, want := s.QuantileMS(1), float64(vals[len(vals)-1]/time.Microsecond)/1000; got != want {
		t.Errorf("QuantileMS(1) = %v; want the exact max %v", got, want)
	}
	var sum time.Duration
	for _, v := range vals {
		sum += v
	}
	if got, want := s.MeanMS(), float64(sum)/float64(len(vals))/1e6; math.Abs(got-want) > 1e-9 {
		t.Errorf("MeanMS() = %v; want the exact mean %v", got, want)
	}
}

// The stated bound is the layout's worst case: no value is further than
// HistogramRelativeError from its bucket's midpoint, and the bound is
// nearly reached.
func TestHistogramLayoutRelativeError(t *testing.T) {
	prev, worst := -1, 0.0
	for us := uint64(1); us < 1<<26; us += 1 + us/4096 {
		i := histIndex(us)
		if i < prev {
			t.Fatalf("histIndex(%d) = %d < histIndex of a smaller value (%d)", us, i, prev)
		}
		prev = i
		rel := math.Abs(histValue(i)-float64(us)) / float64(us)
		worst = max(worst, rel)
		if rel > HistogramRelativeError {
			t.Fatalf("histValue(histIndex(%d)) = %v: %.4f%% off; want ≤ %.4f%%", us, histValue(i), rel*100, HistogramRelativeError*100)
		}
	}
	if worst < HistogramRelativeError*0.9 {
		t.Errorf("worst relative error %.4f%%; the stated bound %.4f%% is loose", worst*100, HistogramRelativeError*100)
	}
	if i := histIndex(math.MaxUint64); i != HistogramBuckets-1 {
		t.Errorf("histIndex(max) = %d; want last bucket %d", i, HistogramBuckets-1)
	}
}

// Merging sparse histograms is exact: the merge of shards' histograms is
// the histogram of all their values, so its percentiles are those of the
// union — unlike any average of the shards' percentiles.
func TestHistogramMergeIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var all DenseHistogram
	var merged *Histogram
	var vals []time.Duration
	for shard := range 3 {
		var h DenseHistogram
		// Shards see different distributions, as shards on different
		// nodes would.
		for _, v := range lognormal(rng, 5000+shard*3000) {
			v *= time.Duration(shard + 1)
			h.Record(v)
			all.Record(v)
			vals = append(vals, v)
		}
		merged = merged.Merge(h.Sparse())
	}
	if err := merged.Validate(); err != nil {
		t.Fatalf("merged histogram invalid: %v", err)
	}
	if got, want := merged, all.Sparse(); !slices.Equal(got.Buckets, want.Buckets) || got.Count != want.Count || got.MaxUS != want.MaxUS {
		t.Fatalf("merge of shards (n=%d, max %d µs, %d buckets) differs from the histogram of all values (n=%d, max %d µs, %d buckets)",
			got.Count, got.MaxUS, len(got.Buckets)/2, want.Count, want.MaxUS, len(want.Buckets)/2)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.99} {
		if got, want := merged.QuantileMS(q), exactQuantileMS(vals, q); !withinError(got, want) {
			t.Errorf("merged QuantileMS(%v) = %.4f; want %.4f within %.2f%%", q, got, want, HistogramRelativeError*100)
		}
	}
}

func TestHistogramEmptyNilAndJSON(t *testing.T) {
	var nilH *Histogram
	if got := nilH.QuantileMS(0.99); got != 0 {
		t.Errorf("nil QuantileMS = %v; want 0", got)
	}
	if nilH.Merge(nil) != nil {
		t.Errorf("nil.Merge(nil) is not nil")
	}
	var d DenseHistogram
	d.Record(-time.Second)
	d.Record(10 * time.Millisecond)
	d.Record(10 * time.Millisecond)
	raw, err := json.Marshal(d.Sparse())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(raw), `{"n":3,"max_us":10000,"sum_ns":20000000,"b":"0:1 526:2"}`; got != want {
		t.Errorf("JSON = %s; want %s", got, want)
	}
	bad := []Histogram{
		{Count: 1, Buckets: []int64{3}},
		{Count: 2, Buckets: []int64{5, 1, 4, 1}},
		{Count: 1, Buckets: []int64{HistogramBuckets, 1}},
		{Count: 1, Buckets: []int64{5, 0}},
		{Count: 2, Buckets: []int64{5, 1}},
		// Counts whose sum wraps around to n.
		{Count: 5, Buckets: []int64{1, 1 << 62, 2, 1 << 62, 3, 1 << 62, 4, 1<<62 + 5}},
	}
	for _, h := range bad {
		if err := h.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil; want an error", h)
		}
	}
	var back Histogram
	if err := json.Unmarshal(raw, &back); err != nil || !slices.Equal(back.Buckets, d.Sparse().Buckets) {
		t.Errorf("round trip of %s = %+v, %v; want the same buckets", raw, back, err)
	}
	for _, in := range []string{`{"n":1,"max_us":0,"b":"5"}`, `{"n":1,"max_us":0,"b":"x:1"}`, `{"n":2,"max_us":0,"b":"5:1"}`, `{"n":1,"max_us":0,"b":"9999:1"}`} {
		if err := json.Unmarshal([]byte(in), &back); err == nil {
			t.Errorf("Unmarshal(%s) = nil; want an error", in)
		}
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h DenseHistogram
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i%5000) * time.Microsecond)
	}
}

// Merging saturates the latency sum instead of wrapping it around.
func TestHistogramMergeSaturates(t *testing.T) {
	a := &Histogram{Count: 1, MaxUS: 1, SumNS: math.MaxInt64 - 5, Buckets: []int64{1, 1}}
	if got := a.Merge(a).SumNS; got != math.MaxInt64 {
		t.Errorf("merged SumNS = %d; want it saturated at %d", got, int64(math.MaxInt64))
	}
}
