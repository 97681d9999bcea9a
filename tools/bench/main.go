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
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
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
		rounds: 3, maxRate: maxHeldRate, heldFor: 5 * time.Second, pipelineN: 20000, pipelineRounds: 3}
	if *smoke {
		o.long, o.maxRate, o.heldFor, o.pipelineN, o.smoke = 0, 200, 3*time.Second, 500, true
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
	// long each rate is tried.
	rounds, pipelineRounds int
	maxRate                float64
	heldFor                time.Duration
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
	r, ru, err := cbloadUsage(bin, out, args...)
	if err != nil {
		return nil, 0, err
	}
	return r, ru.Maxrss, nil
}

// cbloadUsage runs one experiment and returns its report and the
// process's resource usage; the usage also with the error of a process
// that ran and failed.
func cbloadUsage(bin, out string, args ...string) (*reports.Report, *syscall.Rusage, error) {
	args = append([]string{"run", "--out", out, "--seed", "1", "--progress", "never"}, args...)
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		var ru *syscall.Rusage
		if cmd.ProcessState != nil {
			ru = cmd.ProcessState.SysUsage().(*syscall.Rusage)
		}
		return nil, ru, fmt.Errorf("%s %v: %w\n%s", bin, args, err, stderr.Bytes())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r, err := readReport(filepath.Join(out, "report.json"))
	return r, ru, err
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

// heldFigure adds the highest rate one process holds, cbload beside vegeta
// as the median of o.rounds interleaved searches; with o.wrk, the held
// rate as a share of what wrk reaches closed-loop on the same target; and
// the CPU each load generator spends per request.
func heldFigure(o options, tmp string, add func(figure)) error {
	lagLimitMS = 1 + timerFloorMS()
	fmt.Printf("  timer floor: a 50µs sleep here takes %.2f ms more at p99 (Go's timers cannot fire sooner), so the send lag limit is 1 ms above it: %.2f ms\n", lagLimitMS-1, lagLimitMS)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/"
	gens := loadGens(o, tmp, url)

	var ratios, cbRates, vgRates []float64
	var whys []string
	for round := range o.rounds {
		var got [2]held
		for i, g := range gens {
			h, err := highestRate(g, o)
			if err != nil {
				return err
			}
			got[i] = h
			whys = append(whys, fmt.Sprintf("round %d %s", round+1, h.failed))
		}
		cbRates, vgRates = append(cbRates, got[0].rate), append(vgRates, got[1].rate)
		if got[1].rate > 0 {
			ratios = append(ratios, got[0].rate/got[1].rate)
		}
	}
	c, v, r := summarize(cbRates), summarize(vgRates), summarize(ratios)
	// Neither holding the lowest rate tried says the machine is too busy
	// to tell: not a pass.
	value := fmt.Sprintf("%.2f× vegeta (%s; median %.0f vs %.0f req/s)", r.median, r.span(), c.median, v.median)
	if len(ratios) < o.rounds {
		value = fmt.Sprintf("vegeta held < %d req/s in %d of %d rounds", firstHeldRate, o.rounds-len(ratios), o.rounds)
	}
	add(figure{"highest rate held, one process", value, "≥ 1.00 × vegeta's", len(ratios) == o.rounds && r.median >= 1})
	fmt.Printf("  held: every full second within ±1%% of the rate and send lag p99 < %.2f ms; above the highest rate held: %s\n", lagLimitMS, strings.Join(whys, "; "))

	if o.wrk == "" {
		fmt.Println("  wrk not given (-wrk): no closed-loop reference for the machine's limit; install Debian's wrk package")
	} else {
		settlePorts()
		max, err := wrkMax(o.wrk, url, o.heldFor)
		if err != nil {
			return err
		}
		add(figure{"held rate, share of wrk's maximum", fmt.Sprintf("%.0f of %.0f req/s = %.2f", c.median, max, c.median/max), "— (the machine's limit)", true})
	}

	// CPU per request, at a rate both held in every round.
	rate := math.Max(firstHeldRate, math.Round(math.Min(slices.Min(cbRates), slices.Min(vgRates))/2))
	var cpu [2]float64
	for i, g := range gens {
		settlePorts()
		_, us, err := g.judge(rate)
		if err != nil {
			return err
		}
		cpu[i] = us
	}
	add(figure{fmt.Sprintf("CPU per request at %.0f req/s", rate), fmt.Sprintf("cbload %.1f, vegeta %.1f µs = %.2f×", cpu[0], cpu[1], cpu[0]/cpu[1]), "≤ 1.00 × vegeta's", cpu[0] <= cpu[1]})
	return nil
}

// loadGen is a load generator the held-rate search judges: judge runs it
// at a rate for the search's duration and says why the rate did not hold
// ("" when it did) and how many µs of CPU its process spent per request.
type loadGen struct {
	name  string
	judge func(rate float64) (why string, cpuUS float64, err error)
}

// loadGens returns cbload and the vegeta CLI, in that order, each sending
// to url.
func loadGens(o options, tmp, url string) []loadGen {
	return []loadGen{
		{"cbload", func(rate float64) (string, float64, error) {
			return cbloadHolds(o.bin, filepath.Join(tmp, "held"), url, rate, o.heldFor)
		}},
		{"vegeta", func(rate float64) (string, float64, error) { return vegetaHolds(o.vegeta, url, rate, o.heldFor) }},
	}
}

// wrkMax is the most requests a second wrk gets answered by url, closed
// loop (64 connections, 2 threads) over d: what any HTTP/1.1 client
// reaches on this machine.
func wrkMax(wrk, url string, d time.Duration) (float64, error) {
	out, err := exec.Command(wrk, "-t2", "-c64", "-d"+strconv.Itoa(int(d.Seconds()))+"s", url).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("wrk: %w\n%s", err, out)
	}
	m := regexp.MustCompile(`Requests/sec:\s+([\d.]+)`).FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("wrk printed no Requests/sec:\n%s", out)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err == nil && v == 0 {
		err = fmt.Errorf("wrk got no answers:\n%s", out)
	}
	return v, err
}

