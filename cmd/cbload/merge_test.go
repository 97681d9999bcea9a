package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cbload/cbload/reports"
)

// runShards runs a two-shard run of one arm against srv in-process, at
// once, and returns the shards' output folders under parent.
func runShards(t *testing.T, srv *httptest.Server, parent string) []string {
	t.Helper()
	start := time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)
	dirs := []string{filepath.Join(parent, "shard-0"), filepath.Join(parent, "shard-1")}
	var wg sync.WaitGroup
	codes := make([]int, 2)
	stderrs := make([]string, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var o, e bytes.Buffer
			codes[i] = run([]string{"run", "--target", "a=" + srv.URL + "/api", "--collateral", "/local",
				"--shard", []string{"0/2", "1/2"}[i], "--seed", "3", "--start-at", start, "--phases", "1s,1s,1s", "--fault", "latency",
				"--rate", "40", "--progress", "never", "--no-step-summary", "--out", dirs[i]}, &o, &e)
			stderrs[i] = e.String()
		}()
	}
	wg.Wait()
	for i, c := range codes {
		// 4: a loaded test machine may fail a timing check.
		if c != exitOK && c != exitNotValid {
			t.Fatalf("shard %d: exit %d\n%s", i, c, stderrs[i])
		}
		if !strings.Contains(stderrs[i], "cbload: shard "+[]string{"0/2", "1/2"}[i]+" at 20 req/s") {
			t.Errorf("shard %d stderr does not describe the shard:\n%s", i, stderrs[i])
		}
	}
	return dirs
}

