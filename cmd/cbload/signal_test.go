package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cbload/cbload/internal/outfile"
)

// signalled is what became of a cbload process signalled by signalProcess.
type signalled struct {
	code           int
	took           time.Duration // from the signal to the exit; 0: not signalled
	stdout, stderr string
}

// gate is a FIFO that cbload reads: once it has opened it, its main has
// set up signal handling, so a signal is no longer the default kill. The
// test writes data to it; with hold, it keeps its end open (writing
// nothing more) until the process exits, so that cbload waits in read.
type gate struct {
	path string
	data string
	hold bool
	// after is how long to wait before the signal once the gate is
	// passed, for cbload to get to the step the test is about; the
	// outcome must be the same however far it got.
	after time.Duration
}

// signalProcess runs cbload in dir with args and the extra environment
// variables env, sends it sig as soon as it has opened g (unless it exits
// before) and returns how it ended. A process still alive 5 s after the
// signal, or 20 s after its start without opening g, is killed: exit -1.
func signalProcess(t *testing.T, dir string, env []string, g gate, sig syscall.Signal, args ...string) signalled {
	t.Helper()
	cmd := exec.Command(buildBinary(t, "github.com/cbload/cbload/cmd/cbload"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	signalledAt := make(chan time.Time, 1)
	go func() {
		var sent time.Time
		defer func() { signalledAt <- sent }()
		kill := time.NewTimer(20 * time.Second)
		defer kill.Stop()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var w *os.File
		for w == nil {
			// Fails (ENXIO) until a reader has the FIFO open.
			if f, err := os.OpenFile(g.path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w = f
				break
			}
			select {
			case <-exited:
				return
			case <-kill.C:
				cmd.Process.Kill()
				return
			case <-tick.C:
			}
		}
		w.WriteString(g.data)
		if g.hold {
			defer w.Close()
		} else {
			w.Close()
		}
		select {
		case <-time.After(g.after):
		case <-exited:
			return
		}
		sent = time.Now()
		cmd.Process.Signal(sig)
		select {
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
		case <-exited:
		}
	}()
	cmd.Wait()
	end := time.Now()
	close(exited)
	res := signalled{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
	if sent := <-signalledAt; !sent.IsZero() {
		res.took = end.Sub(sent)
	}
	return res
}

// TestSignalBlockedInputs gives cbload a FIFO no one writes to (or, for
// $GITHUB_STEP_SUMMARY, reads from) as each file it reads or appends to
// before any load, and signals it while it waits: the first SIGINT or
// SIGTERM must end it with exit 130 within a second, through the reader's
// cancellation rather than the last-resort watchdog. SIGINT comes while
// cbload waits in read (the test holds the FIFO's write end, writing
// nothing), SIGTERM while it waits in open (no writer at all). Files that
// must be regular (read again by name by a library or the user's service,
// or appended to) are refused at once instead, with the exit code and
// message of the case.
func TestSignalBlockedInputs(t *testing.T) {
	t.Parallel()
	target, upstream := "http://"+freeAddr(t), freeAddr(t)
	// In target mode; the run never gets as far as sending anything.
	tm := func(extra ...string) []string {
		return append([]string{"run", "--fault", "hang", "--upstream-addr", upstream, "--dry-run"}, extra...)
	}
	fifo := func(t *testing.T, path string) string {
		t.Helper()
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			t.Fatalf("mkfifo: %v", err)
		}
		return path
	}
	write := func(t *testing.T, path, data string) string {
		t.Helper()
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	mkdir := func(t *testing.T, path string) string {
		t.Helper()
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	type tcase struct {
		name string
		// code and msg, when code is set, are how cbload refuses the FIFO
		// at once.
		code int
		msg  string
		// scenario is the --scenario file's content: cbload reads it
		// before every other file.
		scenario string
		// setup makes the case's files in dir and returns the arguments,
		// the environment and the FIFO cbload waits on.
		setup func(t *testing.T, dir string) (args, env []string, blocked string)
	}
	cases := []tcase{
		{"targets", 0, "", "seed: 1\n", func(t *testing.T, dir string) ([]string, []string, string) {
			reqs := fifo(t, filepath.Join(dir, "reqs"))
			return tm("--target", "api="+target, "--targets", reqs), nil, reqs
		}},
		{"targets @body", 0, "", "seed: 1\n", func(t *testing.T, dir string) ([]string, []string, string) {
			body := fifo(t, filepath.Join(dir, "body"))
			reqs := write(t, filepath.Join(dir, "reqs"), "POST /api\n@body\n")
			return tm("--target", "api="+target, "--targets", reqs), nil, body
		}},
		{"body-file", 0, "", "seed: 1\n", func(t *testing.T, dir string) ([]string, []string, string) {
			body := fifo(t, filepath.Join(dir, "body"))
			return tm("--target", "api="+target+"/api", "--method", "POST", "--body-file", body), nil, body
		}},
		{"ca-cert", 0, "", "seed: 1\n", func(t *testing.T, dir string) ([]string, []string, string) {
			ca := fifo(t, filepath.Join(dir, "ca.pem"))
			return tm("--target", "api="+strings.Replace(target, "http:", "https:", 1)+"/api", "--ca-cert", ca), nil, ca
		}},
		{"request.targets_file", 0, "", "targets: [{name: api, url: " + target + "}]\nrequest: {targets_file: reqs}\n", func(t *testing.T, dir string) ([]string, []string, string) {
			return tm(), nil, fifo(t, filepath.Join(dir, "reqs"))
		}},
		{"upstream-tls cert", exitCouldNotRun, "upstream-ca.pem is a FIFO, not a regular file; want the PEM file cbload created, or none", "seed: 1\n", func(t *testing.T, dir string) ([]string, []string, string) {
			tls := mkdir(t, filepath.Join(dir, "tls"))
			return tm("--target", "api="+target+"/api", "--upstream-tls", tls), nil, fifo(t, filepath.Join(tls, "upstream-ca.pem"))
		}},
		{"upstream-tls key", exitCouldNotRun, "upstream-key.pem is a FIFO, not a regular file", "seed: 1\n", func(t *testing.T, dir string) ([]string, []string, string) {
			// No certificate: cbload would create both files, and must
			// not wait to write a key into a FIFO.
			tls := mkdir(t, filepath.Join(dir, "tls"))
			return tm("--target", "api="+target+"/api", "--upstream-tls", tls), nil, fifo(t, filepath.Join(tls, "upstream-key.pem"))
		}},
		{"GITHUB_STEP_SUMMARY", exitCouldNotRun, "cannot append to it: nothing reads it (a FIFO or socket without a reader)", "seed: 1\n", func(t *testing.T, dir string) ([]string, []string, string) {
			p := fifo(t, filepath.Join(dir, "summary"))
			return []string{"run", "--fault", "hang", "--dry-run"}, []string{"GITHUB_STEP_SUMMARY=" + p}, p
		}},
		{"OTEL_EXPORTER_OTLP_CERTIFICATE", exitUsage, "want a readable PEM file: a FIFO, not a regular file", "seed: 1\n", func(t *testing.T, dir string) ([]string, []string, string) {
			p := fifo(t, filepath.Join(dir, "ca.pem"))
			return []string{"run", "--fault", "hang", "--dry-run"}, []string{"OTEL_EXPORTER_OTLP_CERTIFICATE=" + p}, p
		}},
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		for _, c := range cases {
			t.Run(sig.String()+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				args, env, blocked := c.setup(t, dir)
				// SIGINT: cbload waits in reading blocked, whose write end
				// the test holds. SIGTERM: in opening it; the scenario,
				// read before, is the gate.
				g := gate{path: blocked, hold: true}
				scen := filepath.Join(dir, "s.yaml")
				if sig == syscall.SIGINT || c.code != 0 {
					write(t, scen, c.scenario)
				} else {
					g = gate{path: fifo(t, scen), data: c.scenario, after: 300 * time.Millisecond}
				}
				args = append(args, "--scenario", scen)
				res := signalProcess(t, dir, env, g, sig, args...)
				if c.code != 0 {
					if res.code != c.code || res.took != 0 || !strings.Contains(res.stderr, c.msg) {
						t.Errorf("cbload %q (env %q) = exit %d, stderr %q (signalled: %v); want exit %d at once, and %q",
							args, env, res.code, res.stderr, res.took != 0, c.code, c.msg)
					}
					return
				}
				// Within a second, says the README; the half second more is
				// for a busy machine.
				if res.code != exitInterrupted || res.took == 0 || res.took > 1500*time.Millisecond {
					t.Errorf("cbload %q signalled with %v = exit %d %v after the signal; want exit %d within a second\nstdout: %s\nstderr: %s",
						args, sig, res.code, res.took.Round(time.Millisecond), exitInterrupted, res.stdout, res.stderr)
				}
				if strings.Contains(res.stderr, "goroutine ") || strings.Contains(res.stderr, "without waiting") {
					t.Errorf("cbload %q did not stop by itself (a stack trace, or the watchdog): %s", args, res.stderr)
				}
			})
		}
	}
}

// TestSignalBlindStep signals cbload while it runs the longest step a
// template may still take — recursion down to text/template's own depth
// limit, seconds of work the loop guards do not count (a range over a
// trillion numbers is refused at once now): the first SIGINT or SIGTERM
// must still end it with exit 130 within a second.
func TestSignalBlindStep(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			data, err := os.ReadFile(filepath.Join("..", "..", "reports", "testdata", "report.json"))
			if err != nil {
				t.Fatal(err)
			}
			rep := filepath.Join(dir, "report.json")
			if err := os.WriteFile(rep, data, 0o644); err != nil {
				t.Fatal(err)
			}
			// The template comes through a FIFO, so the test knows when
			// cbload has started.
			tmpl := filepath.Join(dir, "spin.tmpl")
			if err := syscall.Mkfifo(tmpl, 0o600); err != nil {
				t.Fatal(err)
			}
			g := gate{path: tmpl, data: `{{define "r"}}{{template "r" .}}{{end}}{{template "r" .}}`, after: 300 * time.Millisecond}
			res := signalProcess(t, dir, nil, g, sig, "report", "--template", tmpl, rep)
			if res.code != exitInterrupted || res.took > 1500*time.Millisecond {
				t.Errorf("cbload report --template (a endless loop) signalled with %v = exit %d %v after the signal; want exit %d within a second\nstderr: %s",
					sig, res.code, res.took.Round(time.Millisecond), exitInterrupted, res.stderr)
			}
			if !strings.Contains(res.stderr, "cbload: interrupted") {
				t.Errorf("stderr %q does not say cbload was interrupted", res.stderr)
			}
		})
	}
}

