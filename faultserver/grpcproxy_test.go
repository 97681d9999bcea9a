package faultserver

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// grpcBackend starts a real gRPC server on loopback: the health service
// (shop is SERVING), /shop.Payments/Echo answering the request's value
// with a header and a trailer of its own, and /shop.Payments/Fail ending
// RESOURCE_EXHAUSTED "quota". calls counts the calls it got.
func grpcBackend(t *testing.T, calls *atomic.Int64) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		calls.Add(1)
		method, _ := grpc.MethodFromServerStream(stream)
		in := &wrapperspb.StringValue{}
		if err := stream.RecvMsg(in); err != nil {
			return err
		}
		switch method {
		case "/shop.Payments/Echo":
			stream.SetHeader(metadata.Pairs("x-backend", "echo"))    //nolint:errcheck // before any message
			stream.SetTrailer(metadata.Pairs("x-backend-done", "1")) // sent with the status
			return stream.SendMsg(in)
		case "/shop.Payments/Fail":
			return grpcstatus.Error(codes.ResourceExhausted, "quota")
		}
		return grpcstatus.Error(codes.Unimplemented, method)
	}), grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		calls.Add(1)
		return h(ctx, req)
	}), grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if info.FullMethod == "/grpc.health.v1.Health/Watch" {
			calls.Add(1) // the unknown service handler counts its own
		}
		return h(srv, ss)
	}))
	hs := health.NewServer()
	hs.SetServingStatus("shop", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(l) //nolint:errcheck // ends with Stop
	t.Cleanup(srv.Stop)
	return l.Addr().String()
}

// TestGRPCProxyForwards checks that a gRPC upstream with a grpc:// proxy
// target forwards every kind of call to a real gRPC server and back, as
// it is: answers, headers, trailers, status codes and a server stream;
// and counts the calls by the backend's status codes.
func TestGRPCProxyForwards(t *testing.T) {
	var calls atomic.Int64
	s := start(t, Config{GRPC: true, ProxyTo: "grpc://" + grpcBackend(t, &calls)})
	cc := grpcClient(t, s)
	ctx := context.Background()

	hc := healthpb.NewHealthClient(cc)
	if r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "shop"}); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("Check(shop) via the proxy = %v, %v; want SERVING from the backend", r.GetStatus(), err)
	}
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"}); grpcstatus.Code(err) != codes.NotFound {
		t.Errorf("Check(nope) via the proxy = %v; want the backend's NOT_FOUND", err)
	}
	w, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := w.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("Watch(shop) via the proxy, first answer = %v, %v; want SERVING streamed from the backend", r.GetStatus(), err)
	}

	var hdr, trl metadata.MD
	out := &wrapperspb.StringValue{}
	err = cc.Invoke(ctx, "/shop.Payments/Echo", wrapperspb.String("order 42"), out, grpc.Header(&hdr), grpc.Trailer(&trl))
	if err != nil || out.GetValue() != "order 42" || strings.Join(hdr.Get("x-backend"), "") != "echo" || strings.Join(trl.Get("x-backend-done"), "") != "1" {
		t.Errorf("Echo via the proxy = %q, %v, header %v, trailer %v; want the request echoed with the backend's header and trailer", out.GetValue(), err, hdr, trl)
	}
	// Messages up to gRPC's default 4 MiB pass both ways.
	big := strings.Repeat("x", 3<<20)
	if err := cc.Invoke(ctx, "/shop.Payments/Echo", wrapperspb.String(big), out); err != nil || out.GetValue() != big {
		t.Errorf("Echo of 3 MiB via the proxy = %d bytes, %v; want it echoed whole", len(out.GetValue()), err)
	}
	err = cc.Invoke(ctx, "/shop.Payments/Fail", wrapperspb.String("x"), out)
	if st := grpcstatus.Convert(err); st.Code() != codes.ResourceExhausted || st.Message() != "quota" {
		t.Errorf("Fail via the proxy = %v; want the backend's RESOURCE_EXHAUSTED quota", err)
	}

	waitFor(t, "the calls to end", releaseTolerance, func() bool { return s.Stats().InFlight <= 1 }) // Watch stays open
	st := s.Stats()
	if st.GRPC["/grpc.health.v1.Health/Check"]["OK"] != 1 || st.GRPC["/grpc.health.v1.Health/Check"]["NOT_FOUND"] != 1 ||
		st.GRPC["/shop.Payments/Echo"]["OK"] != 2 || st.GRPC["/shop.Payments/Fail"]["RESOURCE_EXHAUSTED"] != 1 || st.BackendErrors != 0 {
		t.Errorf("Stats: grpc %v, backend errors %d; want the backend's codes counted, no backend error", st.GRPC, st.BackendErrors)
	}
	if n := calls.Load(); n != 6 {
		t.Errorf("the backend got %d calls; want 6", n)
	}
}

