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
	heldOnly := flag.Bool("held-only", false, "measure only the highest rate held (needs -vegeta)")
	flag.Parse()
	if err := run(*bin, *vegetaBin, *heldOnly, *short, *long); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type figure struct {
	name, value, goal string
	ok                bool
}

func run(bin, vegetaBin string, heldOnly bool, short, long time.Duration) error {
	fmt.Printf("cbload bench on %s/%s, %d CPUs, %s\n\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), time.Now().UTC().Format(time.DateOnly))
	var figs []figure
	add := func(f figure) {
		figs = append(figs, f)
		mark := "ok"
		if !f.ok {
			mark = "MISSED"
		}
		fmt.Printf("%-34s %-28s goal %-22s %s\n", f.name, f.value, f.goal, mark)
	}

	tmp, err := os.MkdirTemp("", "cbload-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if heldOnly {
		if vegetaBin == "" {
			return fmt.Errorf("-held-only needs -vegeta")
		}
		return heldFigure(bin, vegetaBin, tmp, add)
	}

	cb, base, err := pipeline()
	if err != nil {
		return err
	}
	add(figure{"pipeline throughput (closed loop)", fmt.Sprintf("%.0f vs %.0f req/s = %.2f×", cb, base, cb/base), "≥ 0.90 × baseline", cb >= 0.9*base})

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
		if err := heldFigure(bin, vegetaBin, tmp, add); err != nil {
			return err
		}
	}

	if long > 0 {
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
	args = append([]string{"run", "--out", out, "--seed", "1", "--progress", "never"}, args...)
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, 0, fmt.Errorf("%s %v: %w\n%s", bin, args, err, stderr.Bytes())
	}
	peak := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	f, err := os.Open(filepath.Join(out, "report.json"))
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	var r reports.Report
	if err := json.NewDecoder(f).Decode(&r); err != nil {
		return nil, 0, err
	}
	return &r, peak, nil
}

var benchLine = regexp.MustCompile(`^Benchmark(Pipeline\w+)-\d+\s+\d+\s+[\d.]+ ns/op\s+([\d.]+) req/s`)

// pipeline runs the closed-loop pipeline benchmarks, interleaved, five
// times each, and returns the median throughputs.
func pipeline() (cbload, baseline float64, err error) {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^BenchmarkPipeline", "-benchtime", "20000x", "-count", "5", "./harness")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("pipeline benchmarks: %w\n%s", err, out)
	}
	got := map[string][]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m := benchLine.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			got[m[1]] = append(got[m[1]], v)
		}
	}
	median := func(v []float64) float64 {
		if len(v) == 0 {
			return 0
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	cbload, baseline = median(got["PipelineCbload"]), median(got["PipelineBaseline"])
	if cbload == 0 || baseline == 0 {
		return 0, 0, fmt.Errorf("pipeline benchmarks printed no throughput:\n%s", out)
	}
	return cbload, baseline, nil
}

// heldFigure adds the highest rate one process holds, cbload beside vegeta.
func heldFigure(bin, vegetaBin, tmp string, add func(figure)) error {
	lagLimitMS = 1 + timerFloorMS()
	fmt.Printf("  timer floor: a 50µs sleep here takes %.2f ms more at p99 (Go's timers cannot fire sooner), so the send lag limit is 1 ms above it: %.2f ms\n", lagLimitMS-1, lagLimitMS)
	rates, err := highestRates(bin, vegetaBin, tmp)
	if err != nil {
		return err
	}
	c, v := rates["cbload"], rates["vegeta"]
	show := func(h held) string {
		if h.rate == 0 {
			return fmt.Sprintf("< %d", firstHeldRate)
		}
		return fmt.Sprintf("%.0f", h.rate)
	}
	// Neither holding the lowest rate tried says the machine is too busy
	// to tell: not a pass.
	add(figure{"highest rate held, one process", fmt.Sprintf("cbload %s, vegeta %s req/s", show(c), show(v)), "≥ 0.8 × vegeta's", v.rate > 0 && c.rate >= 0.8*v.rate})
	fmt.Printf("  held: every full second within ±1%% of the rate and send lag p99 < %.2f ms; above the highest rate held: %s; %s\n", lagLimitMS, c.failed, v.failed)
	return nil
}

// held is the highest rate a load generator held, and why the next rate
// tried did not hold.
type held struct {
	rate   float64
	failed string
}

// highestRates finds, for cbload and for the vegeta CLI, the highest
// constant rate one process holds against the same trivial target (a
// net/http hello server in this process): every doubling from
// firstHeldRate to maxHeldRate, then three bisection steps between the
// highest rate held and the next doubling when that one did not hold.
func highestRates(bin, vegetaBin, tmp string) (map[string]held, error) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/"
	out := map[string]held{}
	for name, judge := range map[string]func(float64) (string, error){
		"cbload": func(rate float64) (string, error) { return cbloadHolds(bin, filepath.Join(tmp, "held"), url, rate) },
		"vegeta": func(rate float64) (string, error) { return vegetaHolds(vegetaBin, url, rate) },
	} {
		try := func(rate float64) (string, error) {
			why, err := judge(rate)
			if err == nil {
				fmt.Fprintf(os.Stderr, "  %s at %.0f req/s: %s\n", name, rate, cmp.Or(why, "held"))
			}
			return why, err
		}
		// Every doubling is tried, not only up to the first that fails: a
		// pacer's lag need not grow with the rate (at low rates it sleeps,
		// and a coarse timer makes it late; at high rates it may not).
		var ok, bad float64
		var why string
		for rate := float64(firstHeldRate); ; rate = min(rate*2, maxHeldRate) {
			w, err := try(rate)
			if err != nil {
				return nil, err
			}
			switch {
			case w == "":
				ok, bad, why = rate, 0, ""
			case bad == 0:
				bad, why = rate, w
			}
			if rate == maxHeldRate {
				break
			}
		}
		for range 3 {
			if bad == 0 || ok == 0 {
				break
			}
			mid := math.Round((ok + bad) / 2)
			w, err := try(mid)
			if err != nil {
				return nil, err
			}
			if w == "" {
				ok = mid
			} else {
				bad, why = mid, w
			}
		}
		if why == "" {
			why = fmt.Sprintf("held up to %d req/s, the most tried", maxHeldRate)
		}
		out[name] = held{rate: ok, failed: fmt.Sprintf("%s: %s", name, why)}
	}
	return out, nil
}

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

