package harness

import (
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/reports"
)

// Live metrics. One set of instruments, declared here, feeds both the
// Prometheus endpoint (--metrics-addr) and OTLP metrics (metricsexport.go).
// Their labels come from closed sets — the run's arms, two endpoints, the
// outcome classes, the run's upstreams, the fault kinds and breaker states —
// so the series a run creates are bounded by its configuration, never by
// its length.

// Metric label values for the two endpoints of a run.
const (
	endpointAPI   = "api"
	endpointLocal = "local"
)

// outcomeLabels names each outcome class as the metrics label it.
var outcomeLabels = [...]string{
	oOK:              "ok",
	oUpstreamError:   "upstream_error",
	oTimeoutUpstream: "timeout_upstream",
	oTimeoutClient:   "timeout_client",
	oRejected:        "rejected",
	oSaturated:       "saturated",
	oConnection:      "connection_error",
	oRedirect:        "redirect",
	oClientError:     "client_error",
	oAssertionFailed: "assertion_failed",
}

// breakerStates are the states cbload_breaker_state names, in the order of
// cbload_breaker_state_code's values.
var breakerStates = [...]string{reports.StateClosed, reports.StateHalfOpen, reports.StateOpen}

// latencyBuckets are the classic buckets of the latency histogram: from
// the gateway's fast local work to the load runner's timeouts.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Native histogram settings: buckets ~10% wide, at most 160 of them, so a
// scraper asking for protobuf gets a high-resolution histogram.
const (
	nativeBucketFactor = 1.1
	nativeMaxBuckets   = 160
)

// Metrics holds the live instruments of cbload runs: per arm and endpoint,
// requests by outcome and their latency; offered and sent requests,
// requests in flight, the breaker's state and transitions, the upstreams'
// requests and injected faults, and the phase. Pass it in Config.Metrics
// and serve Handler; one Metrics may serve several runs in turn, but not
// two at once. Its methods are safe for concurrent use.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	live     *liveCollector

	mu   sync.Mutex
	arms map[string]*armObserver
}

// NewMetrics returns the instruments, registered in a registry of their
// own.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cbload_requests_total",
			Help: "Requests completed, by arm, endpoint (api: through the dependency; local: the collateral probe) and outcome class.",
		}, []string{"arm", "endpoint", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:                            "cbload_request_duration_seconds",
			Help:                            "Latency of completed requests as the load runner saw it, by arm and endpoint.",
			Buckets:                         latencyBuckets,
			NativeHistogramBucketFactor:     nativeBucketFactor,
			NativeHistogramMaxBucketNumber:  nativeMaxBuckets,
			NativeHistogramMinResetDuration: time.Hour,
		}, []string{"arm", "endpoint"}),
		live: newLiveCollector(),
		arms: map[string]*armObserver{},
	}
	m.reg.MustRegister(m.requests, m.latency, m.live)
	return m
}

// Handler serves the instruments in the Prometheus exposition formats:
// text, OpenMetrics, or protobuf (with native histograms) as the scraper
// asks.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Gatherer returns the registry the instruments are in.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// armObserver holds an arm's request instruments, resolved once so that
// recording a result is two atomic updates, with no label lookup.
type armObserver struct {
	requests [2][len(outcomeLabels)]prometheus.Counter
	latency  [2]prometheus.Observer
}

// observer returns arm's request instruments, creating them on first use.
func (m *Metrics) observer(arm string) *armObserver {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o := m.arms[arm]; o != nil {
		return o
	}
	o := &armObserver{}
	for e, ep := range [2]string{endpointAPI, endpointLocal} {
		for i, out := range outcomeLabels {
			o.requests[e][i] = m.requests.WithLabelValues(arm, ep, out)
		}
		o.latency[e] = m.latency.WithLabelValues(arm, ep)
	}
	m.arms[arm] = o
	return o
}

// observe records one completed request.
func (o *armObserver) observe(res *vegeta.Result, collateral bool) {
	e := 0
	if collateral {
		e = 1
	}
	o.requests[e][classify(res)].Inc()
	o.latency[e].Observe(res.Latency.Seconds())
}

