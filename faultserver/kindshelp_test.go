package faultserver

import (
	"strings"
	"testing"
)

func TestKindsHelp(t *testing.T) {
	help := KindsHelp()
	lines := strings.Split(strings.TrimSuffix(help, "\n"), "\n")
	kinds := Kinds()
	if len(lines) != len(kinds) {
		t.Fatalf("%d lines for %d kinds:\n%s", len(lines), len(kinds), help)
	}
	for i, k := range kinds {
		name := k.Name
		if k.DefaultArg != "" {
			name += ":" + k.DefaultArg
		}
		if f := strings.Fields(lines[i]); len(f) == 0 || f[0] != name || !strings.HasSuffix(lines[i], k.Description) {
			t.Errorf("line %d %q: want %s and its description", i, lines[i], name)
		}
		if !strings.Contains(KindNames(), k.Name) {
			t.Errorf("KindNames %q lacks %s", KindNames(), k.Name)
		}
	}
}
