package harness

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cbload/cbload/internal/pool"
)

// The load-path benchmark and its budget measure what one request costs
// cbload's load runner — targeter, vegeta's attacker, the transport and
// cbload's wrappers on it, and the per-result bookkeeping drive does
// (recorder, results file when on, the target-mode observer) — over real
// loopback HTTP. The server is a canned responder that allocates nothing
// per request, so the allocations counted are the load runner's own.

// loadPathAllocBudget is the most heap allocations one request may cost
// the load path (TestLoadPathAllocs); see CONTRIBUTING.md, Performance.
// Measured 62.4 after the cuts of issue #25 (88.2 before), with a little
// headroom for net/http's own variation between Go releases: of the 62,
// cbload's are 7 (4 for the request's context with its timeout, which a
// client's own Timeout costs as well; the request's copy carrying it; the
// two body wrappers); the rest are vegeta's attacker (its Result, the
// request it builds, its body buffer and headers) and net/http's client
// and transport.
const loadPathAllocBudget = 66

// helloResponse is what the hello target of tools/bench answers: net/http
// writing "ok".
const helloResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Sun, 06 Dec 2026 00:00:00 GMT\r\n\r\nok"

// startRawHello serves helloResponse to every request on 127.0.0.1 and
// returns its URL; it reads each request's head with one buffer per
// connection. It is closed, its goroutines waited for, by tb.Cleanup.
func startRawHello(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
	)
	serve := func(c net.Conn) {
		defer wg.Done()
		defer c.Close()
		br := bufio.NewReader(c)
		resp := []byte(helloResponse)
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(bytes.TrimSpace(line)) > 0 {
				continue // a request or header line: the head goes on
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go serve(c)
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String()
}

// countPacer lets n hits go as fast as the workers take them.
type countPacer struct{ n uint64 }

func (p countPacer) Pace(_ time.Duration, hits uint64) (time.Duration, bool) { return 0, hits >= p.n }
func (p countPacer) Rate(time.Duration) float64                              { return 0 }

// loadPathWorkers is the load path's concurrency in these measurements:
// vegeta's initial workers, held fixed so that the count of connections,
// and with it the allocations, does not vary.
const loadPathWorkers = 16

// loadPath is the load path of a target-mode arm (runTarget, drive) at one
// target, built once and attacked many times.
type loadPath struct {
	lr        *loadRunner
	m         *mix
	rec       *recorder
	phases    []Phase
	start     time.Time
	apiSent   *slotCounter
	results   *ResultsFile
	sent      atomic.Int64
	fails     int64
	got, errs int
}

func newLoadPath(tb testing.TB, url string) *loadPath {
	tb.Helper()
	p := &loadPath{start: time.Now(), phases: []Phase{{Name: "p", Duration: time.Hour}}}
	p.m = newMix([]Request{
		{Method: http.MethodGet, URL: url + "/api", Header: http.Header{}},
		{Method: http.MethodGet, URL: url + "/local", Header: http.Header{}, Collateral: true},
	})
	var inflight pool.Gauge
	p.lr = newLoadRunner(1000, 5*time.Second, nil, func(next http.RoundTripper) http.RoundTripper {
		return &countingTransport{next: next, inflight: &inflight}
	})
	tb.Cleanup(p.lr.close)
	p.rec = testRecorder(p.start, p.phases, 1000, time.Second, false)
	p.apiSent = newSlotCounter(p.start, time.Hour)
	return p
}

// run sends n requests and handles each result as drive and runTarget's
// observer do.
func (p *loadPath) run(n int) {
	p.lr.attacker = newAttacker(p.lr.client, loadPathWorkers)
	tr := p.m.targeter(0.1, 1, &p.sent)
	for res := range p.lr.attack(tr, countPacerFor(n)) {
		collateral := p.m.collateralResult(res)
		p.rec.add(res, collateral)
		if p.results != nil {
			done := p.rec.clamp(res.Timestamp.Add(res.Latency).Sub(p.start))
			p.results.add(res, "a", p.rec.plan[p.rec.phaseIndex(done)].Name)
		}
		if !collateral {
			p.apiSent.add(res.Timestamp)
		}
		if !collateral && p.phases[p.rec.phaseIndex(res.Timestamp.Add(res.Latency).Sub(p.start))].Faulty() && classify(res) != oOK {
			p.fails++
		}
		p.got++
		if res.Code != http.StatusOK {
			p.errs++
		}
	}
	if p.results != nil {
		p.results.flush()
	}
}

func countPacerFor(n int) vegeta.Pacer { return countPacer{n: uint64(n)} }

// BenchmarkLoadPath is one request through the load path of a target-mode
// arm over loopback; allocs/op is per request, and so is the allocs/req
// figure the budget test holds (TestLoadPathAllocs). "results" writes every
// result to a results file (--results), as a run with it does.
func BenchmarkLoadPath(b *testing.B) {
	for _, withResults := range []bool{false, true} {
		name := "plain"
		if withResults {
			name = "results"
		}
		b.Run(name, func(b *testing.B) {
			p := newLoadPath(b, startRawHello(b))
			if withResults {
				rf, err := CreateResultsFile(b.Context(), b.TempDir()+"/results.json", MaxResultsFile)
				if err != nil {
					b.Fatal(err)
				}
				p.results = rf
				defer rf.Close()
			}
			p.run(loadPathWorkers * 4) // connections up
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			p.run(b.N)
			b.StopTimer()
			runtime.ReadMemStats(&after)
			if p.errs > 0 {
				b.Fatalf("%d of %d requests failed", p.errs, p.got)
			}
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "allocs/req")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N), "B/req")
		})
	}
}

// TestLoadPathAllocs holds the load path to its allocation budget: heap
// allocations are counted, not timed, so the figure does not depend on how
// busy the machine is. The race detector adds allocations of its own (and
// drops sync.Pool items at random), so the count is taken without it:
// make test runs this test once more without -race.
func TestLoadPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector; make test runs this without -race")
	}
	p := newLoadPath(t, startRawHello(t))
	const n = 2000
	per := testing.AllocsPerRun(3, func() { p.run(n) }) / n
	if p.errs > 0 {
		t.Fatalf("%d of %d requests failed", p.errs, p.got)
	}
	if per > loadPathAllocBudget {
		t.Errorf("the load path allocates %.1f times per request; its budget is %d (see CONTRIBUTING.md, Performance)", per, loadPathAllocBudget)
	}
	t.Logf("%.1f allocations per request (budget %d)", per, loadPathAllocBudget)
}
