package analysis

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/cbload/cbload/internal/inputfile"
	"github.com/cbload/cbload/reports"
)

// MaxMergeInput bounds the bytes of all the reports one merge reads: it
// holds every report in memory at once, a few times its size decoded.
const MaxMergeInput = 2 << 30

// InputError says the reports given to a merge cannot be merged: one is
// missing or unreadable, there are too many or they are too large, or they
// are not the shards of one run. Its message is ready for the user.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *InputError) Unwrap() error { return e.Err }

func inputf(format string, args ...any) error {
	return &InputError{fmt.Errorf(format, args...)}
}

// ShardFiles expands a merge's inputs (reports.Find: a file is itself; a
// folder is its report.json, or else the report.json of each of its
// subfolders) and checks their number and total size. Its errors are
// *InputError.
func ShardFiles(inputs []string) ([]string, error) {
	var files []string
	for _, in := range inputs {
		found, err := reports.Find(in)
		if err != nil {
			return nil, &InputError{err}
		}
		if len(found) == 0 {
			return nil, inputf("%s: no report.json in it or in its subfolders", in)
		}
		files = append(files, found...)
	}
	if len(files) > MaxShards {
		return nil, inputf("merge: %d reports, more than the %d shards a run may have", len(files), MaxShards)
	}
	var total int64
	for _, p := range files {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			total += st.Size()
		}
	}
	if total > MaxMergeInput {
		return nil, inputf("merge: the %d reports hold %s in all, more than the %s limit (merge holds every report in memory); want fewer or smaller shard reports", len(files), inputfile.Size(total), inputfile.Size(MaxMergeInput))
	}
	return files, nil
}

// MergeFiles reads the shard reports at files (reports.ReadFile), merges
// them (Merge) and judges the merged data (Judge). A report that cannot be
// read or merged is an *InputError; a cancelled ctx returns ctx's error.
func MergeFiles(ctx context.Context, files []string) (*reports.Report, error) {
	var shards []Shard
	for _, p := range files {
		r, err := reports.ReadFile(ctx, p)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			return nil, &InputError{err}
		}
		// The run id names the default output folder and terminal lines:
		// it is held to what --run-id accepts.
		if err := reports.CheckRunID(r.RunID); err != nil {
			return nil, inputf("%s: run_id %v", p, err)
		}
		shards = append(shards, Shard{Source: p, Report: r})
	}
	rep, err := Merge(ctx, shards)
	var mm *MismatchError
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.As(err, &mm):
		return nil, inputf("merge: %w", err)
	case err != nil:
		return nil, err
	}
	Judge(rep)
	return rep, nil
}
