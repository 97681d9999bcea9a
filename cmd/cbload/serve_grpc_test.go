package main

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// TestServeGRPC runs `cbload serve --grpc` and calls it with a real gRPC
// client: the fault given at the start and the one the control API puts
// in its place end calls with their status codes, other methods answer
// OK, and /stats counts the calls by method and code.
func TestServeGRPC(t *testing.T) {
	checkLeaks(t)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	up, ctl, out := startServe(t, "--grpc", "--fault", "grpc-error:unavailable,path=/shop.Payments/", "--seed", "3")
	if !strings.HasPrefix(up, "grpc://") || !strings.Contains(out.String(), "gRPC: any method") {
		t.Fatalf("serve output = %q; want a grpc:// upstream", out)
	}
	cc, err := grpc.NewClient(strings.TrimPrefix(up, "grpc://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	call := func(method string) codes.Code {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return status.Code(cc.Invoke(ctx, method, &emptypb.Empty{}, &emptypb.Empty{}))
	}
	if got := call("/shop.Payments/Charge"); got != codes.Unavailable {
		t.Errorf("Charge with grpc-error:UNAVAILABLE = %v; want UNAVAILABLE", got)
	}
	if got := call("/shop.Inventory/List"); got != codes.OK {
		t.Errorf("List = %v; want OK", got)
	}
	if st, body := do(t, c, "PUT", ctl+"/faults", "", `{"faults": ["grpc-error:RESOURCE_EXHAUSTED"]}`); st != 200 || body != `{"faults":["grpc-error:RESOURCE_EXHAUSTED"]}` {
		t.Errorf("PUT /faults = %d %s; want 200 and the new set", st, body)
	}
	if got := call("/shop.Inventory/List"); got != codes.ResourceExhausted {
		t.Errorf("List after PUT = %v; want RESOURCE_EXHAUSTED", got)
	}
	if st, body := do(t, c, "PUT", ctl+"/faults", "", `{"faults": ["empty"]}`); st != 400 || !strings.Contains(body, "empty is an HTTP fault") {
		t.Errorf("PUT /faults empty = %d %s; want 400 naming the gRPC kinds", st, body)
	}
	st, body := do(t, c, "GET", ctl+"/stats", "", "")
	want := `"grpc":{"/shop.Inventory/List":{"OK":1,"RESOURCE_EXHAUSTED":1},"/shop.Payments/Charge":{"UNAVAILABLE":1}}`
	if st != 200 || !strings.Contains(body, want) {
		t.Errorf("GET /stats = %d %s; want it to contain %s", st, body, want)
	}
}

// TestServeGRPCProxy runs `cbload serve --proxy-to grpc://…` in front of a
// real gRPC server: the backend's answers come through, a fault acts in
// front of it, and the listing says it proxies.
func TestServeGRPCProxy(t *testing.T) {
	checkLeaks(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	backend := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("shop", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(backend, hs)
	go backend.Serve(l) //nolint:errcheck // ends with Stop
	defer backend.Stop()

	up, _, out := startServe(t, "--proxy-to", "grpc://"+l.Addr().String(), "--fault", "grpc-error:DEADLINE_EXCEEDED,path=/grpc.health.v1.Health/Watch", "--seed", "3")
	if !strings.HasPrefix(up, "grpc://") || !strings.Contains(out.String(), "proxied to grpc://"+l.Addr().String()) {
		t.Fatalf("serve output = %q; want a grpc:// upstream proxying to the backend", out)
	}
	cc, err := grpc.NewClient(strings.TrimPrefix(up, "grpc://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hc := healthpb.NewHealthClient(cc)
	if r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "shop"}); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("Check(shop) via serve = %v, %v; want the backend's SERVING", r.GetStatus(), err)
	}
	w, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: "shop"})
	if err == nil {
		_, err = w.Recv()
	}
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("Watch under grpc-error:DEADLINE_EXCEEDED = %v; want DEADLINE_EXCEEDED", err)
	}
}