// held is the highest rate a load generator held, and why the next rate
// tried did not hold.
type held struct {
	rate   float64
	failed string
}

// highestRate finds the highest constant rate g holds against the trivial
// target: every doubling from firstHeldRate to o.maxRate, then bisection
// between the highest rate held and the next that did not, until the step
// is under 2% of the rate (five steps at most): finer near the edge.
func highestRate(g loadGen, o options) (held, error) {
	try := func(rate float64) (string, error) {
		settlePorts()
		why, _, err := g.judge(rate)
		if err == nil {
			fmt.Fprintf(os.Stderr, "  %s at %.0f req/s: %s\n", g.name, rate, cmp.Or(why, "held"))
		}
		return why, err
	}
	// Every doubling is tried, not only up to the first that fails: a
	// pacer's lag need not grow with the rate (at low rates it sleeps,
	// and a coarse timer makes it late; at high rates it may not).
	var ok, bad float64
	var why string
	for rate := float64(firstHeldRate); ; rate = min(rate*2, o.maxRate) {
		w, err := try(rate)
		if err != nil {
			return held{}, err
		}
		switch {
		case w == "":
			ok, bad, why = rate, 0, ""
		case bad == 0:
			bad, why = rate, w
		}
		if rate >= o.maxRate {
			break
		}
	}
	for range 5 {
		if bad == 0 || ok == 0 || bad-ok < 0.02*ok {
			break
		}
		mid := math.Round((ok + bad) / 2)
		w, err := try(mid)
		if err != nil {
			return held{}, err
		}
		if w == "" {
			ok = mid
		} else {
			bad, why = mid, w
		}
	}
	if why == "" {
		why = fmt.Sprintf("held up to %.0f req/s, the most tried", o.maxRate)
	}
	return held{rate: ok, failed: fmt.Sprintf("%s: %s", g.name, why)}, nil
}

