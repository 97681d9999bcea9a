package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/cbload/cbload/internal/outfile"
)

// prepareOut readies the output folder before any load is sent
// (outfile.PrepareDir): it refuses to overwrite an existing report unless
// forced, creates the folder, takes its lock and checks it is writable.
// The caller must call release when it has written its files.
func prepareOut(dir string, force bool) (release func(), err error) {
	release, err = outfile.PrepareDir(dir, "report.json", force, reportReserve)
	return release, outDirError(dir, err)
}

// outHoldsReport refuses a folder that holds a report.json already, unless
// forced.
func outHoldsReport(dir string, force bool) error {
	return outDirError(dir, outfile.CheckAbsent(dir, "report.json", force))
}

// outDirError is the exit of an error readying the output folder dir: 2
// for one that holds a report or is being written into, 3 otherwise.
func outDirError(dir string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, outfile.ErrExists):
		return flagErrorf("--out", " %s: already holds a report; pass --force to overwrite it or choose another folder", dir)
	case errors.Is(err, outfile.ErrLocked):
		return lockedOut(dir)
	}
	return withCode(exitCouldNotRun, fmt.Errorf("--out %s: %w", dir, err))
}

// resultsWriteGrace is how long writing a run's results may hold off the
// exit after a signal: the largest report the limits allow (about 160
// MiB) is written in a few seconds.
const resultsWriteGrace = 15 * time.Second

// reportReserve is how much free space prepareOut insists on: a ten-minute
// run's three reports take about 2 MiB.
const reportReserve = 8 << 20
