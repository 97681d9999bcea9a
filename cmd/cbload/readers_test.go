package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/reports"
	"github.com/cbload/cbload/scenario"
)

// rawRun is a real run's report with raw aggregates, as a shard would
// write it.
const rawRun = "../../analysis/testdata/run.json"

// shardFile writes rawRun as shard index/count of run "run-1" into
// dir/name/report.json, edited by edit (as generic JSON), and returns its
// path.
func shardFile(t *testing.T, dir, name string, index, count any, edit func(r map[string]any)) string {
	t.Helper()
	data, err := os.ReadFile(rawRun)
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		t.Fatal(err)
	}
	r["run_id"] = "run-1"
	r["shard"] = map[string]any{"index": index, "count": count, "rate": 20, "seed": 1, "clock_offset": "unknown"}
	if edit != nil {
		edit(r)
	}
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name, "report.json")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// armAt returns arm i of a generic JSON report.
func armAt(r map[string]any, i int) map[string]any {
	return r["arms"].([]any)[i].(map[string]any)
}

// TestMergeRefusesBadShards merges shard reports that lie about their
// shard or break the run's invariants, as the real process: each is exit
// 2 with one line naming the file and the field — no report written with
// part of the data, no panic, no memory or CPU exhausted.
func TestMergeRefusesBadShards(t *testing.T) {
	second := func(i int) func(r map[string]any) map[string]any {
		return func(r map[string]any) map[string]any { return armAt(r, 0)["series"].([]any)[i].(map[string]any) }
	}
	tests := []struct {
		name         string
		index, count any
		edit         func(r map[string]any)
		want         string // after "s1/report.json: "
	}{
		{"index past a count of 1", 1, 1, nil, "shard.index: 1: want 0..0"},
		{"count 0", 1, 0, nil, "shard.count: 0: want 1..1000"},
		{"index 5 of 2", 5, 2, nil, "shard.index: 5: want 0..1"},
		{"count 1001", 1, 1001, nil, "shard.count: 1001: want 1..1000"},
		{"count 2e9", 1, 2000000000, nil, "shard.count: 2000000000: want 1..1000"},
		{"count 5e6", 1, 5000000, nil, "shard.count: 5000000: want 1..1000"},
		{"negative count", 1, -2, nil, "shard.count: -2: want 1..1000"},
		{"series null", 1, 2, func(r map[string]any) { armAt(r, 1)["series"] = nil }, "arms[1].series: missing or null; want an array"},
		{"load generator null", 1, 2, func(r map[string]any) { armAt(r, 0)["load_generator"] = nil }, "arms[0].load_generator: missing or null; want an object"},
		{"width_ms 0", 1, 2, func(r map[string]any) { armAt(r, 0)["api_slots"].(map[string]any)["width_ms"] = 0 }, "arms[0].api_slots.width_ms: 0: want at least 1"},
		{"duplicate arms", 1, 2, func(r map[string]any) { armAt(r, 1)["name"] = "breaker" }, `arms[1].name: "breaker": a second arm of that name`},
		{"no phases", 1, 2, func(r map[string]any) { r["phases"] = []any{} }, "phases: 0 phases: want 1..200"},
		{"negative count in a second", 1, 2, func(r map[string]any) { second(2)(r)["sent"] = -1 }, "arms[0].series[2].sent: -1: want at least 0"},
		{"int64 overflow", 1, 2, func(r map[string]any) { second(2)(r)["sent"] = json.Number("9223372036854775807") }, "arms[0].series[2].sent: 9223372036854775807: want at most 9007199254740992"},
		{"t_s 9e18", 1, 2, func(r map[string]any) { second(7)(r)["t_s"] = json.Number("9000000000000000000") }, "arms[0].series[7].t_s: 9000000000000000000: want at most"},
		{"end_s 1e12", 1, 2, func(r map[string]any) {
			r["phases"].([]any)[2].(map[string]any)["end_s"] = json.Number("1000000000000")
		}, "phases[2].end_s: 1e+12: want 5..3600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			buildBinary(t, "github.com/cbload/cbload/cmd/cbload") // not timed below
			s0 := shardFile(t, dir, "s0", 0, 2, nil)
			s1 := shardFile(t, dir, "s1", tt.index, tt.count, tt.edit)
			out := filepath.Join(dir, "merged")
			start := time.Now()
			code, stdout, stderr := cbloadProc(t, nil, "merge", "--no-step-summary", "--out", out, s0, s1)
			if code != exitUsage {
				t.Fatalf("merge: exit %d; want %d\nstdout %s\nstderr %s", code, exitUsage, stdout, stderr)
			}
			want := "cbload: " + s1 + ": malformed report: " + tt.want
			if !strings.Contains(stderr, want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("merge stderr = %q; want one line containing %q", stderr, want)
			}
			if stdout != "" {
				t.Errorf("merge stdout = %.200q; want nothing", stdout)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("merge wrote %s; want nothing written", out)
			}
			// Refused on reading, not after the work: a tolerance for a
			// loaded machine, far below the minutes a spin would take.
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("merge took %v", took)
			}
		})
	}
}

