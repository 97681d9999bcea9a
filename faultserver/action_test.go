package faultserver

import (
	"bytes"
	"strings"
	"testing"
)

// TestParseAction checks that bad actions, arguments, specs and names are
// refused before any server is called.
func TestParseAction(t *testing.T) {
	for _, tt := range []struct {
		action string
		args   []string
		want   string // "" for a good action
	}{
		{"list", nil, ""},
		{"set", []string{"latency:1s", "error:503"}, ""},
		{"add", []string{"slow", "latency:1s"}, ""},
		{"list", []string{"x"}, "list takes 0 argument(s), got 1 (form: fault list)"},
		{"set", nil, "set needs at least one spec"},
		{"set", []string{"latncy"}, "set: "},
		{"add", []string{"slow", "latncy"}, "add: "},
		{"remove", []string{"bad name"}, "remove: "},
		{"drop", nil, `unknown fault action "drop"`},
	} {
		call, err := ParseAction(tt.action, tt.args)
		switch {
		case tt.want == "" && (err != nil || call == nil):
			t.Errorf("ParseAction(%q, %q) = %v; want a call", tt.action, tt.args, err)
		case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
			t.Errorf("ParseAction(%q, %q) = %v; want %q…", tt.action, tt.args, err, tt.want)
		}
	}
}

// TestWriteFaults checks the table of active faults, the server's words
// escaped, and the line for none.
func TestWriteFaults(t *testing.T) {
	var b bytes.Buffer
	if err := WriteFaults(&b, []Fault{{Name: "slow", Spec: "latency:1s"}, {Spec: "x\tbad\x1b"}}); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); !strings.HasPrefix(got, "NAME  FAULT\nslow  latency:1s\n-     ") || strings.ContainsAny(got, "\t\x1b") {
		t.Errorf("WriteFaults = %q; want a table with the tab and ESC escaped", got)
	}
	b.Reset()
	if err := WriteFaults(&b, nil); err != nil || b.String() != "no faults (healthy)\n" {
		t.Errorf("WriteFaults(none) = %q, %v", b.String(), err)
	}
}