// heldDuration is how long each rate is tried.
const heldDuration = 5 * time.Second

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
func cbloadHolds(bin, out, url string, rate float64) (string, error) {
	secs := int(heldDuration / time.Second)
	r, _, err := cbload(bin, out, "--force", "--target", "a="+url, "--upstream-external", "--fault", "latency",
		"--phases", fmt.Sprintf("1s,%ds,1s", secs-2), "--rate", fmt.Sprint(rate))
	if err != nil {
		var ee *exec.ExitError
		// 4: not valid — the run is judged here, by this bench's rule.
		if !errors.As(err, &ee) || ee.ExitCode() != 4 {
			return "", err
		}
		if r, err = readReport(filepath.Join(out, "report.json")); err != nil {
			return "", err
		}
	}
	a := r.Arms[0]
	var per []int64
	for _, s := range a.Series {
		if s.T < secs-1 { // the last second's sends may be a hair past the end
			per = append(per, s.Sent)
		}
	}
	return judgeHeld(rate, per, a.Load.SendLagMS.P99), nil
}

// vegetaHolds runs the vegeta CLI against url at rate and judges its
// results the same way. vegeta does not report send lag; it is estimated
// from each result's Seq and Timestamp as Timestamp − (began + (Seq+1)/rate),
// with began taken so that the least late request was on time — so it
// cannot be worse than the truth.
func vegetaHolds(vegetaBin, url string, rate float64) (string, error) {
	atk := exec.Command(vegetaBin, "attack", "-rate", fmt.Sprintf("%.0f/1s", rate), "-duration", heldDuration.String(), "-max-body", "0")
	atk.Stdin = strings.NewReader("GET " + url + "\n")
	enc := exec.Command(vegetaBin, "encode", "-to", "json")
	pipe, err := atk.StdoutPipe()
	if err != nil {
		return "", err
	}
	enc.Stdin = pipe
	var stderr bytes.Buffer
	atk.Stderr, enc.Stderr = &stderr, &stderr
	outPipe, err := enc.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := atk.Start(); err != nil {
		return "", err
	}
	if err := enc.Start(); err != nil {
		return "", err
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
		return "", fmt.Errorf("vegeta attack: %w\n%s", err, stderr.Bytes())
	}
	if err := enc.Wait(); err != nil {
		return "", fmt.Errorf("vegeta encode: %w\n%s", err, stderr.Bytes())
	}
	if len(res) == 0 {
		return "", fmt.Errorf("vegeta sent nothing\n%s", stderr.Bytes())
	}
	iv := time.Duration(float64(time.Second) / rate)
	offset := func(r result) time.Time { return r.Timestamp.Add(-time.Duration(r.Seq+1) * iv) }
	began := offset(res[0])
	for _, r := range res {
		if o := offset(r); o.Before(began) {
			began = o
		}
	}
	secs := int(heldDuration / time.Second)
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
	return judgeHeld(rate, per, float64(p99)/float64(time.Millisecond)), nil
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
