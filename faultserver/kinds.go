package faultserver

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Kind describes one fault kind: its name in specs, an example spec, the
// argument used when a spec gives none, and what it does.
type Kind struct {
	Name        string `json:"name"`
	Example     string `json:"example"`
	DefaultArg  string `json:"default_arg,omitempty"`
	Description string `json:"description"`
}

// kindDef is a row of the kinds table: the public description plus how to
// parse the kind-specific part of a spec.
type kindDef struct {
	Kind
	// form is the accepted spec form, quoted in parse errors.
	form string
	// keys are the kind-specific keys, besides the common rate= and path=.
	keys []string
	// parse builds the fault from ARG ("" when absent) and the kind-specific
	// key=values.
	parse func(arg string, kv map[string]string) (fault, error)
	// connLevel kinds act on connections, not requests: rate= and path= do
	// not apply to them.
	connLevel bool
	// perConn kinds act on each new connection's TLS handshake, before any
	// request: rate= applies per connection, path= does not. They are
	// never among a request's steps.
	perConn bool
	// answersUnread kinds answer or abort a request without reading its
	// body (see Server.readsBody).
	answersUnread bool
	// grpcOK kinds act on gRPC calls too (Config.GRPC).
	grpcOK bool
	// noKeepAlive kinds turn keep-alive off while they are active (rate
	// above zero): they fail a connection before any response byte, which
	// a client would otherwise take for a stale keep-alive connection and
	// retry silently (reset.go), or they act per connection (tls).
	noKeepAlive bool
}

