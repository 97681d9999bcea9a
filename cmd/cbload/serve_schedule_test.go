package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/scenario"
	sched "github.com/cbload/cbload/schedule"
)

// serveLine is a line a serve process printed and when the test read it.
type serveLine struct {
	text string
	at   time.Time
}

// scheduleProc is a real `cbload serve` process. Its stdout lines arrive on
// lines, which is closed when the process closes its stdout.
type scheduleProc struct {
	cmd      *exec.Cmd
	lines    chan serveLine
	stderr   *syncBuffer
	upstream string
	control  string
	seen     []string // the lines read so far, for failure messages
}

// startScheduleProc starts `cbload serve` with args on free loopback ports
// and returns once it has printed its addresses. The test's cleanup kills
// it if it is still running.
func startScheduleProc(t *testing.T, args ...string) *scheduleProc {
	t.Helper()
	bin := buildBinary(t, "github.com/cbload/cbload/cmd/cbload")
	p := &scheduleProc{lines: make(chan serveLine, 100), stderr: &syncBuffer{}}
	p.cmd = exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0"}, args...)...)
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	read := make(chan struct{})
	go func() {
		defer close(read)
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- serveLine{sc.Text(), time.Now()}
		}
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		for range p.lines {
		}
		<-read
		p.cmd.Wait()
	})
	for p.upstream == "" || p.control == "" {
		l := p.next(t, 10*time.Second)
		if m := listenRE.FindStringSubmatch(l.text); m != nil && m[1] == "upstream" {
			p.upstream = m[2]
		} else if m != nil {
			p.control = m[2]
		}
	}
	return p
}

// next returns the next line, failing the test if none comes within d.
func (p *scheduleProc) next(t *testing.T, d time.Duration) serveLine {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			t.Fatalf("serve closed its stdout; it printed:\n%s\nstderr:\n%s", strings.Join(p.seen, "\n"), p.stderr)
		}
		p.seen = append(p.seen, l.text)
		return l
	case <-time.After(d):
		t.Fatalf("serve printed nothing more within %v; it printed:\n%s", d, strings.Join(p.seen, "\n"))
	}
	panic("unreachable")
}

// until returns the first line containing s, failing the test if none
// comes within d.
func (p *scheduleProc) until(t *testing.T, s string, d time.Duration) serveLine {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if l := p.next(t, time.Until(deadline)); strings.Contains(l.text, s) {
			return l
		}
	}
}

// wait waits for the process to exit and returns its exit code, failing the
// test if it does not exit within d.
func (p *scheduleProc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	done := make(chan struct{})
	go func() {
		for l := range p.lines {
			p.seen = append(p.seen, l.text)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-done
		t.Fatalf("serve did not exit within %v", d)
	}
	p.cmd.Wait()
	return p.cmd.ProcessState.ExitCode()
}

// switchRE reads a switch line: time, offset, and the phase or the end.
var switchRE = regexp.MustCompile(`^(\S+Z)  \+(\d+\.\d{3})s  (phase (\d+)/(\d+) (\S+)|schedule done)  faults (.*)$`)

type switchLine struct {
	at     time.Time // printed
	offset time.Duration
	phase  string // "" for the end
	faults string
	read   time.Time // when the test read it
}

func parseSwitch(t *testing.T, l serveLine) switchLine {
	t.Helper()
	m := switchRE.FindStringSubmatch(l.text)
	if m == nil {
		t.Fatalf("line %q is not a switch line", l.text)
	}
	at, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		t.Fatalf("switch line %q: time: %v", l.text, err)
	}
	off, _ := strconv.ParseFloat(m[2], 64)
	return switchLine{at: at, offset: time.Duration(off * float64(time.Second)), phase: m[6], faults: m[7], read: l.at}
}

// getAll sends n requests to url and returns the status and X-Cbload-Fault of
// each distinct answer, like "200 ", "503 error".
func getAll(t *testing.T, c *http.Client, url string, n int) []string {
	t.Helper()
	var seen []string
	for range n {
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		s := fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("X-Cbload-Fault"))
		if len(seen) == 0 || seen[len(seen)-1] != s {
			seen = append(seen, s)
		}
	}
	return seen
}

func within(got, want, tol time.Duration) bool { return got >= want-tol && got <= want+tol }

