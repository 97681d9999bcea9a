package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cbload/cbload/reports"
	"github.com/cbload/cbload/schedule"
)

// Concurrent arms run at once, each with its own gateway and upstream, on
// one clock: both start at the same instant, and each arm's figures are
// its own — the cascade without the breaker does not reach the arm with
// it, as when they run one after the other (TestRunCascadeFaults). Whether
// the verdicts agree both ways is measured, not tested: tools/bench/arms.sh.
func TestRunConcurrentArms(t *testing.T) {
	cfg := testConfig(t, "latency:1s")
	cfg.ArmMode = ArmsConcurrent
	var mu sync.Mutex
	running := map[string]bool{}
	both := false
	cfg.Progress = func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		running[p.Arm] = p.Second < int(cfg.TotalDuration()/time.Second)-1
		both = both || (running[reports.ArmBreaker] && running[reports.ArmNoBreaker])
	}
	r := runOrFail(t, cfg)
	if got := r.Config.ArmMode; got != ArmsConcurrent {
		t.Errorf("report config arm_mode = %q; want %q", got, ArmsConcurrent)
	}
	b, n := r.Arm(reports.ArmBreaker), r.Arm(reports.ArmNoBreaker)
	if b == nil || n == nil {
		t.Fatalf("arms %v; want both", r.Arms)
	}
	if !b.StartedAt.Equal(n.StartedAt) {
		t.Errorf("arms started at %v and %v; want one clock", b.StartedAt, n.StartedAt)
	}
	if !both {
		t.Errorf("progress never showed both arms running at once")
	}
	assertBreakerCycle(t, r)
	if got := n.Figures.CollateralSuccessDuringFault; got > 0.9 {
		t.Errorf("no-breaker arm: /local success during the fault = %.3f; want a cascade (≤ 0.9): the arms must not share a gateway", got)
	}
	if got := b.Figures.CollateralSuccessDuringFault; got < 0.98 {
		t.Errorf("breaker arm: /local success during the fault = %.3f; want ≥ 0.98", got)
	}
	if bu, nu := b.Figures.UpstreamRequestsDuringFault, n.Figures.UpstreamRequestsDuringFault; nu < 3*bu {
		t.Errorf("upstream requests during the fault: %d with breaker, %d without; want ≥ 3× fewer with it", bu, nu)
	}
}

// A process starved of CPU (here stopped for a second, as a busy machine
// or a suspended VM does) cannot send either arm's load on schedule: with
// the arms at once both see it at the same moment, and the validity
// checks name the stall and the send lag in each arm, so the run gets no
// verdict.
func TestRunConcurrentArmsStarvedIsNotValid(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to stop the process with")
	}
	cfg := testConfig(t, "error:503")
	cfg.ArmMode = ArmsConcurrent
	cfg.Rate = 50
	for i := range cfg.Phases {
		cfg.Phases[i].Duration = 2 * time.Second
	}
	var once sync.Once
	stopped := make(chan error, 1)
	cfg.Progress = func(p Progress) {
		if p.Phase != "fault" {
			return
		}
		once.Do(func() {
			// Another process stops this one for a second and lets it go
			// on; this process cannot do both itself.
			pid := os.Getpid()
			cmd := exec.Command("sh", "-c", fmt.Sprintf("kill -STOP %d; sleep 1; kill -CONT %d", pid, pid))
			if err := cmd.Start(); err != nil {
				stopped <- err
				return
			}
			go func() { stopped <- cmd.Wait() }()
		})
	}
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("stop the process: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stopping process never ended")
	}
	if r.Validity.Valid {
		t.Fatalf("validity = valid; want the stall caught")
	}
	if r.Verdict.Outcome != reports.OutcomeInconclusive {
		t.Errorf("verdict = %s; want inconclusive", r.Verdict.Outcome)
	}
	var at []float64
	for _, arm := range []string{reports.ArmBreaker, reports.ArmNoBreaker} {
		failed := map[string]bool{}
		for _, c := range r.Validity.Failed() {
			if c.Arm == arm {
				failed[c.Name] = true
			}
		}
		for _, want := range []string{reports.CheckNoStall, reports.CheckSendLag} {
			if !failed[want] {
				t.Errorf("%s: failed checks %v; want %s among them", arm, failed, want)
			}
		}
		a := r.Arm(arm)
		if len(a.Load.Stalls) == 0 {
			t.Errorf("%s: no stall recorded", arm)
			continue
		}
		s := a.Load.Stalls[0]
		if s.GapMS < 800 || s.GapMS > 3000 {
			t.Errorf("%s: stall of %v ms; want about a second", arm, s.GapMS)
		}
		at = append(at, s.TS)
	}
	if len(at) == 2 && (at[0]-at[1] > 0.2 || at[1]-at[0] > 0.2) {
		t.Errorf("stalls at %vs and %vs of the arms; want the same moment on their one clock", at[0], at[1])
	}
}

