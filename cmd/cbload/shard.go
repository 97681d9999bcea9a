package main

import (
	_ "embed"

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

// applyShard sets the sharding fields of cfg from the flags
// (harness.ShardSettings.Apply); it runs before cfg is validated, which
// checks how they combine.
func applyShard(cfg *harness.Config, o *shardOptions, seedGiven bool) error {
	s := harness.ShardSettings{Shard: o.shard, StartAt: o.startAt, RunID: o.runID, UpstreamExternal: o.upstreamExternal}
	return asUsage(s.Apply(cfg, seedGiven))
}
