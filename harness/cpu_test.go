package harness

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cbload/cbload/reports"
)

// startHogs starts n goroutines that spin until the returned stop, which
// waits for them: a process with more runnable goroutines than CPU, as two
// arms at once that need more than the machine has.
func startHogs(n int) (stop func()) {
	var quit atomic.Bool
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !quit.Load() {
			}
		}()
	}
	return func() {
		quit.Store(true)
		wg.Wait()
	}
}

// A process whose goroutines wait for CPU — here spinning goroutines, more
// than GOMAXPROCS, beside two arms at once — is not valid by
// cpu_not_starved, which reads the runtime's scheduling latency every
// second; the same run without them passes it.
func TestRunCPUStarvedIsNotValid(t *testing.T) {
	cfg := testConfig(t, "latency:100ms")
	cfg.ArmMode = ArmsConcurrent
	cfg.Rate = 50
	for i := range cfg.Phases {
		cfg.Phases[i].Duration = 2 * time.Second
	}
	logSched := func(r *reports.Report) {
		for _, a := range r.Arms {
			var ps []any
			for _, s := range a.Series {
				if s.SchedLatencyP99MS != nil {
					ps = append(ps, *s.SchedLatencyP99MS)
				} else {
					ps = append(ps, "-")
				}
			}
			t.Logf("%s: scheduling latency p99 per second (ms): %v", a.Name, ps)
		}
	}
	cpuCheck := func(r *reports.Report) (failed, seen int) {
		for _, c := range r.Validity.Checks {
			if c.Name == reports.CheckCPU {
				seen++
				if !c.Pass {
					failed++
				}
			}
		}
		return failed, seen
	}

	t.Run("quiet", func(t *testing.T) {
		r := runOrFail(t, cfg)
		logSched(r)
		if failed, seen := cpuCheck(r); seen != 2 || failed != 0 {
			t.Errorf("cpu_not_starved failed in %d of %d arms; want checked in both and passed", failed, seen)
		}
	})
	t.Run("hogs", func(t *testing.T) {
		stop := startHogs(4 * runtime.GOMAXPROCS(0))
		r, err := Run(t.Context(), cfg)
		stop()
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		logSched(r)
		for _, c := range r.Validity.Checks {
			if c.Name == reports.CheckCPU {
				t.Logf("%s: %s", c.Arm, c.Message)
			}
		}
		if r.Validity.Valid {
			t.Fatalf("validity = valid; want the starved process caught")
		}
		if failed, seen := cpuCheck(r); seen != 2 || failed != 2 {
			t.Errorf("cpu_not_starved failed in %d of %d arms; want both", failed, seen)
		}
		if r.Verdict.Outcome != reports.OutcomeInconclusive {
			t.Errorf("verdict = %s; want inconclusive", r.Verdict.Outcome)
		}
	})
}