// TestSignalSlowCollector interrupts a traced run whose OTLP collector
// never answers: the flush of the spans left must give way, so that cbload
// still exits 130 within a second, with its partial report written.
func TestSignalSlowCollector(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t, "github.com/cbload/cbload/cmd/cbload")
	release := make(chan struct{})
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // hold every export until cbload gives up on it
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer collector.Close()
	defer close(release)
	out := t.TempDir()
	args := []string{"run", "--fault", "latency", "--phases", "2s,2s,2s", "--rate", "20", "--seed", "5",
		"--progress", "always", "--out", out, "--otlp-endpoint", collector.URL}
	res := interruptAt(bin, out, args, "breaker", "fault", syscall.SIGINT)
	if res.err != nil {
		t.Fatalf("%v\nstderr:\n%s", res.err, res.stderr)
	}
	if res.code != exitInterrupted || res.took > 1500*time.Millisecond {
		t.Errorf("exit %d %v after the signal; want %d within a second\nstderr:\n%s", res.code, res.took.Round(time.Millisecond), exitInterrupted, res.stderr)
	}
	if !strings.Contains(res.stderr, "cbload: interrupted; the partial report was written") {
		t.Errorf("stderr does not say the partial report was written:\n%s", res.stderr)
	}
	if r := readReport(t, filepath.Join(out, "report.json")); !r.Partial {
		t.Errorf("report partial = false; want true")
	}
}

// TestOpenAppend appends to a regular file, and fails at once, naming the
// reason, on a FIFO that nothing reads (a plain open would wait for a
// reader forever).
func TestOpenAppend(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "summary.md")
	for range 2 {
		f, err := outfile.OpenAppend(p, os.O_CREATE)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("line\n")
		f.Close()
	}
	if b, _ := os.ReadFile(p); string(b) != "line\nline\n" {
		t.Errorf("appended %q; want two lines", b)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := outfile.OpenAppend(fifo, 0); !errors.Is(err, outfile.ErrNoReader) {
		t.Errorf("outfile.OpenAppend(FIFO without a reader) = %v; want outfile.ErrNoReader", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("outfile.OpenAppend(FIFO without a reader) took %v; want at once", d)
	}
}