// kindTable lists every fault kind, in the order Kinds reports them. The
// index of a kind in this table is its index in the injected counters.
var kindTable = [...]kindDef{
	{
		Kind: Kind{Name: "latency", Example: "latency:2s,jitter=200ms", DefaultArg: "1s",
			Description: "adds a delay before the response; jitter spreads it uniformly (dist=uniform) or adds an exponential tail with mean jitter (dist=exp)"},
		form:   "latency[:DURATION][,jitter=DURATION][,dist=uniform|exp]",
		keys:   []string{"jitter", "dist"},
		parse:  parseLatency,
		grpcOK: true,
	},
	{
		Kind: Kind{Name: "error", Example: "error:503,rate=0.5", DefaultArg: "503",
			Description: "answers the status without doing the work; retry-after= adds a Retry-After header"},
		form:          "error[:STATUS][,retry-after=DURATION]",
		keys:          []string{"retry-after"},
		parse:         parseStatus,
		answersUnread: true,
	},
	{
		Kind: Kind{Name: "hang", Example: "hang:30s",
			Description: "holds the request without answering until the client gives up, the hold ends, the fault is cleared or the server closes"},
		form:   "hang[:DURATION]",
		parse:  parseHang,
		grpcOK: true,
	},
	{
		Kind: Kind{Name: "refuse", Example: "refuse",
			Description: "closes the data listener so new connections are refused, and drops requests on open connections; the listener reopens on the same address when the fault clears"},
		form:          "refuse",
		parse:         parseRefuse,
		connLevel:     true,
		answersUnread: true,
	},
	{
		Kind: Kind{Name: "reset", Example: "reset,rate=0.2",
			Description: "aborts the connection with a TCP RST instead of a response; while it is active keep-alive is off, so no client can take the reset for a stale connection and retry it silently; over gRPC it resets the call's connection (the client sees UNAVAILABLE, as do the other calls in flight on it)"},
		form:          "reset",
		parse:         parseReset,
		answersUnread: true,
		noKeepAlive:   true,
		grpcOK:        true,
	},
	{
		Kind: Kind{Name: "slowbody", Example: "slowbody:1KiB/s", DefaultArg: "1KiB/s",
			Description: "sends headers promptly, then trickles the body at the bandwidth; synthetic bodies are padded to size= (default 4KiB)"},
		form:  "slowbody[:BANDWIDTH][,size=BYTES]",
		keys:  []string{"size"},
		parse: parseSlowBody,
	},
	{
		Kind: Kind{Name: "slowdown", Example: "slowdown:3x", DefaultArg: "2x",
			Description: "multiplies the synthetic service time, a capacity cut when the upstream has finite concurrency; not in proxy mode"},
		form:   "slowdown[:FACTOR]",
		parse:  parseSlowdown,
		grpcOK: true,
	},
	{
		Kind: Kind{Name: "truncate", Example: "truncate:1KiB,framing=chunked", DefaultArg: "1KiB",
			Description: "answers 200 promising the whole body (Content-Length, or framing=chunked: a chunk cut midway), sends the first BYTES and closes the connection; clients see unexpected EOF reading the body, and one that checks only the status sees a success; synthetic bodies are padded to size= (default 4KiB); over gRPC it cuts the stream mid-message: the answer's headers and about BYTES of a message of size= go out, then the connection closes (the client sees UNAVAILABLE)"},
		form:   "truncate[:BYTES][,size=BYTES][,framing=length|chunked]",
		keys:   []string{"size", "framing"},
		parse:  parseTruncate,
		grpcOK: true,
	},
	{
		Kind: Kind{Name: "empty", Example: "empty,rate=0.2",
			Description: "closes the connection without a byte of response (clients see EOF); while it is active keep-alive is off, as with reset"},
		form:        "empty",
		parse:       parseEmpty,
		noKeepAlive: true,
	},
	{
		Kind: Kind{Name: "garbage", Example: "garbage:64B", DefaultArg: "64B",
			Description: "sends random bytes (from the seed) instead of a response, then closes the connection (clients see a malformed HTTP response)"},
		form:  "garbage[:BYTES]",
		parse: parseGarbage,
	},
	{
		Kind: Kind{Name: "slowclose", Example: "slowclose:2s", DefaultArg: "1s",
			Description: "answers in full with a body that the connection's close ends, and closes it the delay later: every byte arrives at once, yet the answer takes the delay longer"},
		form:  "slowclose[:DURATION]",
		parse: parseSlowClose,
	},
	{
		Kind: Kind{Name: "slowupload", Example: "slowupload:1KiB/s", DefaultArg: "1KiB/s",
			Description: "reads the request body at the bandwidth before anything else, a slow uplink: the answer comes body-size/bandwidth late"},
		form:  "slowupload[:BANDWIDTH]",
		parse: parseSlowUpload,
	},
	{
		Kind: Kind{Name: "tls", Example: "tls:expired,rate=0.5", DefaultArg: "handshake",
			Description: "HTTPS upstreams only (--upstream-tls): fails the TLS handshake of a connection — handshake (an alert), expired (an expired certificate) or wrongname (a certificate for another name); rate= is per connection, path= does not apply, and keep-alive is off while it is active"},
		form:        "tls[:handshake|expired|wrongname]",
		parse:       parseTLS,
		perConn:     true,
		noKeepAlive: true,
	},
	{
		Kind: Kind{Name: "grpc-error", Example: "grpc-error:UNAVAILABLE,rate=0.5", DefaultArg: "UNAVAILABLE",
			Description: "gRPC upstreams only (--grpc): ends the call with the status code, a name like UNAVAILABLE, DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED (or its number); path= is a prefix of /package.Service/Method"},
		form:          "grpc-error[:CODE]",
		parse:         parseGRPCError,
		answersUnread: true,
		grpcOK:        true,
	},
}

// grpcKindNames lists the kinds a gRPC upstream takes.
func grpcKindNames() string {
	return strings.Join(GRPCKinds(), ", ")
}

// GRPCKinds names the fault kinds a gRPC upstream (Config.GRPC) takes, in
// the kind table's order; the others act on HTTP only.
func GRPCKinds() []string {
	var names []string
	for i := range kindTable {
		if kindTable[i].grpcOK {
			names = append(names, kindTable[i].Name)
		}
	}
	return names
}

