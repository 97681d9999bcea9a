package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cbload/cbload/reports"
)

// Shard is one shard's report given to Merge, and where it was read from.
type Shard struct {
	Source string
	Report *reports.Report
}

// MismatchError says the reports given to Merge are not the shards of one
// run, or not shards at all.
type MismatchError struct{ msg string }

func (e *MismatchError) Error() string { return e.msg }

func mismatchf(format string, args ...any) error {
	return &MismatchError{fmt.Sprintf(format, args...)}
}

// LateStartMS is how late a shard's arm may start before the merged report
// names it: the report's timing resolution.
const LateStartMS = 100

// MaxShards is the most shards a run may be split into, so the most
// reports Merge combines.
const MaxShards = reports.MaxShards

// Merge combines the reports of the shards of one run (cbload run --shard)
// into the report one process at the run's full rate would have written:
// per second, outcome counts, sends and schedules add and histograms merge
// (so percentiles are exact to the histogram's resolution, never
// averaged); summaries and figures are derived again from the merged raw
// aggregates (Derive). It checks that the shards share the run id, seed,
// shard count, configuration and schedule and have distinct indexes; the
// shards not given are listed in Merge.Missing and make the report
// Partial. Validity and the verdict are left for the caller to judge on
// the merged data (Judge). Each merged arm's start lag is its
// latest shard's, and its skipped sends the shards' sum. A mismatch is a
// *MismatchError.
//
// The reports must have been read by reports.ReadJSON (or passed
// reports.Validate): its limits bound the work. Merge returns ctx's error
// when ctx is cancelled.
func Merge(ctx context.Context, shards []Shard) (*reports.Report, error) {
	if len(shards) == 0 {
		return nil, mismatchf("no reports to merge")
	}
	byIndex := map[int]Shard{}
	var first *reports.Report
	for _, s := range shards {
		r := s.Report
		if r.Shard == nil {
			return nil, mismatchf("%s: not a shard's report (it has no \"shard\"); merge combines the reports of cbload run --shard I/N", s.Source)
		}
		if c := r.Shard.Count; c < 1 || c > reports.MaxShards || r.Shard.Index < 0 || r.Shard.Index >= c {
			return nil, mismatchf("%s: shard %d/%d: want index 0..count-1 and count 1..%d", s.Source, r.Shard.Index, c, reports.MaxShards)
		}
		if len(shards) > r.Shard.Count {
			return nil, mismatchf("%s: a run of %d shards, but %d reports were given; each shard must be given once", s.Source, r.Shard.Count, len(shards))
		}
		if r.Trials != nil {
			return nil, mismatchf("%s: a report of %d trials keeps raw data for its first only, and cannot be merged", s.Source, r.Trials.N)
		}
		for i := range r.Arms {
			if !HasRaw(&r.Arms[i]) {
				return nil, mismatchf("%s: arm %s has no raw aggregates (api_slots, histograms): it was written by an older cbload, or too large to keep them (its notes say so), and cannot be merged", s.Source, r.Arms[i].Name)
			}
			if r.Arms[i].Load == nil {
				return nil, mismatchf("%s: arm %s has no load_generator, and cannot be merged", s.Source, r.Arms[i].Name)
			}
		}
		if first == nil {
			first = r
		} else if err := sameRun(first, r); err != nil {
			return nil, mismatchf("%s is not a shard of the same run as %s: %v", s.Source, shards[0].Source, err)
		}
		if prev, ok := byIndex[r.Shard.Index]; ok {
			return nil, mismatchf("%s and %s are both shard %d/%d; each shard must be given once", prev.Source, s.Source, r.Shard.Index, r.Shard.Count)
		}
		byIndex[r.Shard.Index] = s
	}
	n := first.Shard.Count
	var present []Shard
	m := &reports.Merge{Count: n, Shards: []reports.MergedShard{}, Missing: []int{}}
	for i := range n {
		s, ok := byIndex[i]
		if !ok {
			m.Missing = append(m.Missing, i)
			continue
		}
		present = append(present, s)
		m.Shards = append(m.Shards, mergedShard(s))
	}

	out := &reports.Report{
		Schema:        reports.Schema,
		CbloadVersion: first.CbloadVersion,
		RunID:         first.RunID,
		StartedAt:     first.StartedAt,
		FinishedAt:    first.FinishedAt,
		Seed:          first.Seed,
		Attribution:   first.Attribution,
		Config:        first.Config,
		Phases:        first.Phases,
		Arms:          []reports.Arm{},
		StartAt:       first.StartAt,
		Merge:         m,
		Tracing: &reports.Tracing{Sampler: "always_off",
			Description: "merged from shards: each shard's report says what it traced"},
	}
	var partial []string
	if len(m.Missing) > 0 {
		partial = append(partial, fmt.Sprintf("shards missing: %s of %d", joinInts(m.Missing), n))
	}
	for _, s := range present {
		r := s.Report
		if r.StartedAt.Before(out.StartedAt) {
			out.StartedAt = r.StartedAt
		}
		if r.FinishedAt.After(out.FinishedAt) {
			out.FinishedAt = r.FinishedAt
		}
		if r.Partial {
			partial = append(partial, fmt.Sprintf("shard %d/%d was partial (%s)", r.Shard.Index, n, r.PartialReason))
		}
	}
	for _, name := range first.Config.Arms {
		var arms []*reports.Arm
		var from []int
		for _, s := range present {
			if a := s.Report.Arm(name); a != nil {
				arms = append(arms, a)
				from = append(from, s.Report.Shard.Index)
			} else {
				partial = append(partial, fmt.Sprintf("shard %d/%d has no %s arm", s.Report.Shard.Index, n, name))
			}
		}
		if len(arms) == 0 {
			continue
		}
		a, err := mergeArm(ctx, arms, from, n)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err != nil {
			return nil, mismatchf("arm %s: %v", name, err)
		}
		Derive(a, out.Phases)
		Symptoms(a, out.Phases)
		if first.Config.Upstream.External {
			a.Notes = append(a.Notes, SharedUpstreamNote)
		}
		out.Arms = append(out.Arms, *a)
	}
	if len(partial) > 0 {
		out.Partial = true
		out.PartialReason = strings.Join(partial, "; ")
	}
	// The merged report must read back, in cbload report and compare:
	// the shards' counts may add up past what a report may hold. Its
	// validity is judged later, by the caller.
	check := *out
	check.Validity = &reports.Validity{Checks: []reports.ValidityCheck{}}
	if err := reports.Validate(&check); err != nil {
		return nil, mismatchf("the merged report would not be a valid report: %v", err)
	}
	return out, nil
}