// TestMergeMoreReportsThanShards: three reports of a run of two shards are
// refused, not merged as two of them.
func TestMergeMoreReportsThanShards(t *testing.T) {
	dir := t.TempDir()
	s0 := shardFile(t, dir, "s0", 0, 2, nil)
	s1 := shardFile(t, dir, "s1", 1, 2, nil)
	s2 := shardFile(t, dir, "s2", 1, 2, nil)
	var stdout, stderr bytes.Buffer
	code := run([]string{"merge", "--no-step-summary", "--out", filepath.Join(dir, "m"), s0, s1, s2}, &stdout, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "a run of 2 shards, but 3 reports were given") {
		t.Errorf("merge of 3 reports of 2 shards: exit %d, %q; want %d naming the count", code, stderr.String(), exitUsage)
	}
}

// TestReadersRefuseInvalidReports: report and compare read a report the
// way merge does; a report that breaks the contract is exit 2 naming the
// file and the field, and report leaves it as it is instead of writing it
// out again.
func TestReadersRefuseInvalidReports(t *testing.T) {
	dir := t.TempDir()
	bad := shardFile(t, dir, "bad", 5, 2, nil)
	before, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	good := shardFile(t, dir, "good", 0, 2, nil)
	want := bad + ": malformed report: shard.index: 5: want 0..1"
	for _, args := range [][]string{
		{"report", bad},
		{"report", bad, "--out", filepath.Join(dir, "out")},
		{"compare", good, bad},
		{"compare", bad, good},
	} {
		code, stdout, stderr := cbloadProc(t, nil, args...)
		if code != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("cbload %s: exit %d, stderr %q; want %d and %q", strings.Join(args, " "), code, stderr, exitUsage, want)
		}
		if strings.Contains(stdout, "report:") {
			t.Errorf("cbload %s wrote reports:\n%s", strings.Join(args, " "), stdout)
		}
	}
	after, err := os.ReadFile(bad)
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("report rewrote %s (%v)", bad, err)
	}
	for _, f := range []string{"report.md", "report.html"} {
		if _, err := os.Stat(filepath.Join(dir, "bad", f)); err == nil {
			t.Errorf("report wrote %s beside the invalid report", f)
		}
	}
}

