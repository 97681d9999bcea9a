package main

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cbload/cbload/harness"
)

// shardOptions holds the flags of a run spread over several processes.
type shardOptions struct {
	shard            string // --shard I/N
	startAt          string // --start-at, RFC 3339
	runID            string
	upstreamExternal bool
}

//go:embed helptext/shardHelp.txt
var shardHelp string

// applyShard sets the sharding fields of cfg from the flags; it runs
// before cfg is validated, which checks how they combine.
func applyShard(cfg *harness.Config, o *shardOptions, seedGiven bool) error {
	if o.shard != "" {
		is, ns, ok := strings.Cut(o.shard, "/")
		i, err1 := strconv.Atoi(is)
		n, err2 := strconv.Atoi(ns)
		if !ok || err1 != nil || err2 != nil || n < 1 || n > harness.MaxShards || i < 0 || i >= n {
			return flagErrorf("--shard", " %q: want INDEX/COUNT with 0 ≤ INDEX < COUNT ≤ %d, like 0/3", o.shard, harness.MaxShards)
		}
		cfg.Shard = harness.Shard{Index: i, Count: n}
		if n > 1 && !seedGiven {
			return flagErrorf("--shard", " %s: needs --seed, the same for every shard (each shard's seed is derived from it and the index)", o.shard)
		}
	}
	if o.startAt != "" {
		t, err := time.Parse(time.RFC3339Nano, o.startAt)
		if err != nil {
			return flagErrorf("--start-at", " %q: want an RFC 3339 time like 2026-12-01T12:00:00Z", clipInput(o.startAt))
		}
		if t.IsZero() { // it would read as no start time at all
			return flagErrorf("--start-at", " %s: the run's schedule ended long ago; want a time within %v from now, or in the past only while the run's schedule has not ended", o.startAt, harness.MaxStartAhead)
		}
		cfg.StartAt = t
	}
	cfg.RunID = o.runID
	cfg.UpstreamExternal = o.upstreamExternal
	return nil
}

// shardLine describes the shard and its start for stderr.
func shardLine(cfg *harness.Config) string {
	var b strings.Builder
	if cfg.Shard.Sharded() {
		fmt.Fprintf(&b, "shard %d/%d at %g req/s (seed %d, from run seed %d)", cfg.Shard.Index, cfg.Shard.Count,
			cfg.Rate/float64(cfg.Shard.Count), harness.ShardSeed(cfg.Seed, cfg.Shard.Index, cfg.Shard.Count), cfg.Seed)
	}
	if !cfg.StartAt.IsZero() {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "starts at %s", cfg.StartAt.UTC().Format(time.RFC3339Nano))
		if d := time.Until(cfg.StartAt); d > 0 {
			fmt.Fprintf(&b, " (in %v)", d.Round(time.Millisecond))
		}
	}
	return b.String()
}
