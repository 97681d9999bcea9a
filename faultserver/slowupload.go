package faultserver

import (
	"fmt"
	"strings"
)

// slowUpload reads the request body at bps bytes a second before anything
// else acts on the request: a saturated uplink, a congested path towards
// the dependency, Toxiproxy's bandwidth toxic on the upstream direction.
// In proxy mode the body then goes to the backend (at once when it was
// kept, see MaxHeldBody; the rest at the same pace). A request without a
// body is not slowed. A client that sends nothing for the stall timeout
// is cut.
//
// What clients see: the kernel takes a few hundred KiB of a body at once
// (socket buffers), so a smaller body is sent at once and its answer comes
// size/bandwidth late; a larger one blocks the client's write. Either way
// a client timeout fires as a timeout — Go's "Client.Timeout exceeded
// while awaiting headers" — and a breaker counting timeouts counts it.
type slowUpload struct {
	bps int64
}

func parseSlowUpload(arg string, _ map[string]string) (fault, error) {
	if len(arg) < 2 || !strings.EqualFold(arg[len(arg)-2:], "/s") {
		return nil, fmt.Errorf("bandwidth %q is not a size per second like 512B/s, 10KB/s or 1KiB/s", arg)
	}
	bps, err := parseBytes(arg[:len(arg)-2])
	if err != nil {
		return nil, fmt.Errorf("bandwidth %q: %v", arg, err)
	}
	return slowUpload{bps: bps}, nil
}

func (f slowUpload) arg() string            { return formatBytes(f.bps) + "/s" }
func (f slowUpload) params() []string       { return nil }
func (f slowUpload) answers() bool          { return false }
func (f slowUpload) plan(randSource) action { return f }

// act does nothing: the server read the body at this pace before any
// fault acted (Server.readBody), so that a hold before it cannot see an
// unread body.
func (f slowUpload) act(*reqCtx) bool { return false }
