package analysis

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/cbload/cbload/reports"
)

// svc describes, second by second, what a single service did in a
// synthetic one-target run: baseline 0–3 s, fault 3–7 s, recovery 7–10 s,
// 100 api requests sent and answered every second.
type svc struct {
	calls      func(t int) int64         // upstream calls in second t
	ok         func(t int) int64         // api answers ok in second t
	latency    func(t int) time.Duration // every api answer's latency in second t
	collateral float64                   // collateral success during the fault
	noColl     bool                      // the target has no collateral endpoint
}

func steadyReport(s svc) *reports.Report {
	reqs := []string{"GET http://127.0.0.1:9/api"}
	if !s.noColl {
		reqs = append(reqs, "GET http://127.0.0.1:9/health (collateral)")
	}
	r := &reports.Report{
		Config: reports.Config{ClientTimeout: reports.Duration(2 * time.Second),
			Targets: []reports.Target{{Name: "svc", URL: "http://127.0.0.1:9/api", Requests: reqs}}},
		Phases: []reports.Phase{
			{Name: "baseline", StartS: 0, EndS: 3},
			{Name: "fault", StartS: 3, EndS: 7, Faults: []string{"hang"}},
			{Name: "recovery", StartS: 7, EndS: 10},
		},
	}
	a := reports.Arm{Name: "svc", BreakerFigures: reports.BreakerInferred, Summary: map[string]reports.PhaseSummary{}}
	var base reports.Stats
	var baseHist reports.DenseHistogram
	for t := range 10 {
		var h reports.DenseHistogram
		for range 100 {
			h.Record(s.latency(t))
		}
		ok := s.ok(t)
		a.Series = append(a.Series, reports.Second{T: t, UpstreamRequests: s.calls(t),
			API: reports.Bucket{Sent: 100, Requests: 100, Outcomes: reports.Outcomes{OK: ok, UpstreamError: 100 - ok}, LatencyHist: h.Sparse()}})
		if t < 3 {
			base.Requests += 100
			base.OK += ok
			baseHist.Merge(&h)
		}
	}
	base.SuccessRatio = float64(base.OK) / float64(base.Requests)
	base.LatencyMS = baseHist.Sparse().Latency()
	a.Summary["baseline"] = reports.PhaseSummary{API: base, Collateral: reports.Stats{Requests: 300, OK: 300, SuccessRatio: 1, LatencyMS: reports.Latency{P99: 3}}}
	open := 0.5
	a.Figures = reports.Figures{TimeToOpenS: &open, CollateralSuccessDuringFault: s.collateral, CollateralP99DuringFaultMS: 4}
	var ok, n int64
	for _, sec := range a.Series[3:7] {
		ok, n = ok+sec.API.Outcomes.OK, n+sec.API.Requests
	}
	a.Figures.APISuccessDuringFault = float64(ok) / float64(n)
	r.Arms = []reports.Arm{a}
	return r
}

// A service with a breaker around its upstream call: it stops calling
// the hanging dependency 1 s into the fault, answers fast errors, and is
// back once the fault ends.
func breakerService() svc {
	return svc{
		calls: func(t int) int64 {
			if t >= 4 && t < 7 {
				return 1 // a half-open probe now and then
			}
			return 100
		},
		ok: func(t int) int64 {
			if t >= 3 && t < 7 {
				return 0
			}
			return 100
		},
		latency: func(t int) time.Duration {
			if t == 3 {
				return time.Second // until the breaker opens
			}
			return 2 * time.Millisecond
		},
		collateral: 1,
	}
}