// attach feeds a's results, phases and gauges to m while drive runs it;
// the caller must call the returned function when the arm ends. A nil m
// returns a unchanged.
func (m *Metrics) attach(a armLoop) (armLoop, func()) {
	if m == nil {
		return a, func() {}
	}
	obs := m.observer(a.name)
	if next := a.observe; next != nil {
		a.observe = func(res *vegeta.Result, collateral bool) {
			obs.observe(res, collateral)
			next(res, collateral)
		}
	} else {
		a.observe = obs.observe
	}
	src := &armSource{
		state: a.state, transitions: a.transitions, inflight: a.inflight, sent: a.sent, up: a.up,
	}
	if p := a.rec.pace; p != nil {
		end := a.rec.sched.Duration()
		// As recorder.scheduled counts them: the sends due before now, and
		// at the end every one, the last due at the end itself.
		src.offered = func(now time.Time) int64 {
			switch x := now.Sub(p.t0); {
			case x <= 0:
				return 0
			case x >= end:
				return p.sendsUpTo(p.last)
			default:
				return p.sendsUpTo(int64((x - 1) / p.interval))
			}
		}
	}
	m.live.start(a.name, src)
	next, phase := a.onPhase, 0
	a.onPhase = func(name string) {
		m.live.setPhase(a.name, phase, name)
		phase++
		if next != nil {
			next(name)
		}
	}
	return a, func() { m.live.finish(a.name) }
}

// armSource is where a running arm's gauges and counters are read at
// scrape time. Every function must be safe to call from another goroutine.
type armSource struct {
	state       func(time.Time) string
	transitions func(time.Time) int // nil: not known
	inflight    func() int64
	sent        *atomic.Int64
	offered     func(time.Time) int64 // nil: not known
	up          *upstreamSet
}

// armCounts are an arm's counters, summed over its runs (trials).
type armCounts struct {
	offered, sent, transitions int64
	upstream                   map[string]upstreamCounts
}

type upstreamCounts struct {
	requests int64
	injected map[string]int64
}

// armLive is what the live collector knows of one arm: the counters of
// its finished runs, its source while it runs, its last state.
type armLive struct {
	name     string
	done     armCounts
	src      *armSource
	state    string
	upNames  []string
	inflight int64
	// phase is the phase the arm is in while it runs, "" otherwise.
	phase string
}

// liveCollector reads the running arm's gauges and counters when scraped,
// so a scrape sees them as they are, not as they were at the last second's
// tick.
type liveCollector struct {
	offered, sent, inflight, state, stateCode, transitions,
	upRequests, upInjected, upInflight, phase, phaseInfo *prometheus.Desc

	kinds []string

	mu       sync.Mutex
	arms     []*armLive
	phaseIdx int // the running arms' phase: one clock runs them all
}

func newLiveCollector() *liveCollector {
	arm := []string{"arm"}
	var kinds []string
	for _, k := range faultserver.Kinds() {
		kinds = append(kinds, k.Name)
	}
	return &liveCollector{
		offered:     prometheus.NewDesc("cbload_requests_offered_total", "Requests the schedule offered (due to be sent) so far, by arm.", arm, nil),
		sent:        prometheus.NewDesc("cbload_requests_sent_total", "Requests the load runner sent, by arm; below offered when it falls behind.", arm, nil),
		inflight:    prometheus.NewDesc("cbload_in_flight_requests", "Requests in flight in the gateway (or the target service, as the load runner sees it), by arm.", arm, nil),
		state:       prometheus.NewDesc("cbload_breaker_state", "The breaker's state, by arm: 1 for the state it is in, 0 for the others. Arms without a breaker have none.", []string{"arm", "state"}, nil),
		stateCode:   prometheus.NewDesc("cbload_breaker_state_code", "The breaker's state as a number, by arm: 0 closed, 1 half-open, 2 open.", arm, nil),
		transitions: prometheus.NewDesc("cbload_breaker_transitions_total", "Breaker state transitions, by arm.", arm, nil),
		upRequests:  prometheus.NewDesc("cbload_upstream_requests_total", "Requests the fault-injecting upstream received, by arm and upstream.", []string{"arm", "upstream"}, nil),
		upInjected:  prometheus.NewDesc("cbload_upstream_faults_injected_total", "Requests a fault was injected into, by arm, upstream and fault kind.", []string{"arm", "upstream", "kind"}, nil),
		upInflight:  prometheus.NewDesc("cbload_upstream_in_flight_requests", "Requests the upstream is handling now, by arm and upstream.", []string{"arm", "upstream"}, nil),
		phase:       prometheus.NewDesc("cbload_phase", "The index of the running arms' current phase in the schedule, from 0.", nil, nil),
		phaseInfo:   prometheus.NewDesc("cbload_phase_info", "1 for each arm running now and its phase (arms run at once with --arm-mode concurrent).", []string{"arm", "phase"}, nil),
		kinds:       kinds,
	}
}

