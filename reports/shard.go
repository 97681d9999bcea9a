package reports

import "time"

// Merge describes a report merged from the shards of one run. Every count
// is the sum over the shards and every percentile is read from the merged
// histograms; breaker transitions and states come from the lowest shard
// present (every shard watches the same service); per-second in-flight
// peaks are the sum of the shards' peaks (an upper bound: the shards'
// peaks need not coincide), goroutines the largest shard's, and the
// upstream's queue (peak and length) the largest any shard saw, since every
// shard calls the same upstream.
type Merge struct {
	// Count is the number of shards the run was split into.
	Count  int           `json:"count"`
	Shards []MergedShard `json:"shards"`
	// Missing lists the shard indexes not given to merge; the report is
	// then Partial.
	Missing []int `json:"missing"`
}

// MergedShard is one shard as merge found it.
type MergedShard struct {
	Index       int    `json:"index"`
	Seed        int64  `json:"seed"`
	Source      string `json:"source"`
	ClockOffset string `json:"clock_offset"`
	// Arms says how each of the shard's arms started and which of its own
	// validity checks failed.
	Arms []MergedShardArm `json:"arms"`
	// Problems says, in words, how this shard started late or fell behind:
	// its start lag and its own failed validity checks. Empty when it ran
	// on schedule.
	Problems []string `json:"problems"`
}

// MergedShardArm is one arm of one merged shard.
type MergedShardArm struct {
	Name string `json:"name"`
	// StartLagMS is how late the shard started the arm (ArmStart.LagMS).
	StartLagMS float64 `json:"start_lag_ms"`
	// FailedChecks names the shard's own validity checks of this arm that
	// failed.
	FailedChecks []string `json:"failed_checks"`
}

// Shard is one process's part in a sharded run.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
	// Rate is this shard's share of Config.Rate, the run's total.
	Rate float64 `json:"rate"`
	// Seed is this shard's seed, derived from the run's seed and Index.
	Seed int64 `json:"seed"`
	// ClockOffset is this machine's clock offset estimate, or "unknown"
	// with the reason.
	ClockOffset string `json:"clock_offset"`
}

// ArmStart is when an arm with a scheduled start began.
type ArmStart struct {
	// At is when the arm was scheduled to start; its phases are aligned on
	// it whatever the lag.
	At time.Time `json:"at"`
	// LagMS is how late the load started against At, by this process's
	// clock.
	LagMS float64 `json:"lag_ms"`
	// SkippedSends counts the requests that were due more than 100 ms
	// before the load started and were not sent, so a late start does not
	// burst; they show as scheduled but not sent.
	SkippedSends int64 `json:"skipped_sends"`
}
