package reports_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

// The largest run the caps allow (scenario and harness limits): 8 arms (8
// targets; the built-in gateway has fewer arms), each a schedule of 1 h in
// 200 phases of 18 s with 16 faults each, every phase's error sets full (20
// texts of 200 bytes per endpoint), 16 named upstreams with 8 fault kinds
// each, 20 trials (their figures; raw data is trial 1's), 100 thresholds,
// 1000 requests of 1 KB in the load mix, and the breaker changing state 5 times a
// second (a target's state URL is polled every 200 ms).
const (
	capArms      = 8
	capSeconds   = 3600
	capPhases    = 200
	capTrials    = 20
	capUpstreams = 16
)

// density is how full each second's histograms are: non-empty buckets and
// the count in each.
type density struct {
	name                    string
	api, collateral, lag    int
	perBucket               int64
	upstreamCall, withSlots bool
}

var (
	// defaultDensity is that of cbload's default run (200 req/s, latency
	// fault): about 50 /api, 10 /local and 60 send lag buckets a second,
	// a few values in each.
	defaultDensity = density{name: "default run", api: 50, collateral: 10, lag: 60, perBucket: 2, withSlots: true}
	// fullDensity is the most a second can hold at the highest rate,
	// 20,000 req/s, with latencies up to the default 3 s client timeout:
	// every bucket from 0 to 3 s (1052) in every histogram.
	fullDensity = density{name: "every bucket", api: 1052, collateral: 1052, lag: 1052, perBucket: 19, withSlots: true}
	// noRaw is what FitJSON leaves when the raw aggregates do not fit.
	noRaw = density{name: "raw left out"}
)

func hist(buckets int, per int64) *reports.Histogram {
	if buckets == 0 {
		return nil
	}
	h := &reports.Histogram{Count: int64(buckets) * per, MaxUS: 2999999, SumNS: 1 << 52}
	for i := range buckets {
		h.Buckets = append(h.Buckets, int64(i), per)
	}
	return h
}