// settlePorts waits, up to portSettleMax, until the machine's TCP sockets
// in TIME_WAIT (/proc/net/sockstat's tw) are fewer than portSettleTW. A try
// at 20,000 req/s leaves tens of thousands of them for a minute — about
// the whole ephemeral port range — and the next try would then fail to
// connect for want of a port, not for its own pace: each try starts from a
// free port range instead. Where sockstat cannot be read it does nothing.
func settlePorts() {
	start := time.Now()
	for waited := false; ; waited = true {
		b, err := os.ReadFile("/proc/net/sockstat")
		m := regexp.MustCompile(`\btw (\d+)`).FindSubmatch(b)
		if err != nil || m == nil {
			return
		}
		tw, _ := strconv.Atoi(string(m[1]))
		if tw < portSettleTW || time.Since(start) > portSettleMax {
			if waited {
				fmt.Fprintf(os.Stderr, "  (waited %.0f s for TIME_WAIT sockets to clear: %d left)\n", time.Since(start).Seconds(), tw)
			}
			return
		}
		time.Sleep(time.Second)
	}
}

// portSettleTW and portSettleMax bound settlePorts: Linux keeps a socket
// in TIME_WAIT for 60 s.
const (
	portSettleTW  = 2000
	portSettleMax = 75 * time.Second
)

// firstHeldRate and maxHeldRate bound the rates the held-rate search
// tries; maxHeldRate is the most cbload run accepts.
const (
	firstHeldRate = 100
	maxHeldRate   = 20000
)

// lagLimitMS is the send lag p99 a held rate stays under: 1 ms above the
// machine's timer floor (timerFloorMS), set by heldFigure.
var lagLimitMS = 1.0

// timerFloorMS measures how late this machine's timers fire: the p99, in
// ms, of how much longer than asked 500 sleeps of 50µs took. A pacer that
// sleeps between sends (cbload's and vegeta's both do) is at least this
// late, whatever its rate; on a host whose timers are coarse (a 1 ms
// floor is common in VMs) a 1 ms lag limit alone would fail every rate.
func timerFloorMS() float64 {
	const d, n = 50 * time.Microsecond, 500
	over := make([]time.Duration, n)
	for i := range over {
		t := time.Now()
		time.Sleep(d)
		over[i] = time.Since(t) - d
	}
	slices.Sort(over)
	return float64(over[n*99/100-1]) / float64(time.Millisecond)
}

// judgeHeld says why a rate did not hold ("" when it did): a full second
// whose sends are more than 1% (and one request) off the rate, or a send
// lag p99 at or above lagLimitMS.
func judgeHeld(rate float64, perSecond []int64, lagP99MS float64) string {
	for i, n := range perSecond {
		// One request of slack: the first second holds one request fewer
		// (the first is due one interval after the start).
		if math.Abs(float64(n)-rate) > math.Max(0.01*rate, 1) {
			return fmt.Sprintf("at %.0f req/s second %d sent %d", rate, i, n)
		}
	}
	if lagP99MS >= lagLimitMS {
		return fmt.Sprintf("at %.0f req/s send lag p99 %.2f ms", rate, lagP99MS)
	}
	return ""
}

