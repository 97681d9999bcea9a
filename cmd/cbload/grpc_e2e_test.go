package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

// grpcCheck is the method the grpcbreaker test service calls.
const grpcCheck = "/grpc.health.v1.Health/Check"

// quietAddr returns a free loopback address whose port is below the
// kernel's ephemeral range, so that no program binding port 0 — a test
// service started after it — can take it before cbload listens there, as
// one can a port freeAddr picked and let go. It falls back to freeAddr
// when the range cannot be read.
func quietAddr(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	f := strings.Fields(string(b))
	if err != nil || len(f) != 2 {
		return freeAddr(t)
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low <= 10000 {
		return freeAddr(t)
	}
	for range 100 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(10000+rand.IntN(low-10000)))
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			return addr
		}
	}
	return freeAddr(t)
}

// grpcCodes returns the status codes a run's upstream answered the test
// service's calls with in a phase of an arm.
func grpcCodes(t *testing.T, r *reports.Report, arm, phase string) map[string]int64 {
	t.Helper()
	a := r.Arm(arm)
	if a == nil {
		t.Fatalf("no arm %q in %v", arm, r.Config.Arms)
	}
	return a.Summary[phase].Upstreams["upstream"].GRPC[grpcCheck]
}

// TestGRPCServiceEndToEnd runs cbload with --upstream-grpc against a
// small service whose gobreaker guards its gRPC calls (testdata/svc/
// grpcbreaker), with its breaker and without, and checks the verdicts
// for a status-code fault and a latency fault, the time to open read from
// the service's state endpoint, and the report's counts of the calls by
// status code; then a single target, which gets the single-arm verdict.
func TestGRPCServiceEndToEnd(t *testing.T) {
	t.Parallel()
	twoArms := func(t *testing.T, fault string, want string) *reports.Report {
		t.Helper()
		upstream := quietAddr(t)
		withBreaker := startTestService(t, "grpcbreaker", "-upstream", upstream)
		without := startTestService(t, "grpcbreaker", "-upstream", upstream, "-breaker=false")
		r := runServiceExperiment(t, upstream, exitOK, "--upstream-grpc", "--fault", fault, "--phases", "2s,4s,3s",
			"--target", "breaker="+withBreaker+"/api", "--target", "no-breaker="+without+"/api",
			"--collateral", "/local", "--breaker-state-url", "/breaker")
		if r.Verdict.Outcome != want {
			t.Errorf("%s: verdict %q (%s); want %s", fault, r.Verdict.Outcome, r.Verdict.Summary, want)
		}
		if !r.Config.Upstream.GRPC {
			t.Errorf("report config upstream.grpc = false; want true")
		}
		b, n := r.Arm("breaker"), r.Arm("no-breaker")
		if !b.Breaker || n.Breaker || b.BreakerFigures != reports.BreakerMeasured {
			t.Errorf("breaker flags: breaker arm %v (figures %q), no-breaker arm %v; want a polled breaker and none", b.Breaker, b.BreakerFigures, n.Breaker)
		}
		if b.Figures.TimeToOpenS == nil || *b.Figures.TimeToOpenS > 1.5 {
			t.Errorf("%s: breaker arm time to open %v; want the state endpoint to show it open within 1.5 s of the fault", fault, b.Figures.TimeToOpenS)
		}
		if bu, nu := b.Figures.UpstreamRequestsDuringFault, n.Figures.UpstreamRequestsDuringFault; bu*2 >= nu {
			t.Errorf("%s: upstream calls during the fault: %d with the breaker, %d without; want the breaker to shed most", fault, bu, nu)
		}
		for _, arm := range []string{"breaker", "no-breaker"} {
			if got := grpcCodes(t, r, arm, "baseline"); got["OK"] < 100 || len(got) != 1 {
				t.Errorf("%s arm, baseline: calls by code %v; want only OK, about 150", arm, got)
			}
		}
		return r
	}

	t.Run("unavailable", func(t *testing.T) {
		t.Parallel()
		// UNAVAILABLE fails the calls at once: without its breaker the
		// service answers 502 fast and /local stays healthy, so the rule
		// finds nothing to prevent; the breaker still sheds the calls.
		r := twoArms(t, "grpc-error:UNAVAILABLE", reports.OutcomeNothingToPrevent)
		b, n := grpcCodes(t, r, "breaker", "fault"), grpcCodes(t, r, "no-breaker", "fault")
		if n["UNAVAILABLE"] < 200 || n["OK"] > 2 || b["UNAVAILABLE"] < 5 || b["UNAVAILABLE"] > n["UNAVAILABLE"]/2 {
			t.Errorf("fault phase calls by code: breaker %v, no-breaker %v; want UNAVAILABLE (but for a call or two crossing the phase switch), at least 5 before the breaker opened and most of ~400 without it", b, n)
		}
		if inj := r.Arm("no-breaker").Summary["fault"].Upstreams["upstream"].Injected["grpc-error"]; inj != n["UNAVAILABLE"] {
			t.Errorf("no-breaker arm: grpc-error injected %d times, %d calls answered UNAVAILABLE; want the same", inj, n["UNAVAILABLE"])
		}
		var md bytes.Buffer
		if err := reports.WriteMarkdown(&md, r); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%s: UNAVAILABLE %d", grpcCheck, n["UNAVAILABLE"]); !strings.Contains(md.String(), want) {
			t.Errorf("report.md's fault → symptom table lacks %q", want)
		}
	})

	t.Run("latency", func(t *testing.T) {
		t.Parallel()
		// 1 s against a 300 ms call deadline: without its breaker the
		// service's workers wait on the calls and /local starves.
		r := twoArms(t, "latency:1s", reports.OutcomePrevented)
		n := grpcCodes(t, r, "no-breaker", "fault")
		if n["OK"] > 2 || n["CANCELLED"]+n["DEADLINE_EXCEEDED"] < 50 {
			t.Errorf("no-breaker arm, fault phase: calls by code %v; want them cancelled or past their deadline, OK only for a call or two crossing the phase switch", n)
		}
	})

	t.Run("single", func(t *testing.T) {
		t.Parallel()
		upstream := quietAddr(t)
		svc := startTestService(t, "grpcbreaker", "-upstream", upstream)
		r := runServiceExperiment(t, upstream, exitOK, "--upstream-grpc", "--fault", "latency:1s", "--phases", "2s,4s,3s",
			"--target", "svc="+svc+"/api", "--collateral", "/local", "--breaker-state-url", "/breaker")
		if r.Verdict.Outcome != reports.OutcomeHeld {
			t.Errorf("single target: verdict %q (%s); want held", r.Verdict.Outcome, r.Verdict.Summary)
		}
		if got := grpcCodes(t, r, "svc", "fault"); got["OK"] > 2 || got["CANCELLED"]+got["DEADLINE_EXCEEDED"] < 5 {
			t.Errorf("single target, fault phase: calls by code %v; want failed calls, OK only for a call or two crossing the phase switch", got)
		}
	})
}