// SharedUpstreamNote is the note of every arm merged from shards whose
// upstream is external: one upstream shared by every shard, which counts
// what it injects once, for the whole run, where no shard sees it.
const SharedUpstreamNote = "fault → symptom: the /api answers are the sums over the shards; what the upstream received and injected is unknown here — it is one upstream shared by every shard (each shard's report says upstream external), counted once for the whole run by the process that runs it (cbload serve: its /stats), and seen by no shard, so no shard's count is added, let alone multiplied by the number of shards"

// sameRun returns what differs between two shards' runs, if anything.
func sameRun(a, b *reports.Report) error {
	switch {
	case a.RunID != b.RunID:
		return fmt.Errorf("run id %q, not %q", b.RunID, a.RunID)
	case a.Seed != b.Seed:
		return fmt.Errorf("seed %d, not %d", b.Seed, a.Seed)
	case a.Shard.Count != b.Shard.Count:
		return fmt.Errorf("%d shards, not %d", b.Shard.Count, a.Shard.Count)
	case !equalTime(a.StartAt, b.StartAt):
		return fmt.Errorf("start time %v, not %v", b.StartAt, a.StartAt)
	case !reflect.DeepEqual(a.Phases, b.Phases):
		return fmt.Errorf("a different schedule (phases %s, not %s)", phaseList(b.Phases), phaseList(a.Phases))
	}
	ca, _ := json.Marshal(a.Config)
	cb, _ := json.Marshal(b.Config)
	if string(ca) != string(cb) {
		return fmt.Errorf("a different configuration (%s, not %s)", cb, ca)
	}
	return nil
}

func equalTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func phaseList(ps []reports.Phase) string {
	var parts []string
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%s %g–%gs %v", p.Name, p.StartS, p.EndS, p.Faults))
	}
	return strings.Join(parts, ", ")
}

func joinInts(v []int) string {
	var parts []string
	for _, i := range v {
		parts = append(parts, fmt.Sprint(i))
	}
	return strings.Join(parts, ", ")
}

// mergedShard describes one shard for Merge.Shards: its start lag per arm
// and its own failed validity checks, in words.
func mergedShard(s Shard) reports.MergedShard {
	r := s.Report
	ms := reports.MergedShard{Index: r.Shard.Index, Seed: r.Shard.Seed, Source: s.Source, ClockOffset: r.Shard.ClockOffset, Arms: []reports.MergedShardArm{}, Problems: []string{}}
	for _, a := range r.Arms {
		sa := reports.MergedShardArm{Name: a.Name, FailedChecks: []string{}}
		if st := a.Start; st != nil {
			sa.StartLagMS = st.LagMS
			if st.LagMS > LateStartMS {
				ms.Problems = append(ms.Problems, fmt.Sprintf("started the %s arm %.0f ms late (%d sends skipped)", a.Name, st.LagMS, st.SkippedSends))
			}
		}
		for _, c := range r.Validity.Failed() {
			if c.Arm == a.Name {
				sa.FailedChecks = append(sa.FailedChecks, c.Name)
			}
		}
		ms.Arms = append(ms.Arms, sa)
	}
	for _, c := range r.Validity.Failed() {
		ms.Problems = append(ms.Problems, fmt.Sprintf("fell behind: %s failed for the %s arm: %s", c.Name, c.Arm, c.Message))
	}
	return ms
}