func TestMergeCommand(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	parent := t.TempDir()
	dirs := runShards(t, srv, parent)
	r0 := readReport(t, filepath.Join(dirs[0], "report.json"))
	r1 := readReport(t, filepath.Join(dirs[1], "report.json"))
	if r0.Shard == nil || r0.Shard.Index != 0 || r1.Shard.Index != 1 || r0.RunID != r1.RunID || r0.Shard.Seed == r1.Shard.Seed || r0.Seed != 3 {
		t.Fatalf("shard reports: %+v run %q, %+v run %q; want shards 0 and 1 of one run, seed 3, distinct shard seeds", r0.Shard, r0.RunID, r1.Shard, r1.RunID)
	}
	valid := r0.Validity.Valid && r1.Validity.Valid
	wantOK := exitOK
	if !valid {
		wantOK = exitNotValid
	}

	merge := func(args ...string) (int, string, string) {
		var o, e bytes.Buffer
		code := run(append([]string{"merge", "--no-step-summary"}, args...), &o, &e)
		return code, o.String(), e.String()
	}
	out := filepath.Join(t.TempDir(), "merged")
	junit := filepath.Join(out, "junit.xml")
	// A folder of shard folders is read whole.
	code, stdout, stderr := merge(parent, "--out", out, "--junit", junit, "--threshold", "a.baseline.api.requests > 0")
	if code != wantOK {
		t.Fatalf("merge: exit %d; want %d\n%s\n%s", code, wantOK, stdout, stderr)
	}
	if !strings.Contains(stdout, "merged 2 of 2 shards of run "+r0.RunID) || !regexp.MustCompile(`requests reaching the upstream\s+unknown`).MatchString(stdout) {
		t.Errorf("merge stdout does not name the shards merged, or shows the external upstream's requests as a count:\n%s", stdout)
	}
	m := readReport(t, filepath.Join(out, "report.json"))
	if m.Merge == nil || m.Merge.Count != 2 || len(m.Merge.Shards) != 2 || len(m.Merge.Missing) != 0 || m.Partial {
		t.Errorf("merged report: merge %+v, partial %v; want both shards, none missing", m.Merge, m.Partial)
	}
	a, a0, a1 := m.Arm("a"), r0.Arm("a"), r1.Arm("a")
	if got, want := a.Load.Sent, a0.Load.Sent+a1.Load.Sent; got != want {
		t.Errorf("merged sent %d; want the shards' sum %d", got, want)
	}
	if len(m.Thresholds) != 1 || !m.Thresholds[0].Pass {
		t.Errorf("thresholds %+v; want one, passed", m.Thresholds)
	}
	if _, err := os.Stat(junit); err != nil {
		t.Errorf("junit not written: %v", err)
	}
	// Fault → symptom: the /api answers are the shards' sums, and what the
	// one shared upstream injected is unknown, not a shard's count.
	for _, p := range m.Phases {
		got, want := a.Summary[p.Name].API.Outcomes, a0.Summary[p.Name].API.Outcomes.Add(a1.Summary[p.Name].API.Outcomes)
		if got != want {
			t.Errorf("merged %s /api outcomes %+v; want the shards' sum %+v", p.Name, got, want)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "### Fault → symptom") || !strings.Contains(string(md), "| fault | a | "+reports.ExternalInjected+" | ") {
		t.Errorf("merged report.md has no fault → symptom row for the fault phase with the shared upstream's faults unknown:\n%s", md)
	}
	for _, f := range []string{"report.md", "report.html"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}

	// One shard alone: partial, named, not valid.
	code, stdout, _ = merge(dirs[0], "--out", filepath.Join(t.TempDir(), "m"))
	if code != exitNotValid || !strings.Contains(stdout, "MISSING: shard 1 of 2") {
		t.Errorf("merge of shard 0 alone: exit %d, stdout:\n%s\nwant exit 4 and shard 1 named missing", code, stdout)
	}
	if valid {
		code, stdout, _ = merge(dirs[0], dirs[1], "--out", filepath.Join(t.TempDir(), "m"), "--threshold", "a.baseline.api.requests > 1000000")
		if code != exitThreshold {
			t.Errorf("merge with a failing threshold: exit %d; want 99\n%s", code, stdout)
		}
	}

	bad := []struct {
		args []string
		want string
	}{
		{[]string{}, "merge: want the shards' report.json files or folders"},
		{[]string{dirs[0], dirs[0]}, "are both shard 0/2"},
		{[]string{filepath.Join("..", "..", "analysis", "testdata", "run.json")}, "not a shard's report"},
		{[]string{filepath.Join(parent, "nothing")}, "no such file"},
		{[]string{t.TempDir()}, "no report.json in it"},
		{[]string{dirs[0], "--threshold", "a.nope > 1"}, "--threshold"},
	}
	for _, tt := range bad {
		code, _, stderr := merge(append(tt.args, "--out", filepath.Join(t.TempDir(), "x"))...)
		first, _, _ := strings.Cut(stderr, "\n")
		if code != exitUsage || !strings.Contains(first, tt.want) {
			t.Errorf("merge %q: exit %d, first stderr line %q; want exit 2 and %q", tt.args, code, first, tt.want)
		}
	}

	// A shard of another run is refused.
	other := readReport(t, filepath.Join(dirs[1], "report.json"))
	other.RunID = "another-run"
	var b bytes.Buffer
	if err := reports.WriteJSON(&b, other); err != nil {
		t.Fatal(err)
	}
	otherPath := filepath.Join(t.TempDir(), "other.json")
	os.WriteFile(otherPath, b.Bytes(), 0o644)
	code, _, stderr = merge(filepath.Join(dirs[0], "report.json"), otherPath, "--out", filepath.Join(t.TempDir(), "x"))
	if code != exitUsage || !strings.Contains(stderr, `run id "another-run"`) {
		t.Errorf("merge of two runs: exit %d, stderr %q; want exit 2 naming the run id", code, stderr)
	}
}

// A run waiting for --start-at stops on SIGTERM at once, sends nothing and
// leaves no output behind.
func TestStartAtWaitIsInterruptible(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command(buildBinary(t, "github.com/cbload/cbload/cmd/cbload"), "run", "--fault", "latency", "--arms", "breaker",
		"--phases", "1s,1s,1s", "--seed", "1", "--start-at", time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "--out", out, "--progress", "never")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	waiting := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), "cbload: starts at ") {
			waiting = true
			break
		}
	}
	if !waiting {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("cbload never said it was waiting for the start time")
	}
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	rest, _ := io.ReadAll(stderr)
	err = cmd.Wait()
	if took := time.Since(sent); took > 10*time.Second {
		t.Errorf("exit took %v after SIGTERM", took)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted || !strings.Contains(string(rest), "interrupted before the start time") {
		t.Errorf("exit %v, stderr %q; want %d and the reason", err, rest, exitInterrupted)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("an interrupted wait left %s behind", out)
	}
}

// TestMergeTotalInputCap checks that merge refuses, before reading any,
// reports that together pass the 2 GiB it may hold in memory (sparse files
// here: their size is all that is read).
func TestMergeTotalInputCap(t *testing.T) {
	dir := t.TempDir()
	var args []string
	for _, name := range []string{"a.json", "b.json"} {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(1100 << 20); err != nil {
			t.Fatal(err)
		}
		f.Close()
		args = append(args, p)
	}
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"merge"}, args...), &stdout, &stderr)
	first, _, _ := strings.Cut(stderr.String(), "\n")
	if code != exitUsage || !strings.Contains(first, "more than the 2048 MiB limit") {
		t.Errorf("merge of 2.1 GiB of reports: exit %d, %q; want exit %d and the 2 GiB limit named", code, first, exitUsage)
	}
}