// TestServeScheduleSwitches runs a 3-phase schedule of 1s phases in a real
// serve process: the switch lines come at their offsets, each phase has its
// faults, a control-API change holds until the next switch, and
// --exit-after-schedule exits 0 after the end line.
func TestServeScheduleSwitches(t *testing.T) {
	const tol = 150 * time.Millisecond
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	p := startScheduleProc(t, "--phases", "1s,1s,1s", "--fault", "error:503", "--exit-after-schedule", "--seed", "3")
	head := p.until(t, "  schedule  ", 5*time.Second)
	if head.text != "  schedule  3 phases over 3s, starting at launch" {
		t.Errorf("schedule line = %q; want it to say 3 phases over 3s, starting at launch", head.text)
	}

	first := parseSwitch(t, p.next(t, 5*time.Second))
	if first.phase != "baseline" || first.faults != "none" || first.offset > tol {
		t.Errorf("first switch = %+v; want baseline, no faults, at +0s", first)
	}
	if got := getAll(t, c, p.upstream+"/api", 5); len(got) != 1 || got[0] != "200 " {
		t.Errorf("baseline answers = %q; want only 200 without X-Cbload-Fault", got)
	}
	// A control-API change holds until the next switch.
	if status, body := do(t, c, "PUT", p.control+"/faults", "", `{"faults": ["error:418"]}`); status != 200 {
		t.Fatalf("PUT /faults = %d %s; want 200", status, body)
	}
	if got := getAll(t, c, p.upstream+"/api", 5); len(got) != 1 || got[0] != "418 error" {
		t.Errorf("answers after PUT error:418 in the baseline = %q; want only 418 error", got)
	}

	want := []struct {
		phase, faults, answer string
		offset                time.Duration
	}{
		{"fault", "error:503", "503 error", time.Second},
		{"recovery", "none", "200 ", 2 * time.Second},
		{"", "none; exiting (--exit-after-schedule)", "", 3 * time.Second},
	}
	for _, w := range want {
		sw := parseSwitch(t, p.next(t, 5*time.Second))
		if sw.phase != w.phase || sw.faults != w.faults {
			t.Errorf("switch = phase %q faults %q; want phase %q faults %q", sw.phase, sw.faults, w.phase, w.faults)
		}
		if got := sw.read.Sub(first.read); !within(got, w.offset, tol) {
			t.Errorf("switch to %q read %v after the first; want %v ± %v", w.phase, got, w.offset, tol)
		}
		if got := sw.offset; !within(got, w.offset, tol) {
			t.Errorf("switch to %q printed offset +%v; want %v ± %v", w.phase, got, w.offset, tol)
		}
		if got := sw.at.Sub(first.at); !within(got, w.offset, tol) {
			t.Errorf("switch to %q printed time %v after the first; want %v ± %v", w.phase, got, w.offset, tol)
		}
		if w.answer != "" {
			if got := getAll(t, c, p.upstream+"/api", 5); len(got) != 1 || got[0] != w.answer {
				t.Errorf("%s answers = %q; want only %q", w.phase, got, w.answer)
			}
		}
	}
	tr.CloseIdleConnections()
	if code := p.wait(t, 5*time.Second); code != exitOK {
		t.Errorf("serve --exit-after-schedule exited %d after the schedule; want 0\nstderr:\n%s", code, p.stderr)
	}
}

// TestServeScheduleStartAt checks that --start-at in the near future
// serves healthy until then and starts the schedule on time.
func TestServeScheduleStartAt(t *testing.T) {
	const tol = 150 * time.Millisecond
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	start := time.Now().Add(2500 * time.Millisecond).Round(time.Millisecond)
	p := startScheduleProc(t, "--phases", "300ms,300ms,300ms", "--fault", "error:503", "--start-at", start.UTC().Format(time.RFC3339Nano), "--exit-after-schedule")
	head := p.until(t, "  schedule  ", 5*time.Second)
	if !strings.Contains(head.text, "starting at "+start.UTC().Format(time.RFC3339)) || !strings.Contains(head.text, "healthy until then") {
		t.Errorf("schedule line = %q; want the start time and that it is healthy until then", head.text)
	}
	if got := getAll(t, c, p.upstream+"/", 3); len(got) != 1 || got[0] != "200 " {
		t.Errorf("answers while waiting = %q; want only 200 without X-Cbload-Fault", got)
	}
	first := parseSwitch(t, p.next(t, 5*time.Second))
	if first.phase != "baseline" || !within(first.read.Sub(start), 0, tol) || !within(first.at.Sub(start), 0, tol) {
		t.Errorf("first switch %q printed at %v, read at %v; want baseline at %v ± %v", first.phase, first.at, first.read, start, tol)
	}
	fault := parseSwitch(t, p.next(t, 5*time.Second))
	if fault.phase != "fault" || !within(fault.at.Sub(start), 300*time.Millisecond, tol) {
		t.Errorf("second switch %q printed at %v; want fault at %v ± %v", fault.phase, fault.at.Sub(start), 300*time.Millisecond, tol)
	}
	tr.CloseIdleConnections()
	if code := p.wait(t, 5*time.Second); code != exitOK {
		t.Errorf("serve exited %d; want 0 after the schedule\nstderr:\n%s", code, p.stderr)
	}
}

