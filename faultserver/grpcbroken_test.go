package faultserver

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// countingConn counts the bytes a client reads from its connection and
// notes whether a read or write on it failed with a TCP RST.
type countingConn struct {
	net.Conn
	read  *atomic.Int64
	reset *atomic.Bool
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	c.noteReset(err)
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.noteReset(err)
	return n, err
}

// noteReset records an RST. The kernel reports it once, to whichever call
// comes first: a write the client makes after it (a window update, the
// next request) gets ECONNRESET, and the reader then sees only EOF.
func (c countingConn) noteReset(err error) {
	if errors.Is(err, syscall.ECONNRESET) {
		c.reset.Store(true)
	}
}

// countingClient dials s with a real gRPC client whose connections count
// the bytes they read into read and note an RST in reset.
func countingClient(t *testing.T, s *Server, read *atomic.Int64, reset *atomic.Bool) *grpc.ClientConn {
	t.Helper()
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, read: read, reset: reset}, nil
	}
	cc, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithContextDialer(dial))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// grpcCall makes one unary call as a generated stub does and returns the
// fault header and its error.
func grpcCall(ctx context.Context, cc *grpc.ClientConn, method string) (string, error) {
	var hdr metadata.MD
	err := cc.Invoke(ctx, method, wrapperspb.String("order 42"), &wrapperspb.StringValue{}, grpc.Header(&hdr))
	return strings.Join(hdr.Get(grpcFaultHeader), ","), err
}

// TestGRPCReset checks reset over gRPC: the call's connection is aborted,
// so a grpc-go client sees UNAVAILABLE "connection reset by peer" — for
// that call and for every other call in flight on the connection — and
// its next call, on a new connection, succeeds. The client's message may
// say EOF rather than "reset" (see noteReset), so the RST is checked on
// the client's socket.
func TestGRPCReset(t *testing.T) {
	s := start(t, Config{GRPC: true, Faults: mustSpecs(t, "reset,path=/shop.Payments/", "hang,path=/shop.Slow/")})
	var read atomic.Int64
	var rst atomic.Bool
	cc := countingClient(t, s, &read, &rst)

	held := make(chan error, 1)
	go func() {
		_, err := grpcCall(context.Background(), cc, "/shop.Slow/Wait")
		held <- err
	}()
	waitFor(t, "the call to be held", 5*time.Second, func() bool { return s.Stats().InFlight == 1 })

	_, err := grpcCall(context.Background(), cc, "/shop.Payments/Charge")
	if grpcstatus.Code(err) != codes.Unavailable {
		t.Errorf("Charge under reset = %v; want UNAVAILABLE", err)
	}
	if !rst.Load() {
		t.Errorf("the client's socket saw no connection reset by peer (Charge ended with %v); want the connection aborted with an RST, not closed", err)
	}
	select {
	case err := <-held:
		if grpcstatus.Code(err) != codes.Unavailable {
			t.Errorf("call in flight on the reset connection = %v; want UNAVAILABLE", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("call in flight on the reset connection still held 5s after the reset")
	}
	if _, err := grpcCall(context.Background(), cc, "/shop.Quota/Take"); err != nil {
		t.Errorf("Take after the reset = %v; want OK on a new connection", err)
	}
	waitFor(t, "the server to count the calls", releaseTolerance, func() bool { return s.Stats().InFlight == 0 })
	st := s.Stats()
	if st.Injected["reset"] != 1 || st.GRPC["/shop.Payments/Charge"]["UNAVAILABLE"] != 1 || st.GRPC["/shop.Quota/Take"]["OK"] != 1 {
		t.Errorf("Stats = reset injected %d, grpc %v; want 1 reset, Charge UNAVAILABLE, Take OK", st.Injected["reset"], st.GRPC)
	}
}

// TestGRPCTruncate checks truncate over gRPC, a stream cut mid-message:
// the client has the answer's headers (with the fault header) and part of
// the message when the connection ends, and sees UNAVAILABLE; an untouched
// method answers in full.
func TestGRPCTruncate(t *testing.T) {
	const cut, size = 1 << 10, 64 << 10
	s := start(t, Config{GRPC: true, Faults: mustSpecs(t, "truncate:1KiB,size=64KiB,path=/shop.Payments/")})
	var read atomic.Int64
	cc := countingClient(t, s, &read, new(atomic.Bool))
	if _, err := grpcCall(context.Background(), cc, "/shop.Quota/Take"); err != nil {
		t.Fatalf("Take = %v; want OK", err)
	}
	before := read.Load()

	fault, err := grpcCall(context.Background(), cc, "/shop.Payments/Charge")
	got := read.Load() - before
	if grpcstatus.Code(err) != codes.Unavailable || fault != "truncate" {
		t.Errorf("Charge under truncate = %v, fault header %q; want UNAVAILABLE after a header naming truncate", err, fault)
	}
	if got < cut || got >= size {
		t.Errorf("client read %d bytes of the cut answer; want from %d (the cut) to below %d (the message)", got, cut, size)
	}
	t.Logf("client saw %v after reading %d bytes", err, got)

	if _, err := grpcCall(context.Background(), cc, "/shop.Quota/Take"); err != nil {
		t.Errorf("Take after the cut = %v; want OK on a new connection", err)
	}
	waitFor(t, "the server to count the calls", releaseTolerance, func() bool { return s.Stats().InFlight == 0 })
	st := s.Stats()
	if st.Injected["truncate"] != 1 || st.GRPC["/shop.Payments/Charge"]["UNAVAILABLE"] != 1 || st.GRPC["/shop.Quota/Take"]["OK"] != 2 {
		t.Errorf("Stats = truncate injected %d, grpc %v; want 1 truncate, Charge UNAVAILABLE, Take OK twice", st.Injected["truncate"], st.GRPC)
	}
}

// TestGRPCPaddedMessage checks that truncate's message, had it arrived
// whole, is size bytes that a typed client decodes as an empty message.
func TestGRPCPaddedMessage(t *testing.T) {
	s := &Server{}
	for _, size := range []int64{10, 11, 127, 128, 129, 4 << 10, 1<<20 + 3} {
		m := s.paddedMessage(size)
		var out wrapperspb.StringValue
		if int64(len(*m)) != size {
			t.Errorf("paddedMessage(%d) is %d bytes", size, len(*m))
		}
		if err := proto.Unmarshal(*m, &out); err != nil || out.GetValue() != "" {
			t.Errorf("paddedMessage(%d) decodes to %q, %v; want an empty StringValue", size, out.GetValue(), err)
		}
	}
}
