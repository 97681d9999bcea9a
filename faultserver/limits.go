package faultserver

import (
	"strings"
	"time"
)

// Limits on what a fault spec, a fault set, a Config and the control API may
// ask for. A value beyond one is an error naming the field and the limit
// (exit 2 in cbload, 400 from the control API), never a silent clamp. They
// bound what one request can cost the server: no spec can make it hold a
// large body in memory, wait for years or roll thousands of faults.
const (
	// MaxDuration bounds every duration a spec or Config gives: latency
	// delay and jitter, hang hold, retry-after, service time and jitter.
	MaxDuration = time.Hour
	// MaxBytes bounds slowbody's size= and bandwidth (per second). Bodies
	// are streamed, so a large size costs time, not memory.
	MaxBytes = 1 << 30
	// MaxHeldBody and MaxHeldBodies bound the request bodies kept in memory
	// in proxy mode while a fault holds their requests, one and all
	// together: the body is read first so the hold sees its caller leave,
	// and a body beyond either is forwarded unread, as it comes.
	MaxHeldBody   = 1 << 20
	MaxHeldBodies = 64 << 20
	// MaxGRPCMessage bounds truncate's size= on a gRPC upstream: the
	// message is built in memory (one, shared by the calls), and a client
	// refuses a larger one by default (grpc-go's 4 MiB) before any cut.
	MaxGRPCMessage = 4 << 20
	// MaxSlowdown bounds slowdown's factor, and the product of the factors
	// of every slowdown applied to one request.
	MaxSlowdown = 1000
	// MaxFaults bounds the active fault set (every request rolls each one).
	MaxFaults = 64
	// MaxSpecLen bounds the length of one fault spec, path= included.
	MaxSpecLen = 1024
	// MaxNameLen bounds the name of a named fault.
	MaxNameLen = 64
	// MaxControlBody bounds a control API request body; a larger one is
	// answered 413.
	MaxControlBody = 1 << 20
	// MaxConcurrency and MaxQueue bound Config.Concurrency and Config.Queue.
	MaxConcurrency = 100_000
	MaxQueue       = 1_000_000
	// MaxConnsLimit bounds Config.MaxConns and Config.ControlMaxConns.
	MaxConnsLimit = 1_000_000
)

// Defaults for the slow-client protections of Config, used when a field is
// zero.
const (
	// DefaultReadHeaderTimeout bounds reading a request's headers, on both
	// listeners.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds reading a whole data request, body
	// included. It does not bound how long a fault holds a request: the
	// body is read before the hold and the deadline is lifted then; in
	// proxy mode a body too large to keep (MaxHeldBody) is left unread,
	// the deadline lifted while a fault holds the request and set again
	// for the forward.
	DefaultReadTimeout = 30 * time.Second
	// DefaultIdleTimeout closes a keep-alive connection idle this long.
	DefaultIdleTimeout = 60 * time.Second
	// DefaultStallTimeout closes a data connection whose client has taken
	// none of its response for this long.
	DefaultStallTimeout = 30 * time.Second
	// DefaultMaxConns caps the data listener's open connections; beyond it
	// a new connection is closed at once. Requests held by hang or
	// slowbody count against it.
	DefaultMaxConns = 4096
	// DefaultControlMaxConns caps the control listener's open connections.
	DefaultControlMaxConns = 64
	// ControlTimeout bounds reading a whole control request and writing
	// its answer; the control API never holds a request.
	ControlTimeout = 10 * time.Second
)

// shortDuration writes d without zero trailing units: 1h, not 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
