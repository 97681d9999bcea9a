package faultserver

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
)

// defaultGarbage is how many random bytes garbage sends by default.
const defaultGarbage = 64

// maxGarbage bounds garbage's byte count: enough to fill any client's
// header buffer, small enough to draw in one go.
const maxGarbage = 1 << 20

// garbage answers with random bytes instead of an HTTP response, then
// closes the connection: a protocol mix-up (a TLS or gRPC port answering
// plain HTTP, a corrupting middlebox), WireMock's RANDOM_DATA_THEN_CLOSE.
// The bytes come from the seeded source, so a seed repeats them. The first
// is never 'H', so they can never start a valid status line.
//
// What clients see: Go's net/http `malformed HTTP response "\x9c…"` from
// Do; Python's BadStatusLine. Every client gets an error, so a breaker
// around the call counts a failure.
type garbage struct {
	n int64
}

func parseGarbage(arg string, _ map[string]string) (fault, error) {
	n, err := parseBytes(arg)
	if err != nil {
		return nil, fmt.Errorf("bytes to send %q: %v", arg, err)
	}
	if n > maxGarbage {
		return nil, fmt.Errorf("bytes to send %q: over the limit of %s", arg, formatBytes(maxGarbage))
	}
	return garbage{n: n}, nil
}

func (f garbage) arg() string      { return formatBytes(f.n) }
func (f garbage) params() []string { return nil }
func (f garbage) answers() bool    { return true }

// plan takes one draw, the seed of the bytes, so the draws of other
// requests do not depend on how many bytes this one sends.
func (f garbage) plan(rnd randSource) action {
	return garbageAction{n: f.n, seed: uint64(rnd.Float64() * math.MaxUint32 * math.MaxUint16)}
}

type garbageAction struct {
	n    int64
	seed uint64
}

func (a garbageAction) act(rc *reqCtx) bool {
	conn, brw, err := http.NewResponseController(rc.w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // HTTP/2: abort the stream
	}
	defer conn.Close()
	src := rand.New(rand.NewPCG(a.seed, 0))
	b := make([]byte, a.n)
	for i := range b {
		b[i] = byte(src.Uint32())
	}
	if b[0] == 'H' {
		b[0] ^= 0x80
	}
	brw.Writer.Write(b) //nolint:errcheck // the client may be gone; the close follows anyway
	brw.Writer.Flush()  //nolint:errcheck // as above
	return true
}
