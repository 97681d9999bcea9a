package faultserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// grpcClient dials s with a real gRPC client, closed at cleanup.
func grpcClient(t *testing.T, s *Server) *grpc.ClientConn {
	t.Helper()
	if !strings.HasPrefix(s.URL(), "grpc://") {
		t.Fatalf("URL() = %q; want grpc://", s.URL())
	}
	cc, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// invoke makes one unary call with a typed request and answer, as a
// generated stub does, and returns the status code and the fault header.
func invoke(ctx context.Context, cc *grpc.ClientConn, method string) (codes.Code, string, *wrapperspb.StringValue) {
	var hdr metadata.MD
	out := &wrapperspb.StringValue{}
	err := cc.Invoke(ctx, method, wrapperspb.String("order 42"), out, grpc.Header(&hdr))
	return grpcstatus.Code(err), strings.Join(hdr.Get(grpcFaultHeader), ","), out
}

func TestGRPCAnswersAnyMethod(t *testing.T) {
	s := start(t, Config{GRPC: true})
	cc := grpcClient(t, s)
	for _, m := range []string{"/shop.Payments/Charge", "/grpc.health.v1.Health/Check", "/x/y"} {
		code, fault, out := invoke(context.Background(), cc, m)
		if code != codes.OK || fault != "" || out.GetValue() != "" {
			t.Errorf("%s = %v, fault %q, %q; want OK with an empty message", m, code, fault, out.GetValue())
		}
	}
	st := s.Stats()
	if st.Requests != 3 || st.GRPC["/shop.Payments/Charge"]["OK"] != 1 || st.GRPC["/x/y"]["OK"] != 1 {
		t.Errorf("Stats = %d requests, grpc %v; want 3, one OK per method", st.Requests, st.GRPC)
	}
	// A path that is no method name, which a report would refuse, is
	// answered and counted with the others.
	for _, m := range []string{"/a/b/c", "/shop.S/M<b>", "/s.S/" + strings.Repeat("m", 300)} {
		if code, _, _ := invoke(context.Background(), cc, m); code != codes.OK {
			t.Errorf("%.20s… = %v; want OK", m, code)
		}
	}
	if st := s.Stats(); st.GRPC[grpcOtherMethod]["OK"] != 3 || len(st.GRPC) != 4 {
		t.Errorf("Stats.GRPC = %v; want the 3 odd paths counted as %s", st.GRPC, grpcOtherMethod)
	}
}

// TestGRPCError checks grpc-error at a rate and limited to a service: the
// client sees the status code on about that share of calls, each counted
// by method and code, and the other service is untouched.
func TestGRPCError(t *testing.T) {
	s := start(t, Config{GRPC: true, Seed: 11, Faults: mustSpecs(t, "grpc-error:UNAVAILABLE,rate=0.5,path=/shop.Payments/", "grpc-error:RESOURCE_EXHAUSTED,path=/shop.Quota/")})
	cc := grpcClient(t, s)
	const n = 40
	failed := 0
	for range n {
		code, fault, _ := invoke(context.Background(), cc, "/shop.Payments/Charge")
		switch {
		case code == codes.Unavailable && fault == "grpc-error":
			failed++
		case code != codes.OK:
			t.Fatalf("Charge = %v (fault %q); want OK or UNAVAILABLE marked grpc-error", code, fault)
		}
	}
	if code, _, _ := invoke(context.Background(), cc, "/shop.Quota/Take"); code != codes.ResourceExhausted {
		t.Errorf("Take = %v; want RESOURCE_EXHAUSTED", code)
	}
	if code, _, _ := invoke(context.Background(), cc, "/shop.Inventory/List"); code != codes.OK {
		t.Errorf("List = %v; want OK, no fault on its path", code)
	}
	st := s.Stats()
	want := map[string]map[string]int64{
		"/shop.Payments/Charge": {"OK": int64(n - failed), "UNAVAILABLE": int64(failed)},
		"/shop.Quota/Take":      {"RESOURCE_EXHAUSTED": 1},
		"/shop.Inventory/List":  {"OK": 1},
	}
	for m, byCode := range want {
		for c, v := range byCode {
			if st.GRPC[m][c] != v {
				t.Errorf("Stats.GRPC[%s][%s] = %d; want %d (all: %v)", m, c, st.GRPC[m][c], v, st.GRPC)
			}
		}
	}
	if failed < n/5 || failed > n-n/5 || st.Injected["grpc-error"] != int64(failed+1) {
		t.Errorf("%d of %d failed at rate 0.5, %d injected; want about half, each counted", failed, n, st.Injected["grpc-error"])
	}
}

// TestGRPCLatencyAndHang checks the holding faults over gRPC: latency
// delays the answer, a deadline shorter than it ends the call with
// DEADLINE_EXCEEDED and frees the server at once, and hang holds a call
// until the fault clears.
func TestGRPCLatencyAndHang(t *testing.T) {
	s := start(t, Config{GRPC: true, Faults: mustSpecs(t, "latency:300ms,path=/slow.", "hang,path=/stuck.")})
	cc := grpcClient(t, s)

	t0 := time.Now()
	code, fault, _ := invoke(context.Background(), cc, "/slow.S/M")
	if took := time.Since(t0); code != codes.OK || fault != "latency" || took < 300*time.Millisecond || took > 300*time.Millisecond+releaseTolerance {
		t.Errorf("latency:300ms call = %v, fault %q after %v; want OK after 300ms", code, fault, took)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	code, _, _ = invoke(ctx, cc, "/slow.S/M")
	cancel()
	if code != codes.DeadlineExceeded {
		t.Errorf("latency:300ms call with a 100ms deadline = %v; want DEADLINE_EXCEEDED", code)
	}
	waitFor(t, "the server to drop the call its caller left", releaseTolerance, func() bool { return s.Stats().InFlight == 0 })
	// The server's count sees the call end by its deadline (or its
	// cancellation, whichever reaches it first).
	if st := s.Stats().GRPC["/slow.S/M"]; st["DEADLINE_EXCEEDED"]+st["CANCELLED"] != 1 {
		t.Errorf("Stats.GRPC[/slow.S/M] = %v; want one call ended by its deadline", st)
	}

	done := make(chan codes.Code, 1)
	go func() {
		code, _, _ := invoke(context.Background(), cc, "/stuck.S/M")
		done <- code
	}()
	waitFor(t, "the call to be held", 5*time.Second, func() bool { return s.Stats().InFlight == 1 })
	select {
	case c := <-done:
		t.Fatalf("held call returned %v while its hang is active", c)
	default:
	}
	s.SetFaults(nil)
	select {
	case c := <-done:
		if c != codes.OK {
			t.Errorf("held call = %v once released; want OK", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("held call not released 5s after the fault cleared")
	}
}

// TestGRPCFaultChecks: HTTP kinds are refused on a gRPC upstream, and
// grpc-error on an HTTP one, each with a line naming what is accepted.
func TestGRPCFaultChecks(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{GRPC: true, Faults: mustSpecs(t, "garbage")}, "garbage is an HTTP fault; a gRPC upstream takes latency, hang, reset, slowdown, truncate, grpc-error"},
		{Config{GRPC: true, Faults: mustSpecs(t, "truncate:1KiB,framing=chunked")}, "framing= is for HTTP answers"},
		{Config{GRPC: true, Faults: mustSpecs(t, "truncate:1KiB,size=5MiB")}, "size 5MiB is over 4MiB, the largest message a gRPC client takes by default"},
		{Config{Faults: mustSpecs(t, "grpc-error:UNAVAILABLE")}, "grpc-error needs a gRPC upstream (--grpc)"},
		{Config{GRPC: true, Concurrency: 4}, "grpc: the gRPC upstream serves plain HTTP/2 with unbounded capacity"},
	} {
		if err := tt.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v; want it to say %q", tt.cfg.Faults, err, tt.want)
		}
	}
	s := start(t, Config{GRPC: true})
	if err := s.SetFaults(mustSpecs(t, "empty")); err == nil {
		t.Errorf("SetFaults(empty) on a gRPC upstream succeeded; want an error")
	}
	for _, in := range []string{"grpc-error:unavailable", "grpc-error:14", "grpc-error"} {
		if sp, err := ParseSpec(in); err != nil || sp.String() != "grpc-error:UNAVAILABLE" {
			t.Errorf("ParseSpec(%q) = %q, %v; want grpc-error:UNAVAILABLE", in, sp.String(), err)
		}
	}
	for _, in := range []string{"grpc-error:OK", "grpc-error:0", "grpc-error:17", "grpc-error:BROKEN"} {
		if _, err := ParseSpec(in); err == nil || !strings.Contains(err.Error(), "is not a gRPC error code") {
			t.Errorf("ParseSpec(%q) error = %v; want it to say it is not a gRPC error code", in, err)
		}
	}
}

// TestGRPCOnApplied checks that OnApplied sees every gRPC call, named by
// its full method, with the faults that apply to it, as it sees HTTP
// requests: the harness counts a dependency's arrivals through it.
func TestGRPCOnApplied(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	s := start(t, Config{GRPC: true, Faults: mustSpecs(t, "grpc-error:UNAVAILABLE,path=/shop.Payments/"),
		OnApplied: func(r *http.Request, applied []Spec) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, fmt.Sprint(r.URL.Path, " ", len(applied)))
		}})
	cc := grpcClient(t, s)
	invoke(context.Background(), cc, "/shop.Payments/Charge")
	invoke(context.Background(), cc, "/shop.Quota/Take")
	mu.Lock()
	defer mu.Unlock()
	if got, want := strings.Join(seen, "; "), "/shop.Payments/Charge 1; /shop.Quota/Take 0"; got != want {
		t.Errorf("OnApplied saw %q; want %q", got, want)
	}
}