// TestServeScheduleSignals checks the exit code and the time to exit when
// SIGINT or SIGTERM comes while waiting for --start-at, during a phase and
// after the schedule.
func TestServeScheduleSignals(t *testing.T) {
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	tests := []struct {
		name   string
		args   []string
		when   string // signal once a line contains this
		sig    syscall.Signal
		code   int
		stderr string
		probe  string // with the signal due, the upstream answers this
	}{
		{"SIGINT while waiting", []string{"--phases", "1s,1s,1s", "--fault", "hang", "--start-at", later}, "  schedule  ", syscall.SIGINT, exitInterrupted, "cbload: interrupted before the schedule started", ""},
		{"SIGTERM while waiting", []string{"--phases", "1s,1s,1s", "--fault", "hang", "--start-at", later}, "  schedule  ", syscall.SIGTERM, exitInterrupted, "cbload: interrupted before the schedule started", ""},
		{"SIGINT in a phase", []string{"--phases", "200ms,30s,1s", "--fault", "hang"}, "phase 2/3 fault", syscall.SIGINT, exitInterrupted, "cbload: interrupted in phase 2/3 fault; the schedule did not finish", ""},
		{"SIGINT after the schedule", []string{"--phases", "100ms,100ms,100ms", "--fault", "hang"}, "schedule done", syscall.SIGINT, exitOK, "cbload serve: shutting down", "200 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startScheduleProc(t, tt.args...)
			p.until(t, tt.when, 10*time.Second)
			if tt.probe != "" {
				tr := &http.Transport{}
				c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
				if got := getAll(t, c, p.upstream+"/", 3); len(got) != 1 || got[0] != tt.probe {
					t.Errorf("answers = %q; want only %q", got, tt.probe)
				}
				tr.CloseIdleConnections()
			}
			signalled := time.Now()
			if err := p.cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			code := p.wait(t, 5*time.Second)
			if took := time.Since(signalled); took > time.Second {
				t.Errorf("serve took %v to exit after the signal; want under 1s", took)
			}
			if code != tt.code || !strings.Contains(p.stderr.String(), tt.stderr) {
				t.Errorf("serve exited %d, stderr %q; want %d and %q", code, p.stderr, tt.code, tt.stderr)
			}
		})
	}
}

// TestServeScheduleScenario runs a scenario file shared with cbload run:
// its seed, service time, capacity and phases (a repeat group included)
// apply, the
// sections for run are named once on stderr, and --fault replaces the
// faults of its fault phases.
func TestServeScheduleScenario(t *testing.T) {
	checkLeaks(t)
	file := filepath.Join(t.TempDir(), "s.yaml")
	writeFile(t, file, `seed: 7
load: {rate: 100}
gateway: {workers: 4}
upstream: {service_time: 3ms, addr: 127.0.0.1:9999, concurrency: 2, queue: 5}
arms: [breaker]
phases:
  - {name: base, duration: 100ms}
  - repeat: 2
    phases:
      - {name: down, duration: 100ms, faults: [refuse]}
      - {name: up, duration: 100ms}
thresholds: ["breaker.figures.opens >= 1"]
`)
	for _, tt := range []struct {
		extra  []string
		header string
		want   []string
	}{
		{nil, "5 phases over 500ms", []string{"1/5 base none", "2/5 down-1 refuse", "3/5 up-1 none", "4/5 down-2 refuse", "5/5 up-2 none"}},
		{[]string{"--fault", "error:502,rate=0.5"}, "5 phases over 500ms",
			[]string{"1/5 base none", "2/5 down-1 error:502,rate=0.5", "3/5 up-1 none", "4/5 down-2 error:502,rate=0.5", "5/5 up-2 none"}},
		{[]string{"--phases", "100ms,200ms,100ms"}, "3 phases over 400ms", []string{"1/3 baseline none", "2/3 fault refuse", "3/3 recovery none"}},
	} {
		var stdout, stderr bytes.Buffer
		root := newRootCmd(&stdout, &stderr)
		root.SetArgs(append([]string{"serve", "--addr", "127.0.0.1:0", "--control-addr", "", "--scenario", file, "--exit-after-schedule"}, tt.extra...))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := root.ExecuteContext(ctx)
		cancel()
		if err != nil {
			t.Fatalf("serve --scenario %v = %v; want nil\nstderr:\n%s", tt.extra, err, &stderr)
		}
		out := stdout.String()
		for _, want := range []string{"seed 7\n", "after 3ms ± 1ms", "2 workers, queue 5", "  schedule  " + tt.header + ", starting at launch\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("serve --scenario %v stdout lacks %q:\n%s", tt.extra, want, out)
			}
		}
		var got []string
		for _, l := range strings.Split(out, "\n") {
			if m := switchRE.FindStringSubmatch(l); m != nil {
				got = append(got, strings.TrimPrefix(m[3]+" "+m[7], "phase "))
			}
		}
		wantSwitches := append(tt.want, "schedule done none; exiting (--exit-after-schedule)")
		if strings.Join(got, "\n") != strings.Join(wantSwitches, "\n") {
			t.Errorf("serve --scenario %v switches:\n%s\nwant:\n%s", tt.extra, strings.Join(got, "\n"), strings.Join(wantSwitches, "\n"))
		}
		wantIgnored := "cbload serve: scenario " + file + ": ignoring load.rate, gateway, upstream.addr, arms, thresholds (they configure cbload run)\n"
		if first, _, _ := strings.Cut(stderr.String(), "cbload serve: shutting down"); first != wantIgnored {
			t.Errorf("serve --scenario %v stderr before shutting down = %q; want %q", tt.extra, first, wantIgnored)
		}
	}
}