func TestSteadyVerdict(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(s *svc)
		outcome string
		summary string
		judged  [4]bool // contained, shed, failed fast, recovered
		held    [4]bool
	}{
		{"held", func(*svc) {}, reports.OutcomeHeld,
			"The service held its steady state against its own baseline: contained, recovered, shed, failed fast.",
			[4]bool{true, true, true, true}, [4]bool{true, true, true, true}},
		{"not contained", func(s *svc) { s.collateral = 0.6 }, reports.OutcomeNotContained,
			"The damage was not contained: /health during the fault: 60.0% success",
			[4]bool{true, true, true, true}, [4]bool{false, true, true, true}},
		{"stuck", func(s *svc) {
			s.ok = func(t int) int64 { return map[bool]int64{true: 100, false: 0}[t < 3] }
		}, reports.OutcomeStuck, "The service did not recover: did not recover (stuck:",
			[4]bool{true, true, true, true}, [4]bool{true, true, true, false}},
		{"not shed", func(s *svc) {
			s.calls = func(int) int64 { return 100 }
			s.latency = func(t int) time.Duration {
				return map[bool]time.Duration{true: time.Second, false: 2 * time.Millisecond}[t >= 3 && t < 7]
			}
		}, reports.OutcomeNotShed, "The service kept calling the sick dependency: in 0 of the 2 seconds of the fault's second half it made at most half its baseline's upstream calls per /api request (median 1.00 against 1.00, by send time)",
			[4]bool{true, true, true, true}, [4]bool{true, false, false, true}},
		{"slow failure", func(s *svc) {
			s.latency = func(t int) time.Duration {
				return map[bool]time.Duration{true: 900 * time.Millisecond, false: 2 * time.Millisecond}[t >= 3 && t < 7]
			}
		}, reports.OutcomeSlowFailure, "The service failed slowly: /api p99",
			[4]bool{true, true, true, true}, [4]bool{true, true, false, true}},
		{"no collateral endpoint", func(s *svc) { s.noColl = true }, reports.OutcomeHeld,
			"Not judged: contained (see the reasons).",
			[4]bool{false, true, true, true}, [4]bool{false, true, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := breakerService()
			tt.edit(&s)
			r := steadyReport(s)
			Judge(r)
			v := r.Verdict
			if v.Outcome != tt.outcome || !strings.Contains(v.Summary, tt.summary) {
				t.Errorf("verdict %s: %q; want %s containing %q\nreasons:\n%s", v.Outcome, v.Summary, tt.outcome, tt.summary, strings.Join(v.Reasons, "\n"))
			}
			st := v.Steady
			if st == nil || st.Arm != "svc" {
				t.Fatalf("steady state %+v; want the svc arm's", st)
			}
			for i, c := range []reports.SteadyCheck{st.Contained, st.Shed, st.FailedFast, st.Recovered} {
				if c.Judged != tt.judged[i] || c.Held != tt.held[i] || c.Finding == "" {
					t.Errorf("part %d: judged %v held %v (%q); want judged %v held %v and a finding", i, c.Judged, c.Held, c.Finding, tt.judged[i], tt.held[i])
				}
			}
		})
	}
}

// The findings say how fast the service shed (from when, by send time, and
// its time to open with how it is known), and a part that cannot be
// judged says why.
func TestSteadyVerdictFindings(t *testing.T) {
	r := steadyReport(breakerService())
	Judge(r)
	st := r.Verdict.Steady
	for _, want := range []string{"in 2 of the 2 seconds of the fault's second half it made at most half its baseline's upstream calls per /api request (median 0.01 against 1.00, by send time)",
		", from 1.00 s into the fault on; ", "time to open 0.50 s (inferred from the upstream's arrivals)"} {
		if !strings.Contains(st.Shed.Finding, want) {
			t.Errorf("shed finding %q; want it to say %q", st.Shed.Finding, want)
		}
	}
	if !strings.Contains(st.FailedFast.Finding, "the client waits 2.00 s") {
		t.Errorf("failed fast finding %q; want the client's timeout", st.FailedFast.Finding)
	}
	if !strings.Contains(st.Recovered.Finding, "recovered 0.00 s after the trigger ended") {
		t.Errorf("recovered finding %q; want when", st.Recovered.Finding)
	}
	r = steadyReport(func() svc { s := breakerService(); s.noColl = true; return s }())
	Judge(r)
	if c := r.Verdict.Steady.Contained; c.Judged || !strings.Contains(c.Finding, "no collateral endpoint") {
		t.Errorf("contained without a collateral endpoint: %+v; want not judged, saying why", c)
	}
	r = steadyReport(breakerService())
	r.Config.Upstream.External = true
	Judge(r)
	if c := r.Verdict.Steady.Shed; c.Judged || !strings.Contains(c.Finding, "--upstream-external") {
		t.Errorf("shed with an external upstream: %+v; want not judged, saying why", c)
	}
}

// Two targets keep the A/B verdict; a failed validity check withholds the
// verdict on one arm as it does the A/B one, and keeps its parts.
func TestSteadyVerdictScope(t *testing.T) {
	r := steadyReport(breakerService())
	r.Config.Targets = append(r.Config.Targets, reports.Target{Name: "other", URL: "http://127.0.0.1:9/api"})
	if v := Verdict(r); v.Steady != nil || v.Outcome != reports.OutcomeInconclusive {
		t.Errorf("two targets: %s, steady %+v; want the A/B verdict (inconclusive here), no verdict on one arm", v.Outcome, v.Steady)
	}
	r = steadyReport(breakerService())
	r.Validity = &reports.Validity{Checks: []reports.ValidityCheck{{Name: reports.CheckSendLag, Arm: "svc", Message: "late"}}}
	if v := Verdict(r); v.Outcome != reports.OutcomeInconclusive || v.Steady == nil || !strings.Contains(v.Summary, "not valid") {
		t.Errorf("invalid run: %s %q, steady %v; want inconclusive, naming the check, with the parts kept", v.Outcome, v.Summary, v.Steady != nil)
	}
}

