package faultserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
)

// With Config.GRPC and a ProxyTo of grpc://host:port the gRPC upstream
// forwards every call to that backend, message by message as raw bytes,
// in both directions (unary and streaming calls alike), with the faults
// acting in front of it: grpc-error and reset answer without calling the
// backend, latency and hang delay the call before it is forwarded, and
// truncate cuts the backend's first answer longer than its BYTES
// mid-message. The backend's headers, trailers and status pass through.
// A call that could not be opened on the backend (unreachable) ends UNAVAILABLE
// with the trailer x-cbload-backend-error and counts in
// Stats.BackendErrors; the backend's own status codes count in Stats.GRPC.
// The proxy never follows anything to another address: gRPC has no
// redirects, the target is dialled as given (passthrough, no DNS service
// config), and Config.ProxyDial decides which addresses it may reach.

// grpcBackendErrorHeader is BackendErrorHeader as gRPC trailer metadata.
const grpcBackendErrorHeader = "x-cbload-backend-error"

// grpcProxyStream is the stream a forward opens on the backend: both
// sides may stream, which carries every kind of call.
var grpcProxyStream = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

// parseGRPCProxyURL checks a gRPC proxy target: grpc://host:port, nothing
// more.
func parseGRPCProxyURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "grpc" || u.Hostname() == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("proxy target %q is not a grpc://host:port URL (a gRPC upstream forwards to a gRPC backend)", raw)
	}
	return u, nil
}

// setupGRPCProxy makes the client the gRPC upstream forwards with. It
// connects lazily, on the first call.
func (s *Server) setupGRPCProxy(raw string) error {
	u, err := parseGRPCProxyURL(raw)
	if err != nil {
		return err
	}
	dial := s.cfg.ProxyDial
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second}).DialContext
	}
	cc, err := grpc.NewClient("passthrough:///"+u.Host,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return dial(ctx, "tcp", addr) }),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{}), grpc.MaxCallRecvMsgSize(MaxGRPCMessage), grpc.MaxCallSendMsgSize(MaxGRPCMessage)),
	)
	if err != nil {
		return fmt.Errorf("proxy target %q: %w", raw, err)
	}
	s.grpcBackend = cc
	return nil
}

// forwardGRPC forwards the call on stream to the backend and its answers
// back, cutting the first answer longer than cut.n when cut is set. It
// returns the call's status.
func (s *Server) forwardGRPC(ctx context.Context, stream grpc.ServerStream, method string, cut *truncate) error {
	md, _ := metadata.FromIncomingContext(ctx)
	bctx, cancel := context.WithCancel(metadata.NewOutgoingContext(ctx, md.Copy()))
	defer cancel()
	cs, err := s.grpcBackend.NewStream(bctx, grpcProxyStream, method)
	if err != nil {
		return s.backendFailed(ctx, stream, err)
	}

	// Requests flow to the backend on their own goroutine, as the client
	// sends them; it ends when the client half-closes or the call ends.
	s.handlers.Add(1) // within this handler's own count, so Close waits for it
	go func() {
		defer s.handlers.Done()
		for {
			var m []byte
			err := stream.RecvMsg(&m)
			if errors.Is(err, io.EOF) {
				cs.CloseSend() //nolint:errcheck // the backend's answer says how it went
				return
			}
			if err != nil {
				cancel() // the client is gone: so is the backend call
				return
			}
			if cs.SendMsg(&m) != nil {
				return // the backend ended the call: RecvMsg below has its status
			}
		}
	}()

	// A backend that answers with its status alone sends no headers
	// (Header is nil): the status comes from RecvMsg, and the client gets
	// it the same way.
	if hdr, _ := cs.Header(); hdr != nil {
		if err := stream.SendHeader(hdr); err != nil {
			return err
		}
	}
	for {
		var m []byte
		err := cs.RecvMsg(&m)
		if errors.Is(err, io.EOF) {
			stream.SetTrailer(cs.Trailer())
			return nil
		}
		if err != nil {
			stream.SetTrailer(cs.Trailer())
			if _, ok := grpcstatus.FromError(err); !ok {
				err = grpcstatus.FromContextError(err).Err()
			}
			return err
		}
		if cut != nil && int64(len(m)) > cut.n {
			return s.cutAnswer(ctx, stream, cut.n, &m)
		}
		if err := stream.SendMsg(&m); err != nil {
			return err
		}
	}
}

// backendFailed ends a call that could not be opened on the backend
// (unreachable, refused, its connection failing): UNAVAILABLE,
// with the reason in the trailer grpcBackendErrorHeader, counted in
// Stats.BackendErrors — unless the client gave up or the server is
// closing, which is no failure of the backend's. A call the backend
// opened and then failed ends with the status the backend's client saw.
func (s *Server) backendFailed(ctx context.Context, stream grpc.ServerStream, err error) error {
	if ctx.Err() != nil {
		return grpcstatus.FromContextError(ctx.Err()).Err()
	}
	st := grpcstatus.Convert(err)
	if st.Code() != codes.Unavailable {
		return st.Err() // the backend answered, with no message: its status passes
	}
	s.backendErrors.Add(1)
	msg := "proxy: " + oneLine(st.Message())
	stream.SetTrailer(metadata.Pairs(grpcBackendErrorHeader, msg))
	return grpcstatus.Error(codes.Unavailable, msg)
}
