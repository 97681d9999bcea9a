package faultserver

import (
	"net/http"
	"time"
)

// slowClose answers in full but closes the connection only after a delay:
// Toxiproxy's slow_close. A body whose length is known ends before the
// close, so the answer is sent without Content-Length or chunking, its end
// marked by the close (as HTTP/1.0 servers, some proxies and streaming
// endpoints do): the client has every byte at once, yet cannot know it has
// until the close, the delay later.
//
// What clients see: an answer that takes the delay longer than its bytes
// do; a client timeout shorter than that fails while reading the body (Go's
// "Client.Timeout or context cancellation while reading body"), after the
// status said 200 — a breaker that only looks at the status counts a
// success.
type slowClose struct {
	delay time.Duration
}

func parseSlowClose(arg string, _ map[string]string) (fault, error) {
	d, err := parseDuration("delay", arg)
	if err != nil {
		return nil, err
	}
	return slowClose{delay: d}, nil
}

func (f slowClose) arg() string            { return f.delay.String() }
func (f slowClose) params() []string       { return nil }
func (f slowClose) answers() bool          { return false }
func (f slowClose) plan(randSource) action { return f }

func (f slowClose) act(rc *reqCtx) bool {
	var cw *closeDelimWriter
	rc.wraps = append(rc.wraps, func(w http.ResponseWriter) http.ResponseWriter {
		cw = &closeDelimWriter{ResponseWriter: w}
		return cw
	})
	rc.after = append(rc.after, func() {
		if cw == nil || !cw.wrote {
			return // no answer went out (the client left, the forward failed)
		}
		if http.NewResponseController(cw.ResponseWriter).Flush() != nil {
			return
		}
		rc.wait(f.delay) // net/http closes the connection when the handler returns
	})
	return false
}

// closeDelimWriter sends an answer whose end the connection's close marks.
type closeDelimWriter struct {
	http.ResponseWriter
	wrote bool
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *closeDelimWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *closeDelimWriter) faultWrapped() http.ResponseWriter { return w.ResponseWriter }

func (w *closeDelimWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	h := w.Header()
	h.Del("Content-Length")
	// net/http's documented way to a body that the close ends: no
	// chunking, and the connection closed after the reply.
	h.Set("Transfer-Encoding", "identity")
	w.ResponseWriter.WriteHeader(code)
}

func (w *closeDelimWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}
