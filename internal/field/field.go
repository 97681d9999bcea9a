// Package field names the setting a bad value belongs to by its path in
// the configuration, as Kubernetes' field.Path does, so that a command can
// say where the value came from (a flag, or a line of a scenario file)
// without reading the message.
package field

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Error is a setting that cannot be used. Paths holds the paths of the
// settings the rule reads, in the scenario file's terms ("load.rate",
// "breaker.interval", "phases[1]", "targets[0]"); the first is the one it
// points at. Names holds how the message names each of them, in the same
// order; Detail says what is wrong and the accepted form, and Err is the
// error it came from, if any. Detail follows the names after ": ", or
// after a space when Spaced is set, as a detail that starts with the
// refused value does (`--header "x": want 'Name: value'`).
type Error struct {
	Paths  []string
	Names  []string
	Detail string
	Err    error
	Spaced bool
}

// Invalid returns the error of one setting at path, named name in the
// message: "name: detail". A %w verb in format wraps its error.
func Invalid(path, name, format string, args ...any) *Error {
	return All([]string{path}, []string{name}, format, args...)
}

// InvalidValue returns the error of one setting at path, named name in the
// message, whose detail starts with the refused value: "name detail". A %w
// verb in format wraps its error.
func InvalidValue(path, name, format string, args ...any) *Error {
	e := Invalid(path, name, format, args...)
	e.Spaced = true
	return e
}

// All returns the error of a rule that reads the settings at paths, named
// names in the message: "name, name: detail". A %w verb in format wraps
// its error.
func All(paths, names []string, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Paths: paths, Names: names, Detail: err.Error(), Err: errors.Unwrap(err)}
}

// Error returns "name, name: detail", or the detail alone when it names
// the setting itself (Names is empty).
func (e *Error) Error() string { return e.Named(e.Names) }

// Named returns the message with names in place of e.Names, as where a
// value came from names it: "name, name: detail", "name detail" when
// Spaced, or the detail alone when names is empty.
func (e *Error) Named(names []string) string {
	switch {
	case len(names) == 0:
		return e.Detail
	case e.Spaced:
		return strings.Join(names, ", ") + " " + e.Detail
	}
	return strings.Join(names, ", ") + ": " + e.Detail
}

// Path returns the path of the setting the error points at, or "" (for a
// nil *Error too).
func (e *Error) Path() string {
	if e == nil || len(e.Paths) == 0 {
		return ""
	}
	return e.Paths[0]
}

// Unwrap returns the error the detail came from, if any.
func (e *Error) Unwrap() error { return e.Err }

// Index returns i when the error points into list at list[i], like
// phases[2] or targets[0].url.
func (e *Error) Index(list string) (int, bool) {
	if len(e.Paths) == 0 {
		return 0, false
	}
	rest, ok := strings.CutPrefix(e.Paths[0], list+"[")
	if !ok {
		return 0, false
	}
	n, _, ok := strings.Cut(rest, "]")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(n)
	if err != nil || i < 0 {
		return 0, false
	}
	return i, true
}

// As returns the *Error in err's chain, or nil.
func As(err error) *Error {
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	return nil
}
