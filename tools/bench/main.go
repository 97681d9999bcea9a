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
	flag.Parse()
	if err := run(*bin, *short, *long); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type figure struct {
	name, value, goal string
	ok                bool
}

func run(bin string, short, long time.Duration) error {
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

	cb, base, err := pipeline()
	if err != nil {
		return err
	}
	add(figure{"pipeline throughput (closed loop)", fmt.Sprintf("%.0f vs %.0f req/s = %.2f×", cb, base, cb/base), "≥ 0.90 × baseline", cb >= 0.9*base})

	tmp, err := os.MkdirTemp("", "cbload-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

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