// The verdict on one arm reaches every format: its outcome heads the
// Markdown and HTML reports, its parts are in the reasons every format
// shows, JUnit fails on a part that did not hold, the JSON carries the
// parts, and thresholds name them.
func TestSteadyVerdictEveryFormat(t *testing.T) {
	s := breakerService()
	s.calls = func(int) int64 { return 100 }
	s.latency = func(t int) time.Duration {
		return map[bool]time.Duration{true: time.Second, false: 2 * time.Millisecond}[t >= 3 && t < 7]
	}
	r := steadyReport(s)
	r.Schema = reports.Schema
	Judge(r)
	var md, html, junit, js bytes.Buffer
	for _, err := range []error{reports.WriteMarkdown(&md, r), reports.WriteHTML(&html, r), reports.WriteJUnit(&junit, r), reports.WriteJSON(&js, r)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, out := range map[string]string{"markdown": md.String(), "html": html.String(), "junit": junit.String()} {
		for _, want := range []string{"The service kept calling the sick dependency", "shed: no —", "contained: yes —", "failed fast: no —", "recovered: yes —"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q", name, want)
			}
		}
	}
	for name, out := range map[string]string{"markdown": md.String(), "html": html.String()} {
		if !strings.Contains(out, "Kept calling the sick dependency") {
			t.Errorf("%s lacks the outcome's headline", name)
		}
	}
	if !strings.Contains(junit.String(), `<failure message="not_shed: `) {
		t.Errorf("junit: want the verdict case failed with not_shed:\n%s", junit.String())
	}
	if !strings.Contains(js.String(), `"steady_state": {`) || !strings.Contains(js.String(), `"outcome": "not_shed"`) {
		t.Errorf("json lacks the steady state or its outcome")
	}
	for _, tt := range []struct {
		expr string
		pass bool
	}{
		{"verdict.outcome == held", false},
		{"verdict.outcome == not_shed", true},
		{"verdict.shed == true", false},
		{"verdict.contained == true", true},
		{"verdict.recovered == true", true},
		{"verdict.failed_fast == false", true},
	} {
		th, err := reports.ParseThreshold(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		if res := th.Evaluate(r); res.Pass != tt.pass {
			t.Errorf("Evaluate(%q) = %v (%s %s); want %v", tt.expr, res.Pass, res.Measured, res.Message, tt.pass)
		}
	}
}

// TestSteadyFailedFastTimeouts: the service's own 504s (an upstream call
// that timed out inside it, answered at once) are fast failures; only
// answers the load runner gave up on are not.
func TestSteadyFailedFastTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   reports.TimeoutAt
		held bool
	}{
		{"the service's own 504s", reports.TimeoutAt{UpstreamCall: 5}, true},
		{"the client gave up", reports.TimeoutAt{LoadRunner: 5}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := steadyReport(breakerService())
			a := &r.Arms[0]
			for i := 5; i < 7; i++ {
				o := &a.Series[i].API.Outcomes
				o.UpstreamError -= 5
				o.Timeout += 5
				o.TimeoutAt = tc.at
			}
			c := failedFast(r, a, reports.TermsOf(r.Config))
			if c.Held != tc.held {
				t.Errorf("failed fast held = %v; want %v (%s)", c.Held, tc.held, c.Finding)
			}
			if late := strings.Contains(c.Finding, "10 of 200 answers had not come when the client gave up"); late == tc.held {
				t.Errorf("failed fast finding %q; want the answers the client gave up on named as such only when it gave up", c.Finding)
			}
		})
	}
}

