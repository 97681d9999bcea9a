package faultserver

import (
	"crypto/tls"
	"errors"
	"net/http"
)

// reset aborts the connection with a TCP RST and no response, like a crashed
// process or a stateful middlebox losing the flow.
//
// HTTP clients silently retry an idempotent request once when a connection
// they reused from their keep-alive pool fails before any response byte,
// taking it for a connection the server had closed while idle. A reset on
// a reused connection was therefore invisible to Go clients: reset,rate=0.2
// gave them 4.6% failures. So while a reset fault is active the data
// listener turns keep-alive off (Server.SetFaults): idle connections are
// closed, every response carries "Connection: close", and every request
// arrives on a connection of its own. The cost is a TCP handshake per
// request while the fault is active.
//
// What clients see, measured with rate=0.2 and 500 GETs each: Go net/http
// 20% "read: connection reset by peer"; Python requests and urllib 18-20%
// ConnectionResetError. Java's HttpClient and HttpURLConnection retry a GET
// once after a connection failure even on a new connection, so they see
// about rate² (5.4% "header parser received no bytes" and 3.6% "Connection
// reset"); no server-side choice can stop a client's own retry.
//
// Over gRPC (Config.GRPC) reset aborts the connection the call came on
// (Server.resetCall): the client sees UNAVAILABLE, and so does every other
// call in flight on that connection.
type reset struct{}

func parseReset(arg string, _ map[string]string) (fault, error) {
	if arg != "" {
		return nil, errors.New("reset takes no argument")
	}
	return reset{}, nil
}

func (reset) arg() string            { return "" }
func (reset) params() []string       { return nil }
func (reset) answers() bool          { return true }
func (reset) plan(randSource) action { return reset{} }

func (reset) act(rc *reqCtx) bool {
	conn, _, err := http.NewResponseController(rc.w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if c, ok := conn.(*tls.Conn); ok {
		conn = c.NetConn() // an RST aborts TLS too
	}
	if lc, ok := conn.(interface{ SetLinger(int) error }); ok {
		// Linger 0 makes Close send RST instead of FIN.
		lc.SetLinger(0) //nolint:errcheck // best effort: a FIN still aborts the request
	}
	conn.Close()
	return true
}