// TestReportTemplateLimitsProcess: templates that would exhaust memory or
// loop for ages end the real process with exit 2 and one line, quickly.
func TestReportTemplateLimitsProcess(t *testing.T) {
	dir := t.TempDir()
	buildBinary(t, "github.com/cbload/cbload/cmd/cbload") // not timed below
	tests := []struct{ name, text, want string }{
		{"doubled 40 times", `{{$x := "ab"}}` + strings.Repeat(`{{$x = printf "%s%s" $x $x}}`, 40) + `{{$x}}`, "MiB of strings a template may build"},
		{"range over 10^12", `{{range 1000000000000}}{{end}}`, "more than the 1000000 loop iterations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".tmpl")
			if err := os.WriteFile(p, []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			code, stdout, stderr := cbloadProc(t, nil, "report", sampleReportAbs(t), "--template", p)
			if code != exitUsage || !strings.Contains(stderr, tt.want) || strings.Contains(stderr, "goroutine") {
				t.Errorf("report --template: exit %d, stderr %.300q; want %d and %q", code, stderr, exitUsage, tt.want)
			}
			if stdout != "" {
				t.Errorf("stdout %.100q; want nothing", stdout)
			}
			if took := time.Since(start); took > reports.SummaryTimeout {
				t.Errorf("report --template took %v; want it stopped within the %v limit", took, reports.SummaryTimeout)
			}
		})
	}
}

// TestRunSummaryTemplateLimits: a --summary-template past a limit over a
// report with no data yet is refused before any load is sent, with exit 2
// naming the flag — not a crash after the run, before its JUnit.
func TestRunSummaryTemplateLimits(t *testing.T) {
	p := filepath.Join(t.TempDir(), "doubling.tmpl")
	if err := os.WriteFile(p, []byte(`{{$x := "ab"}}`+strings.Repeat(`{{$x = printf "%s%s" $x $x}}`, 40)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := cbloadProc(t, nil, "run", "--fault", "latency", "--dry-run", "--summary-template", p)
	if code != exitUsage || !strings.Contains(stderr, "--summary-template "+p+": line 1") || !strings.Contains(stderr, "MiB of strings a template may build") {
		t.Errorf("run --summary-template: exit %d, stderr %.300q; want %d naming the flag and the limit", code, stderr, exitUsage)
	}
	if strings.Contains(stdout, "plan") {
		t.Errorf("stdout %.200q; want no plan", stdout)
	}
}

// sampleReportAbs is sampleReport as an absolute path, for a process run
// in a temporary folder.
func sampleReportAbs(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(sampleReport)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBreakerBucketCount: a rolling window of too many buckets is refused
// by --dry-run, naming both flags, before gobreaker would allocate them.
func TestBreakerBucketCount(t *testing.T) {
	code, _, stderr := cbloadProc(t, nil, "run", "--fault", "latency", "--dry-run", "--breaker-bucket-period", "1ns", "--breaker-interval", "1h")
	if code != exitUsage || !strings.Contains(stderr, "breaker-interval, breaker-bucket-period: 1h0m0s in buckets of 1ns is more than 10000 buckets") {
		t.Errorf("--breaker-bucket-period 1ns --breaker-interval 1h --dry-run: exit %d, %q; want %d naming both flags", code, stderr, exitUsage)
	}
	code, _, stderr = cbloadProc(t, nil, "run", "--fault", "latency", "--dry-run", "--breaker-bucket-period", "1ms", "--breaker-interval", "10s")
	if code != exitOK {
		t.Errorf("10,000 buckets: exit %d, %q; want it accepted", code, stderr)
	}
}

// TestReadLimitsMatchRunLimits: a report is read with the limits the run
// that wrote it was held to.
func TestReadLimitsMatchRunLimits(t *testing.T) {
	for _, c := range []struct {
		name      string
		read, run int64
	}{
		{"shards", reports.MaxShards, harness.MaxShards},
		{"phases", reports.MaxPhases, scenario.MaxPhases},
		{"schedule seconds", reports.MaxScheduleS, int64(scenario.MaxDuration / time.Second)},
		{"trials", reports.MaxTrials, harness.MaxTrials},
		{"arms", reports.MaxArms, scenario.MaxTargets},
	} {
		if c.read != c.run {
			t.Errorf("%s: reports reads %d, a run is held to %d", c.name, c.read, c.run)
		}
	}
}
