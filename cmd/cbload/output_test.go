package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cbload/cbload/internal/outfile"
	"github.com/cbload/cbload/internal/testenv"
	"github.com/cbload/cbload/reports"
)

const testdataReport = "../../reports/testdata/report.json"

// copyFile copies src to dst, creating dst's folder.
func copyFile(t *testing.T, src, dst string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// shardFiles writes the real run of analysis/testdata/run.json as shards
// 0 and 1 of a run named runID into dir/shard-I/report.json.
func shardFiles(t *testing.T, dir, runID string) []string {
	t.Helper()
	data, err := os.ReadFile("../../analysis/testdata/run.json")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := range 2 {
		r, err := reports.ReadJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		r.RunID, r.Shard = runID, &reports.Shard{Index: i, Count: 2, Seed: int64(i + 1), ClockOffset: "unknown"}
		var b bytes.Buffer
		if err := reports.WriteJSON(&b, r); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "shard-"+string(rune('0'+i)), "report.json")
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// mknodIn makes a character device node (major, minor) in dir, as root:
// 1,3 discards what is written, 1,7 fails every write with ENOSPC. It
// returns "" when nodes cannot be made or used here.
func mknodIn(dir, name string, major, minor int) string {
	p := filepath.Join(dir, name)
	if err := syscall.Mknod(p, syscall.S_IFCHR|0o666, major<<8|minor); err != nil {
		return ""
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return ""
	}
	f.Close()
	return p
}

// TestOutputSpecialFiles runs `cbload compare -o` as a process into what a
// user may name as an output: a FIFO and a device are written through and
// stay what they are, a symbolic link stays a link and its file gets the
// output, a device that is full is an error (never exit 0), and a folder,
// a socket or a link to nothing is refused with exit 2 naming -o.
func TestOutputSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	compare := func(out string) (int, string, string) {
		return cbloadProc(t, nil, "compare", mustAbs(t, testdataReport), mustAbs(t, testdataReport), "--format", "md", "-o", out)
	}

	t.Run("fifo", func(t *testing.T) {
		fifo := filepath.Join(dir, "fifo")
		if err := syscall.Mkfifo(fifo, 0o644); err != nil {
			t.Fatal(err)
		}
		// A second name for the FIFO: it frees the reader below should the
		// FIFO's name be replaced by a regular file.
		keep := fifo + ".keep"
		if err := os.Link(fifo, keep); err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		go func() {
			f, err := os.Open(fifo)
			if err != nil {
				got <- "open: " + err.Error()
				return
			}
			b, _ := io.ReadAll(f)
			f.Close()
			got <- string(b)
		}()
		code, _, stderr := compare(fifo)
		var read string
		select {
		case read = <-got:
		case <-time.After(10 * time.Second):
			if w, err := os.OpenFile(keep, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
			read = <-got
		}
		if code != exitOK {
			t.Errorf("exit %d; want 0\n%s", code, stderr)
		}
		if !strings.Contains(read, "|") {
			t.Errorf("the FIFO's reader got %q; want the Markdown comparison", read)
		}
		if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			t.Errorf("the FIFO was replaced (%v, %v)", fi.Mode(), err)
		}
	})

	t.Run("symlink", func(t *testing.T) {
		real := filepath.Join(dir, "real", "comment.md")
		os.MkdirAll(filepath.Dir(real), 0o755)
		os.WriteFile(real, nil, 0o644)
		link := filepath.Join(dir, "comment.md")
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := compare(link)
		if code != exitOK {
			t.Fatalf("exit %d; want 0\n%s", code, stderr)
		}
		if li, err := os.Lstat(link); err != nil || li.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the symbolic link was replaced by a file (%v)", err)
		}
		if b, _ := os.ReadFile(real); !bytes.Contains(b, []byte("|")) {
			t.Errorf("the linked file did not get the comparison: %q", b)
		}
	})

	t.Run("refused", func(t *testing.T) {
		sock := filepath.Join(dir, "sock")
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		dangling := filepath.Join(dir, "dangling.md")
		os.Symlink(filepath.Join(dir, "nowhere", "x.md"), dangling)
		for _, tt := range []struct{ path, want string }{
			{dir, "-o " + dir + ": is a folder; want a file name like " + filepath.Join(dir, "compare.md")},
			{sock, "-o " + sock + ": is a socket"},
			{dangling, "-o " + dangling + ": is a symbolic link to " + filepath.Join(dir, "nowhere", "x.md") + ", which does not exist"},
		} {
			code, _, stderr := compare(tt.path)
			if code != exitUsage || !strings.HasPrefix(stderr, "cbload: "+tt.want) {
				t.Errorf("-o %s: exit %d, stderr %q; want 2 and %q", tt.path, code, stderr, tt.want)
			}
		}
		if fi, err := os.Lstat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
			t.Errorf("the socket was replaced (%v)", err)
		}
	})

	t.Run("devices", func(t *testing.T) {
		null, full := mknodIn(dir, "null", 1, 3), mknodIn(dir, "full", 1, 7)
		if null == "" || full == "" {
			t.Skip("cannot make device nodes in a temp dir here (needs root); CI runs as root")
		}
		code, _, stderr := compare(null)
		if code != exitOK {
			t.Errorf("-o a null device: exit %d; want 0\n%s", code, stderr)
		}
		code, _, stderr = compare(full)
		if code == exitOK || !strings.Contains(stderr, "no space left on device") {
			t.Errorf("-o a full device: exit %d, stderr %q; want an error naming the full disk", code, stderr)
		}
		for _, p := range []string{null, full} {
			if fi, err := os.Lstat(p); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
				t.Errorf("%s is no longer a device (%v)", p, err)
			}
		}
	})
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestOutputsNeverReplaceInputs: no command writes over one of its own
// inputs, and none overwrites another run's report without --force.
func TestOutputsNeverReplaceInputs(t *testing.T) {
	dir := t.TempDir()
	a := copyFile(t, testdataReport, filepath.Join(dir, "A", "report.json"))
	b := copyFile(t, testdataReport, filepath.Join(dir, "B", "report.json"))
	c := copyFile(t, testdataReport, filepath.Join(dir, "C", "report.json"))
	orig, _ := os.ReadFile(testdataReport)
	shards := shardFiles(t, filepath.Join(dir, "shards"), "run-1")
	shard0, _ := os.ReadFile(shards[0])
	linkToA := filepath.Join(dir, "link.json")
	os.Symlink(a, linkToA)

	tests := []struct {
		name string
		args []string
		want string // the first line of stderr starts with it
	}{
		{"compare -o BASE", []string{"compare", a, b, "-o", a}, "-o " + a + ": is BASE; choose another file"},
		{"compare -o NEW through a link", []string{"compare", a, b, "-o", linkToA}, "-o " + linkToA + ": is BASE"},
		{"compare -o NEW given as its folder", []string{"compare", filepath.Join(dir, "A"), b, "-o", b}, "-o " + b + ": is NEW"},
		{"compare -o another report", []string{"compare", a, b, "-o", c}, "-o " + c + ": holds a cbload report; pass --force"},
		{"merge --junit a shard", []string{"merge", shards[0], shards[1], "--junit", shards[0], "--out", filepath.Join(dir, "m1")}, "--junit " + shards[0] + ": is the shard report " + shards[0]},
		{"merge --out a shard's folder", []string{"merge", shards[0], shards[1], "--out", filepath.Dir(shards[0]), "--force"}, "--out " + filepath.Dir(shards[0]) + ": would overwrite the shard report"},
		{"merge --junit another report", []string{"merge", shards[0], shards[1], "--junit", c, "--out", filepath.Join(dir, "m2")}, "--junit " + c + ": holds a cbload report; pass --force"},
		{"merge --junit its own report.json", []string{"merge", shards[0], shards[1], "--junit", filepath.Join(dir, "m3", "report.json"), "--out", filepath.Join(dir, "m3")}, "--junit " + filepath.Join(dir, "m3", "report.json") + ": is the report.json of --out"},
		{"report --out another run's folder", []string{"report", b, "--out", filepath.Join(dir, "A")}, "--out " + filepath.Join(dir, "A") + ": already holds the report of another run; pass --force"},
		{"run --results an existing report", []string{"run", "--fault", "latency", "--dry-run", "--no-step-summary", "--results", c}, "--results " + c + ": holds a cbload report; pass --force"},
		{"run --results its own report.json", []string{"run", "--fault", "latency", "--dry-run", "--no-step-summary", "--out", filepath.Join(dir, "r"), "--results", filepath.Join(dir, "r", "report.json")}, "--results " + filepath.Join(dir, "r", "report.json") + ": is the report.json of --out"},
		{"run --junit the --results file", []string{"run", "--fault", "latency", "--dry-run", "--no-step-summary", "--results", filepath.Join(dir, "x.out"), "--junit", filepath.Join(dir, "x.out")}, "--junit " + filepath.Join(dir, "x.out") + ": is the --results file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			first, _, _ := strings.Cut(stderr.String(), "\n")
			if code != exitUsage || !strings.HasPrefix(first, "cbload: "+tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and a first line starting %q", code, stderr.String(), tt.want)
			}
		})
	}
	for _, p := range []string{a, b, c} {
		if got, _ := os.ReadFile(p); !bytes.Equal(got, orig) {
			t.Errorf("%s was changed", p)
		}
	}
	if got, _ := os.ReadFile(shards[0]); !bytes.Equal(got, shard0) {
		t.Errorf("%s was changed", shards[0])
	}
	if li, err := os.Lstat(linkToA); err != nil || li.Mode()&os.ModeSymlink == 0 {
		t.Errorf("%s is no longer a link", linkToA)
	}
	for _, d := range []string{"m1", "m2", "m3"} {
		if _, err := os.Stat(filepath.Join(dir, d)); err == nil {
			t.Errorf("a refused merge created %s", d)
		}
	}
	for _, f := range []string{"report.md", "report.html"} {
		if _, err := os.Stat(filepath.Join(dir, "A", f)); err == nil {
			t.Errorf("a refused report wrote A/%s", f)
		}
	}

	// --force lets report and compare overwrite another run's report, never
	// an input.
	var stdout, stderr bytes.Buffer
	if code := run([]string{"report", b, "--out", filepath.Join(dir, "A"), "--force", "--format", "md"}, &stdout, &stderr); code != exitOK {
		t.Errorf("report --force: exit %d\n%s", code, stderr.String())
	}
	if code := run([]string{"compare", a, b, "-o", c, "--force"}, &stdout, &stderr); code != exitOK && code != exitNotValid {
		t.Errorf("compare --force: exit %d\n%s", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"compare", a, b, "-o", a, "--force"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("compare -o BASE --force: exit %d; want 2\n%s", code, stderr.String())
	}
	// The input's own folder is where report writes by default.
	stdout.Reset()
	if code := run([]string{"report", b, "--format", "md,json"}, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "(the input, left as it is)") {
		t.Errorf("report into the input's folder: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}

// TestMergeJUnitFolder: merge refuses --junit FOLDER up front, as run
// does, writing nothing.
func TestMergeJUnitFolder(t *testing.T) {
	dir := t.TempDir()
	shards := shardFiles(t, dir, "run-1")
	folder := filepath.Join(dir, "ci")
	os.Mkdir(folder, 0o755)
	out := filepath.Join(dir, "merged")
	var stdout, stderr bytes.Buffer
	code := run([]string{"merge", "--no-step-summary", shards[0], shards[1], "--out", out, "--junit", folder}, &stdout, &stderr)
	want := "cbload: --junit " + folder + ": is a folder; want a file name like " + filepath.Join(folder, "junit.xml")
	if code != exitUsage || !strings.HasPrefix(stderr.String(), want) {
		t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), want)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("merge wrote %s before refusing --junit", out)
	}
	if stdout.Len() > 0 {
		t.Errorf("merge printed before refusing --junit:\n%s", stdout.String())
	}
}

// TestMergeRunIDFromFile runs merge as a process without --out on shards
// whose run_id would lead out of cbload-out: refused with exit 2, as
// --run-id refuses it, and nothing written anywhere.
func TestMergeRunIDFromFile(t *testing.T) {
	for _, id := range []string{"/../../escaped", "a/../../../escaped", "..", "x\x1b]0;title\x07", strings.Repeat("a", 65)} {
		work := t.TempDir()
		shards := shardFiles(t, filepath.Join(work, "in"), id)
		cmd := exec.Command(buildBinary(t, "github.com/cbload/cbload/cmd/cbload"), "merge", "--no-step-summary", shards[0], shards[1])
		cmd.Dir = work
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitUsage || !strings.Contains(stderr.String(), "run_id ") || !strings.Contains(stderr.String(), "want 1 to 64 letters") {
			t.Errorf("run_id %q: %v, stderr %q; want exit 2 naming run_id and what it may be", id, err, stderr.String())
		}
		entries, _ := os.ReadDir(work)
		if len(entries) != 1 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("run_id %q: merge left %v beside the input folder", id, names)
		}
		if strings.ContainsRune(stdout.String()+stderr.String(), 0x1b) {
			t.Errorf("run_id %q: an escape character reached the terminal", id)
		}
	}
}

