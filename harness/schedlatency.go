package harness

import (
	"math"
	"runtime/metrics"
)

// schedLatencyMetric is the Go runtime's own measure of CPU starvation: how
// long goroutines waited, runnable, before they ran. It is the whole
// process's — with concurrent arms, both arms' load runners, gateways and
// upstreams — and it is what neither the send lag (the load runner's
// pacing goroutine may run on time while the gateway's wait) nor the
// watchdog's gaps (one goroutine's view) sees of a process that has more
// work than CPU.
const schedLatencyMetric = "/sched/latencies:seconds"

// schedProbe reads the process's scheduling latency since its last read.
// It is not safe for concurrent use; each arm's loop owns its own.
type schedProbe struct {
	sample []metrics.Sample
	last   []uint64
}

func newSchedProbe() *schedProbe {
	p := &schedProbe{sample: []metrics.Sample{{Name: schedLatencyMetric}}}
	p.take() // the base the first second's delta is taken from
	return p
}

// take returns the p99 in milliseconds of the scheduling latencies the
// runtime recorded since the last call (the upper bound of the bucket it
// falls in, so never an understatement), and false when it recorded none.
func (p *schedProbe) take() (float64, bool) {
	metrics.Read(p.sample)
	if p.sample[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0, false // a runtime without the metric
	}
	h := p.sample[0].Value.Float64Histogram()
	delta := make([]uint64, len(h.Counts))
	var n uint64
	for i, c := range h.Counts {
		if i < len(p.last) {
			c -= min(c, p.last[i])
		}
		delta[i] = c
		n += c
	}
	p.last = append(p.last[:0], h.Counts...)
	if n == 0 {
		return 0, false
	}
	return quantileMS(delta, h.Buckets, n, 0.99), true
}

// quantileMS returns the upper bound in milliseconds of the bucket holding
// quantile q of n values counted in counts, whose bucket i spans
// [buckets[i], buckets[i+1]) seconds; an unbounded last bucket reads as
// its lower bound.
func quantileMS(counts []uint64, buckets []float64, n uint64, q float64) float64 {
	rank := uint64(math.Ceil(q * float64(n)))
	var cum uint64
	for i, c := range counts {
		cum += c
		if cum < rank || c == 0 {
			continue
		}
		hi := buckets[i+1]
		if math.IsInf(hi, 1) {
			hi = buckets[i]
		}
		return round3(max(hi, 0) * 1000)
	}
	return 0
}