// A bad upstream capacity in the scenario file is named by its line and
// path, not by the flag the user did not give.
func TestServeScenarioCapacityLine(t *testing.T) {
	checkLeaks(t)
	file := filepath.Join(t.TempDir(), "s.yaml")
	writeFile(t, file, "seed: 7\nupstream:\n  concurrency: -1\nphases:\n  - {name: a, duration: 1s, faults: [refuse]}\n")
	var stdout, stderr bytes.Buffer
	code := run([]string{"serve", "--scenario", file, "--addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0", "--exit-after-schedule"}, &stdout, &stderr)
	want := "scenario " + file + ": line 3: upstream.concurrency -1: want a number of workers"
	if code != exitUsage || !strings.Contains(stderr.String(), want) {
		t.Errorf("serve with upstream.concurrency -1 in the file = exit %d, stderr %q; want %d and %q", code, stderr.String(), exitUsage, want)
	}
}

// TestServeScheduleJoinsLate checks that a serve started after --start-at
// joins the schedule where the clock stands — one just past, and one well
// past, as a restarted pod is: one line says how late and in which phase,
// and the later switches come at their offsets from the original start.
func TestServeScheduleJoinsLate(t *testing.T) {
	checkLeaks(t)
	for _, tt := range []struct {
		ago      time.Duration
		phases   string
		total    string
		recovery time.Duration // the recovery phase's offset
	}{
		{time.Second, "500ms,2s,200ms", "2.7s", 2500 * time.Millisecond},
		{3 * time.Second, "1s,3s,300ms", "4.3s", 4 * time.Second},
	} {
		var stdout, stderr bytes.Buffer
		start := time.Now().Add(-tt.ago)
		root := newRootCmd(&stdout, &stderr)
		root.SetArgs([]string{"serve", "--addr", "127.0.0.1:0", "--control-addr", "", "--phases", tt.phases, "--fault", "error:503",
			"--start-at", start.UTC().Format(time.RFC3339Nano), "--exit-after-schedule"})
		if err := root.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("serve %v after --start-at = %v; want nil (join the schedule)\nstderr:\n%s", tt.ago, err, &stderr)
		}
		m := regexp.MustCompile(`(?m)^  schedule  3 phases over ` + regexp.QuoteMeta(tt.total) + `, started at \S+; joined (\S+) late, in phase 2/3 fault$`).FindStringSubmatch(stdout.String())
		if m == nil {
			t.Fatalf("%v late: stdout:\n%s\nwant a schedule line saying it joined late, in phase 2/3 fault", tt.ago, stdout.String())
		}
		if late, err := time.ParseDuration(m[1]); err != nil || !within(late, tt.ago, 500*time.Millisecond) {
			t.Errorf("joined %s late; want about %v", m[1], tt.ago)
		}
		var got []switchLine
		for _, l := range strings.Split(stdout.String(), "\n") {
			if switchRE.MatchString(l) {
				got = append(got, parseSwitch(t, serveLine{text: l}))
			}
		}
		if len(got) != 3 || got[0].phase != "fault" || got[1].phase != "recovery" || got[2].phase != "" {
			t.Fatalf("switches of a schedule started %v ago:\n%s\nwant fault (joined), recovery and the end", tt.ago, stdout.String())
		}
		if !within(got[0].offset, tt.ago, 500*time.Millisecond) || !within(got[1].at.Sub(start), tt.recovery, 150*time.Millisecond) {
			t.Errorf("%v late: joined at +%v, recovery at +%v; want about +%v and +%v", tt.ago, got[0].offset, got[1].at.Sub(start), tt.ago, tt.recovery)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestScheduleLimitsMatchScenario keeps a schedule's limits those of a
// scenario file, so that a file cbload run takes is one serve takes.
func TestScheduleLimitsMatchScenario(t *testing.T) {
	if sched.MaxPhases != scenario.MaxPhases || sched.MaxDuration != scenario.MaxDuration {
		t.Errorf("schedule limits %d phases, %v; scenario limits %d phases, %v; want them equal",
			sched.MaxPhases, sched.MaxDuration, scenario.MaxPhases, scenario.MaxDuration)
	}
}

func TestServeScheduleBadInput(t *testing.T) {
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "bad.yaml")
	writeFile(t, badYAML, "phases:\n  - {name: a, duration: 1s, fautls: [hang]}\n")
	negative := filepath.Join(dir, "negative.yaml")
	writeFile(t, negative, "load: {rate: 10}\nphases:\n  - {name: a, duration: 1s}\n  - {name: b, duration: -1s, faults: [hang]}\n")
	noFaults := filepath.Join(dir, "nofaults.yaml")
	writeFile(t, noFaults, "phases:\n  - {name: a, duration: 1s}\n")
	named := filepath.Join(dir, "named.yaml")
	writeFile(t, named, "phases:\n  - {name: a, duration: 1s}\n  - {name: b, duration: 1s, faults: [payments=hang]}\n")
	zeroService := filepath.Join(dir, "zero.yaml")
	writeFile(t, zeroService, "upstream:\n  service_time: 0s\nphases:\n  - {name: a, duration: 1s}\n")
	badJitter := filepath.Join(dir, "jitter.yaml")
	writeFile(t, badJitter, "upstream:\n  service_time: 2ms\n  jitter: -1ms\nphases:\n  - {name: a, duration: 1s}\n")
	slowdown := filepath.Join(dir, "slowdown.yaml")
	writeFile(t, slowdown, "phases:\n  - {name: a, duration: 1s}\n  - {name: b, duration: 1s, faults: [hang]}\n  - {name: cut, duration: 1s, faults: [slowdown:3x]}\n")
	trials := filepath.Join(dir, "trials.yaml")
	writeFile(t, trials, "phases:\n  - {name: a, duration: 1s, faults: [hang]}\ntrials: 0\n")
	twice := filepath.Join(dir, "twice.yaml")
	writeFile(t, twice, "targets:\n  - {name: a, url: \"http://127.0.0.1:1/\"}\n  - {name: a, url: \"http://127.0.0.1:2/\"}\nphases:\n  - {name: a, duration: 1s, faults: [hang]}\n")
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	far := time.Now().Add(25 * time.Hour).UTC().Format(time.RFC3339)
	soon := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339)
	serve := []string{"serve", "--addr", "127.0.0.1:0", "--control-addr", ""}
	seventeen := []string{"--phases", "1s,1s,1s"}
	for range 17 {
		seventeen = append(seventeen, "--fault", "hang")
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--phases", "1s,1s", "--fault", "hang"}, `--phases "1s,1s": want three durations baseline,fault,recovery`},
		{[]string{"--phases", "1s,soon,1s", "--fault", "hang"}, `--phases: fault duration "soon"`},
		{[]string{"--phases", "1s,-1s,1s", "--fault", "hang"}, `--phases "1s,-1s,1s": phases[1] (fault): duration -1s: want a positive duration`},
		{[]string{"--phases", "1s,0s,1s", "--fault", "hang"}, `--phases "1s,0s,1s": phases[1] (fault): duration 0s`},
		{[]string{"--phases", "59m,2m,1m", "--fault", "hang"}, `--phases "59m,2m,1m": phases[1] (fault): duration 2m0s makes the schedule longer than the limit of 1h0m0s`},
		{[]string{"--phases", "1s,1s,1s"}, "--fault: required"},
		{seventeen, "--fault: given 17 times; the limit is 16 faults in one phase"},
		{[]string{"--phases", "1s,1s,1s", "--fault", "bogus"}, `--fault: fault spec "bogus": unknown kind`},
		{[]string{"--scenario", filepath.Join(dir, "missing.yaml")}, "--scenario: open " + filepath.Join(dir, "missing.yaml")},
		{[]string{"--scenario", badYAML}, "scenario " + badYAML + ": line 2: "},
		{[]string{"--scenario", negative}, "scenario " + negative + ": line 4: phases[1] (b): duration -1s: want a positive duration"},
		{[]string{"--scenario", zeroService}, "scenario " + zeroService + ": line 2: upstream.service_time 0s: want a positive duration"},
		{[]string{"--scenario", badJitter}, "scenario " + badJitter + ": line 3: upstream.jitter -1ms: want a duration of zero or more"},
		// The flag replaces the file's value, so the message names the flag.
		{[]string{"--scenario", zeroService, "--service-time", "-1s"}, "--service-time -1s: want a positive duration"},
		{[]string{"--scenario", noFaults, "--fault", "hang"}, "--fault: scenario " + noFaults + " has no phase with faults to replace"},
		{[]string{"--phases", "1s,1s,1s", "--fault", "hang", "--start-at", "tomorrow"}, `--start-at "tomorrow": want an RFC 3339 time like 2026-12-01T12:00:00Z`},
		{[]string{"--phases", "1s,1s,1s", "--fault", "hang", "--start-at", "2026-12-01 12:00:00"}, `--start-at "2026-12-01 12:00:00": want an RFC 3339 time`},
		{[]string{"--phases", "1s,1s,1s", "--fault", "hang", "--start-at", past}, "--start-at " + past + " is 1m"},
		{[]string{"--phases", "1s,1s,1s", "--fault", "hang", "--start-at", far}, "ahead; the limit is 24h0m0s"},
		{[]string{"--phases", "1s,1s,1s", "--fault", "hang", "--start-at", past}, "in the past: the 3s schedule is over; want a time to come, or one less than 3s ago to join it"},
		{[]string{"--phases", "1s,1s,1s", "--fault", "hang", "--start-at", "0001-01-01T00:00:00Z"}, "--start-at 0001-01-01T00:00:00Z is "},
		{[]string{"--phases", "1s,1s,1s", "--fault", "hang", "--start-at", far}, "--start-at " + far + " is 2"},
		{[]string{"--start-at", far}, "--start-at: there is no schedule to start; give --phases or --scenario"},
		{[]string{"--arms", "a,b"}, "--arms: describes the run a schedule is for, and there is no schedule; give --phases or --scenario"},
		{[]string{"--trials", "2"}, "--trials: describes the run a schedule is for"},
		{[]string{"--client-timeout", "1s"}, "--client-timeout: describes the run a schedule is for"},
		{[]string{"--phases", "1s,1s,1s", "--fault", "hang", "--arms", "a,b,a"}, `--arms "a,b,a": "a" is named twice; want each of the run's target names once`},
		{[]string{"--phases", "1s,1s,1s", "--fault", "hang", "--arms", ""}, "--arms: empty; want the run's target names in order"},
		{[]string{"--phases", "1s,1s,1s", "--fault", "hang", "--arms", "a,,b"}, `--arms "a,,b": an empty name`},
		{[]string{"--phases", "1s,1s,1s", "--fault", "hang", "--arms", "a,b c"}, `--arms "a,b c": "b c": want a target name, a letter followed by letters, digits, _ or -`},
		{[]string{"--phases", "1s,1s,1s", "--fault", "hang", "--trials", "0"}, "--trials 0: want 1 to 20, the run's --trials"},
		{[]string{"--phases", "1s,1s,1s", "--fault", "hang", "--trials", "21"}, "--trials 21: want 1 to 20"},
		{[]string{"--phases", "1s,1s,1s", "--fault", "hang", "--client-timeout", "0s"}, "--client-timeout 0s: want a positive duration up to 1h0m0s like 3s"},
		// The arm spacing (schedule + client timeout) once overflowed: a
		// start 3s ahead was "-2s in the past: the -1944095h… schedule is over".
		{[]string{"--phases", "1s,1s,1s", "--fault", "hang", "--client-timeout", "2562047h", "--start-at", soon},
			"--client-timeout 2562047h0m0s: want a positive duration up to 1h0m0s like 3s"},
		{[]string{"--phases", "1s,1s,1s", "--fault", "hang", "--start-at", "9999-12-31T23:59:59Z"},
			"--start-at 9999-12-31T23:59:59Z is about " + strconv.Itoa(9999-time.Now().Year()) + " years ahead; the limit is 24h0m0s"},
		{[]string{"--phases", "1s,1s,1s", "--fault", "hang", "--start-at", "0001-01-01T00:00:00Z"},
			"--start-at 0001-01-01T00:00:00Z is about " + strconv.Itoa(time.Now().Year()-1) + " years in the past"},
		{[]string{"--phases", "1s,1s,1s", "--fault", "hang", "--start-at", strings.Repeat("9", 5000)},
			`--start-at "` + strings.Repeat("9", 64) + `…": want an RFC 3339 time`},
		{[]string{"--proxy-to", "http://127.0.0.1:0"}, `--proxy-to "http://127.0.0.1:0": port "0": want a number from 1 to 65535`},
		{[]string{"--scenario", trials}, "scenario " + trials + ": line 3: trials 0: want 1 to 20, the run's --trials"},
		{[]string{"--scenario", twice}, "scenario " + twice + ": line 3: targets[1].name: \"a\" is named twice"},
		{[]string{"--phases", "1s,1s,1s", "--fault", "hang", "--arms", "a,b", "--start-at", past}, "in the past: the 10s schedule is over; want a time to come, or one less than 10s ago to join it"},
		{[]string{"--fault", "hang", "--exit-after-schedule"}, "--exit-after-schedule: there is no schedule"},
		{[]string{"--scenario", named}, "scenario " + named + ": line 3: phases[1] (b): fault payments=hang: serve runs one upstream; faults named NAME=SPEC are for cbload run --upstream NAME=ADDR"},
		{[]string{"--proxy-to", "http://127.0.0.1:9", "--phases", "1s,1s,1s", "--fault", "slowdown:2x"},
			`phase 2/3 fault: fault "slowdown:2x": slowdown scales the synthetic service time, and proxy mode has none`},
		{[]string{"--proxy-to", "http://127.0.0.1:9", "--scenario", slowdown},
			`phase 3/3 cut: fault "slowdown:3x": slowdown scales the synthetic service time, and proxy mode has none`},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(append(serve, tt.args...), &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("cbload serve %q = exit %d, stderr %q; want exit 2, stderr containing %q", tt.args, code, stderr.String(), tt.want)
		}
		if lines := strings.Count(strings.TrimSpace(stderr.String()), "\n"); lines > 0 {
			t.Errorf("cbload serve %q: stderr has %d lines; want one:\n%s", tt.args, lines+1, stderr.String())
		}
		if stdout.Len() > 0 {
			t.Errorf("cbload serve %q: stdout = %q; want nothing (it must not start)", tt.args, stdout.String())
		}
	}
}