// TestConcurrentRunsOneOut runs two cbload processes with the same --out:
// while the first holds the folder (waiting for its --start-at), the
// second exits 2 at once naming the folder, sending no load. Once the
// first is killed — even with SIGKILL — the folder is free again.
func TestConcurrentRunsOneOut(t *testing.T) {
	bin := buildBinary(t, "github.com/cbload/cbload/cmd/cbload")
	out := filepath.Join(t.TempDir(), "out")
	args := []string{"run", "--fault", "latency", "--arms", "breaker", "--phases", "1s,1s,1s", "--seed", "1",
		"--start-at", time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "--out", out, "--progress", "never", "--no-step-summary"}
	first := exec.Command(bin, args...)
	stderr, err := first.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		first.Process.Kill()
		first.Wait()
	}()
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && !strings.Contains(sc.Text(), "cbload: starts at ") {
	}
	go io.Copy(io.Discard, stderr)
	// The first process locks the folder right after it says when it
	// starts; wait for that, polling the lock.
	deadline := time.Now().Add(10 * time.Second)
	for {
		release, err := outfile.Lock(out)
		if errors.Is(err, outfile.ErrLocked) {
			break
		}
		if err == nil {
			release()
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first run did not lock %s within 10s (lock: %v)", out, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, bin, args...)
	var o, e bytes.Buffer
	second.Stdout, second.Stderr = &o, &e
	err = second.Run()
	var ee *exec.ExitError
	want := "cbload: --out " + out + ": another cbload process is writing into this folder now"
	if !errors.As(err, &ee) || ee.ExitCode() != exitUsage || !strings.Contains(e.String(), want) {
		t.Errorf("second run: %v, stderr %q; want exit 2 and %q", err, e.String(), want)
	}
	if strings.Contains(o.String(), "verdict") {
		t.Errorf("the second run sent load:\n%s", o.String())
	}

	first.Process.Kill() // SIGKILL: no chance to clean up
	first.Wait()
	release, err := outfile.Lock(out)
	if err != nil {
		t.Fatalf("the folder is still locked after the first run was killed: %v", err)
	}
	release()
}

// TestOutputFullDisk runs `cbload compare -o` as a process into a full
// tmpfs: an error naming the full disk (never exit 0), the file that was
// there kept whole, no temporary file left. Mounting needs root; CI runs
// as root.
func TestOutputFullDisk(t *testing.T) {
	mnt := testenv.SmallDisk(t, "64k")
	out := filepath.Join(mnt, "comment.md")
	if err := os.WriteFile(out, []byte("the last comparison\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	filler, err := os.Create(filepath.Join(mnt, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := filler.Write(make([]byte, 4096)); err != nil {
			break // the disk is full
		}
	}
	filler.Close()
	code, _, stderr := cbloadProc(t, nil, "compare", mustAbs(t, testdataReport), mustAbs(t, testdataReport), "--format", "md", "-o", out)
	if code == exitOK || !strings.Contains(stderr, "-o "+out+": no space left on device") {
		t.Errorf("exit %d, stderr %q; want an error naming -o and the full disk", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != "the last comparison\n" {
		t.Errorf("%s = %q; want the file that was there, whole", out, b)
	}
	entries, _ := os.ReadDir(mnt)
	if len(entries) != 2 {
		t.Errorf("left behind in the full disk: %v", entries)
	}
}