// Kinds returns the fault kinds this package implements, in a fixed order.
// The harness uses DefaultArg to fill in a bare kind name; ParseSpec does
// the same.
func Kinds() []Kind {
	ks := make([]Kind, len(kindTable))
	for i := range kindTable {
		ks[i] = kindTable[i].Kind
	}
	return ks
}

// kindIndex returns the table index of the named kind, or -1.
func kindIndex(name string) int {
	for i := range kindTable {
		if kindTable[i].Name == name {
			return i
		}
	}
	return -1
}

// KindNames returns the kinds' names in table order, joined by ", ", as
// the messages that list them do.
func KindNames() string { return kindNames() }

// KindsHelp lists every kind for --help, one line each: the kind with its
// default argument, then its description.
func KindsHelp() string {
	var b strings.Builder
	for _, k := range Kinds() {
		name := k.Name
		if k.DefaultArg != "" {
			name += ":" + k.DefaultArg
		}
		fmt.Fprintf(&b, "  %-18s %s\n", name, k.Description)
	}
	return b.String()
}

func kindNames() string {
	names := make([]string, len(kindTable))
	for i := range kindTable {
		names[i] = kindTable[i].Name
	}
	return strings.Join(names, ", ")
}

// fault is one kind's parsed configuration. A fault is immutable once parsed
// and shared by every request it applies to.
type fault interface {
	// arg returns the normalised ARG ("" when the kind takes none) and the
	// kind-specific key=value pairs in normal order, without defaults.
	arg() string
	params() []string
	// answers reports whether the fault ends the request by itself, so
	// faults after it are not rolled.
	answers() bool
	// plan makes the per-request decisions that need randomness. It runs
	// under the server's random-source lock: it must only draw and compute.
	plan(rnd randSource) action
}

// randSource is the part of *rand.Rand the faults draw from.
type randSource interface {
	Float64() float64
	ExpFloat64() float64
}

// action is what one applied fault does to one request.
type action interface {
	// act runs the fault. It returns true when it has answered or aborted
	// the request, so nothing after it runs.
	act(rc *reqCtx) (done bool)
}

// reqCtx is what an action may touch for one request.
type reqCtx struct {
	w       http.ResponseWriter
	r       *http.Request
	release <-chan struct{} // closed when the fault behind a hang is removed
	// wraps, added by slowbody, truncate and slowclose, wrap the writer
	// the final response goes to, in order (the last is outermost).
	wraps []func(http.ResponseWriter) http.ResponseWriter
	// answer, when set by truncate, writes the synthetic answer in place
	// of writeHealthy. It may hijack the connection.
	answer func(w http.ResponseWriter, size int64)
	// after, added by slowclose, runs once the final response is written.
	after []func()
	// size is the synthetic body size wanted by slowbody or truncate; 0
	// means normal.
	size int64
	// slowdown multiplies the synthetic service time; 1 means normal.
	slowdown float64
	// bodyDeadline, when set, starts the read deadline for a request body
	// that faults may have held unread (proxy mode); it is idempotent.
	bodyDeadline func()
	// onSlowStart, when set (proxy mode), is called when slowbody starts
	// to trickle a backend's answer.
	onSlowStart func()
	// bodyRead is set once readBody has read the whole request body, so
	// nothing after it reads from the connection; heldBody is how many of
	// MaxHeldBodies' bytes it keeps for the forward (proxy mode).
	bodyRead bool
	heldBody int64
	// onHangEnd is Config.OnHangEnd.
	onHangEnd func(r *http.Request, held time.Duration, endedBy string)
}

// wait blocks for d, or until the client gives up or the server closes (the
// request context is canceled in both cases). It reports whether the full
// duration passed.
func (rc *reqCtx) wait(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-rc.r.Context().Done():
		return false
	}
}
