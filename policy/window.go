package policy

import "time"

// windowBuckets is how many buckets a rolling window has: counts leave the
// window a tenth of its length at a time.
const windowBuckets = 10

// window keeps two counts over a rolling window of fixed-length buckets. It
// is not safe for concurrent use; its policy guards it.
type window struct {
	period time.Duration
	epoch  time.Time
	ring   [windowBuckets]bucket
}

type bucket struct {
	idx  int64 // which period this bucket holds; a stale one is reused
	a, b float64
}

func newWindow(length time.Duration, epoch time.Time) window {
	return window{period: max(length/windowBuckets, time.Nanosecond), epoch: epoch}
}

func (w *window) index(at time.Time) int64 {
	d := at.Sub(w.epoch)
	if d < 0 {
		return 0
	}
	return int64(d / w.period)
}

// add adds da and db to the bucket of time at, if that bucket is still in
// the window.
func (w *window) add(at time.Time, da, db float64) {
	i := w.index(at)
	s := &w.ring[i%windowBuckets]
	switch {
	case s.idx == i:
	case s.idx < i:
		*s = bucket{idx: i}
	default: // at is older than the window: it no longer counts
		return
	}
	s.a += da
	s.b += db
}

// sums returns both counts over the window ending at now.
func (w *window) sums(now time.Time) (a, b float64) {
	cur := w.index(now)
	for i := range w.ring {
		if s := &w.ring[i]; s.idx > cur-windowBuckets && s.idx <= cur {
			a += s.a
			b += s.b
		}
	}
	return a, b
}