// TestSteadyFailedFastHeldCallers: a service whose dependency call has no
// timeout holds every caller while the dependency hangs and answers them
// all when the fault ends. In a report without answers by send time its
// answers, counted when they complete, are none in the fault's second
// half, or only the few fast ones; the requests sent then show the rest
// held, and how those ended the report cannot say: not judged, saying so,
// rather than "fast" from the few.
func TestSteadyFailedFastHeldCallers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		answered int64 // api answers completing in each second of the fault
		finding  string
	}{
		{"nothing answered", 0, "0 /api answers completed in the fault's second half, and at least 100 /api requests sent then were still held past the limit (500 ms) when it ended"},
		{"a few fast failures", 10, "20 /api answers completed in the fault's second half, and at least 80 /api requests sent then were still held"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := steadyReport(breakerService())
			a := &r.Arms[0]
			for i := 3; i < 7; i++ {
				b := &a.Series[i].API
				b.Requests, b.Outcomes = tc.answered, reports.Outcomes{UpstreamError: tc.answered}
				var h reports.DenseHistogram
				for range tc.answered {
					h.Record(2 * time.Millisecond)
				}
				b.LatencyHist = h.Sparse()
			}
			a.Series[7].API.Requests += 400 - 4*tc.answered // the held ones, answered when the fault ends
			c := failedFast(r, a, reports.TermsOf(r.Config))
			if c.Judged || !strings.Contains(c.Finding, tc.finding) {
				t.Errorf("failed fast judged %v held %v (%s); want not judged, saying %q", c.Judged, c.Held, c.Finding, tc.finding)
			}
		})
	}
	r := steadyReport(breakerService())
	if c := failedFast(r, &r.Arms[0], reports.TermsOf(r.Config)); !c.Held || strings.Contains(c.Finding, "still held") {
		t.Errorf("a service answering every request fast: failed fast held %v (%s); want held, none unanswered", c.Held, c.Finding)
	}
}

// TestSteadyFailedFastBySend: a breaker that opens late in the fault's
// first half leaves calls sent before it opened to time out in the second
// half. Their answers complete then, slow, but they answer requests sent
// before the half: the requests sent in the second half, every one
// rejected at once, failed fast. With answers by send time the verdict
// reads those; a report without them is read by completion.
func TestSteadyFailedFastBySend(t *testing.T) {
	hist := func(n int64, d time.Duration) *reports.Histogram {
		var h reports.DenseHistogram
		for range n {
			h.Record(d)
		}
		return h.Sparse()
	}
	s := breakerService()
	s.latency = func(t int) time.Duration {
		if t == 5 {
			return time.Second // the timeouts of the calls sent in second 4, before the open
		}
		return 2 * time.Millisecond
	}
	r := steadyReport(s)
	a := &r.Arms[0]
	if c := failedFast(r, a, reports.TermsOf(r.Config)); c.Held {
		t.Fatalf("without answers by send time: failed fast held (%s); want the completed answers read, slow", c.Finding)
	}
	for i := range a.Series {
		sec := &a.Series[i]
		lat := 2 * time.Millisecond
		if i == 4 {
			lat = time.Second
		}
		sec.API.BySend = &reports.SentAnswers{Outcomes: sec.API.Outcomes, LatencyHist: hist(100, lat)}
	}
	c := failedFast(r, a, reports.TermsOf(r.Config))
	if !c.Judged || !c.Held || !strings.Contains(c.Finding, "for the requests sent in the fault's second half (by send time)") {
		t.Errorf("with answers by send time: failed fast judged %v held %v (%s); want held, read by send time", c.Judged, c.Held, c.Finding)
	}
	// Requests sent in the second half that waited are slow by send time
	// too, whenever their answers came.
	a.Series[6].API.BySend.LatencyHist = hist(100, 3*time.Second)
	if c := failedFast(r, a, reports.TermsOf(r.Config)); c.Held {
		t.Errorf("requests sent in the second half answered after 3 s: failed fast held (%s); want not", c.Finding)
	}
}

// A service whose call timeout is the 500 ms limit answers its failures
// at the limit; the histogram's p99 reads a little above it (a bucket's
// midpoint), which is within the histogram's resolution: fast. Clearly
// above the limit is slow.
func TestSteadyFailedFastResolution(t *testing.T) {
	for _, tc := range []struct {
		latency time.Duration
		held    bool
	}{
		{501800 * time.Microsecond, true},
		{503 * time.Millisecond, true},
		{520 * time.Millisecond, false},
	} {
		s := breakerService()
		s.latency = func(t int) time.Duration {
			if t >= 3 && t < 7 {
				return tc.latency
			}
			return 2 * time.Millisecond
		}
		r := steadyReport(s)
		c := failedFast(r, &r.Arms[0], reports.TermsOf(r.Config))
		if c.Held != tc.held || !strings.Contains(c.Finding, "(limit 500 ms, to the latency histogram's 0.8%)") {
			t.Errorf("answers at %v: failed fast held = %v (%s); want %v, saying the tolerance", tc.latency, c.Held, c.Finding, tc.held)
		}
	}
}

