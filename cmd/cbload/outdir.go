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
	if err = probeDir(dir, reportReserve); err != nil {
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

// probeDir checks that reserve bytes can be written into dir, by writing
// and removing a probe file: an unwritable folder or a full disk is found
// before any load is sent, not when the results are due.
func probeDir(dir string, reserve int) error {
	probe, err := os.CreateTemp(dir, ".cbload-write-check-*")
	if err != nil {
		return fmt.Errorf("not writable: %w", err)
	}
	defer os.Remove(probe.Name())
	_, err = probe.Write(make([]byte, reserve))
	if err == nil {
		err = probe.Sync()
	}
	if cerr := probe.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cannot write %d KiB: %w", reserve>>10, err)
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

// checkWritable checks a file can be created in path's folder. Folders it
// had to create for the check are removed again: a dry run or a run that
// fails early leaves nothing behind; the writer creates them when it writes.
func checkWritable(path string) error {
	t, err := outfile.Resolve(path)
	if err != nil {
		return err
	}
	if t.Special() {
		return outfile.CheckWritable(t) // written through: nothing to create
	}
	dir := filepath.Clean(filepath.Dir(t.Path))
	var created []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		created = append(created, d)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	err = probeDir(dir, 0)
	for _, d := range created {
		os.Remove(d)
	}
	return err
}
