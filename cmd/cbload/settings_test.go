package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/spf13/cobra"

	"github.com/cbload/cbload/harness"
)

// TestSettingsTable checks run's flag ⇄ path table: each flag and each path
// once, a row with a path has a way to apply the file's value (and only
// such a row), and every row's flag is one run has.
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
			if (s.path == "") != (s.file == nil) {
				t.Errorf("--%s: path %q with file func %v; want both or neither", s.flag, s.path, s.file != nil)
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
