package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The examples' full versions, thresholds included, run in CI through
// `make examples` (each in under a minute). Here every example is checked
// for validity, and then really run with its phases cut to a quarter, to
// show it runs and that every threshold finds its data.

func exampleFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) < 7 {
		t.Fatalf("examples/*.yaml: %v, %d files; want at least 7", err, len(files))
	}
	return files
}

func TestExamplesValid(t *testing.T) {
	for _, f := range append(exampleFiles(t), "../../examples/service/scenario.yaml") {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"run", "--scenario", f, "--dry-run"}, &stdout, &stderr); code != exitOK {
			t.Errorf("%s: exit %d: %s", f, code, stderr.String())
			continue
		}
		if !strings.Contains(stdout.String(), "thresholds:") {
			t.Errorf("%s has no thresholds; every example should show what to check", f)
		}
	}
}

// shortened returns the scenario with every phase duration cut to a
// quarter, at least 1s.
func shortened(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 1 && n.Content[i-1].Value == "duration" {
				d, err := time.ParseDuration(c.Value)
				if err != nil {
					t.Fatalf("%s: duration %q: %v", path, c.Value, err)
				}
				c.Value = max(time.Second, (d / 4).Round(time.Second)).String()
			}
			walk(c)
		}
	}
	walk(&root)
	out, err := yaml.Marshal(&root)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExamplesRunShortened(t *testing.T) {
	for _, f := range exampleFiles(t) {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			var stdout, stderr bytes.Buffer
			code := run([]string{"run", "--scenario", shortened(t, f), "--out", out, "--no-step-summary"}, &stdout, &stderr)
			// Exit 4: the examples run side by side in one process, and a
			// busy machine can stall them; the report must then say why.
			if code != exitOK && code != exitThreshold && code != exitNotValid {
				t.Fatalf("exit %d; want 0, 99 (thresholds may not hold at a quarter of the length) or 4\n%s\n%s", code, stdout.String(), stderr.String())
			}
			r := readReport(t, filepath.Join(out, "report.json"))
			if (code == exitNotValid) != (r.Validity != nil && !r.Validity.Valid) {
				t.Errorf("exit %d with validity %+v; want exit 4 exactly when a validity check failed", code, r.Validity)
			} else if code == exitNotValid {
				t.Logf("not valid on this machine: %s", r.Verdict.Summary)
			}
			if r.Partial || len(r.Arms) != len(r.Config.Arms) || len(r.Arms) < 2 {
				t.Fatalf("report partial %v with %d arms; want complete with all %d", r.Partial, len(r.Arms), len(r.Config.Arms))
			}
			for _, th := range r.Thresholds {
				if strings.Contains(th.Message, "no data") && !strings.Contains(th.Message, "never") {
					t.Errorf("threshold %q found no data: %s", th.Expr, th.Message)
				}
			}
		})
	}
}
