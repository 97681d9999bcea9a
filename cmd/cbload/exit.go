package main

import (
	"errors"
	"fmt"
	"strings"
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

// usagef returns a usageError with a formatted message. A string it
// quotes (%q) — by convention, the value the user gave — is cut to its
// first maxEchoed characters: the message names a 5000-character flag, it
// does not echo it.
func usagef(format string, args ...any) error {
	for i, verb := range verbs(format) {
		if i >= len(args) {
			break
		}
		if s, ok := args[i].(string); ok && verb == 'q' {
			args[i] = clipInput(s)
		}
	}
	return &usageError{err: fmt.Errorf(format, args...)}
}

// verbs returns the verb of each argument format takes, in order (%% takes
// none). Explicit argument indexes and * widths are not used in cbload's
// messages; with them the list is cut short, which only clips less.
func verbs(format string) []rune {
	var out []rune
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("+-# 0123456789.", format[j]) >= 0 {
			j++
		}
		if j >= len(format) || format[j] == '[' || format[j] == '*' {
			return out
		}
		if format[j] != '%' {
			out = append(out, rune(format[j]))
		}
		i = j
	}
	return out
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