// TestServeScheduleFollowsEveryArmRun runs a real serve process on a
// scenario of two targets and two trials, as the one upstream of a run
// started with --start-at: it follows the whole run's schedule, the one
// harness gives the run's arms (UpstreamSchedule) — every switch printed at
// that schedule's time with its arm run and phase, healthy between arm
// runs — and the second arm's fault phase injects the fault at its
// wall-clock time, not only the first arm's.
func TestServeScheduleFollowsEveryArmRun(t *testing.T) {
	const tol = 200 * time.Millisecond
	file := filepath.Join(t.TempDir(), "s.yaml")
	writeFile(t, file, `trials: 2
load: {rate: 50, client_timeout: 200ms}
targets:
  - {name: a, url: "http://127.0.0.1:1/api"}
  - {name: b, url: "http://127.0.0.1:2/api"}
phases:
  - {name: base, duration: 300ms}
  - {name: down, duration: 600ms, faults: ["error:503"]}
  - {name: up, duration: 300ms}
`)
	fault, err := faultserver.ParseSpec("error:503")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(2 * time.Second).Round(time.Millisecond)
	run := harness.Config{
		StartAt: start, Trials: 2, ClientTimeout: 200 * time.Millisecond,
		Targets: []harness.Target{{Name: "a"}, {Name: "b"}},
		Phases: []harness.Phase{
			{Name: "base", Duration: 300 * time.Millisecond},
			{Name: "down", Duration: 600 * time.Millisecond, Faults: []faultserver.Spec{fault}},
			{Name: "up", Duration: 300 * time.Millisecond},
		},
	}
	want := run.UpstreamSchedule()
	if len(want) != 16 || want[5].Run != 1 || want[5].Arm != "b" || want[5].Phase != "down" {
		t.Fatalf("the run's schedule has %d changes, change 5 %+v; want 4 per arm run, change 5 arm b's fault", len(want), want[5])
	}

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	p := startScheduleProc(t, "--scenario", file, "--start-at", start.UTC().Format(time.RFC3339Nano), "--exit-after-schedule")
	head := p.until(t, "  schedule  ", 5*time.Second)
	wantHead := "  schedule  3 phases over 1.2s for each of 4 arm runs (a, b, b, a), one every 2.4s: 8.4s in all, starting at " + start.UTC().Format(time.RFC3339)
	if !strings.HasPrefix(head.text, wantHead) {
		t.Errorf("schedule line = %q; want it to start %q", head.text, wantHead)
	}
	stamp := func(at time.Time) string { return at.UTC().Format("2006-01-02T15:04:05.000Z07:00") }
	label := func(c harness.FaultChange) string {
		return fmt.Sprintf("arm %d/4 %s trial %d/2 ", c.Run+1, c.Arm, c.Trial+1)
	}
	lineRE := regexp.MustCompile(`^(\S+Z)  \+\d+\.\d{3}s  (.*)$`)
	for i, w := range want {
		l := p.next(t, 10*time.Second)
		m := lineRE.FindStringSubmatch(l.text)
		if m == nil {
			t.Fatalf("line %q is not a switch line", l.text)
		}
		var what string
		switch {
		case i == len(want)-1:
			what = "schedule done  faults none; exiting (--exit-after-schedule)"
		case w.Index == len(run.Phases):
			what = fmt.Sprintf("%sdone  faults none; healthy until %sat %s", label(w), label(want[i+1]), stamp(want[i+1].At))
		default:
			what = fmt.Sprintf("%sphase %d/3 %s  faults %s", label(w), w.Index+1, w.Phase, harness.FaultNames(w.Faults))
		}
		if m[2] != what {
			t.Errorf("switch %d = %q; want %q", i, m[2], what)
		}
		at, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil || !within(at.Sub(w.At), 0, tol) || !within(l.at.Sub(w.At), 0, tol) {
			t.Errorf("switch %d (%s) printed at %s, read at %v; want %v ± %v", i, m[2], m[1], l.at.UTC(), w.At.UTC(), tol)
		}
		// The second arm run's own fault, and its healthy end.
		switch {
		case w.Run == 1 && w.Phase == "down":
			if got := getAll(t, c, p.upstream+"/api", 3); len(got) != 1 || got[0] != "503 error" {
				t.Errorf("answers in arm b's fault phase = %q; want only 503 error", got)
			}
		case w.Run == 1 && w.Index == len(run.Phases):
			if got := getAll(t, c, p.upstream+"/api", 3); len(got) != 1 || got[0] != "200 " {
				t.Errorf("answers after arm b's run = %q; want only 200", got)
			}
		}
	}
	tr.CloseIdleConnections()
	if code := p.wait(t, 5*time.Second); code != exitOK {
		t.Errorf("serve exited %d; want 0 after the schedule\nstderr:\n%s", code, p.stderr)
	}
}