// mergeArm merges one arm of several shards (from holds their indexes,
// lowest first; n is the shard count). The breaker's transitions and
// states come from the lowest shard: every shard watches the same service.
func mergeArm(ctx context.Context, arms []*reports.Arm, from []int, n int) (*reports.Arm, error) {
	base := arms[0]
	out := &reports.Arm{
		Name:                 base.Name,
		Breaker:              base.Breaker,
		Transitions:          base.Transitions,
		LowerTierTransitions: base.LowerTierTransitions,
		UpstreamQueue:        base.UpstreamQueue,
		Notes:                slices.Clone(base.Notes),
		APISlots:             &reports.Slots{WidthMS: base.APISlots.WidthMS, OK: []int64{}, N: []int64{}},
		Load: &reports.LoadGen{
			Stalls:           []reports.Stall{},
			StallThresholdMS: base.Load.StallThresholdMS,
		},
	}
	out.Notes = append(out.Notes, fmt.Sprintf(
		"merged from %d of %d shards (%s): counts are sums and percentiles come from the merged histograms; the breaker state and transitions are shard %d's; in-flight peaks per second are the sum of the shards' peaks (an upper bound), goroutines and the upstream's queue the largest shard's",
		len(arms), n, joinInts(from), from[0]))
	seconds := map[int]*reports.Second{}
	raw := reports.RawCounts()
	// Per-phase raw data: details and the counts of upstreams each shard
	// ran for itself add; Merge reads the fault → symptom figures from the
	// sums. A shared upstream (external) is counted by no shard.
	out.Summary = map[string]reports.PhaseSummary{}
	out.BreakerFigures, out.StartedAt = base.BreakerFigures, base.StartedAt
	for k, a := range arms {
		if a.SuspectOK != nil { // each shard's suspect answers are its own
			if out.SuspectOK == nil {
				out.SuspectOK = new(int64)
			}
			*out.SuspectOK += *a.SuspectOK
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for name, ps := range a.Summary {
			m := out.Summary[name]
			addDetail(&m.API, &ps.API)
			addDetail(&m.Collateral, &ps.Collateral)
			for u, c := range ps.Upstreams {
				if m.Upstreams == nil {
					m.Upstreams = map[string]reports.UpstreamPhase{}
				}
				mc := m.Upstreams[u]
				mc.Requests += c.Requests
				for kind, n := range c.Injected {
					if mc.Injected == nil {
						mc.Injected = map[string]int64{}
					}
					mc.Injected[kind] += n
				}
				mc.GRPC = addGRPCCalls(mc.GRPC, c.GRPC)
				m.Upstreams[u] = mc
			}
			out.Summary[name] = m
		}
		if a.APISlots.WidthMS != out.APISlots.WidthMS {
			return nil, fmt.Errorf("shard %d counts /api per %d ms, shard %d per %d ms", from[k], a.APISlots.WidthMS, from[0], out.APISlots.WidthMS)
		}
		out.APISlots.OK = addSlots(out.APISlots.OK, a.APISlots.OK)
		out.APISlots.N = addSlots(out.APISlots.N, a.APISlots.N)
		for i := range a.Series {
			if i%256 == 255 && ctx.Err() != nil {
				return nil, ctx.Err()
			}
			s := &a.Series[i]
			m := seconds[s.T]
			if m == nil {
				m = &reports.Second{T: s.T, State: s.State}
				seconds[s.T] = m
			}
			// Each count by its row's rule (reports.RawCounts).
			for _, c := range raw {
				*c.Second(m) = reports.Combine(c.Shards, *c.Second(m), *c.Second(s))
			}
			m.SendLagHist = m.SendLagHist.Merge(s.SendLagHist)
			m.Goroutines = max(m.Goroutines, s.Goroutines)
			// Each shard is its own process: the worst one's starvation.
			if p := s.SchedLatencyP99MS; p != nil && (m.SchedLatencyP99MS == nil || *p > *m.SchedLatencyP99MS) {
				v := *p
				m.SchedLatencyP99MS = &v
			}
			m.UpstreamCallHist = m.UpstreamCallHist.Merge(s.UpstreamCallHist)
			for _, pair := range [][2]*reports.Bucket{{&m.API, &s.API}, {&m.Collateral, &s.Collateral}} {
				dst, src := pair[0], pair[1]
				dst.Sent += src.Sent
				dst.Outcomes = dst.Outcomes.Add(src.Outcomes)
				dst.LatencyHist = dst.LatencyHist.Merge(src.LatencyHist)
				if src.BySend != nil {
					if dst.BySend == nil {
						dst.BySend = &reports.SentAnswers{}
					}
					dst.BySend.Outcomes = dst.BySend.Outcomes.Add(src.BySend.Outcomes)
					dst.BySend.LatencyHist = dst.BySend.LatencyHist.Merge(src.BySend.LatencyHist)
				}
			}
		}
		l := a.Load
		out.Load.Stalls = append(out.Load.Stalls, l.Stalls...)
		out.Load.LongestGapMS = max(out.Load.LongestGapMS, l.LongestGapMS)
		out.Load.ResourceErrors.LoadRunner += l.ResourceErrors.LoadRunner
		out.Load.ResourceErrors.Gateway += l.ResourceErrors.Gateway
		if l.ResourceErrors.Last != "" {
			out.Load.ResourceErrors.Last = l.ResourceErrors.Last
		}
		out.Exemplars = append(out.Exemplars, a.Exemplars...)
		if st := a.Start; st != nil {
			if out.Start == nil {
				out.Start = &reports.ArmStart{At: st.At}
			}
			out.Start.LagMS = max(out.Start.LagMS, st.LagMS)
			out.Start.SkippedSends += st.SkippedSends
		}
	}
	for _, s := range seconds {
		out.Series = append(out.Series, *s)
	}
	sort.Slice(out.Series, func(i, j int) bool { return out.Series[i].T < out.Series[j].T })
	sort.Slice(out.Load.Stalls, func(i, j int) bool { return out.Load.Stalls[i].TS < out.Load.Stalls[j].TS })
	return out, nil
}

// addDetail adds src's status codes, error set and bytes to dst; the
// error set keeps at most reports.MaxErrorTexts texts, the most frequent,
// and counts the rest in ErrorsOther.
func addDetail(dst, src *reports.Stats) {
	if src.StatusCodes != nil && dst.StatusCodes == nil {
		dst.StatusCodes = map[string]int64{}
	}
	for c, n := range src.StatusCodes {
		dst.StatusCodes[c] += n
	}
	counts := map[string]int64{}
	for _, e := range append(slices.Clone(dst.Errors), src.Errors...) {
		counts[e.Error] += e.Count
	}
	dst.Errors = make([]reports.ErrorCount, 0, len(counts))
	for e, n := range counts {
		dst.Errors = append(dst.Errors, reports.ErrorCount{Error: e, Count: n})
	}
	sort.Slice(dst.Errors, func(i, j int) bool {
		a, b := dst.Errors[i], dst.Errors[j]
		return a.Count > b.Count || a.Count == b.Count && a.Error < b.Error
	})
	dst.ErrorsOther += src.ErrorsOther
	for _, e := range dst.Errors[min(len(dst.Errors), reports.MaxErrorTexts):] {
		dst.ErrorsOther += e.Count
	}
	dst.Errors = dst.Errors[:min(len(dst.Errors), reports.MaxErrorTexts)]
	dst.BytesIn += src.BytesIn
	dst.BytesOut += src.BytesOut
}

func addSlots(dst, src []int64) []int64 {
	for len(dst) < len(src) {
		dst = append(dst, 0)
	}
	for i, v := range src {
		dst[i] += v
	}
	return dst
}

// addGRPCCalls adds the gRPC calls by method and status code of src to
// dst and returns it. Methods past the first reports.MaxGRPCMethods-1 by
// name (in name order) are added to reports.GRPCOtherMethod, as the
// upstream counts them, so the merge of shards that saw different methods
// stays a report that reads.
func addGRPCCalls(dst, src map[string]map[string]int64) map[string]map[string]int64 {
	for _, from := range slices.Sorted(maps.Keys(src)) {
		method := from
		if dst == nil {
			dst = map[string]map[string]int64{}
		}
		if dst[method] == nil {
			named := len(dst)
			if _, ok := dst[reports.GRPCOtherMethod]; ok {
				named--
			}
			if method != reports.GRPCOtherMethod && named >= reports.MaxGRPCMethods-1 {
				method = reports.GRPCOtherMethod
			}
			if dst[method] == nil {
				dst[method] = map[string]int64{}
			}
		}
		for code, n := range src[from] {
			dst[method][code] += n
		}
	}
	return dst
}
