package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cbload/cbload/harness"
)

func TestExpandPhasesRepeat(t *testing.T) {
	s, err := Decode("x", strings.NewReader(`
phases:
  - {name: baseline, duration: 2s}
  - repeat: 3
    phases:
      - {name: down, duration: 3s, faults: [refuse, "latency:200ms,rate=0.5"]}
      - {name: up, duration: 1s}
`), testFields)
	if err != nil {
		t.Fatal(err)
	}
	ps, lines, err := s.ExpandPhases()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String()+"/"+p.Duration.String())
	}
	want := "baseline/2s down-1 [refuse latency:200ms,rate=0.5]/3s up-1/1s down-2 [refuse latency:200ms,rate=0.5]/3s up-2/1s down-3 [refuse latency:200ms,rate=0.5]/3s up-3/1s"
	if strings.Join(got, " ") != want {
		t.Errorf("ExpandPhases = %q; want %q", strings.Join(got, " "), want)
	}
	if ps[1].Duration != 3*time.Second {
		t.Errorf("down-1 duration %v; want 3s", ps[1].Duration)
	}
	if wantLines := []int{3, 6, 7, 6, 7, 6, 7}; !slices.Equal(lines, wantLines) {
		t.Errorf("ExpandPhases lines = %v; want %v", lines, wantLines)
	}
}

// TestErrorFields checks that an *Error carries the line and the field's
// path, so a caller can map a field back to its flag without parsing text.
func TestErrorFields(t *testing.T) {
	tests := []struct {
		body     string
		line     int
		path     string
		inExpand bool
	}{
		{"load:\n  rate: fast\n", 2, "load.rate", false},
		{"gateway:\n  workers: 1.5\n", 2, "gateway.workers", false},
		{"phases:\n  - name: a\n    duration: 1s\n    faults: [latncy]\n", 4, "phases[0].faults[0]", false},
		{"phases:\n  - {name: a, duration: 1s}\n  - {name: 'b c', duration: 1s}\n", 3, "phases[1]", true},
		{"phases:\n  - repeat: 0\n    phases: [{name: a, duration: 1s}]\n", 2, "phases[0].repeat", true},
		{"phases:\n  - repeat: 2\n    phases:\n      - {name: a}\n", 4, "phases[0].phases[0]", true},
	}
	for _, tt := range tests {
		s, err := Decode("f.yaml", strings.NewReader(tt.body), testFields)
		if err == nil && tt.inExpand {
			_, _, err = s.ExpandPhases()
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("scenario %q: error %v; want an *Error", tt.body, err)
			continue
		}
		if e.Line != tt.line || e.Path != tt.path || e.File != "f.yaml" {
			t.Errorf("scenario %q: Error{File %q, Line %d, Path %q}; want f.yaml, %d, %q (%v)", tt.body, e.File, e.Line, e.Path, tt.line, tt.path, err)
		}
	}
}

func TestLine(t *testing.T) {
	s, err := Decode("x", strings.NewReader("seed: 1\nload:\n  rate: 5\n  client_timeout: 3s\n"), testFields)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"seed": 1, "load.rate": 3, "load.client_timeout": 4, "gateway.workers": 0, "load.collateral_share": 0} {
		if got := s.Line(path); got != want {
			t.Errorf("Line(%q) = %d; want %d", path, got, want)
		}
	}
}

// FuzzScenario checks that no scenario file makes the parser panic, that
// every error it gives is one line naming the file, and that no file
// expands to more than MaxPhases phases. Its corpus is in
// testdata/fuzz/FuzzScenario.
func FuzzScenario(f *testing.F) {
	examples, _ := filepath.Glob(filepath.Join("..", "examples", "*.yaml"))
	for _, p := range examples {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, s := range []string{
		"",
		"seed: 7\nload: {rate: 200, collateral_share: 0.2, client_timeout: 3s}\n",
		"gateway: {workers: 1.5, call_timeout: 500}\n",
		"breaker: {max_requests: -1, failure_ratio: .nan}\n",
		"phases:\n  - {name: baseline, duration: 5s}\n  - repeat: 3\n    phases:\n      - {name: down, duration: 3s, faults: [refuse, 'latency:200ms,rate=0.5']}\n",
		"phases:\n  - repeat: 2\n    phases:\n      - repeat: 2\n        phases: [{name: a, duration: 1s}]\n",
		"targets:\n  - {name: a, url: http://127.0.0.1:1/api, collateral: /x}\nupstream: {addr: 127.0.0.1:9}\n",
		"thresholds: [breaker.fault.api.requests > 0, {a: 1}]\n",
		"load:\n  rate: x\n  share: 1\n",
		"- a\n- b\n",
		"load: &a {rate: *a}\n",
		"description: {a: 1}\noutput: {junit: [x]}\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		s, err := Decode("fuzz.yaml", strings.NewReader(body), testFields)
		if err == nil {
			var ps []harness.Phase
			ps, _, err = s.ExpandPhases()
			if err == nil && len(ps) > MaxPhases {
				t.Errorf("Decode(%q) expands to %d phases; the limit is %d", body, len(ps), MaxPhases)
			}
		}
		if err == nil {
			return
		}
		msg := err.Error()
		if strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "scenario fuzz.yaml: ") {
			t.Errorf("Decode(%q) error %q; want one line starting with the file name", body, msg)
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Decode(%q) error %q is a %T; want an *Error", body, msg, err)
		}
	})
}