// largestReport builds the report of the largest run the caps allow, with
// seconds seconds per arm and its histograms as full as d says.
func largestReport(t testing.TB, d density, seconds int) *reports.Report {
	t.Helper()
	r := sample(t)
	base := r.Arms[0]
	long := func(prefix string, n int) string { return prefix + strings.Repeat("x", n-len(prefix)) }
	r.Phases = nil
	var faults []string
	for i := range 16 {
		faults = append(faults, fmt.Sprintf("latency:1s,rate=0.%02d,path=/api/%s", i, strings.Repeat("p", 10)))
	}
	perPhase := max(seconds/capPhases, 1)
	for i := range capPhases {
		r.Phases = append(r.Phases, reports.Phase{Name: fmt.Sprintf("phase-%d", i), StartS: float64(i * perPhase), EndS: float64((i + 1) * perPhase), Faults: faults})
	}
	r.Config.Arms = nil
	r.Config.Targets = nil
	// A request file holds at most 1 MiB: every target's load mix.
	var mix []string
	for i := range 1000 {
		mix = append(mix, long(fmt.Sprintf("POST http://127.0.0.1:8080/api/%d?", i), 1000))
	}
	for i := range capArms {
		r.Config.Targets = append(r.Config.Targets, reports.Target{Name: fmt.Sprintf("target-%d", i), URL: long("http://127.0.0.1:8080/", 300), Requests: mix})
	}
	for i := range capUpstreams {
		r.Config.Upstreams = append(r.Config.Upstreams, reports.NamedUpstream{Name: fmt.Sprintf("upstream-%d", i), Addr: "127.0.0.1:65535"})
	}
	big := reports.Latency{P50: 2999.999, P90: 2999.999, P95: 2999.999, P99: 2999.999, Max: 2999.999, Mean: 2999.999}
	outcomes := reports.Outcomes{OK: 19999, UpstreamError: 19999, Timeout: 19999, TimeoutAt: reports.TimeoutAt{LoadRunner: 19999, UpstreamCall: 19999},
		Rejected: 19999, Saturated: 19999, ConnectionError: 19999, Redirect: 19999, ClientError: 19999, AssertionFailed: 19999}
	stats := func() reports.Stats {
		s := reports.Stats{Requests: 71999999, OK: 71999999, SuccessRatio: 0.123456789, Outcomes: outcomes, LatencyMS: big,
			StatusCodes: map[string]int64{}, ErrorsOther: 71999999, BytesIn: 1 << 50, BytesOut: 1 << 50}
		for c := range 60 {
			s.StatusCodes[fmt.Sprint(200+c*5)] = 71999999
		}
		for e := range reports.MaxErrorTexts {
			s.Errors = append(s.Errors, reports.ErrorCount{Error: long(fmt.Sprintf("Get \"http://127.0.0.1:8080/api\": error %d ", e), reports.MaxErrorText), Count: 71999999})
		}
		return s
	}
	upstreams := map[string]reports.UpstreamPhase{}
	for i := range capUpstreams {
		inj := map[string]int64{}
		for _, k := range []string{"latency", "error", "hang", "refuse", "reset", "slowbody", "slowdown", "jitter"} {
			inj[k] = 71999999
		}
		upstreams[fmt.Sprintf("upstream-%d", i)] = reports.UpstreamPhase{Requests: 71999999, Injected: inj}
	}
	attempts := 1.234
	schedP99 := 9999.999
	r.Arms = nil
	for a := range capArms {
		arm := base
		arm.Name = fmt.Sprintf("target-%d", a)
		arm.Summary = map[string]reports.PhaseSummary{}
		for _, p := range r.Phases {
			arm.Summary[p.Name] = reports.PhaseSummary{API: stats(), Collateral: stats(), UpstreamRequests: 71999999, AttemptsPerRequest: 1.234,
				InflightPeak: 99999, UpstreamCallMS: &big, Upstreams: upstreams, UpstreamAttemptsPerAPIRequest: &attempts, UpstreamEffect: reports.EffectAmplification}
		}
		arm.Series, arm.Transitions, arm.Exemplars = nil, nil, nil
		states := []string{reports.StateClosed, reports.StateOpen, reports.StateHalfOpen}
		for s := range seconds {
			sec := reports.Second{T: s, Phase: r.Phases[min(s/perPhase, capPhases-1)].Name, State: reports.StateHalfOpen,
				Scheduled: 20000, Sent: 20000, SendLagMS: reports.Lag{P99: 99.999, Max: 99.999}, SendLagHist: hist(d.lag, d.perBucket),
				InflightPeak: 99999, Goroutines: 99999, SchedLatencyP99MS: &schedP99, UpstreamRequests: 99999, APIAttempts: 99999, UpstreamCompleted: 99999, UpstreamCompletedForGone: 99999, UpstreamQueueLen: 99999,
				API:        reports.Bucket{Sent: 19999, Requests: outcomes.Total(), Outcomes: outcomes, LatencyMS: big, LatencyHist: hist(d.api, d.perBucket)},
				Collateral: reports.Bucket{Sent: 19999, Requests: outcomes.Total(), Outcomes: outcomes, LatencyMS: big, LatencyHist: hist(d.collateral, d.perBucket)}}
			if d.upstreamCall {
				sec.UpstreamCallHist = hist(d.api, d.perBucket)
			}
			arm.Series = append(arm.Series, sec)
			for k := range 5 {
				arm.Transitions = append(arm.Transitions, reports.Transition{T: float64(s) + float64(k)*0.2 + 0.123, From: states[k%3], To: states[(k+1)%3]})
			}
		}
		for _, p := range r.Phases {
			for _, kind := range []string{"first_rejection", "slowest_api", "slowest_collateral", "most_retried"} {
				arm.Exemplars = append(arm.Exemplars, reports.Exemplar{Phase: p.Name, Kind: kind, TraceID: strings.Repeat("f", 32), URL: long("http://127.0.0.1:16686/trace/", 100)})
			}
		}
		arm.APISlots = nil
		if d.withSlots {
			arm.APISlots = &reports.Slots{WidthMS: 100}
			for range seconds * 10 {
				arm.APISlots.OK = append(arm.APISlots.OK, 1999)
				arm.APISlots.N = append(arm.APISlots.N, 1999)
			}
		}
		// Each phase's requests are what its seconds hold, as in a
		// report a run writes.
		for name, ps := range arm.Summary {
			ps.API.Requests, ps.Collateral.Requests = 0, 0
			arm.Summary[name] = ps
		}
		for _, sec := range arm.Series {
			ps := arm.Summary[sec.Phase]
			ps.API.Requests += sec.API.Requests
			ps.Collateral.Requests += sec.Collateral.Requests
			arm.Summary[sec.Phase] = ps
		}
		arm.Notes = append(arm.Notes, long("raw data left out: ", 400))
		r.Arms = append(r.Arms, arm)
		r.Config.Arms = append(r.Config.Arms, arm.Name)
	}
	r.Trials = &reports.Trials{N: capTrials, Agree: true}
	for a := range r.Arms {
		ta := reports.TrialArm{Name: r.Arms[a].Name, Median: r.Arms[a].Figures, Min: r.Arms[a].Figures, Max: r.Arms[a].Figures}
		for tr := range capTrials {
			ta.Runs = append(ta.Runs, r.Arms[a].Figures)
			r.Trials.Order = append(r.Trials.Order, fmt.Sprintf("%s#%d", r.Arms[a].Name, tr+1))
		}
		r.Trials.Arms = append(r.Trials.Arms, ta)
	}
	for range capTrials {
		r.Trials.Outcomes = append(r.Trials.Outcomes, r.Verdict.Outcome)
	}
	r.Validity.Checks = nil
	for _, a := range r.Arms {
		for tr := range capTrials {
			for _, c := range []string{reports.CheckOfferedRate, reports.CheckSendLag, reports.CheckNoStall, reports.CheckResourceErrors, reports.CheckBaselineHealthy, reports.CheckUpstreamReached, reports.CheckCPU} {
				r.Validity.Checks = append(r.Validity.Checks, reports.ValidityCheck{Name: c, Arm: a.Name, Trial: tr + 1, Pass: true, Value: 0.999, Limit: 0.98, Unit: "ratio", Message: long("the offered rate held ", 200)})
			}
		}
	}
	return r
}

