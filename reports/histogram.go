package reports

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// cbload's latency histograms share one fixed log-linear layout over
// microseconds (HdrHistogram's bucketing with 7 significant bits): values
// below 128 µs have a bucket each, and every power of two above is split
// into 64 buckets. Because every report uses the same layout, histograms
// merge exactly by adding bucket counts — how `cbload merge` combines
// shards — and a percentile of the merged histogram is the percentile of
// all the samples, to within the bucket width.
const (
	histSubBits = 7
	histHalf    = 1 << (histSubBits - 1)
	histMaxExp  = 34 // values up to 2^41 µs (about 25 days) are kept
	// HistogramBuckets is the number of buckets in the layout.
	HistogramBuckets = (histMaxExp + 2) * histHalf
)

// HistogramRelativeError bounds how far a percentile read from a histogram
// may be from the sample it stands for: the bucket midpoint is within 1/128
// (0.78%) of every value in the bucket, plus the 1 µs that recording in
// whole microseconds truncates. The maximum is exact.
const HistogramRelativeError = 1.0 / 128

func histIndex(us uint64) int {
	if us < 1<<histSubBits {
		return int(us)
	}
	shift := bits.Len64(us) - histSubBits
	if shift > histMaxExp {
		return HistogramBuckets - 1
	}
	return shift*histHalf + int(us>>shift)
}

// histValue returns the midpoint of bucket i in microseconds.
func histValue(i int) float64 {
	if i < 1<<histSubBits {
		return float64(i)
	}
	shift := i/histHalf - 1
	mant := uint64(i - shift*histHalf)
	lo := mant << shift
	return float64(lo) + float64(uint64(1)<<shift-1)/2
}

// DenseHistogram records latencies into every bucket of the layout: a few
// kilobytes however many values it holds, which keeps long runs at flat
// memory. The zero value is empty and ready to use; it is not safe for
// concurrent use.
type DenseHistogram struct {
	counts [HistogramBuckets]uint32
	n      int64
	max    time.Duration
	sum    time.Duration // for the exact mean
}

// Record adds one value; a negative one counts as zero.
func (h *DenseHistogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[histIndex(uint64(d/time.Microsecond))]++
	h.n++
	h.sum += d
	if d > h.max {
		h.max = d
	}
}

// Merge adds o's counts to h.
func (h *DenseHistogram) Merge(o *DenseHistogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// Reset empties h.
func (h *DenseHistogram) Reset() { *h = DenseHistogram{} }

// Count returns the number of values recorded.
func (h *DenseHistogram) Count() int64 { return h.n }

// Sparse returns h in the report's sparse form.
func (h *DenseHistogram) Sparse() *Histogram {
	s := &Histogram{Count: h.n, MaxUS: int64(h.max / time.Microsecond), SumNS: int64(h.sum), Buckets: []int64{}}
	for i, c := range h.counts {
		if c > 0 {
			s.Buckets = append(s.Buckets, int64(i), int64(c))
		}
	}
	return s
}

// Histogram is a latency distribution as a report carries it: the non-empty
// buckets of cbload's fixed layout, so that histograms from different
// seconds, phases or shards merge exactly (Merge) and percentiles are read
// from the merged counts (Quantile), never averaged.
type Histogram struct {
	// Count is the number of values.
	Count int64 `json:"n"`
	// MaxUS is the largest value, in whole microseconds.
	MaxUS int64 `json:"max_us"`
	// SumNS is the sum of the values in nanoseconds, for the exact mean.
	SumNS int64 `json:"sum_ns"`
	// Buckets lists the non-empty buckets as flat pairs: bucket index,
	// count, by increasing index. In JSON it is one string of
	// "index:count" pairs separated by spaces ("526:2 530:14"), which stays
	// on one line of an indented report.
	Buckets []int64 `json:"-"`
}

type histogramJSON struct {
	Count   int64  `json:"n"`
	MaxUS   int64  `json:"max_us"`
	SumNS   int64  `json:"sum_ns"`
	Buckets string `json:"b"`
}

// MarshalJSON encodes h with its buckets as one "index:count ..." string.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	for i := 0; i+1 < len(h.Buckets); i += 2 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatInt(h.Buckets[i], 10))
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(h.Buckets[i+1], 10))
	}
	return json.Marshal(histogramJSON{Count: h.Count, MaxUS: h.MaxUS, SumNS: h.SumNS, Buckets: b.String()})
}