// cbloadHolds runs cbload against url at rate, as a user's own service with
// no upstream of its own, and judges its report: sends per second and the
// send lag against its schedule.
//
// It also returns the µs of CPU the cbload process spent per request sent.
func cbloadHolds(bin, out, url string, rate float64, d time.Duration) (string, float64, error) {
	secs := int(d / time.Second)
	r, ru, err := cbloadUsage(bin, out, "--force", "--target", "a="+url, "--upstream-external", "--fault", "latency",
		"--phases", fmt.Sprintf("1s,%ds,1s", secs-2), "--rate", fmt.Sprint(rate))
	if err != nil {
		var ee *exec.ExitError
		// 4: not valid — the run is judged here, by this bench's rule.
		if !errors.As(err, &ee) || ee.ExitCode() != 4 {
			return "", 0, err
		}
		if r, err = readReport(filepath.Join(out, "report.json")); err != nil {
			return "", 0, err
		}
	}
	a := r.Arms[0]
	var per []int64
	var sent int64
	for _, s := range a.Series {
		sent += s.Sent
		if s.T < secs-1 { // the last second's sends may be a hair past the end
			per = append(per, s.Sent)
		}
	}
	return judgeHeld(rate, per, a.Load.SendLagMS.P99), cpuUS(ru) / float64(max(sent, 1)), nil
}

// vegetaHolds runs the vegeta CLI against url at rate and judges its
// results the same way. vegeta does not report send lag; it is estimated
// from each result's Seq and Timestamp as Timestamp − (began + (Seq+1)/rate),
// with began taken so that the least late request was on time — so it
// cannot be worse than the truth. It also returns the µs of CPU the
// attacking process spent per request (the encoding process is this
// bench's, not the load generator's).
func vegetaHolds(vegetaBin, url string, rate float64, d time.Duration) (string, float64, error) {
	atk := exec.Command(vegetaBin, "attack", "-rate", fmt.Sprintf("%.0f/1s", rate), "-duration", d.String(), "-max-body", "0")
	atk.Stdin = strings.NewReader("GET " + url + "\n")
	enc := exec.Command(vegetaBin, "encode", "-to", "json")
	pipe, err := atk.StdoutPipe()
	if err != nil {
		return "", 0, err
	}
	enc.Stdin = pipe
	var stderr bytes.Buffer
	atk.Stderr, enc.Stderr = &stderr, &stderr
	outPipe, err := enc.StdoutPipe()
	if err != nil {
		return "", 0, err
	}
	if err := atk.Start(); err != nil {
		return "", 0, err
	}
	if err := enc.Start(); err != nil {
		return "", 0, err
	}
	type result struct {
		Seq       uint64    `json:"seq"`
		Timestamp time.Time `json:"timestamp"`
	}
	var res []result
	dec := json.NewDecoder(outPipe)
	for {
		var r result
		if err := dec.Decode(&r); err != nil {
			break
		}
		res = append(res, r)
	}
	if err := atk.Wait(); err != nil {
		return "", 0, fmt.Errorf("vegeta attack: %w\n%s", err, stderr.Bytes())
	}
	if err := enc.Wait(); err != nil {
		return "", 0, fmt.Errorf("vegeta encode: %w\n%s", err, stderr.Bytes())
	}
	if len(res) == 0 {
		return "", 0, fmt.Errorf("vegeta sent nothing\n%s", stderr.Bytes())
	}
	iv := time.Duration(float64(time.Second) / rate)
	offset := func(r result) time.Time { return r.Timestamp.Add(-time.Duration(r.Seq+1) * iv) }
	began := offset(res[0])
	for _, r := range res {
		if o := offset(r); o.Before(began) {
			began = o
		}
	}
	secs := int(d / time.Second)
	per := make([]int64, secs-1)
	lags := make([]time.Duration, 0, len(res))
	for _, r := range res {
		lags = append(lags, offset(r).Sub(began))
		if s := int(r.Timestamp.Sub(began) / time.Second); s < len(per) {
			per[s]++
		}
	}
	slices.Sort(lags)
	p99 := lags[max(int(0.99*float64(len(lags))+0.5), 1)-1]
	cpu := cpuUS(atk.ProcessState.SysUsage().(*syscall.Rusage)) / float64(len(res))
	return judgeHeld(rate, per, float64(p99)/float64(time.Millisecond)), cpu, nil
}

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