// An arm that fails stops the arms running with it, and the run returns
// its error, not their cancellation.
func TestRunTogetherFirstCause(t *testing.T) {
	boom := errors.New("boom")
	var mu sync.Mutex
	var starts []time.Time
	runs, order, err := runTogether(context.Background(), 2, []string{"a", "b"}, func(ctx context.Context, name string, k int, gate *startGate) (*reports.Arm, error) {
		if name == "b" && k == 3 {
			return nil, boom // never reaches the gate: a must not wait for it
		}
		begin, err := gate.wait(ctx)
		if err != nil {
			return &reports.Arm{Name: name}, err
		}
		mu.Lock()
		starts = append(starts, begin.t0)
		mu.Unlock()
		return &reports.Arm{Name: name}, nil
	})
	if !errors.Is(err, boom) {
		t.Errorf("runTogether error = %v; want boom", err)
	}
	if got, want := fmt.Sprint(order), "[a#1 b#1 a#2]"; got != want {
		t.Errorf("order = %s; want %s", got, want)
	}
	if len(runs) != 2 || len(runs[0]) != 2 || len(runs[1]) != 1 {
		t.Errorf("runs = %v; want both arms of trial 1 and a of trial 2", runs)
	}
	if len(starts) != 2 || !starts[0].Equal(starts[1]) {
		t.Errorf("trial 1 starts = %v; want one start for both arms", starts)
	}
}

func TestValidateArmMode(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"unknown", func(c *Config) { c.ArmMode = "parallel" }, `arm-mode: "parallel"; want sequential or concurrent`},
		{"targets", func(c *Config) {
			c.ArmMode = ArmsConcurrent
			c.Targets = []Target{{Name: "a", URL: "http://127.0.0.1:1/"}}
		}, "arm-mode: concurrent runs cbload's own gateway only; with --target every target calls the one upstream at --upstream-addr, so run the arms sequential"},
		{"tracing", func(c *Config) {
			c.ArmMode = ArmsConcurrent
			c.Tracing.Endpoint = "http://127.0.0.1:4318"
		}, "arm-mode: concurrent is not traced; spans are labelled with one running arm at a time: drop the OTLP endpoint (--otlp-endpoint, OTEL_EXPORTER_OTLP_ENDPOINT) or run the arms sequential"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.mutate(&cfg)
			if err := cfg.Validate(); err == nil || err.Error() != tt.want {
				t.Errorf("Validate() = %v; want %q", err, tt.want)
			}
		})
	}
	cfg := DefaultConfig()
	cfg.ArmMode = ArmsConcurrent
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate() of concurrent arms = %v; want nil", err)
	}
}

// With a start time, the arms that run at once share their trial's start,
// and the trials follow one arm span apart.
func TestArmStartConcurrent(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ArmMode = ArmsConcurrent
	cfg.Trials = 2
	cfg.StartAt = time.Now().Add(time.Minute).Truncate(time.Second)
	for k, want := range []time.Duration{0, 0, cfg.ArmSpan(), cfg.ArmSpan()} {
		if got := cfg.ArmStart(k).Sub(cfg.StartAt); got != want {
			t.Errorf("ArmStart(%d) = start + %v; want start + %v", k, got, want)
		}
	}
	if got := reportConfig(&cfg).ArmMode; got != ArmsConcurrent {
		t.Errorf("report arm_mode = %q; want %q", got, ArmsConcurrent)
	}
	cfg.ArmMode = ""
	if got := reportConfig(&cfg).ArmMode; got != ArmsSequential {
		t.Errorf("report arm_mode of the default = %q; want %q", got, ArmsSequential)
	}
}

// An arm's phases begin by the schedule's clock; a process that wakes up
// past several phase starts (stopped, or starting late) is told only of
// the last, and drive catches up through the ones before it.
func TestStartClock(t *testing.T) {
	sched, err := schedule.New([]schedule.Phase{
		{Name: "a", Duration: 40 * time.Millisecond}, {Name: "b", Duration: 40 * time.Millisecond}, {Name: "c", Duration: time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	begins := make(chan int, sched.Len())
	stop := startClock(context.Background(), t0, sched, begins)
	for want := 1; want < sched.Len(); want++ {
		got := <-begins
		at := time.Since(t0)
		if got != want || at < sched.Start(want) || at > sched.Start(want)+200*time.Millisecond {
			t.Errorf("phase %d began at %v; want phase %d at %v", got, at, want, sched.Start(want))
		}
	}
	stop()

	late := make(chan int, sched.Len())
	stop = startClock(context.Background(), time.Now().Add(-90*time.Millisecond), sched, late)
	if got := <-late; got != 2 {
		t.Errorf("a clock started past two phase starts began phase %d; want 2, the last", got)
	}
	stop()
	select {
	case got := <-late:
		t.Errorf("phase %d began after the clock was joined at phase 2", got)
	default:
	}
}

// A checkpoint that stops the run stops every arm running at once: Run
// returns the *AbortError, not the cancellation it caused in the other
// arm, with both arms' measurements so far, partial.
func TestRunConcurrentArmsAbort(t *testing.T) {
	cfg := testConfig(t, "error:503")
	cfg.ArmMode = ArmsConcurrent
	cfg.Rate = 50
	for i := range cfg.Phases {
		cfg.Phases[i].Duration = 2 * time.Second
	}
	var mu sync.Mutex
	calls := 0
	cfg.OnCheckpoint = func(r *reports.Report, at Checkpoint) string {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if at.Phase == "baseline" {
			return "stop at " + at.String()
		}
		return ""
	}
	start := time.Now()
	r, err := Run(context.Background(), cfg)
	var ae *AbortError
	if !errors.As(err, &ae) {
		t.Fatalf("Run error = %v; want an *AbortError", err)
	}
	if took := time.Since(start); took > cfg.TotalDuration() {
		t.Errorf("Run took %v; want the arms stopped after the baseline, well within the %v schedule", took, cfg.TotalDuration())
	}
	if r == nil || !r.Partial || r.PartialReason != ae.Reason {
		t.Fatalf("report partial %v (%q); want partial, %q", r != nil && r.Partial, r.PartialReason, ae.Reason)
	}
	if len(r.Arms) != 2 {
		t.Errorf("report arms %d; want both, measured until the stop", len(r.Arms))
	}
	if calls != 1 {
		t.Errorf("OnCheckpoint called %d times; want once, the call that stopped the run", calls)
	}
}

// Arms that run at once each have their phase series while they run.
func TestMetricsPhaseInfoConcurrent(t *testing.T) {
	m := NewMetrics()
	for _, arm := range []string{"a", "b"} {
		m.live.start(arm, &armSource{state: func(time.Time) string { return "" }, inflight: func() int64 { return 0 },
			sent: new(atomic.Int64), up: &upstreamSet{}})
		m.live.setPhase(arm, 1, "fault")
	}
	fams := gather(t, m)
	for _, arm := range []string{"a", "b"} {
		if v, ok := value(fams, "cbload_phase_info", map[string]string{"arm": arm, "phase": "fault"}); !ok || v != 1 {
			t.Errorf("cbload_phase_info{arm=%q,phase=fault} = %v (present %v); want 1", arm, v, ok)
		}
	}
	m.live.finish("a")
	fams = gather(t, m)
	if _, ok := value(fams, "cbload_phase_info", map[string]string{"arm": "a"}); ok {
		t.Errorf("cbload_phase_info for arm a after it finished; want none")
	}
	if _, ok := value(fams, "cbload_phase_info", map[string]string{"arm": "b"}); !ok {
		t.Errorf("cbload_phase_info for arm b, still running, is gone")
	}
}

// An interrupt stops every arm running at once within about a second,
// and the report keeps what both measured.
func TestRunConcurrentArmsInterrupted(t *testing.T) {
	cfg := testConfig(t, "latency:1s")
	cfg.ArmMode = ArmsConcurrent
	cfg.Rate = 50
	cfg.Phases[1].Duration = 30 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	var stoppedAt time.Time
	cfg.Progress = func(p Progress) {
		if p.Phase == "fault" {
			once.Do(func() {
				stoppedAt = time.Now()
				cancel()
			})
		}
	}
	r, err := Run(ctx, cfg)
	took := time.Since(stoppedAt)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v; want context.Canceled", err)
	}
	if took > 1500*time.Millisecond {
		t.Errorf("Run returned %v after the interrupt; want within about a second", took)
	}
	if r == nil || !r.Partial || r.PartialReason != "interrupted" {
		t.Fatalf("report = %+v; want partial, interrupted", r)
	}
	for _, name := range []string{reports.ArmBreaker, reports.ArmNoBreaker} {
		if a := r.Arm(name); a == nil || len(a.Series) < 2 || a.Summary["baseline"].API.Requests == 0 {
			t.Errorf("arm %s: the partial report lost its measured seconds", name)
		}
	}
}
