package faultserver

import (
	"errors"
	"testing"
)

// TestSpecErrorNamesTheSpec checks that a spec ParseSpec refuses for its
// kind or arguments is a *SpecError holding the spec as given, which
// callers use to tell whether the message names it (not its text).
func TestSpecErrorNamesTheSpec(t *testing.T) {
	for _, in := range []string{"latncy", "latency:fast", " error:999 "} {
		_, err := ParseSpec(in)
		var se *SpecError
		if !errors.As(err, &se) || se.Spec != in {
			t.Errorf("ParseSpec(%q) = %v; want a *SpecError with Spec %q", in, err, in)
		}
	}
	if _, err := ParseSpec(""); errors.As(err, new(*SpecError)) {
		t.Errorf("ParseSpec(\"\") = %#v; want a plain error: its message does not quote the spec", err)
	}
}
