package policy

import (
	"time"

	"github.com/cbload/cbload/reports"
)

// None admits every call and learns nothing: the unprotected arm.
type None struct{}

// Allow admits the call.
func (None) Allow(time.Time, int) (func(error), error) { return noop, nil }

// State is reports.StateNone.
func (None) State(time.Time) string { return reports.StateNone }

// Transitions is empty.
func (None) Transitions(time.Time) []Change { return nil }

func noop(error) {}
