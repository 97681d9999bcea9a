package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/cbload/cbload/internal/outfile"
	"github.com/cbload/cbload/reports"
)

// What a command writes goes through internal/outfile: a regular file is
// replaced atomically, a symbolic link's file is replaced and the link
// kept, a device or FIFO is written through, a folder or socket refused.
// The checks here run before any work: an output may not be one of the
// command's inputs or another of its outputs, and may not overwrite a
// cbload report without --force.

// namedPath is a file a command reads or writes, named for a message
// ("the base report", "the --results file").
type namedPath struct {
	name, path string
}

// checkOutputFile checks, before any work, the file flag names as an
// output: it must not be a folder, a socket or a link to nothing (example
// is a file name to suggest inside a folder), nor one of others (the
// command's inputs and its other outputs), nor — unless force — hold a
// cbload report. Each is a usage error naming flag. A device or FIFO is
// written through, never replaced, and is not compared.
func checkOutputFile(flag, path, example string, others []namedPath, force bool) error {
	t, err := outfile.Resolve(path)
	var re *outfile.RefusedError
	switch {
	case errors.As(err, &re) && re.Reason == "is a folder":
		return flagErrorf(flag, " %s: is a folder; want a file name like %s", path, filepath.Join(path, example))
	case errors.As(err, &re):
		return flagErrorf(flag, " %s: %s; want a regular file, a new file name, a device or a FIFO", path, re.Reason)
	case err != nil:
		return flagErrorf(flag, " %s: %v", path, err)
	case t.Special():
		return nil
	}
	for _, o := range others {
		if o.path != "" && outfile.Same(path, o.path) {
			return flagErrorf(flag, " %s: is %s; choose another file", path, o.name)
		}
	}
	if !force && reports.HoldsReport(t.Path) {
		return flagErrorf(flag, " %s: holds a cbload report; pass --force to overwrite it or choose another file", path)
	}
	return nil
}

// checkOutputDir checks the files a command writes into dir (names) the
// same way: none may be one of inputs, a folder, a socket or a link to
// nothing. Whether dir holds another run's report is the caller's check.
func checkOutputDir(flag, dir string, names []string, inputs []namedPath) error {
	for _, n := range names {
		p := filepath.Join(dir, n)
		_, err := outfile.Resolve(p)
		var re *outfile.RefusedError
		if errors.As(err, &re) {
			return flagErrorf(flag, " %s: %s %s; want a regular file there or none", dir, n, re.Reason)
		}
		for _, in := range inputs {
			if in.path != "" && outfile.Same(p, in.path) {
				return flagErrorf(flag, " %s: would overwrite %s (%s), an input of this command; choose another folder", dir, in.name, in.path)
			}
		}
	}
	return nil
}

// lockOut takes the lock on an output folder, so that two cbload processes
// writing into it at once are found before any work, not raced: the
// second exits 2. The caller must call the release it returns.
func lockOut(dir string) (func(), error) {
	release, err := outfile.Lock(dir)
	if errors.Is(err, outfile.ErrLocked) {
		return nil, lockedOut(dir)
	}
	if err != nil {
		return nil, withCode(exitCouldNotRun, fmt.Errorf("--out %s: %w", dir, unwrapWrite(err)))
	}
	return release, nil
}

// lockedOut says another cbload process is writing into the folder dir.
func lockedOut(dir string) error {
	return flagErrorf("--out", " %s: another cbload process is writing into this folder now; wait for it to finish or choose another folder", dir)
}

// runInputs lists the files a run reads.
func runInputs(opts *runOptions) []namedPath {
	return []namedPath{
		{"the --scenario file", opts.ci.scenario},
		{"the --targets file", opts.req.targets},
		{"the --body-file", opts.req.bodyFile},
		{"the --ca-cert file", opts.req.caCert},
		{"the --summary-template file", opts.summaryTemplate},
	}
}

// runOutputs lists what a run reads and every file it writes but the one
// of flag, for checkOutputFile.
func runOutputs(opts *runOptions, flag string) []namedPath {
	out := runInputs(opts)
	if flag != "--junit" {
		out = append(out, namedPath{"the --junit file", opts.ci.junit})
	}
	if flag != "--results" {
		out = append(out, namedPath{"the --results file", opts.results})
	}
	if opts.out != "" {
		for _, n := range append(reports.FileNames, "summary.txt") {
			out = append(out, namedPath{"the " + n + " of --out", filepath.Join(opts.out, n)})
		}
	}
	return out
}
