package faultserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
)

// With Config.GRPC the data listener speaks gRPC instead of HTTP/1: every
// method of every service is answered, after the service time, with an
// empty message — the encoding of any proto3 message whose fields are all
// at their defaults, so a valid answer of whatever type the client
// expects. Faults act in gRPC's terms: grpc-error ends a call with a
// status code, latency and slowdown delay it, hang holds it, reset aborts
// its connection and truncate cuts its answer mid-message; path= is a
// prefix of the full method name, "/package.Service/Method". A faulted
// answer carries the header metadata x-cbload-fault. Stats.GRPC counts
// the calls by method and status code.

// grpcKind is grpc-error's index in kindTable.
var grpcKind = kindIndex("grpc-error")

// grpcFaultHeader is FaultHeader as gRPC header metadata (lower case, as
// HTTP/2 carries it).
const grpcFaultHeader = "x-cbload-fault"

// grpcCodeNames are the status codes by their canonical names, as gRPC's
// documentation and other languages' libraries spell them.
var grpcCodeNames = [...]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN", codes.InvalidArgument: "INVALID_ARGUMENT",
	codes.DeadlineExceeded: "DEADLINE_EXCEEDED", codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED", codes.OutOfRange: "OUT_OF_RANGE",
	codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE",
	codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
}

// grpcCodeName returns c's canonical name, or its number when it has none.
func grpcCodeName(c codes.Code) string {
	if int(c) < len(grpcCodeNames) {
		return grpcCodeNames[c]
	}
	return strconv.Itoa(int(c))
}

// grpcError ends a gRPC call with a status code other than OK.
type grpcError struct {
	code codes.Code
}

func parseGRPCError(arg string, _ map[string]string) (fault, error) {
	up := strings.ToUpper(arg)
	if up == "CANCELED" {
		up = "CANCELLED"
	}
	for c, name := range grpcCodeNames {
		if up == name || arg == strconv.Itoa(c) {
			if c == int(codes.OK) {
				break
			}
			return grpcError{code: codes.Code(c)}, nil
		}
	}
	return nil, fmt.Errorf("status %q is not a gRPC error code: want a name like UNAVAILABLE, DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED, or its number 1-16", arg)
}

func (f grpcError) arg() string      { return grpcCodeName(f.code) }
func (f grpcError) params() []string { return nil }
func (f grpcError) answers() bool    { return true }

func (f grpcError) plan(randSource) action { return f }

// act is never reached over HTTP: checkFaults keeps grpc-error to gRPC
// upstreams. Should it be, the request is aborted rather than answered.
func (f grpcError) act(*reqCtx) bool { panic(http.ErrAbortHandler) }

// maxGRPCMethods bounds the methods Stats.GRPC counts apart; calls to
// others are counted under grpcOtherMethod, so a client cannot grow the
// server's memory by inventing method names. A report holds the same
// (reports.MaxGRPCMethods).
const maxGRPCMethods = 256

// grpcOtherMethod is the Stats.GRPC key of the methods beyond
// maxGRPCMethods.
const grpcOtherMethod = "(other)"

// maxGRPCMethodLen bounds the method names Stats.GRPC counts apart.
const maxGRPCMethodLen = 256

// grpcMethodOK reports whether method is a full method name Stats.GRPC
// counts apart: /package.Service/Method of letters, digits, _ . and -, at
// most maxGRPCMethodLen bytes, as a report holds them (reports.Validate).
// A client may send any path; others are counted as grpcOtherMethod.
func grpcMethodOK(method string) bool {
	svc, name, ok := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	if !ok || !strings.HasPrefix(method, "/") || svc == "" || name == "" || len(method) > maxGRPCMethodLen {
		return false
	}
	for _, r := range svc + name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// grpcCounts counts gRPC calls by method and status code.
type grpcCounts struct {
	mu sync.Mutex
	m  map[string]map[string]int64
}

func (g *grpcCounts) add(method string, code codes.Code) {
	if !grpcMethodOK(method) {
		method = grpcOtherMethod
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]map[string]int64{}
	}
	byCode, ok := g.m[method]
	if !ok {
		if len(g.m) >= maxGRPCMethods {
			method = grpcOtherMethod
			byCode = g.m[method]
		}
		if byCode == nil {
			byCode = map[string]int64{}
			g.m[method] = byCode
		}
	}
	byCode[grpcCodeName(code)]++
}

