package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

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

	return cpuFigure(gens, cpuRate(cbRates, vgRates), o.cpuFor, o.rounds, add)
}

// cpuRate is the rate the CPU figure is measured at: half the lowest rate
// either generator held in any round, so both hold it.
func cpuRate(cbRates, vgRates []float64) float64 {
	return math.Max(firstHeldRate, math.Round(math.Min(slices.Min(cbRates), slices.Min(vgRates))/2))
}

// cpuFigure adds the CPU each generator spends per request at rate, net
// of what its process costs without the load: each first runs for d
// at 1 req/s (start-up, and for cbload its probe and report in three
// formats, plus the runtime's idle work over the same time), and each
// round's try at rate is counted above that. One try's CPU varies by a
// third from run to run on a shared VM (timer wake-ups dominate an
// open-model sender), so the tries run in rounds, interleaved with the
// order swapped each round, and the figure is the median of the rounds'
// ratios, with their range.
func cpuFigure(gens []loadGen, rate float64, d time.Duration, rounds int, add func(figure)) error {
	var idle [2]usage
	for i, g := range gens {
		settlePorts()
		_, u, err := g.judge(1, d)
		if err != nil {
			return err
		}
		idle[i] = u
	}
	var ratios []float64
	var per [2][]float64
	for round := range rounds {
		var got [2]float64
		for k := range gens {
			i := k
			if round%2 == 1 {
				i = len(gens) - 1 - k
			}
			settlePorts()
			_, u, err := gens[i].judge(rate, d)
			if err != nil {
				return err
			}
			n := u.sent - idle[i].sent
			if n <= 0 {
				return fmt.Errorf("%s sent %d requests at %.0f req/s and %d at 1 req/s: no cost per request to measure", gens[i].name, u.sent, rate, idle[i].sent)
			}
			got[i] = (u.cpuUS - idle[i].cpuUS) / float64(n)
			per[i] = append(per[i], got[i])
		}
		ratios = append(ratios, got[0]/got[1])
	}
	fmt.Printf("  CPU per request: net of each process's cost at 1 req/s over %v (cbload %.0f ms, vegeta %.0f ms: start-up, cbload's probe and report, idle runtime)\n", d, idle[0].cpuUS/1e3, idle[1].cpuUS/1e3)
	c, v, r := summarize(per[0]), summarize(per[1]), summarize(ratios)
	add(figure{fmt.Sprintf("CPU per request at %.0f req/s", rate), fmt.Sprintf("%.2f× vegeta (%s; median %.1f vs %.1f µs)", r.median, r.span(), c.median, v.median), "≤ 1.00 × vegeta's", r.median <= 1})
	return nil
}

// usage is what one try of a load generator cost: the µs of CPU, user and
// system, its process spent, and the requests it sent.
type usage struct {
	cpuUS float64
	sent  int64
}

// loadGen is a load generator the held-rate search judges: judge runs it
// at a rate for a duration and says why the rate did not hold ("" when it
// did) and what the try cost.
type loadGen struct {
	name  string
	judge func(rate float64, d time.Duration) (why string, u usage, err error)
}

// loadGens returns cbload and the vegeta CLI, in that order, each sending
// to url.
func loadGens(o options, tmp, url string) []loadGen {
	return []loadGen{
		{"cbload", func(rate float64, d time.Duration) (string, usage, error) {
			return cbloadHolds(o.bin, filepath.Join(tmp, "held"), url, rate, d)
		}},
		{"vegeta", func(rate float64, d time.Duration) (string, usage, error) { return vegetaHolds(o.vegeta, url, rate, d) }},
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
		why, _, err := g.judge(rate, o.heldFor)
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
// It also returns what the cbload process spent and sent.
func cbloadHolds(bin, out, url string, rate float64, d time.Duration) (string, usage, error) {
	secs := int(d / time.Second)
	r, p, err := cbloadUsage(bin, out, "--force", "--target", "a="+url, "--upstream-external", "--fault", "latency",
		"--phases", fmt.Sprintf("1s,%ds,1s", secs-2), "--rate", fmt.Sprint(rate))
	if err != nil {
		var ee *exec.ExitError
		// 4: not valid — the run is judged here, by this bench's rule.
		if !errors.As(err, &ee) || ee.ExitCode() != 4 {
			return "", usage{}, err
		}
		if r, err = readReport(filepath.Join(out, "report.json")); err != nil {
			return "", usage{}, err
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
	return judgeHeld(rate, per, a.Load.SendLagMS.P99), usage{cpuUS(p.ru), sent}, nil
}

// vegetaHolds runs the vegeta CLI against url at rate and judges its
// results the same way. vegeta does not report send lag; it is estimated
// from each result's Seq and Timestamp as Timestamp − (began + (Seq+1)/rate),
// with began taken so that the least late request was on time — so it
// cannot be worse than the truth. It also returns what the attacking
// process spent and sent (the encoding process is this bench's, not the
// load generator's).
func vegetaHolds(vegetaBin, url string, rate float64, d time.Duration) (string, usage, error) {
	atk := exec.Command(vegetaBin, "attack", "-rate", fmt.Sprintf("%.0f/1s", rate), "-duration", d.String(), "-max-body", "0")
	atk.Stdin = strings.NewReader("GET " + url + "\n")
	enc := exec.Command(vegetaBin, "encode", "-to", "json")
	pipe, err := atk.StdoutPipe()
	if err != nil {
		return "", usage{}, err
	}
	enc.Stdin = pipe
	var stderr bytes.Buffer
	atk.Stderr, enc.Stderr = &stderr, &stderr
	outPipe, err := enc.StdoutPipe()
	if err != nil {
		return "", usage{}, err
	}
	if err := atk.Start(); err != nil {
		return "", usage{}, err
	}
	if err := enc.Start(); err != nil {
		return "", usage{}, err
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
		return "", usage{}, fmt.Errorf("vegeta attack: %w\n%s", err, stderr.Bytes())
	}
	if err := enc.Wait(); err != nil {
		return "", usage{}, fmt.Errorf("vegeta encode: %w\n%s", err, stderr.Bytes())
	}
	if len(res) == 0 {
		return "", usage{}, fmt.Errorf("vegeta sent nothing\n%s", stderr.Bytes())
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
	u := usage{cpuUS(atk.ProcessState.SysUsage().(*syscall.Rusage)), int64(len(res))}
	return judgeHeld(rate, per, float64(p99)/float64(time.Millisecond)), u, nil
}
