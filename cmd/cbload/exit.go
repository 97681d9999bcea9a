package main

import (
	"errors"
	"fmt"
)

// Exit codes. They are part of cbload's contract with CI jobs: keep them stable.
const (
	exitOK          = 0   // the run completed and every threshold passed
	exitError       = 1   // an unexpected internal error
	exitUsage       = 2   // bad flags, fault specs, scenario files or thresholds
	exitCouldNotRun = 3   // the experiment could not start (address in use, target unreachable, unwritable output)
	exitNotValid    = 4   // the run completed but a validity check failed: the verdict is inconclusive
	exitNotWritten  = 5   // load ran and the summary was printed, but a result file could not be written
	exitThreshold   = 99  // the run completed but a threshold failed
	exitInterrupted = 130 // SIGINT or SIGTERM; a partial report was written
)

// errInterrupted is returned when a signal stopped a command before it
// had anything to show.
var errInterrupted = withCode(exitInterrupted, errors.New("interrupted"))

// errSilent marks an error whose message has already been printed.
var errSilent = errors.New("already reported")

// usageError is bad input from the user: a flag, spec or file that cannot be
// used as given. It maps to exit code 2.
type usageError struct {
	err  error
	hint string
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// flagError is bad input in the value of one flag, which may have come
// from a scenario file: its message is the flag, as spelled (--out, or
// $VAR), then rest.
type flagError struct {
	flag string
	rest string
}

func (e *flagError) Error() string { return e.flag + e.rest }

// flagErrorf returns a usageError about the value of flag (spelled as the
// user gives it, like --out); the message is flag followed by the
// formatted rest, which starts with its own separator (": ", " %q: ").
func flagErrorf(flag, format string, args ...any) error {
	return &usageError{err: &flagError{flag: flag, rest: fmt.Sprintf(format, args...)}}
}

// asUsage wraps err as a usageError; nil stays nil.
func asUsage(err error) error {
	if err == nil {
		return nil
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return err
	}
	return &usageError{err: err}
}

// exitErr carries an explicit exit code, for outcomes that are not usage
// errors: a failed threshold, an interrupted run, an experiment that could
// not start.
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string { return e.err.Error() }
func (e *exitErr) Unwrap() error { return e.err }

// withCode attaches an exit code to err.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitErr{code: code, err: err}
}

// exitCode maps an error returned by a command to the process exit code.
func exitCode(err error) int {
	var ee *exitErr
	if errors.As(err, &ee) {
		return ee.code
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitError
}