func (g *grpcCounts) snapshot() map[string]map[string]int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		return nil
	}
	out := make(map[string]map[string]int64, len(g.m))
	for m, byCode := range g.m {
		c := make(map[string]int64, len(byCode))
		for k, v := range byCode {
			c[k] = v
		}
		out[m] = c
	}
	return out
}

// rawCodec passes messages through as bytes: the server never knows the
// types of the methods it answers, and needs none, since it only reads a
// request and answers an empty message.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) ([]byte, error) {
	if b, ok := v.(*[]byte); ok {
		return *b, nil
	}
	return nil, fmt.Errorf("raw codec: cannot marshal %T", v)
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	if b, ok := v.(*[]byte); ok {
		*b = append((*b)[:0], data...)
		return nil
	}
	return fmt.Errorf("raw codec: cannot unmarshal into %T", v)
}

// grpcServer is the gRPC server of the data listener.
type grpcServer = grpc.Server

// newGRPC makes the gRPC server of the data listener.
// A synthetic upstream reads request messages of up to MaxHeldBody, a
// proxy forwards them up to MaxGRPCMessage, the default of gRPC clients
// and servers.
func (s *Server) newGRPC() *grpc.Server {
	maxMsg := MaxHeldBody
	if s.grpcBackend != nil {
		maxMsg = MaxGRPCMessage
	}
	return grpc.NewServer(
		grpc.ForceServerCodec(rawCodec{}),
		grpc.UnknownServiceHandler(s.serveGRPC),
		grpc.MaxRecvMsgSize(maxMsg),
		grpc.MaxSendMsgSize(MaxGRPCMessage),
	)
}

// grpcRequest carries a call's context where the fault actions look for a
// request's: hang and latency wait on r.Context().
func grpcRequest(ctx context.Context, method string) *http.Request {
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost, "/", nil)
	r.URL.Path = method
	return r
}

// serveGRPC answers any call: it reads the request message, rolls the
// faults for the method, lets them act, and answers an empty message after
// the service time.
func (s *Server) serveGRPC(_ any, stream grpc.ServerStream) error {
	if !s.enter() {
		return grpcstatus.Error(codes.Unavailable, "cbload upstream closing")
	}
	defer s.handlers.Done()
	s.requests.Add(1)
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	method, _ := grpc.MethodFromServerStream(stream)
	ctx := stream.Context()
	code := codes.OK
	defer func() { s.grpcCalls.add(method, code) }()
	fail := func(err error) error {
		code = grpcstatus.Code(err)
		return err
	}

	// The request message is read first, as for HTTP, so a hold sees the
	// caller leave (gRPC cancels the call's context on a RST_STREAM anyway).
	// A proxy forwards the messages as they come instead: a streaming
	// call's first may wait for the backend's answer.
	if s.grpcBackend == nil {
		var in []byte
		if err := stream.RecvMsg(&in); err != nil && !errors.Is(err, io.EOF) {
			return fail(err)
		}
	}
	var buf [maxSteps]step
	steps, service := s.decide(method, buf[:0])
	names := make([]string, 0, len(steps))
	for _, st := range steps {
		s.injected[st.kind].Add(1)
		names = append(names, kindTable[st.kind].Name)
	}
	rc := &reqCtx{r: grpcRequest(ctx, method), slowdown: 1}
	if s.cfg.OnApplied != nil {
		applied := make([]Spec, len(steps))
		for i, st := range steps {
			applied[i] = *st.spec
		}
		s.cfg.OnApplied(rc.r, applied)
	}
	if len(names) > 0 {
		stream.SetHeader(metadata.Pairs(grpcFaultHeader, strings.Join(names, ","))) //nolint:errcheck // only fails once headers went out
	}
	gone := func() error {
		if ctx.Err() != nil {
			return fail(grpcstatus.FromContextError(ctx.Err()).Err())
		}
		return fail(grpcstatus.Error(codes.Unavailable, "cbload upstream closing"))
	}
	var cut *truncate
	for _, st := range steps {
		switch f := st.act.(type) {
		case grpcError:
			return fail(grpcstatus.Error(f.code, "injected fault"))
		case reset:
			return fail(s.resetCall(ctx))
		case truncate:
			cut = &f
			continue
		}
		rc.release = st.release
		if st.act.act(rc) {
			return gone()
		}
	}
	if rc.slowdown > 1 {
		service = scaleDuration(service, rc.slowdown)
	}
	if !rc.wait(service) {
		return gone()
	}
	if s.grpcBackend != nil {
		return fail(s.forwardGRPC(ctx, stream, method, cut))
	}
	s.completed.Add(1)
	if cut != nil {
		return fail(s.cutCall(ctx, stream, *cut))
	}
	empty := []byte{}
	if err := stream.SendMsg(&empty); err != nil {
		return fail(err)
	}
	return nil
}

