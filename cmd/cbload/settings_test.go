package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/scenario"
)

// TestSettingsTable checks run's flag ⇄ path table: each flag and each path
// once, only a row with a path reads the file's value, and every row's
// flag is one run has.
func TestSettingsTable(t *testing.T) {
	cmd := newRunCmd(&bytes.Buffer{}, &bytes.Buffer{})
	flags, paths := map[string]bool{}, map[string]bool{}
	for _, g := range runSettings {
		for _, s := range g.rows {
			if flags[s.flag] {
				t.Errorf("--%s: in the table twice", s.flag)
			}
			flags[s.flag] = true
			if s.path != "" && paths[s.path] {
				t.Errorf("--%s: path %s is another row's too", s.flag, s.path)
			}
			paths[s.path] = true
			if s.path == "" && s.file != nil {
				t.Errorf("--%s: a way to read the file's value, and no path", s.flag)
			}
			if cmd.Flags().Lookup(s.flag) == nil {
				t.Errorf("--%s: in the table, not a flag of run", s.flag)
			}
		}
	}
}

// TestSettingsOverlayRecordsWhere checks that every value a scenario file
// sets is remembered with its path and line, so that an error about it
// names the file's line: here a value of each kind (number, duration,
// list, map, bool inverted).
func TestSettingsOverlayRecordsWhere(t *testing.T) {
	body := "load:\n  rate: 50\ngateway:\n  call_timeout: 200ms\narms: [breaker]\nrequest:\n  headers: {A: b}\noutput:\n  step_summary: false\n"
	opts := &runOptions{cfg: harness.DefaultConfig()}
	cmd := &cobra.Command{Use: "run"}
	cmd.SetContext(context.Background())
	bindRunSettings(cmd, opts)
	if err := cmd.ParseFlags([]string{"--scenario", writeScenario(t, body), "--arms", "no-breaker"}); err != nil {
		t.Fatal(err)
	}
	if err := applyScenario(cmd, opts); err != nil {
		t.Fatalf("applyScenario: %v", err)
	}
	want := map[string]fileField{
		"rate":            {"load.rate", 2},
		"call-timeout":    {"gateway.call_timeout", 4},
		"header":          {"request.headers", 7},
		"no-step-summary": {"output.step_summary", 9},
	}
	for flag, ff := range want {
		if got := opts.ci.fileFields[flag]; got != ff {
			t.Errorf("fileFields[%s] = %+v; want %+v", flag, got, ff)
		}
	}
	if ff, ok := opts.ci.fileFields["arms"]; ok {
		t.Errorf("fileFields[arms] = %+v; want none: --arms was given", ff)
	}
	if opts.cfg.Rate != 50 || opts.cfg.Gateway.CallTimeout.String() != "200ms" || !opts.ci.noStepSummary || len(opts.req.headers) != 1 || opts.req.headers[0] != "A: b" {
		t.Errorf("options after the overlay: rate %v, call timeout %v, no step summary %v, headers %q", opts.cfg.Rate, opts.cfg.Gateway.CallTimeout, opts.ci.noStepSummary, opts.req.headers)
	}
	if len(opts.arms) != 1 || opts.arms[0] != "no-breaker" {
		t.Errorf("arms %q; want the flag's [no-breaker] over the file's", opts.arms)
	}
}

