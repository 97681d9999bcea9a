package harness

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestTargetGRPCUpstream runs a service that calls a gRPC dependency —
// and, like a client without a breaker that only logs, ignores the
// status it gets — against an upstream started with UpstreamGRPC: each
// phase counts the calls by method and status code, and the UNAVAILABLE
// answers the service hid are named as faults that did not reach the
// answers.
func TestTargetGRPCUpstream(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	health := healthpb.NewHealthClient(cc)
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api" {
			ctx, cancel := context.WithTimeout(r.Context(), time.Second)
			defer cancel()
			health.Check(ctx, &healthpb.HealthCheckRequest{}) //nolint:errcheck // the service under test ignores it
		}
	}))
	defer svc.Close()

	cfg := testConfig(t, "grpc-error:UNAVAILABLE")
	cfg.Rate = 40
	cfg.Phases = []Phase{{Name: "baseline", Duration: time.Second}, {Name: "fault", Duration: 2 * time.Second, Faults: cfg.Phases[1].Faults}, {Name: "recovery", Duration: time.Second}}
	cfg.Targets = []Target{{Name: "svc", URL: svc.URL + "/api", Collateral: svc.URL + "/local"}}
	cfg.UpstreamAddr, cfg.UpstreamGRPC = addr, true
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Config.Upstream.GRPC {
		t.Errorf("report config upstream.grpc = false; want true")
	}
	const check = "/grpc.health.v1.Health/Check"
	a := r.Arm("svc")
	base, fault := a.Summary["baseline"].Upstreams["upstream"], a.Summary["fault"].Upstreams["upstream"]
	if c := base.GRPC[check]; c["OK"] < 20 || len(c) != 1 || len(base.GRPC) != 1 {
		t.Errorf("baseline: calls by code %v; want only %s, OK, about 32", base.GRPC, check)
	}
	if c := fault.GRPC[check]; c["UNAVAILABLE"] < 40 || c["UNAVAILABLE"] != fault.Injected["grpc-error"] || c["OK"] > 2 {
		// A call in flight as the phase switched may be booked in it.
		t.Errorf("fault: calls by code %v, injected %v; want the calls UNAVAILABLE (about 64), as many as grpc-error injected, but for one or two crossing the switch", fault.GRPC, fault.Injected)
	}
	if !hasNote(a.Notes, "the faults did not reach the answers") || !hasNote(a.Notes, "(grpc-error)") {
		t.Errorf("ignored UNAVAILABLE: notes %q; want one saying the faults (grpc-error) did not reach the answers", a.Notes)
	}
}