// TestServeScheduleJoinsLateInLaterArm checks that a serve (re)started
// while the run's second arm runs, or in the pause before it, joins there:
// it names the arm run and phase, and the later switches come at the run's
// times.
func TestServeScheduleJoinsLateInLaterArm(t *testing.T) {
	checkLeaks(t)
	// One arm run: 500ms + 1s + 500ms; the next starts 2s + 100ms + 1s on.
	const span = 3100 * time.Millisecond
	for _, tt := range []struct {
		ago    time.Duration
		where  string
		first  string // the first switch line's text after the offset
		second time.Duration
	}{
		{span + 700*time.Millisecond, "arm 2/2 b phase 2/3 fault", "arm 2/2 b phase 2/3 fault  faults error:503", span + 1500*time.Millisecond},
		{2500 * time.Millisecond, "the healthy pause after arm 1/2 a", "arm 1/2 a done  faults none; healthy until arm 2/2 b at ", span},
	} {
		var stdout, stderr bytes.Buffer
		start := time.Now().Add(-tt.ago)
		root := newRootCmd(&stdout, &stderr)
		root.SetArgs([]string{"serve", "--addr", "127.0.0.1:0", "--control-addr", "", "--phases", "500ms,1s,500ms", "--fault", "error:503",
			"--arms", "a,b", "--client-timeout", "100ms", "--start-at", start.UTC().Format(time.RFC3339Nano), "--exit-after-schedule"})
		if err := root.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("serve %v after --start-at = %v; want nil (join the schedule)\nstderr:\n%s", tt.ago, err, &stderr)
		}
		out := stdout.String()
		m := regexp.MustCompile(`(?m)^  schedule  3 phases over 2s for each of 2 arm runs \(a, b\), one every 3.1s: 5.1s in all, started at \S+; joined (\S+) late, in ` + regexp.QuoteMeta(tt.where) + `$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("%v late: stdout:\n%s\nwant a schedule line saying it joined late, in %s", tt.ago, out, tt.where)
		}
		if late, err := time.ParseDuration(m[1]); err != nil || !within(late, tt.ago, 500*time.Millisecond) {
			t.Errorf("joined %s late; want about %v", m[1], tt.ago)
		}
		var lines []string
		for _, l := range strings.Split(out, "\n") {
			if _, rest, ok := strings.Cut(l, "s  "); ok && strings.HasPrefix(l, "20") {
				lines = append(lines, l)
				if len(lines) == 1 && !strings.HasPrefix(rest, tt.first) {
					t.Errorf("%v late: first switch %q; want it to start %q", tt.ago, rest, tt.first)
				}
			}
		}
		if len(lines) < 2 {
			t.Fatalf("%v late: switches:\n%s\nwant at least two", tt.ago, out)
		}
		at, err := time.Parse(time.RFC3339Nano, strings.Fields(lines[1])[0])
		if err != nil || !within(at.Sub(start), tt.second, 150*time.Millisecond) {
			t.Errorf("%v late: second switch %q; want it at +%v ± 150ms", tt.ago, lines[1], tt.second)
		}
	}
}

// TestServeScheduleWithTwoArmRun runs what the shards of a run do, on one
// machine: a real serve process follows a scenario of two targets from
// --start-at, and cbload run takes the same file and start time with its
// upstream external — serve's, which a small service calls. Both arms meet
// the fault in their fault phase and a healthy upstream in their baseline
// and recovery: the second arm too, which starts one arm span later.
func TestServeScheduleWithTwoArmRun(t *testing.T) {
	var upstream atomic.Value // serve's URL, once it listens
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api" {
			return
		}
		u, _ := upstream.Load().(string)
		resp, err := client.Get(u + "/dep")
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer svc.Close()
	file := filepath.Join(t.TempDir(), "s.yaml")
	writeFile(t, file, `seed: 5
load: {rate: 40, client_timeout: 2s}
collateral: /local
targets:
  - {name: a, url: "`+svc.URL+`/api"}
  - {name: b, url: "`+svc.URL+`/api"}
phases:
  - {name: baseline, duration: 1s}
  - {name: fault, duration: 2s, faults: ["error:503"]}
  - {name: recovery, duration: 1s}
`)
	buildBinary(t, "github.com/cbload/cbload/cmd/cbload")
	start := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339Nano)
	p := startScheduleProc(t, "--scenario", file, "--start-at", start, "--exit-after-schedule")
	upstream.Store(p.upstream)

	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--scenario", file, "--start-at", start, "--upstream-external", "--progress", "never", "--no-step-summary", "--out", out}, &stdout, &stderr)
	// 4: a loaded test machine may fail a timing check.
	if code != exitOK && code != exitNotValid {
		t.Fatalf("cbload run: exit %d\n%s\n%s", code, &stdout, &stderr)
	}
	r := readReport(t, filepath.Join(out, "report.json"))
	for _, name := range []string{"a", "b"} {
		a := r.Arm(name)
		if a == nil {
			t.Fatalf("the report has no arm %s", name)
		}
		for _, ph := range []struct {
			name   string
			lo, hi float64
		}{{"baseline", 0.8, 1}, {"fault", 0, 0.2}, {"recovery", 0.8, 1}} {
			if s := a.Summary[ph.name].API; s.Requests == 0 || s.SuccessRatio < ph.lo || s.SuccessRatio > ph.hi {
				t.Errorf("arm %s %s: /api success %.2f of %d; want %.1f to %.1f (the upstream's faults on the run's schedule)", name, ph.name, s.SuccessRatio, s.Requests, ph.lo, ph.hi)
			}
		}
	}
	p.until(t, "arm 2/2 b phase 2/3 fault  faults error:503", 15*time.Second)
	if code := p.wait(t, 15*time.Second); code != exitOK {
		t.Errorf("serve exited %d; want 0 after the schedule\nstderr:\n%s", code, p.stderr)
	}
}
