// Command bench measures cbload against its performance goals in one
// invocation on one machine and prints each figure beside its goal. It is
// what `make bench` runs; see the README's Performance section.
//
// Figures are ratios or accuracies measured side by side, never absolute
// speeds compared with a constant: they hold on any machine that can run
// the default experiment.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/cbload/cbload/reports"
)

func main() {
	long := flag.Duration("long", 10*time.Minute, "duration of the long run in the memory comparison (0 skips it)")
	short := flag.Duration("short", time.Minute, "duration of the short run in the memory comparison")
	bin := flag.String("cbload", "bin/cbload", "the cbload binary to measure")
	vegetaBin := flag.String("vegeta", "", "the vegeta CLI (v12.13.0) to compare the highest held rate with (empty: skip)")
	wrkBin := flag.String("wrk", "", "wrk (Debian's package), the closed-loop reference for the machine's limit (empty: skip that line)")
	heldOnly := flag.Bool("held-only", false, "measure only the highest rate held (needs -vegeta)")
	smoke := flag.Bool("smoke", false, "tiny settings that only prove the bench runs end to end (seconds, not minutes); its figures mean nothing")
	flag.Parse()
	o := options{bin: *bin, vegeta: *vegetaBin, wrk: *wrkBin, heldOnly: *heldOnly, short: *short, long: *long,
		rounds: 3, maxRate: maxHeldRate, heldFor: 5 * time.Second, cpuFor: 10 * time.Second, pipelineN: 20000, pipelineRounds: 3}
	if *smoke {
		o.long, o.maxRate, o.heldFor, o.cpuFor, o.pipelineN, o.smoke = 0, 200, 3*time.Second, 3*time.Second, 500, true
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the bench's settings.
type options struct {
	bin, vegeta, wrk string
	heldOnly, smoke  bool
	short, long      time.Duration
	// rounds is how many times each load generator's held-rate search
	// runs, interleaved; maxRate the highest rate it tries; heldFor how
	// long each rate is tried; cpuFor how long each try of the CPU
	// figure runs.
	rounds, pipelineRounds int
	maxRate                float64
	heldFor, cpuFor        time.Duration
	pipelineN              int
}

type figure struct {
	name, value, goal string
	ok                bool
}

func run(o options) error {
	bin, vegetaBin := o.bin, o.vegeta
	fmt.Printf("cbload bench on %s/%s, %d CPUs, %s\n\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), time.Now().UTC().Format(time.DateOnly))
	if o.smoke {
		fmt.Println("smoke mode: tiny settings that prove the bench runs; the figures mean nothing")
	}
	var figs []figure
	add := func(f figure) {
		figs = append(figs, f)
		mark := "ok"
		if !f.ok {
			mark = "MISSED"
		}
		fmt.Printf("%-34s %-40s goal %-24s %s\n", f.name, f.value, f.goal, mark)
	}

	tmp, err := os.MkdirTemp("", "cbload-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if o.heldOnly {
		if vegetaBin == "" {
			return fmt.Errorf("-held-only needs -vegeta")
		}
		return heldFigure(o, tmp, add)
	}

	ratios, err := pipeline(o)
	if err != nil {
		return err
	}
	pr := summarize(ratios)
	add(figure{"pipeline throughput (closed loop)", fmt.Sprintf("%.2f× baseline (%s)", pr.median, pr.span()), "≥ 1.00 × baseline", pr.median >= 1})
	if o.smoke {
		if vegetaBin != "" {
			return heldFigure(o, tmp, add)
		}
		return nil
	}

	// A fault that matches no request: the whole run is healthy.
	r, _, err := cbload(bin, filepath.Join(tmp, "rate"), "--fault", "error:503,path=/never", "--rate", "2000",
		"--arms", "breaker", "--phases", "2s,6s,2s", "--gateway-workers", "256")
	if err != nil {
		return err
	}
	var sent int64
	for _, s := range r.Arms[0].Series {
		sent += s.Sent
	}
	achieved := float64(sent) / 10
	add(figure{"rate accuracy at 2000 req/s", fmt.Sprintf("%.1f req/s (%+.2f%%)", achieved, (achieved/2000-1)*100), "within ±1%", achieved >= 1980 && achieved <= 2020})

	r, _, err = cbload(bin, filepath.Join(tmp, "latency"), "--fault", "latency:100ms", "--rate", "1000",
		"--arms", "breaker", "--phases", "1s,10s,1s", "--gateway-workers", "512", "--call-timeout", "1s",
		"--queue-timeout", "1s", "--client-timeout", "5s", "--collateral-share", "0",
		"--service-time", "1us", "--jitter", "0s")
	if err != nil {
		return err
	}
	// As the gateway timed its upstream calls: what the fault costs, without
	// the gateway's own queueing or the load runner's share.
	lat := r.Arms[0].Summary["fault"].UpstreamCallMS
	if lat == nil {
		return fmt.Errorf("the report has no gateway-observed upstream latency")
	}
	add(figure{"latency:100ms at 1000 req/s, p50", fmt.Sprintf("%.1f ms", lat.P50), "≤ 102 ms", lat.P50 <= 102})
	add(figure{"latency:100ms at 1000 req/s, p99", fmt.Sprintf("%.1f ms", lat.P99), "≤ 105 ms", lat.P99 <= 105})

	if vegetaBin != "" {
		if err := heldFigure(o, tmp, add); err != nil {
			return err
		}
	}

	if long := o.long; long > 0 {
		short := o.short
		rss := func(d time.Duration) (int64, error) {
			secs := int(d.Seconds())
			_, peak, err := cbload(bin, filepath.Join(tmp, "mem"+strconv.Itoa(secs)), "--fault", "latency",
				"--arms", "no-breaker", "--phases", fmt.Sprintf("%ds,%ds,%ds", secs/6, secs/2, secs-secs/6-secs/2), "--force")
			return peak, err
		}
		s, err := rss(short)
		if err != nil {
			return err
		}
		l, err := rss(long)
		if err != nil {
			return err
		}
		ratio := float64(l) / float64(s)
		add(figure{fmt.Sprintf("peak RSS, %v run vs %v run", long, short), fmt.Sprintf("%d vs %d MiB = %.2f×", l>>10, s>>10, ratio), "≤ 1.20×", ratio <= 1.2})
	}

	missed := slices.IndexFunc(figs, func(f figure) bool { return !f.ok }) >= 0
	if missed {
		fmt.Println("\nsome goals were missed")
	}
	return nil
}

// cbload runs one experiment and returns its report and peak RSS in KiB.
func cbload(bin, out string, args ...string) (*reports.Report, int64, error) {
	r, run, err := cbloadUsage(bin, out, args...)
	if err != nil {
		return nil, 0, err
	}
	return r, run.peakKiB, nil
}

// process is what a finished process used: its resource usage and the
// peak of its resident set.
type process struct {
	ru      *syscall.Rusage
	peakKiB int64
}

// cbloadUsage runs one experiment and returns its report and what the
// process used; the usage also with the error of a process that ran and
// failed.
func cbloadUsage(bin, out string, args ...string) (*reports.Report, process, error) {
	args = append([]string{"run", "--out", out, "--seed", "1", "--progress", "never"}, args...)
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	p, err := runWatched(cmd)
	if err != nil {
		return nil, p, fmt.Errorf("%s %v: %w\n%s", bin, args, err, stderr.Bytes())
	}
	r, err := readReport(filepath.Join(out, "report.json"))
	return r, p, err
}

// runWatched runs cmd and returns what it used. The peak resident set is
// the process's VmHWM, read from /proc every 20 ms while it runs, not the
// rusage's Maxrss: Linux sets a child's Maxrss at exec to at least the
// high-water mark of the address space it replaces, which for a Go
// parent's exec is the parent's own — after this bench's held-rate search
// that read 416 MiB for every run.
func runWatched(cmd *exec.Cmd) (process, error) {
	if err := cmd.Start(); err != nil {
		return process{}, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var peak int64
	for {
		select {
		case err := <-done:
			p := process{ru: cmd.ProcessState.SysUsage().(*syscall.Rusage), peakKiB: peak}
			if peak == 0 { // no /proc: the rusage's figure, with its caveat
				p.peakKiB = p.ru.Maxrss
			}
			return p, err
		case <-tick.C:
			peak = max(peak, vmHWM(status))
		}
	}
}

var hwmLine = regexp.MustCompile(`(?m)^VmHWM:\s+(\d+) kB`)

// vmHWM reads the VmHWM line (KiB) of a /proc/PID/status file; 0 when it
// cannot.
func vmHWM(status string) int64 {
	b, err := os.ReadFile(status)
	if err != nil {
		return 0
	}
	m := hwmLine.FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// cpuUS is the CPU time, user and system, a process's usage records, in µs.
func cpuUS(ru *syscall.Rusage) float64 {
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e3
}

var benchLine = regexp.MustCompile(`^Benchmark(Pipeline\w+)-\d+\s+\d+\s+[\d.]+ ns/op\s+([\d.]+) req/s`)

// pipeline runs the closed-loop pipeline benchmarks o.pipelineRounds times
// each, interleaved (cbload, baseline, cbload, …) from one test binary, so
// both see the machine's noise alike; it returns each round's ratio.
func pipeline(o options) ([]float64, error) {
	tmp, err := os.MkdirTemp("", "cbload-bench-pipeline-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	test := filepath.Join(tmp, "harness.test")
	build := exec.Command("go", "test", "-c", "-o", test, "./harness")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("build the pipeline benchmarks: %w", err)
	}
	one := func(name string) (float64, error) {
		cmd := exec.Command(test, "-test.run", "^$", "-test.bench", "^Benchmark"+name+"$", "-test.benchtime", fmt.Sprintf("%dx", o.pipelineN))
		cmd.Dir = "harness"
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return 0, fmt.Errorf("pipeline benchmark %s: %w\n%s", name, err, out)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if m := benchLine.FindStringSubmatch(sc.Text()); m != nil && m[1] == name {
				return strconv.ParseFloat(m[2], 64)
			}
		}
		return 0, fmt.Errorf("pipeline benchmark %s printed no throughput:\n%s", name, out)
	}
	var ratios []float64
	for i := range o.pipelineRounds {
		cb, err := one("PipelineCbload")
		if err != nil {
			return nil, err
		}
		base, err := one("PipelineBaseline")
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "  pipeline round %d: cbload %.0f, baseline %.0f req/s = %.2f×\n", i+1, cb, base, cb/base)
		ratios = append(ratios, cb/base)
	}
	return ratios, nil
}

// spread is a median with its range.
type spread struct{ median, lo, hi float64 }

func summarize(v []float64) spread {
	if len(v) == 0 {
		return spread{}
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return spread{median: v[len(v)/2], lo: v[0], hi: v[len(v)-1]}
}

// span writes the range of ratios.
func (s spread) span() string { return fmt.Sprintf("%.2f–%.2f", s.lo, s.hi) }

func readReport(path string) (*reports.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r reports.Report
	if err := json.NewDecoder(f).Decode(&r); err != nil {
		return nil, err
	}
	return &r, nil
}