// Describe sends every metric's description.
func (c *liveCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.offered, c.sent, c.inflight, c.state, c.stateCode, c.transitions, c.upRequests, c.upInjected, c.upInflight, c.phase, c.phaseInfo} {
		ch <- d
	}
}

func (c *liveCollector) arm(name string) *armLive {
	for _, a := range c.arms {
		if a.name == name {
			return a
		}
	}
	a := &armLive{name: name, done: armCounts{upstream: map[string]upstreamCounts{}}}
	c.arms = append(c.arms, a)
	return a
}

func (c *liveCollector) start(name string, src *armSource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.arm(name)
	a.src = src
	for _, n := range src.up.names {
		if !slices.Contains(a.upNames, n) {
			a.upNames = append(a.upNames, n)
		}
	}
}

func (c *liveCollector) setPhase(arm string, i int, name string) {
	c.mu.Lock()
	c.phaseIdx = i
	c.arm(arm).phase = name
	c.mu.Unlock()
}

// finish adds the arm's run to its finished counters and keeps its last
// state.
func (c *liveCollector) finish(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.arm(name)
	if a.src == nil {
		return
	}
	now := time.Now()
	a.done = a.read(now)
	a.state = a.src.state(now)
	a.src = nil
	a.inflight = 0
	a.phase = ""
}

// read returns the arm's counters: its finished runs' plus the running
// one's.
func (a *armLive) read(now time.Time) armCounts {
	t := armCounts{offered: a.done.offered, sent: a.done.sent, transitions: a.done.transitions, upstream: map[string]upstreamCounts{}}
	for n, u := range a.done.upstream {
		t.upstream[n] = u
	}
	s := a.src
	if s == nil {
		return t
	}
	if s.offered != nil {
		t.offered += s.offered(now)
	}
	t.sent += s.sent.Load()
	if s.transitions != nil {
		t.transitions += int64(s.transitions(now))
	}
	for i, st := range s.up.stats() {
		n := s.up.names[i]
		u := t.upstream[n]
		inj := make(map[string]int64, len(st.Injected))
		for k, v := range u.injected {
			inj[k] = v
		}
		for k, v := range st.Injected {
			inj[k] += v
		}
		t.upstream[n] = upstreamCounts{requests: u.requests + st.Requests, injected: inj}
	}
	return t
}