// TestSettingsFileLikeFlag checks every row of the table with a path: a
// scenario file setting each path to a value lands in the same options as
// the flags saying the same, so a row's path and flag fill one field. The
// sections the scenario package reads itself (thresholds, targets) have
// their own tests.
func TestSettingsFileLikeFlag(t *testing.T) {
	// A value of each type, in the file and as the flag's arguments.
	byType := map[reflect.Type]struct {
		file any
		args []string
	}{
		reflect.TypeFor[string]():        {"v1", []string{"v1"}},
		reflect.TypeFor[bool]():          {true, []string{"true"}},
		reflect.TypeFor[int]():           {7, []string{"7"}},
		reflect.TypeFor[int64]():         {7, []string{"7"}},
		reflect.TypeFor[uint32]():        {7, []string{"7"}},
		reflect.TypeFor[float64]():       {0.25, []string{"0.25"}},
		reflect.TypeFor[time.Duration](): {"7s", []string{"7s"}},
		reflect.TypeFor[[]string]():      {[]string{"a", "b"}, []string{"a", "b"}},
	}
	// The rows whose value has another form in the file.
	byFlag := map[string]struct {
		file any
		args []string
	}{
		"no-step-summary": {false, []string{"true"}},
		"allow-remote":    {[]string{"10.0.0.0/8", "::1/128"}, []string{"10.0.0.0/8,::1/128"}},
		"upstream":        {map[string]string{"b": "127.0.0.1:2", "a": "127.0.0.1:1"}, []string{"a=127.0.0.1:1", "b=127.0.0.1:2"}},
		"header":          {map[string]string{"X-B": "2", "X-A": "1"}, []string{"X-A: 1", "X-B: 2"}},
		"header-env":      {map[string]string{"X-A": "A"}, []string{"X-A=A"}},
		"arms":            {[]string{"no-breaker", "throttle"}, []string{"no-breaker,throttle"}},
		"retry-budget":    {"25%", []string{"0.25"}},
	}
	doc := map[string]any{}
	var args []string
	for _, g := range runSettings {
		for _, st := range g.rows {
			if st.path == "" || st.file != nil && st.file.typ == nil {
				continue
			}
			v, ok := byFlag[st.flag]
			if !ok && st.file == nil {
				v, ok = byType[reflect.TypeOf(st.to(newRunOptions())).Elem()]
			}
			if !ok {
				t.Fatalf("--%s (%s): no test value; add one", st.flag, st.path)
			}
			for _, a := range v.args {
				args = append(args, "--"+st.flag+"="+a)
			}
			m, keys := doc, strings.Split(st.path, ".")
			for _, k := range keys[:len(keys)-1] {
				if m[k] == nil {
					m[k] = map[string]any{}
				}
				m = m[k].(map[string]any)
			}
			m[keys[len(keys)-1]] = v.file
		}
	}
	body, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	parse := func(args ...string) *runOptions {
		t.Helper()
		opts := newRunOptions()
		cmd := &cobra.Command{Use: "run"}
		cmd.SetContext(context.Background())
		bindRunSettings(cmd, opts)
		if err := cmd.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		if err := applyScenario(cmd, opts); err != nil {
			t.Fatalf("applyScenario: %v\n%s", err, body)
		}
		return opts
	}
	fromFile, fromFlags := parse("--scenario", writeScenario(t, string(body))), parse(args...)
	if len(fromFile.ci.fileFields) == 0 {
		t.Fatal("the file set nothing")
	}
	fromFile.ci.scenario, fromFile.ci.scenarioName, fromFile.ci.fileFields = "", "", nil
	// Whether --collateral and --breaker-state-url were given, not set.
	fromFlags.ci.collateralFlag, fromFlags.ci.stateFlag = false, false
	if diff := cmp.Diff(fromFlags, fromFile, cmp.Exporter(func(reflect.Type) bool { return true })); diff != "" {
		t.Errorf("options from the file differ from those of the flags (-flags +file):\n%s", diff)
	}
	if diff := cmp.Diff(newRunOptions(), fromFlags, cmp.Exporter(func(reflect.Type) bool { return true })); diff == "" {
		t.Error("the flags changed no option")
	}

	// An unknown key beside known ones is refused, naming its line.
	checkScenarioError(t, string(body)+"rps: 5\n", fmt.Sprintf(`line %d: unknown field "rps" in the top level`, strings.Count(string(body), "\n")+1))
	checkScenarioError(t, "gateway:\n  workers: 4\n  worker: 5\n", `line 3: unknown field "worker" in gateway; want one of: workers, queue_timeout, call_timeout, local_work, retries, retry_backoff, tiers`)
}

// TestScenarioDocExample checks that the format example in the scenario
// package's doc, the file's user documentation, is a file run reads.
func TestScenarioDocExample(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "scenario", "scenario.go"))
	if err != nil {
		t.Fatal(err)
	}
	_, doc, ok := strings.Cut(string(src), "// A file looks like this:\n//\n")
	if !ok {
		t.Fatal(`scenario.go: no "A file looks like this:" in the package doc`)
	}
	var example strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		text, ok := strings.CutPrefix(line, "//\t")
		if !ok {
			break
		}
		example.WriteString(text + "\n")
	}
	s, err := scenario.Decode("doc", strings.NewReader(example.String()), scenarioFields())
	if err != nil {
		t.Fatalf("the doc's example: %v\n%s", err, example.String())
	}
	if len(s.Phases) == 0 || s.Line("output.dir") == 0 {
		t.Errorf("the doc's example, as read, lacks phases or output.dir:\n%s", example.String())
	}
}
