package faultserver

import (
	"errors"
	"net/http"
)

// empty closes the connection without a byte of response, the way a
// process that accepted the request and then died, or a load balancer with
// no healthy backend, leaves it (WireMock's EMPTY_RESPONSE). Unlike reset
// it closes with a FIN, not a RST.
//
// As with reset, clients silently retry an idempotent request once when a
// connection they reused fails before any response byte, so while an empty
// fault is active keep-alive is off and every request comes on a
// connection of its own (see reset.go).
//
// What clients see: Go's net/http "EOF" from Do (no status at all), Python
// "RemoteDisconnected: Remote end closed connection without response". Every
// client gets an error, so a breaker around the call counts a failure.
type empty struct{}

func parseEmpty(arg string, _ map[string]string) (fault, error) {
	if arg != "" {
		return nil, errors.New("empty takes no argument")
	}
	return empty{}, nil
}

func (empty) arg() string            { return "" }
func (empty) params() []string       { return nil }
func (empty) answers() bool          { return true }
func (empty) plan(randSource) action { return empty{} }

func (empty) act(rc *reqCtx) bool {
	conn, _, err := http.NewResponseController(rc.w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // HTTP/2: abort the stream
	}
	conn.Close()
	return true
}