// Collect reads every arm's figures now.
func (c *liveCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for _, a := range c.arms {
		t := a.read(now)
		state, inflight := a.state, a.inflight
		upIn := map[string]int64{}
		if s := a.src; s != nil {
			state, inflight = s.state(now), s.inflight()
			for i, st := range s.up.stats() {
				upIn[s.up.names[i]] = st.InFlight
			}
		}
		ch <- prometheus.MustNewConstMetric(c.offered, prometheus.CounterValue, float64(t.offered), a.name)
		ch <- prometheus.MustNewConstMetric(c.sent, prometheus.CounterValue, float64(t.sent), a.name)
		ch <- prometheus.MustNewConstMetric(c.inflight, prometheus.GaugeValue, float64(inflight), a.name)
		if code := slices.Index(breakerStates[:], state); code >= 0 {
			for i, s := range breakerStates {
				ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, b2f(i == code), a.name, s)
			}
			ch <- prometheus.MustNewConstMetric(c.stateCode, prometheus.GaugeValue, float64(code), a.name)
			ch <- prometheus.MustNewConstMetric(c.transitions, prometheus.CounterValue, float64(t.transitions), a.name)
		}
		for _, n := range a.upNames {
			u := t.upstream[n]
			ch <- prometheus.MustNewConstMetric(c.upRequests, prometheus.CounterValue, float64(u.requests), a.name, n)
			ch <- prometheus.MustNewConstMetric(c.upInflight, prometheus.GaugeValue, float64(upIn[n]), a.name, n)
			for _, k := range c.kinds {
				ch <- prometheus.MustNewConstMetric(c.upInjected, prometheus.CounterValue, float64(u.injected[k]), a.name, n, k)
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(c.phase, prometheus.GaugeValue, float64(c.phaseIdx))
	for _, a := range c.arms {
		if a.phase != "" {
			ch <- prometheus.MustNewConstMetric(c.phaseInfo, prometheus.GaugeValue, 1, a.name, a.phase)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// UpstreamMetrics returns a handler serving a standalone upstream's
// counters (cbload serve --metrics-addr) in the Prometheus exposition
// formats, read from stats when scraped: requests, injected faults per
// kind, in flight, the capacity queue and workers, rejected and abandoned
// work, proxy errors and rejected connections.
func UpstreamMetrics(stats func() faultserver.Stats) http.Handler {
	return promhttp.HandlerFor(upstreamRegistry(stats), promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// upstreamRegistry holds a standalone upstream's collector, which reads
// stats when gathered: the Prometheus page and OTLP metrics each have one.
func upstreamRegistry(stats func() faultserver.Stats) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(upstreamCollector{stats: stats})
	return reg
}

// upstreamMetric is one figure of faultserver.Stats as a metric.
type upstreamMetric struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
	get  func(faultserver.Stats) int64
}

var upstreamMetrics = []upstreamMetric{
	{prometheus.NewDesc("cbload_upstream_requests_total", "Data requests received, faulted or not.", nil, nil), prometheus.CounterValue, func(s faultserver.Stats) int64 { return s.Requests }},
	{prometheus.NewDesc("cbload_upstream_in_flight_requests", "Data requests being handled now.", nil, nil), prometheus.GaugeValue, func(s faultserver.Stats) int64 { return s.InFlight }},
	{prometheus.NewDesc("cbload_upstream_completed_total", "Synthetic requests whose work (the service time) was done.", nil, nil), prometheus.CounterValue, func(s faultserver.Stats) int64 { return s.Completed }},
	{prometheus.NewDesc("cbload_upstream_completed_for_gone_total", "Work done for callers that had already gone (with --upstream-concurrency).", nil, nil), prometheus.CounterValue, func(s faultserver.Stats) int64 { return s.CompletedForGone }},
	{prometheus.NewDesc("cbload_upstream_queue_length", "Requests waiting for a worker (with --upstream-concurrency).", nil, nil), prometheus.GaugeValue, func(s faultserver.Stats) int64 { return s.QueueLen }},
	{prometheus.NewDesc("cbload_upstream_busy_workers", "Workers busy now (with --upstream-concurrency).", nil, nil), prometheus.GaugeValue, func(s faultserver.Stats) int64 { return s.BusyWorkers }},
	{prometheus.NewDesc("cbload_upstream_rejected_total", "Requests answered 503 because the queue was full.", nil, nil), prometheus.CounterValue, func(s faultserver.Stats) int64 { return s.Rejected }},
	{prometheus.NewDesc("cbload_upstream_abandoned_total", "Work dropped because its caller left (--upstream-honor-cancel).", nil, nil), prometheus.CounterValue, func(s faultserver.Stats) int64 { return s.Abandoned }},
	{prometheus.NewDesc("cbload_upstream_backend_errors_total", "Forwards that failed before the backend answered (--proxy-to).", nil, nil), prometheus.CounterValue, func(s faultserver.Stats) int64 { return s.BackendErrors }},
	{prometheus.NewDesc("cbload_upstream_backend_5xx_total", "5xx answers from the backend, passed through (--proxy-to).", nil, nil), prometheus.CounterValue, func(s faultserver.Stats) int64 { return s.Backend5xx }},
	{prometheus.NewDesc("cbload_upstream_connections_rejected_total", "Connections closed at once at the listener's cap, by listener.", []string{"listener"}, prometheus.Labels{}), prometheus.CounterValue, nil},
}

var upstreamInjectedDesc = prometheus.NewDesc("cbload_upstream_faults_injected_total", "Requests a fault was injected into, by fault kind.", []string{"kind"}, nil)

// upstreamCollector reads a standalone upstream's Stats when scraped.
type upstreamCollector struct{ stats func() faultserver.Stats }

func (c upstreamCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range upstreamMetrics {
		ch <- m.desc
	}
	ch <- upstreamInjectedDesc
}

func (c upstreamCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	for _, m := range upstreamMetrics {
		if m.get == nil { // the connections, by listener
			ch <- prometheus.MustNewConstMetric(m.desc, m.typ, float64(st.ConnsRejected), "data")
			ch <- prometheus.MustNewConstMetric(m.desc, m.typ, float64(st.ControlConnsRejected), "control")
			continue
		}
		ch <- prometheus.MustNewConstMetric(m.desc, m.typ, float64(m.get(st)))
	}
	for _, k := range faultserver.Kinds() {
		ch <- prometheus.MustNewConstMetric(upstreamInjectedDesc, prometheus.CounterValue, float64(st.Injected[k.Name]), k.Name)
	}
}