// errCallCut is the status a call ends with on the server when reset or
// truncate ended its connection: what a gRPC client sees of a connection
// lost mid-call, and what Stats.GRPC counts.
var errCallCut = grpcstatus.Error(codes.Unavailable, "connection ended by an injected fault")

// grpcCutWait bounds how long a cut call waits for the client to close the
// connection after the cut, before the server closes it whole.
const grpcCutWait = time.Second

// resetCall aborts the connection of the call of ctx with a TCP RST, and
// with it every call in flight on that connection.
func (s *Server) resetCall(ctx context.Context) error {
	if c := s.grpcLn.conn(ctx); c != nil {
		c.reset()
	}
	return errCallCut
}

// cutCall answers the call with a message of f.size bytes and cuts the
// connection after f.n of them: the client has the headers and part of the
// message when the connection ends. The count includes the HTTP/2 and gRPC
// framing of the answer (a few dozen bytes) and whatever else the
// connection sends meanwhile, so the cut falls at about f.n bytes.
func (s *Server) cutCall(ctx context.Context, stream grpc.ServerStream, f truncate) error {
	if err := stream.SendHeader(nil); err != nil {
		return err
	}
	return s.cutAnswer(ctx, stream, f.n, s.paddedMessage(f.size))
}

// cutAnswer sends msg on stream with the connection set to close after n
// more bytes, and waits for the call to end.
func (s *Server) cutAnswer(ctx context.Context, stream grpc.ServerStream, n int64, msg *[]byte) error {
	c := s.grpcLn.conn(ctx)
	if c == nil {
		return errCallCut
	}
	c.cutAfter(n)
	stream.SendMsg(msg) //nolint:errcheck // the cut fails it, or the transport's close does
	t := time.NewTimer(grpcCutWait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
		c.Close() // the client kept the connection open after the cut
	}
	return errCallCut
}

// paddedMessage returns a message of size bytes that every proto3 type
// decodes, as an unknown field. It is shared by the calls that need one of
// that size, and never written to.
func (s *Server) paddedMessage(size int64) *[]byte {
	if m := s.cutMsg.Load(); m != nil && int64(len(*m)) == size {
		return m
	}
	// The field's length is written as a varint of a fixed five bytes
	// (valid, if not minimal), so the whole is exactly size bytes.
	const num, lenSize = protowire.MaxValidNumber, 5
	msg := make([]byte, 0, size)
	if head := int64(protowire.SizeTag(num) + lenSize); size >= head {
		msg = protowire.AppendTag(msg, num, protowire.BytesType)
		for i, n := 0, uint64(size-head); i < lenSize; i++ {
			b := byte(n>>(7*i)) & 0x7f
			if i < lenSize-1 {
				b |= 0x80
			}
			msg = append(msg, b)
		}
	}
	msg = msg[:size] // zero bytes: the rest of the unknown field
	s.cutMsg.Store(&msg)
	return &msg
}
