package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestE2EListNamesRealTests checks that every test the Makefile's E2E list
// names exists, so a renamed long experiment cannot silently leave the list
// (make e2e would then not run what it claims to).
func TestE2EListNamesRealTests(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^E2E := \^\(([^)]*)\)\$\$$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("the Makefile has no E2E := ^(…)$$ line")
	}
	var src strings.Builder
	for _, dir := range []string{"analysis", "cmd/cbload", "faultserver", "harness", "internal", "policy", "reports", "scenario", "schedule"} {
		err := filepath.WalkDir(filepath.Join("../..", dir), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, "_test.go") {
				return err
			}
			b, err := os.ReadFile(p)
			src.Write(b)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	names := strings.Split(string(m[1]), "|")
	if len(names) < 10 {
		t.Fatalf("E2E lists %d tests; the parse lost some", len(names))
	}
	for _, name := range names {
		if !strings.Contains(src.String(), "func "+name+"(t *testing.T)") {
			t.Errorf("the Makefile's E2E list names %s, which no test file defines", name)
		}
	}
}