// UnmarshalJSON decodes what MarshalJSON writes and checks it (Validate).
func (h *Histogram) UnmarshalJSON(data []byte) error {
	var raw histogramJSON
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	pairs := strings.Fields(raw.Buckets)
	if len(pairs) > HistogramBuckets {
		return fmt.Errorf("histogram: %d buckets, more than the layout's %d", len(pairs), HistogramBuckets)
	}
	out := Histogram{Count: raw.Count, MaxUS: raw.MaxUS, SumNS: raw.SumNS, Buckets: make([]int64, 0, 2*len(pairs))}
	for _, p := range pairs {
		is, cs, ok := strings.Cut(p, ":")
		i, err1 := strconv.ParseInt(is, 10, 64)
		c, err2 := strconv.ParseInt(cs, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("histogram bucket %q: want index:count, like 526:2", p)
		}
		out.Buckets = append(out.Buckets, i, c)
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*h = out
	return nil
}

// Validate checks that h is well formed: pairs of in-range, increasing
// bucket indexes with positive counts that add up to Count.
func (h *Histogram) Validate() error {
	if h == nil {
		return nil
	}
	if len(h.Buckets)%2 != 0 {
		return fmt.Errorf("histogram buckets: want index,count pairs, got %d numbers", len(h.Buckets))
	}
	var sum int64
	prev := int64(-1)
	for i := 0; i < len(h.Buckets); i += 2 {
		idx, c := h.Buckets[i], h.Buckets[i+1]
		if idx <= prev || idx >= HistogramBuckets {
			return fmt.Errorf("histogram bucket index %d: want increasing indexes in [0,%d)", idx, HistogramBuckets)
		}
		if c <= 0 {
			return fmt.Errorf("histogram bucket %d: count %d, want > 0", idx, c)
		}
		if c > h.Count-sum { // checked before adding, so no sum can overflow
			return fmt.Errorf("histogram: bucket counts add up to more than n (%d)", h.Count)
		}
		prev = idx
		sum += c
	}
	if sum != h.Count || h.MaxUS < 0 || h.SumNS < 0 {
		return fmt.Errorf("histogram: bucket counts add up to %d, but n is %d", sum, h.Count)
	}
	// n values of at most max_us add up to at most n·(max_us+1) µs.
	if float64(h.SumNS) > float64(h.Count)*(float64(h.MaxUS)+1)*1000 {
		return fmt.Errorf("histogram: sum_ns %d is more than %d values of at most %d µs add up to", h.SumNS, h.Count, h.MaxUS)
	}
	return nil
}

// Merge returns the histogram of the values of h and o together; either
// may be nil.
func (h *Histogram) Merge(o *Histogram) *Histogram {
	switch {
	case h == nil && o == nil:
		return nil
	case h == nil:
		h = &Histogram{Buckets: []int64{}}
	case o == nil:
		o = &Histogram{}
	}
	// The sum saturates: a mean can be wrong past 292 years of latency in
	// one histogram, but no sum wraps around.
	sumNS := h.SumNS + o.SumNS
	if h.SumNS > 0 && o.SumNS > 0 && sumNS < 0 {
		sumNS = math.MaxInt64
	}
	out := &Histogram{Count: h.Count + o.Count, MaxUS: max(h.MaxUS, o.MaxUS), SumNS: sumNS, Buckets: make([]int64, 0, max(len(h.Buckets), len(o.Buckets)))}
	a, b := h.Buckets, o.Buckets
	for len(a) > 0 || len(b) > 0 {
		switch {
		case len(b) == 0 || (len(a) > 0 && a[0] < b[0]):
			out.Buckets = append(out.Buckets, a[0], a[1])
			a = a[2:]
		case len(a) == 0 || b[0] < a[0]:
			out.Buckets = append(out.Buckets, b[0], b[1])
			b = b[2:]
		default:
			out.Buckets = append(out.Buckets, a[0], a[1]+b[1])
			a, b = a[2:], b[2:]
		}
	}
	return out
}

// QuantileMS returns the q-quantile (0 < q ≤ 1) in milliseconds: the value
// of rank round(q·n) (at least 1) among the values sorted, read as its
// bucket's midpoint (capped at the maximum), so within
// HistogramRelativeError of it. The maximum (q = 1) is exact to the
// microsecond. An empty or nil histogram gives 0.
func (h *Histogram) QuantileMS(q float64) float64 {
	if h == nil || h.Count == 0 {
		return 0
	}
	maxMS := float64(h.MaxUS) / 1000
	if q >= 1 {
		return maxMS
	}
	rank := max(int64(q*float64(h.Count)+0.5), 1)
	var seen int64
	for i := 0; i+1 < len(h.Buckets); i += 2 {
		seen += h.Buckets[i+1]
		if seen >= rank {
			return min(histValue(int(h.Buckets[i]))/1000, maxMS)
		}
	}
	return maxMS
}

// MeanMS returns the exact mean in milliseconds, 0 when empty or nil.
func (h *Histogram) MeanMS() float64 {
	if h == nil || h.Count == 0 {
		return 0
	}
	return float64(h.SumNS) / float64(h.Count) / 1e6
}

// Latency returns h's p50, p90, p95, p99, max and mean in milliseconds,
// rounded to the microsecond.
func (h *Histogram) Latency() Latency {
	return Latency{
		P50:  round3(h.QuantileMS(0.50)),
		P90:  round3(h.QuantileMS(0.90)),
		P95:  round3(h.QuantileMS(0.95)),
		P99:  round3(h.QuantileMS(0.99)),
		Max:  round3(h.QuantileMS(1)),
		Mean: round3(h.MeanMS()),
	}
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }
