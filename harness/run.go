package harness

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/reports"
	"github.com/cbload/cbload/schedule"
)

// SetupError reports that the experiment could not start: a server could not
// listen, say. No load was sent for the arm that failed.
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

// Run validates cfg and runs each arm in turn, each with a fresh upstream and
// gateway on loopback, the same schedule, rate and seed. It returns the
// report; the caller fills in CbloadVersion and Command.
//
// When ctx is cancelled, Run stops the load within about a second, cancels
// requests in flight, and returns the report of what was measured, marked
// Partial, together with ctx's error; when cfg.OnCheckpoint stops it, the
// same, with an *AbortError. Every server and goroutine Run starts
// has stopped when it returns.
func Run(ctx context.Context, cfg Config) (*reports.Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return RunValidated(ctx, cfg)
}

// RunValidated is Run for a cfg whose Validate the caller has called, and
// seen return nil: a command checks its configuration before it prepares
// any output, and it is not checked twice. Since then the caller may have
// set only what Validate does not read: Seed and the hooks (Progress,
// OnSample, Metrics, OnCheckpoint, Results).
func RunValidated(ctx context.Context, cfg Config) (*reports.Report, error) {
	sched, err := cfg.schedule()
	if err != nil {
		return nil, err
	}
	cfg.sched = sched
	if cfg.concurrent() {
		serialiseCallbacks(&cfg)
	}
	mx, err := startMetricsExport(ctx, &cfg)
	if err != nil {
		return nil, &SetupError{fmt.Errorf("set up metrics export: %w", err)}
	}
	defer mx.shutdown()
	r := newReport(&cfg)
	names := cfg.Arms
	for i, t := range cfg.Targets {
		if i == 0 {
			names = nil
		}
		names = append(names, t.Name)
	}
	tel, err := newTracing(ctx, cfg.Tracing, r.RunID, cfg.Rate*cfg.TotalDuration().Seconds()*float64(len(names)*max(cfg.Trials, 1)))
	if err != nil {
		return nil, &SetupError{fmt.Errorf("set up tracing: %w", err)}
	}
	var sys system = gatewaySystem{cfg: &cfg}
	if len(cfg.Targets) > 0 {
		ts, err := startTargets(ctx, &cfg, r, tel)
		if err != nil {
			if tel != nil {
				tel.shutdown(ctx.Err() != nil)
			}
			return nil, err
		}
		sys = ts
	}

	// k counts the arm runs (trials interleave them): run k starts at
	// ArmStart(k) when the run has a start time.
	cp := newCheckpoints(&cfg, r, names)
	runs, order, runErr := cp.runTrials(ctx, &cfg, names, func(ctx context.Context, name string, k int, gate *startGate) (*reports.Arm, error) {
		a := newArmRun(&cfg, name, k, tel)
		a.gate = gate
		return sys.runArm(ctx, a, cp)
	})
	// The upstreams stop before tracing does, so the spans of the calls
	// they still held are exported.
	sys.close()
	r.FinishedAt = time.Now().UTC()
	mx.begin(ctx.Err() != nil) // the metrics' final export overlaps the traces' flush
	r.Tracing = &reports.Tracing{Sampler: "always_off", Description: "tracing off: no OTLP endpoint was set"}
	if tel != nil {
		r.Tracing = tel.shutdown(ctx.Err() != nil)
	}
	if runErr != nil {
		r.Partial = true
		r.PartialReason = partialReason(runErr)
	}
	finish(r, runs, order, cfg.Trials)
	return r, runErr
}

// serialiseCallbacks makes the caller's callbacks (Progress, OnSample) and
// the results file safe for arms that run at once: each call waits for the
// one before it, as when one arm ran at a time.
func serialiseCallbacks(cfg *Config) {
	var mu sync.Mutex
	if p := cfg.Progress; p != nil {
		cfg.Progress = func(pr Progress) {
			mu.Lock()
			defer mu.Unlock()
			p(pr)
		}
	}
	if s := cfg.OnSample; s != nil {
		cfg.OnSample = func(sm Sample) {
			mu.Lock()
			defer mu.Unlock()
			s(sm)
		}
	}
	cfg.Results.shared()
}

// system is a run's system under test: cbload's own gateway chain,
// started afresh for each arm run, or a user's service, with the upstreams
// cbload runs for it. Every arm run of either starts, drives and finishes
// through an armRun, which attaches the observers.
type system interface {
	// runArm runs a through the phases, telling cp of each phase that
	// settles. It returns the arm's measurements even when it stops early
	// (with the error that stopped it), and nil only when nothing ran.
	runArm(ctx context.Context, a *armRun, cp *checkpoints) (*reports.Arm, error)
	// close stops what the system started for the whole run.
	close()
}

// gatewaySystem is cbload's own gateway chain and upstream, started for
// each arm run.
type gatewaySystem struct{ cfg *Config }

func (g gatewaySystem) runArm(ctx context.Context, a *armRun, cp *checkpoints) (*reports.Arm, error) {
	return runArm(ctx, g.cfg, a, cp)
}

func (gatewaySystem) close() {}

// newReport starts the report of a run of cfg: everything but the arms and
// the verdict.
func newReport(cfg *Config) *reports.Report {
	r := &reports.Report{
		Schema:      reports.Schema,
		Attribution: reports.AttributionCompletion,
		StartedAt:   time.Now().UTC(),
		Seed:        cfg.Seed,
		Config:      reportConfig(cfg),
		Arms:        []reports.Arm{},
	}
	// Shards agree on the start time and the seed, so on the run id.
	idAt := r.StartedAt
	if !cfg.StartAt.IsZero() {
		idAt = cfg.StartAt.UTC()
		r.StartAt = &idAt
	}
	r.RunID = cmp.Or(cfg.RunID, fmt.Sprintf("%s-%d", idAt.Format("20060102T150405Z"), cfg.Seed))
	if cfg.Shard.Sharded() {
		r.Shard = &reports.Shard{
			Index: cfg.Shard.Index, Count: cfg.Shard.Count,
			Rate:        cfg.Rate / float64(cfg.Shard.Count),
			Seed:        ShardSeed(cfg.Seed, cfg.Shard.Index, cfg.Shard.Count),
			ClockOffset: ClockOffsetUnknown,
		}
	}
	r.Phases = cfg.reportPhases()
	return r
}

func partialReason(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline exceeded"
	}
	return err.Error()
}

// runArm runs arm run a through cbload's own chain: a fresh upstream and
// gateway on loopback, the arm's policy, and the load.
func runArm(ctx context.Context, cfg *Config, a *armRun, cp *checkpoints) (*reports.Arm, error) {
	withBreaker := a.name == reports.ArmBreaker
	upCfg := cfg.upstreamServer("127.0.0.1:0")
	upCfg.Faults = cfg.Phases[0].Faults
	// Traced tiers; nil when tracing is off.
	var gtel *gatewayTracing
	if a.tel != nil {
		a.tel.instrumentUpstream(&upCfg)
		gtel = a.tel.forGateway(a.ex)
	}
	srv, err := faultserver.New(upCfg)
	if err != nil {
		return nil, &SetupError{fmt.Errorf("start upstream: %w", err)}
	}
	defer srv.Close()
	up := &upstreamSet{names: []string{DefaultUpstream}, servers: []*faultserver.Server{srv}, phases: cfg.Phases}

	ch, err := startChain(cfg, a.name, srv.URL(), gtel)
	if err != nil {
		return nil, &SetupError{err}
	}
	defer ch.close()
	gw, pol := ch.top(), ch.topPolicy()

	lr := newLoadRunner(cfg.shardRate(), cfg.ClientTimeout, nil, a.wrapLoad(nil))
	defer lr.close()

	// The arm's clock starts at its scheduled start, or now; the pacer
	// times every send against it.
	if err := a.start(ctx, up, withBreaker); err != nil {
		return nil, err
	}
	api, local := gw.url()+"/api", gw.url()+"/local"
	results := a.attack(lr, mixTargeter(api, local, cfg.CollateralShare, cfg.shardSeed(), &a.sent))
	w, stopErr := a.drive(ctx, armLoop{
		lr:          lr,
		collateral:  func(res *vegeta.Result) bool { return res.URL == local },
		state:       pol.State,
		transitions: func(now time.Time) int { return len(pol.Transitions(now)) },
		takePeak:    gw.pool.TakePeak,
		inflight:    gw.pool.InFlight,
		takeCalls:   ch.bottom().takeCalls,
	}, up, cp, results)
	gwErrs, gwLast := ch.resourceErrors()
	end := time.Now()
	start := a.t0()
	arm := a.rec.arm(a.name, transitions(pol.Transitions(end), start), w, gwErrs, gwLast)
	arm.LowerTierTransitions = ch.lowerTransitions(end, start)
	arm.BreakerFigures = reports.BreakerMeasured
	a.finish(&arm, up)
	return &arm, stopErr
}

// armLoop is what drive needs from one arm's system under test; it differs
// between cbload's own gateway and a user's service.
type armLoop struct {
	name  string
	start time.Time
	// up is switched to each phase's faults as it starts.
	up  *upstreamSet
	lr  *loadRunner
	rec *recorder
	// sent counts the requests sent so far, as they are sent.
	sent *atomic.Int64
	// collateral says whether a result is from the collateral endpoint.
	collateral func(*vegeta.Result) bool
	// observe, when set, sees every result after the recorder, with
	// whether it came from the collateral endpoint.
	observe func(res *vegeta.Result, collateral bool)
	// state is the breaker state at a time; takePeak returns the most
	// requests in flight since its last call, inflight the number now.
	state    func(time.Time) string
	takePeak func() int64
	inflight func() int64
	// transitions, when set, is how many state transitions the breaker
	// has made up to a time.
	transitions func(time.Time) int
	// onPhase, when set, is told each phase as it starts.
	onPhase func(phase string)
	// takeCalls, when set, merges the gateway's upstream call latencies
	// since its last call into a histogram.
	takeCalls func(*reports.DenseHistogram)
	// settled, when set, is told each phase but the last (by index) once
	// its results are all in; its error stops the arm as a cancelled ctx
	// does, and drive returns it.
	settled func(phase int) error
}

// settler tells when a phase's results are all in. vegeta numbers the
// requests of an attack in the order it sends them (Seq; Timestamp never
// decreases with it), so once every request up to one sent at or after a
// phase's end has been answered, so has every request sent before the end:
// nothing answered later can count in the phase. Its memory holds only the
// answers that arrived ahead of an earlier request's.
type settler struct {
	ends    []time.Duration // each phase's end, from the arm's start
	lastSec []int           // each phase's last second
	next    int             // the first phase not yet settled
	low     uint64          // every request numbered below low was answered
	lowSent time.Duration   // when request low-1 was sent
	ahead   map[uint64]time.Duration
}

func newSettler(sched *schedule.Schedule) *settler {
	s := &settler{ahead: map[uint64]time.Duration{}}
	for i := range sched.Len() {
		end := sched.Start(i + 1)
		s.ends = append(s.ends, end)
		s.lastSec = append(s.lastSec, int((end-1)/time.Second))
	}
	return s
}

// add notes the answer to request seq, sent at offset sent.
func (s *settler) add(seq uint64, sent time.Duration) {
	if seq != s.low {
		s.ahead[seq] = sent
		return
	}
	s.low, s.lowSent = s.low+1, sent
	for {
		t, ok := s.ahead[s.low]
		if !ok {
			return
		}
		delete(s.ahead, s.low)
		s.low, s.lowSent = s.low+1, t
	}
}

// ready reports whether phase s.next has settled, the gauges having been
// sampled up to second sampled.
func (s *settler) ready(sampled int) bool {
	return s.low > 0 && s.lowSent >= s.ends[s.next] && sampled >= s.lastSec[s.next]
}

// drive runs one arm's measurement loop until the load's results channel
// closes: it feeds results to the recorder, switches the upstream's faults
// at phase boundaries, samples the gauges once a second and reports
// progress, while a watchdog looks for stalls. When ctx is cancelled, or
// a.settled returns an error, it aborts the load, cancelling requests in
// flight, and releases held requests; it returns that error then. The recorder is flushed when drive
// returns, with what the watchdog saw.
func drive(ctx context.Context, cfg *Config, a armLoop, results <-chan *vegeta.Result) (watchdogReport, error) {
	a, detach := cfg.Metrics.attach(a)
	defer detach()
	sched := cfg.sched
	total := sched.Duration()
	totalSecs := int(total / time.Second)
	phase := 0
	// The schedule's clock tells of each phase as it begins (of the last
	// of several at once, when the process was stopped past them).
	begins := make(chan int, sched.Len())
	stopClock := startClock(ctx, a.start, sched, begins)
	defer stopClock()
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	if a.onPhase != nil {
		a.onPhase(cfg.Phases[0].Name)
	}

	wd := startWatchdog(a.start)
	done := ctx.Done()
	var stopErr error
	stop := func(err error) {
		stopErr = err
		done = nil
		a.lr.abort()
		a.up.release() // release held requests at once
	}
	var settle *settler
	if a.settled != nil {
		settle = newSettler(cfg.sched)
	}
	sampled := -1
	// checkSettled tells a.settled of each phase that has settled: its
	// results are in, its gauges sampled and the upstreams have booked it.
	checkSettled := func() {
		for settle != nil && stopErr == nil && settle.next < len(cfg.Phases)-1 && settle.next < phase && settle.ready(sampled) {
			settle.next++
			if err := a.settled(settle.next - 1); err != nil {
				stop(err)
			}
		}
	}
	var lastSent int64
	// An external upstream, which this run cannot see, is an empty set:
	// it counts nothing.
	last := a.up.Stats()
	probe := newSchedProbe()
	sample := func(now time.Time, sec int) {
		st := a.up.Stats()
		var schedP99 *float64
		if p99, ok := probe.take(); ok {
			schedP99 = &p99
		}
		a.rec.sample(sec, gauge{
			state:            a.state(now),
			inflightPeak:     a.takePeak(),
			goroutines:       runtime.NumGoroutine(),
			schedP99:         schedP99,
			upstreamRequests: st.Requests - last.Requests,
			completed:        st.Completed - last.Completed,
			completedForGone: st.CompletedForGone - last.CompletedForGone,
			queuePeak:        a.up.takeQueuePeak(),
			queueLen:         st.QueueLen,
		})
		last = st
		sampled = sec
		if a.takeCalls != nil {
			a.rec.addCalls(sec, a.takeCalls)
		}
	}

loop:
	for {
		select {
		case res, ok := <-results:
			if !ok {
				break loop
			}
			collateral := a.collateral(res)
			// From here on the result is written down: in the error set, the
			// results file. net/http's errors quote the URL, userinfo too.
			res.URL, res.Error = RedactURL(res.URL), RedactText(res.Error)
			a.rec.add(res, collateral)
			if cfg.OnSample != nil || cfg.Results != nil {
				done := a.rec.clamp(res.Timestamp.Add(res.Latency).Sub(a.start))
				phase := a.rec.plan[a.rec.phaseIndex(done)].Name
				cfg.Results.add(res, a.name, phase)
				if cfg.OnSample != nil {
					cfg.OnSample(Sample{Arm: a.name, Phase: phase, Collateral: collateral, OK: classify(res) == oOK, Latency: res.Latency})
				}
			}
			if a.observe != nil {
				a.observe(res, collateral)
			}
			if settle != nil {
				settle.add(res.Seq, res.Timestamp.Sub(a.start))
				checkSettled()
			}
		case begun := <-begins:
			for phase < begun {
				phase++
				if a.onPhase != nil {
					a.onPhase(cfg.Phases[phase].Name)
				}
				a.up.next()
			}
			checkSettled()
		case now := <-ticker.C:
			sec := int((now.Sub(a.start)+500*time.Millisecond)/time.Second) - 1
			if sec <= sampled || sec >= totalSecs {
				continue
			}
			sample(now, sec)
			checkSettled()
			a.rec.flush(now, false)
			cfg.Results.flush() // a crash loses at most a second of results
			sent := a.sent.Load()
			apiOK, localOK := a.rec.takeLive()
			if cfg.Progress != nil {
				cfg.Progress(Progress{
					Arm: a.name, Second: sec, Phase: cfg.Phases[a.rec.phaseIndex(time.Duration(sec)*time.Second)].Name, Total: total,
					Scheduled: a.rec.scheduled(sec), Sent: sent - lastSent,
					APIOK: apiOK, LocalOK: localOK, Inflight: a.inflight(), State: a.state(now),
				})
			}
			lastSent = sent
		case <-done:
			stop(ctx.Err())
		}
	}
	now := time.Now()
	// The attack can end before the last second's tick — a shard's last
	// send may be due up to N intervals before the schedule's end — so
	// sample it here; a stopped arm, up to the last second it recorded
	// anything in (the one it stopped in, cut short, or one an answer cut
	// off by the stop completed in), so that every second of the series
	// has its gauges and state.
	lastSec := totalSecs - 1
	if stopErr != nil {
		lastSec = min(a.rec.lastSecond(), totalSecs-1)
	}
	for sec := sampled + 1; sec <= lastSec; sec++ {
		sample(now, sec) // the first takes what the gauges counted since the last
	}
	a.rec.flush(now, true)
	return wd.stop(), stopErr
}

// startClock runs sched's clock for an arm that started at t0: it sends on
// begins the index of each phase after the first as it begins, from a
// goroutine that the returned stop ends and waits for. begins must have
// room for every phase.
func startClock(ctx context.Context, t0 time.Time, sched *schedule.Schedule, begins chan<- int) (stop func()) {
	times := make([]time.Time, 0, sched.Len()-1)
	for i := 1; i < sched.Len(); i++ {
		times = append(times, t0.Add(sched.Start(i)))
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Its only error is ctx's, which drive sees for itself.
		_ = schedule.RunTimes(ctx, times, func(i int, _ time.Time) { begins <- i + 1 })
	}()
	return func() {
		cancel()
		<-done
	}
}

// shardRate is the rate this process sends: its shard's share.
func (c *Config) shardRate() float64 { return c.Rate / float64(c.Shard.count()) }

// shardSeed is the seed of this process's random choices.
func (c *Config) shardSeed() int64 { return ShardSeed(c.Seed, c.Shard.Index, c.Shard.count()) }

func reportConfig(c *Config) reports.Config {
	rc := reports.Config{
		Rate:            c.Rate,
		CollateralShare: c.CollateralShare,
		ClientTimeout:   reports.Duration(c.ClientTimeout),
		ArmMode:         cmp.Or(c.ArmMode, ArmsSequential),
		GatewayWorkers:  c.Gateway.Workers,
		QueueTimeout:    reports.Duration(c.Gateway.QueueTimeout),
		CallTimeout:     reports.Duration(c.Gateway.CallTimeout),
		LocalWork:       reports.Duration(c.Gateway.LocalWork),
		Breaker: reports.Breaker{
			Timeout:             reports.Duration(c.Breaker.Timeout),
			MaxRequests:         c.Breaker.MaxRequests,
			Interval:            reports.Duration(c.Breaker.Interval),
			BucketPeriod:        reports.Duration(c.Breaker.BucketPeriod),
			ConsecutiveFailures: c.Breaker.ConsecutiveFailures,
			FailureRatio:        c.Breaker.FailureRatio,
			MinRequests:         c.Breaker.MinRequests,
		},
		Upstream: reports.Upstream{
			ServiceTime: reports.Duration(c.Upstream.ServiceTime),
			Jitter:      reports.Duration(c.Upstream.Jitter),
			Concurrency: c.Upstream.Concurrency,
			Queue:       c.Upstream.Queue,
			HonorCancel: c.Upstream.HonorCancel,
			External:    c.UpstreamExternal,
		},
		Arms:         append([]string(nil), c.Arms...),
		Trials:       max(c.Trials, 1),
		Tiers:        c.Tiers,
		Retries:      c.Gateway.Retries,
		RetryBackoff: reports.Duration(c.Gateway.RetryBackoff),
	}
	if slices.Contains(c.Arms, "retry-budget") {
		rc.RetryBudget = &reports.RetryBudget{Ratio: c.RetryBudget.Ratio, Window: reports.Duration(c.RetryBudget.Window)}
	}
	if slices.Contains(c.Arms, "throttle") {
		rc.Throttle = &reports.Throttle{K: c.Throttle.K, Window: reports.Duration(c.Throttle.Window)}
	}
	return rc
}