// A fallback service answers ok throughout, its breaker still open 2 s
// after the fault: goodput says nothing of recovery, the calls coming back
// do; without them (never back, or not counted) it did not recover or
// cannot be judged.
func TestSteadyRecoveredNotFromFallbacks(t *testing.T) {
	fallback := func(back int) svc {
		s := breakerService()
		s.ok = func(int) int64 { return 100 }
		s.calls = func(t int) int64 {
			if t >= 3 && t < back {
				return 0
			}
			return 100
		}
		return s
	}
	suspect := func(r *reports.Report) *reports.Report {
		r.Arms[0].SuspectOK = new(int64(300))
		return r
	}
	r := suspect(steadyReport(fallback(9)))
	Judge(r)
	c := r.Verdict.Steady.Recovered
	if !c.Judged || !c.Held || !strings.Contains(c.Finding, "recovered 2.00 s after the trigger ended, judged by its upstream calls coming back") ||
		!strings.Contains(c.Finding, "the report suspects its ok answers (fallbacks?)") {
		t.Errorf("breaker open 2 s after the fault, fallbacks ok: %+v; want recovered 2.00 s after, by the calls, saying why", c)
	}
	// The key figure reads recovery by the same rule.
	if at := r.Arms[0].Figures.AfterTrigger; at == nil || !at.Recovered || at.TimeToRecoverS == nil || *at.TimeToRecoverS != 2 {
		t.Errorf("after the trigger %+v; want back in 2.00 s, as the verdict says", at)
	}
	r = suspect(steadyReport(fallback(11)))
	Judge(r)
	if c := r.Verdict.Steady.Recovered; !c.Judged || c.Held || !strings.Contains(c.Finding, "did not recover: its upstream calls per /api request stayed under 90.0%") {
		t.Errorf("calls never back, fallbacks ok: %+v; want not recovered", c)
	}
	r = suspect(steadyReport(fallback(11)))
	r.Config.Upstream.External = true
	Judge(r)
	if c := r.Verdict.Steady.Recovered; c.Judged || !strings.Contains(c.Finding, "--upstream-external") {
		t.Errorf("calls not counted, fallbacks ok: %+v; want not judged, saying why", c)
	}
	// Checked with --expect, the answers are true: goodput tells recovery.
	r = suspect(steadyReport(fallback(11)))
	r.Config.Expect = []string{"json:.source=primary"}
	Judge(r)
	if c := r.Verdict.Steady.Recovered; !c.Held || !strings.Contains(c.Finding, "recovered 0.00 s after the trigger ended") {
		t.Errorf("answers checked with --expect: %+v; want recovered by goodput", c)
	}
}

// Whole seconds vote on shed: a burst of calls in one second of the
// fault's second half (a half-open trial that closed the breaker for a
// moment, and the retries after it) does not flip the finding, nor move
// the second it shed from.
func TestSteadyShedRobust(t *testing.T) {
	s := breakerService()
	s.calls = func(t int) int64 {
		switch {
		case t == 6:
			return 180 // a half-open trial, and retries after it
		case t >= 4 && t < 7:
			return 1
		}
		return 100
	}
	r := steadyReport(s)
	Judge(r)
	c := r.Verdict.Steady.Shed
	if !c.Held || !strings.Contains(c.Finding, "in 1 of the 2 seconds") || !strings.Contains(c.Finding, "from 1.00 s into the fault on") {
		t.Errorf("one burst second: %+v; want shed, from 1.00 s into the fault", c)
	}
}

// A service that answered every request ok in the fault's second half
// gave no failure to judge: failed fast says so, neither yes nor no.
func TestSteadyNoFailuresToJudge(t *testing.T) {
	s := breakerService()
	s.ok = func(int) int64 { return 100 }
	s.calls = func(int) int64 { return 100 }
	s.latency = func(t int) time.Duration {
		return map[bool]time.Duration{true: 900 * time.Millisecond, false: 2 * time.Millisecond}[t >= 3 && t < 7]
	}
	r := steadyReport(s)
	Judge(r)
	var b bytes.Buffer
	if err := reports.WriteTerminal(&b, r); err != nil {
		t.Fatal(err)
	}
	c := r.Verdict.Steady.FailedFast
	if c.Judged || !strings.Contains(c.Finding, "no failures to judge: all 200 /api answers in the fault's second half were ok") ||
		!strings.Contains(b.String(), "failed fast: cannot be judged — no failures to judge: all 200") {
		t.Errorf("every answer ok: %+v; want not judged, no failures to judge\n%s", c, b.String())
	}
}
