package harness

import (
	"math"
	"testing"
)

// The p99 is the upper bound of the bucket the 99th percentile's value is
// counted in; the unbounded last bucket reads as its lower bound.
func TestQuantileMS(t *testing.T) {
	buckets := []float64{math.Inf(-1), 0, 0.001, 0.01, 0.1, math.Inf(1)}
	tests := []struct {
		counts []uint64
		want   float64
	}{
		{[]uint64{0, 99, 1, 0, 0}, 1},       // the 99th of 100 is in [0, 1 ms)
		{[]uint64{0, 98, 2, 0, 0}, 10},      // the 99th is in [1, 10 ms)
		{[]uint64{0, 0, 0, 0, 5}, 100},      // unbounded: its lower bound
		{[]uint64{0, 990, 9, 1, 0}, 1},      // 1% above the p99 does not move it
		{[]uint64{0, 989, 10, 1, 0}, 10},    // one more does
		{[]uint64{3, 0, 0, 0, 0}, 0},        // below zero reads as zero
		{[]uint64{0, 0, 0, 1000, 0}, 100.0}, // all in [10, 100 ms)
	}
	for _, tt := range tests {
		var n uint64
		for _, c := range tt.counts {
			n += c
		}
		if got := quantileMS(tt.counts, buckets, n, 0.99); got != tt.want {
			t.Errorf("quantileMS(%v) = %v; want %v", tt.counts, got, tt.want)
		}
	}
}

// A probe reports what the runtime recorded since its last read, not
// since the process started.
func TestSchedProbeDelta(t *testing.T) {
	p := newSchedProbe()
	done := make(chan struct{})
	for range 10000 {
		go func() { done <- struct{}{} }()
		<-done
	}
	if _, ok := p.take(); !ok {
		t.Fatalf("take after 10000 goroutines ran = no latency recorded; want some")
	}
	// A last read above every count the runtime has leaves no delta.
	for i := range p.last {
		p.last[i] = math.MaxUint64
	}
	if got, ok := p.take(); ok {
		t.Errorf("take with nothing new since the last read = %v ms; want none", got)
	}
}
