package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cbload/cbload/internal/outfile"
)

// prepareOut creates the output folder, refusing to overwrite an existing
// report unless forced, takes its lock (lockOut) and checks it is writable
// before any load is sent. The caller must call release when it has
// written its files.
func prepareOut(dir string, force bool) (release func(), err error) {
	if err := outHoldsReport(dir, force); err != nil {
		return nil, err
	}
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, withCode(exitCouldNotRun, fmt.Errorf("--out %s: %w", dir, err))
	}
	release, err = lockOut(dir)
	if err == nil {
		// Again under the lock: a run that finished meanwhile wrote one.
		if err = outHoldsReport(dir, force); err != nil {
			release()
		}
	}
	if err != nil {
		return nil, err
	}
	if err = outfile.ProbeDir(dir, reportReserve); err != nil {
		release()
		if statErr != nil {
			os.Remove(dir) // created here, and empty: leave nothing behind
		}
		return nil, withCode(exitCouldNotRun, fmt.Errorf("--out %s: %w", dir, err))
	}
	return release, nil
}

// outHoldsReport refuses a folder that holds a report.json already, unless
// forced.
func outHoldsReport(dir string, force bool) error {
	if _, err := os.Stat(filepath.Join(dir, "report.json")); err == nil && !force {
		return flagErrorf("--out", " %s: already holds a report; pass --force to overwrite it or choose another folder", dir)
	}
	return nil
}

// resultsWriteGrace is how long writing a run's results may hold off the
// exit after a signal: the largest report the limits allow (about 160
// MiB) is written in a few seconds.
const resultsWriteGrace = 15 * time.Second

// reportReserve is how much free space prepareOut insists on: a ten-minute
// run's three reports take about 2 MiB.
const reportReserve = 8 << 20
