package reports

// Limits a report is held to when it is read: the run that wrote it was
// held to the same (harness, scenario), so a report past one was not
// written by cbload. They bound every allocation and loop of merge,
// compare and the renderers by what was validated.
const (
	// MaxShards is the most shards a run may be split into (--shard I/N).
	MaxShards = 1000
	// MaxArms is the most arms (built-in arms or targets) a run has.
	MaxArms = 8
	// MaxPhases is the most phases of a schedule.
	MaxPhases = 200
	// MaxScheduleS is the longest schedule of one arm, in seconds.
	MaxScheduleS = 3600
	// MaxTrials is the most trials of one experiment.
	MaxTrials = 20
	// MaxCount is the largest count a report may hold, and the largest
	// sum of one count over an arm's seconds or slots: 2^53, exact in
	// every JSON reader, and small enough that the sums of MaxShards
	// shards cannot overflow an int64.
	MaxCount = 1 << 53
	// MaxTransitions is the most breaker transitions one arm records (a
	// breaker changes state about three times per open timeout of at
	// least 50 ms, over MaxScheduleS; the lower tiers' as many per tier).
	MaxTransitions = 3 * MaxScheduleS * 20 * 5
	// MinSlotMS and MaxSlotMS bound api_slots.width_ms, which must also
	// divide a second: cbload writes 100.
	MinSlotMS, MaxSlotMS = 10, 1000
	// MaxGRPCMethods is the most methods a gRPC upstream's calls are
	// counted by in one phase (upstreams[…].grpc): the upstream counts 256
	// apart and the rest together as GRPCOtherMethod. MaxGRPCMethodLen
	// bounds a method's name.
	MaxGRPCMethods   = 257
	MaxGRPCMethodLen = 256
)

// Limits of the error set.
const (
	MaxErrorTexts = 20  // distinct error texts kept per endpoint and phase
	MaxErrorText  = 200 // bytes of one error text
)
