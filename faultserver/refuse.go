package faultserver

import (
	"errors"
	"net/http"
)

// refuse makes the upstream unreachable. While a refuse fault is active the
// data listener is closed, so new connections are refused by the kernel, and
// a request arriving on a connection opened before is dropped by closing its
// connection. When the fault clears, the listener reopens on the same
// address (should the address be taken meanwhile, the listener retries
// every 100ms). The listener side lives in listener.go; this is the request
// side.
type refuse struct{}

func parseRefuse(arg string, _ map[string]string) (fault, error) {
	if arg != "" {
		return nil, errors.New("refuse takes no argument")
	}
	return refuse{}, nil
}

func (refuse) arg() string            { return "" }
func (refuse) params() []string       { return nil }
func (refuse) answers() bool          { return true }
func (refuse) plan(randSource) action { return refuse{} }

func (refuse) act(rc *reqCtx) bool {
	conn, _, err := http.NewResponseController(rc.w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2, or a middleware hiding it): let net/http
		// abort the connection or stream.
		panic(http.ErrAbortHandler)
	}
	conn.Close()
	return true
}
