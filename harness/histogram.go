package harness

import (
	"math/bits"
	"time"
)

// histogram is a fixed-size log-linear latency histogram (HdrHistogram's
// bucketing with 7 significant bits, about 1% relative error) over
// microseconds. It costs a few kilobytes however many values it holds, which
// is what keeps long runs at flat memory.
type histogram struct {
	counts [histBuckets]uint32
	n      int64
	max    time.Duration
	sum    time.Duration // for the exact mean
}

const (
	histSubBits = 7
	histHalf    = 1 << (histSubBits - 1)
	histMaxExp  = 34 // values up to 2^41 µs (about 25 days) are kept
	histBuckets = (histMaxExp + 2) * histHalf
)

func histIndex(us uint64) int {
	if us < 1<<histSubBits {
		return int(us)
	}
	shift := bits.Len64(us) - histSubBits
	if shift > histMaxExp {
		return histBuckets - 1
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

func (h *histogram) record(d time.Duration) {
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

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	if o.max > h.max {
		h.max = o.max
	}
}

func (h *histogram) reset() { *h = histogram{} }

// meanMS returns the exact mean in milliseconds, 0 when empty.
func (h *histogram) meanMS() float64 {
	if h.n == 0 {
		return 0
	}
	return float64(h.sum) / float64(h.n) / float64(time.Millisecond)
}

// quantile returns the q-quantile (0 < q ≤ 1) in milliseconds; the maximum
// is exact, the rest are within the bucket's width.
func (h *histogram) quantileMS(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	if q >= 1 {
		return float64(h.max) / float64(time.Millisecond)
	}
	rank := int64(q*float64(h.n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for i, c := range h.counts {
		seen += int64(c)
		if seen >= rank {
			v := histValue(i) / 1000
			if m := float64(h.max) / float64(time.Millisecond); v > m {
				v = m
			}
			return v
		}
	}
	return float64(h.max) / float64(time.Millisecond)
}
