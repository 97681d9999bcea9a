package faultserver

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
)

// reset aborts the connection with a TCP RST and no response, like a crashed
// process or a stateful middlebox losing the flow.
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
	if tc, ok := conn.(*net.TCPConn); ok {
		// Linger 0 makes Close send RST instead of FIN.
		tc.SetLinger(0) //nolint:errcheck // best effort: a FIN still aborts the request
	}
	conn.Close()
	return true
}