// TestGRPCProxyFaults checks the faults in front of a real gRPC backend:
// grpc-error and reset answer without calling it, latency delays the
// forward, and truncate cuts the backend's answer mid-message when it is
// longer than its bytes and lets a shorter one pass whole.
func TestGRPCProxyFaults(t *testing.T) {
	var calls atomic.Int64
	s := start(t, Config{GRPC: true, ProxyTo: "grpc://" + grpcBackend(t, &calls), Faults: mustSpecs(t,
		"grpc-error:UNAVAILABLE,path=/shop.Payments/Fail", "reset,path=/grpc.health.v1.Health/Watch",
		"latency:200ms,path=/grpc.health.v1.Health/Check", "truncate:1KiB,path=/shop.Payments/Echo")})
	var read atomic.Int64
	cc := countingClient(t, s, &read, new(atomic.Bool))
	ctx := context.Background()

	if err := cc.Invoke(ctx, "/shop.Payments/Fail", wrapperspb.String("x"), &wrapperspb.StringValue{}); grpcstatus.Convert(err).Message() != "injected fault" {
		t.Errorf("Fail under grpc-error = %v; want the injected UNAVAILABLE, not the backend's answer", err)
	}
	w, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{Service: "shop"})
	if err == nil {
		_, err = w.Recv()
	}
	if grpcstatus.Code(err) != codes.Unavailable {
		t.Errorf("Watch under reset = %v; want UNAVAILABLE", err)
	}
	t0 := time.Now()
	r, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: "shop"})
	if took := time.Since(t0); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING || took < 200*time.Millisecond || took > 200*time.Millisecond+releaseTolerance {
		t.Errorf("Check under latency:200ms = %v, %v after %v; want SERVING from the backend after 200ms", r.GetStatus(), err, took)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the backend got %d calls; want 1, the delayed Check", n)
	}

	out := &wrapperspb.StringValue{}
	if err := cc.Invoke(ctx, "/shop.Payments/Echo", wrapperspb.String("short"), out); err != nil || out.GetValue() != "short" {
		t.Errorf("Echo of 5 bytes under truncate:1KiB = %q, %v; want it whole", out.GetValue(), err)
	}
	big := strings.Repeat("x", 64<<10)
	before := read.Load()
	err = cc.Invoke(ctx, "/shop.Payments/Echo", wrapperspb.String(big), out)
	if got := read.Load() - before; grpcstatus.Code(err) != codes.Unavailable || got < 1<<10 || got >= 64<<10 {
		t.Errorf("Echo of 64 KiB under truncate:1KiB = %v after %d bytes read; want UNAVAILABLE after about 1 KiB", err, got)
	}
	waitFor(t, "the calls to end", releaseTolerance, func() bool { return s.Stats().InFlight == 0 })
	st := s.Stats()
	if st.Injected["grpc-error"] != 1 || st.Injected["reset"] != 1 || st.Injected["latency"] != 1 || st.Injected["truncate"] != 2 || st.GRPC["/shop.Payments/Echo"]["UNAVAILABLE"] != 1 {
		t.Errorf("Stats: injected %v, grpc %v; want each fault counted, the cut Echo UNAVAILABLE", st.Injected, st.GRPC)
	}
}

// TestGRPCProxyBackendFailures checks that a backend the proxy cannot
// reach, or may not (ProxyDial refuses it), is blamed on the backend: the
// client sees UNAVAILABLE with the reason in x-cbload-backend-error,
// counted in BackendErrors, and the refused backend gets nothing.
func TestGRPCProxyBackendFailures(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	var calls atomic.Int64
	refused := errors.New("address not allowed")
	for _, tt := range []struct {
		name, target, want string
		dial               func(ctx context.Context, network, addr string) (net.Conn, error)
	}{
		{"unreachable", dead, "connection refused", nil},
		{"refused by ProxyDial", grpcBackend(t, &calls), "address not allowed", func(context.Context, string, string) (net.Conn, error) { return nil, refused }},
	} {
		s := start(t, Config{GRPC: true, ProxyTo: "grpc://" + tt.target, ProxyDial: tt.dial})
		cc := grpcClient(t, s)
		var trl metadata.MD
		err := cc.Invoke(context.Background(), "/shop.Payments/Echo", wrapperspb.String("x"), &wrapperspb.StringValue{}, grpc.Trailer(&trl))
		reason := strings.Join(trl.Get(grpcBackendErrorHeader), "")
		if grpcstatus.Code(err) != codes.Unavailable || !strings.HasPrefix(reason, "proxy: ") || !strings.Contains(reason, tt.want) {
			t.Errorf("%s: call = %v, %s %q; want UNAVAILABLE with the reason (%s)", tt.name, err, grpcBackendErrorHeader, reason, tt.want)
		}
		if st := s.Stats(); st.BackendErrors != 1 || st.GRPC["/shop.Payments/Echo"]["UNAVAILABLE"] != 1 {
			t.Errorf("%s: Stats: backend errors %d, grpc %v; want 1, the call UNAVAILABLE", tt.name, st.BackendErrors, st.GRPC)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the backend ProxyDial refused got %d calls; want none", n)
	}
}

// TestGRPCProxyConfig checks the proxy targets a gRPC upstream takes, and
// that an HTTP upstream refuses a grpc:// one, each with a line saying the
// accepted form.
func TestGRPCProxyConfig(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{GRPC: true, ProxyTo: "http://127.0.0.1:9"}, `proxy target "http://127.0.0.1:9" is not a grpc://host:port URL`},
		{Config{GRPC: true, ProxyTo: "grpc://127.0.0.1"}, "is not a grpc://host:port URL"},
		{Config{GRPC: true, ProxyTo: "grpc://127.0.0.1:9/shop"}, "is not a grpc://host:port URL"},
		{Config{ProxyTo: "grpc://127.0.0.1:9"}, "grpc:// needs a gRPC upstream, --grpc"},
		{Config{GRPC: true, ProxyTo: "grpc://127.0.0.1:9", Faults: mustSpecs(t, "slowdown:2x")}, "slowdown scales the synthetic service time"},
	} {
		if err := tt.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%q, grpc %v) = %v; want it to say %q", tt.cfg.ProxyTo, tt.cfg.GRPC, err, tt.want)
		}
	}
	if err := (&Config{GRPC: true, ProxyTo: "grpc://localhost:50051"}).Validate(); err != nil {
		t.Errorf("Validate(grpc://localhost:50051) = %v; want it valid", err)
	}
}