// jsonSize writes r as report.json and returns its size.
func jsonSize(t testing.TB, r *reports.Report) int {
	t.Helper()
	var b bytes.Buffer
	if err := reports.WriteJSON(&b, r); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	return b.Len()
}

// TestLargestReportReadsBack measures report.json for the largest run the
// caps allow, at the default run's histogram density and with every bucket
// full, and writes the largest report cbload can write — that run with its
// raw aggregates left out, as FitJSON leaves it when they do not fit — and
// reads it back. The size grows linearly with the seconds (series,
// transitions, /api slots), so each density is measured at 60 and 120 s an
// arm and extrapolated to the caps' 3600 s.
func TestLargestReportReadsBack(t *testing.T) {
	atCaps := map[string]int{}
	for _, d := range []density{defaultDensity, fullDensity, noRaw} {
		s60, s120 := jsonSize(t, largestReport(t, d, 60)), jsonSize(t, largestReport(t, d, 120))
		atCaps[d.name] = s120 + (s120-s60)/60*(capSeconds-120)
		t.Logf("%s: %.1f KiB per arm-second; %.1f MiB at the caps (%d arms × %d s)", d.name, float64(s120-s60)/60/capArms/1024, float64(atCaps[d.name])/(1<<20), capArms, capSeconds)
	}
	if n := atCaps[defaultDensity.name]; n > reports.MaxJSONSize {
		t.Errorf("the largest run at the default run's density writes %.1f MiB, over MaxJSONSize (%d MiB): its raw data would be left out", float64(n)/(1<<20), reports.MaxJSONSize>>20)
	}
	if n := atCaps[fullDensity.name]; n <= reports.MaxJSONSize {
		t.Errorf("the largest run with every bucket full writes %.1f MiB, within MaxJSONSize; the test no longer shows FitJSON is needed", float64(n)/(1<<20))
	}

	if testing.Short() {
		t.Skip("writes and reads a 120 MiB report")
	}
	r := largestReport(t, noRaw, capSeconds)
	var b bytes.Buffer
	if err := reports.WriteJSON(&b, r); err != nil {
		t.Fatalf("WriteJSON(the largest run, raw left out) = %v; want it written", err)
	}
	n := b.Len()
	if _, err := reports.ReadJSON(&b); err != nil {
		t.Fatalf("ReadJSON(%.1f MiB, the largest report cbload writes) = %v; want it read", float64(n)/(1<<20), err)
	}
	t.Logf("the largest report cbload writes (raw left out): %.1f MiB of %d MiB", float64(n)/(1<<20), reports.MaxJSONSize>>20)
}

// TestFitJSON checks that FitJSON leaves a report that fits as it is, and
// leaves the raw aggregates out of one that does not — saying so in every
// arm's notes — so that it fits and reads back; and that WriteJSON refuses
// a report over the limit.
func TestFitJSON(t *testing.T) {
	r := largestReport(t, fullDensity, 30)
	full := jsonSize(t, r)
	if n, err := reports.FitJSONWithin(r, full); err != nil || n != 0 || r.Arms[0].APISlots == nil {
		t.Fatalf("FitJSON within its own size = %d, %v; want 0, nil and the raw data kept", n, err)
	}
	limit := full - 1
	n, err := reports.FitJSONWithin(r, limit)
	if err != nil || n != full {
		t.Fatalf("FitJSON within %d bytes = %d, %v; want %d, nil", limit, n, err, full)
	}
	var b bytes.Buffer
	if err := reports.WriteJSONWithin(&b, r, limit); err != nil {
		t.Fatalf("WriteJSON after FitJSON = %v; want it to fit within %d bytes", err, limit)
	}
	got, err := reports.ReadJSON(&b)
	if err != nil {
		t.Fatalf("ReadJSON after FitJSON: %v", err)
	}
	for _, a := range got.Arms {
		if a.APISlots != nil || a.Series[0].API.LatencyHist != nil || a.Series[0].SendLagHist != nil || a.Series[0].Collateral.LatencyHist != nil {
			t.Errorf("arm %s kept raw data after FitJSON", a.Name)
		}
		if note := a.Notes[len(a.Notes)-1]; !strings.HasPrefix(note, "raw data left out: with every second's histograms") || !strings.Contains(note, "cannot be merged") {
			t.Errorf("arm %s's last note = %q; want it to say the raw data was left out and the report cannot be merged", a.Name, note)
		}
		if a.Summary["phase-1"].API.LatencyMS.P99 == 0 || a.Series[0].API.LatencyMS.P99 == 0 {
			t.Errorf("arm %s lost its percentiles", a.Name)
		}
	}
	if err := reports.WriteJSONWithin(&b, r, 1000); !errors.Is(err, reports.ErrTooLarge) {
		t.Errorf("WriteJSON over the limit = %v; want ErrTooLarge", err)
	}
}
