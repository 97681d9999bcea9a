package faultserver

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"
)

// Why a request body is read before anything holds the request: net/http
// cancels a request's context when its client closes the connection only
// once the handler has read the body to its end (before that the bytes on
// the connection are the body's, and nothing else reads them). A fault
// that held a request with an unread body — hang, latency, slowdown, a
// queued worker — could not see its caller leave, and kept it in flight
// until the fault cleared. So the body is read first: discarded by the
// synthetic upstream, kept in memory for the forward in proxy mode (up to
// MaxHeldBody a request and MaxHeldBodies in all; a body beyond them is
// forwarded as before, and its caller's leaving is noticed only when the
// hold ends).

// readsBody reports whether a request with these steps has its body read
// before they act: always for the synthetic upstream, which holds every
// request for its service time; in proxy mode when a fault applies.
// Either way not when the first step answers without the body (error,
// reset, refuse). The kinds that close a connection after or instead of an
// answer (empty, garbage, truncate) read it: closing a socket with unread
// bytes sends a RST, and the client would see a reset rather than the
// fault. A slowupload reads it whatever else applies.
func (s *Server) readsBody(steps []step) bool {
	for _, st := range steps {
		if _, ok := st.act.(slowUpload); ok {
			return true
		}
	}
	if len(steps) > 0 && kindTable[steps[0].kind].answersUnread {
		return false
	}
	return s.proxy == nil || len(steps) > 0
}

// readBody reads rc.r's body to its end before the request is held, at the
// bandwidth of a slowupload when one applies (bps > 0). It reports false
// when the body could not be read — the client left, stalled or sent a
// broken body — and the request must be aborted without an answer.
func (s *Server) readBody(rc *reqCtx, bps int64) bool {
	body := rc.r.Body
	if body == nil || body == http.NoBody {
		return true
	}
	var src io.Reader = body
	if bps > 0 {
		src = &pacedReader{r: body, rc: rc, bps: bps, stall: s.stallTimeout, start: time.Now()}
	}
	if s.proxy == nil {
		// The synthetic upstream ignores the body: discard it, up to
		// MaxBytes (the rest stays unread, as before).
		_, err := io.Copy(io.Discard, io.LimitReader(src, MaxBytes))
		return err == nil
	}
	var buf bytes.Buffer
	var piece [32 << 10]byte
	reserved := int64(0)
	defer func() { rc.heldBody = reserved }()
	for {
		want := int64(len(piece))
		if left := MaxHeldBody - int64(buf.Len()); left < want {
			want = left
		}
		if want <= 0 || s.heldBytes.Add(want) > MaxHeldBodies {
			if want > 0 {
				s.heldBytes.Add(-want)
			}
			// Over a limit: forward what was read, then the rest.
			rc.r.Body = readCloser{io.MultiReader(&buf, src), body}
			return true
		}
		n, err := src.Read(piece[:want])
		buf.Write(piece[:n])
		reserved += int64(n)
		s.heldBytes.Add(int64(n) - want)
		if errors.Is(err, io.EOF) {
			rc.r.Body = io.NopCloser(&buf)
			rc.bodyRead = true
			return true
		}
		if err != nil {
			return false
		}
	}
}

// readCloser reads from one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}

// pacedReader reads a request body at bps bytes a second: byte n is read
// no earlier than n/bps seconds after the start. Since the reads outlast
// the server's read timeout on purpose, each piece gets its own read
// deadline instead, of the stall timeout: a client that sends nothing for
// that long is cut.
type pacedReader struct {
	r     io.Reader
	rc    *reqCtx
	bps   int64
	stall time.Duration
	start time.Time
	read  int64
	ctl   *http.ResponseController
}

func (p *pacedReader) Read(b []byte) (int, error) {
	piece := max(p.bps*int64(slowTick)/int64(time.Second), 1)
	if int64(len(b)) > piece {
		b = b[:piece]
	}
	due := p.start.Add(time.Duration(float64(p.read+int64(len(b))) / float64(p.bps) * float64(time.Second)))
	if !p.rc.wait(time.Until(due)) {
		return 0, p.rc.r.Context().Err() // the server is closing
	}
	if p.ctl == nil {
		p.ctl = http.NewResponseController(p.rc.w)
	}
	p.ctl.SetReadDeadline(time.Now().Add(p.stall)) //nolint:errcheck // without deadlines the read timeout stays
	n, err := p.r.Read(b)
	p.read += int64(n)
	return n, err
}
