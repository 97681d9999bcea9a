package faultserver

import (
	"net/http"
	"time"
)

// stallPiece is the most of a response a single write deadline covers: a
// client must take at least this much per stall timeout to stay connected.
const stallPiece = 16 << 10

// stallWriter cuts a client that stops reading its response. Before every
// piece of the response it moves the connection's write deadline to the
// stall timeout from now, so a write fails only when the client has taken
// nothing for that long. Unlike http.Server.WriteTimeout it bounds no
// response's total time: slowbody trickles for as long as its spec says,
// and a hang holds without writing at all.
type stallWriter struct {
	http.ResponseWriter
	ctl   *http.ResponseController
	stall time.Duration
}

// newStallWriter wraps w, first lifting any deadline an earlier request on
// the same connection left behind. It returns w itself when the connection
// does not support deadlines (a middleware that hides it).
func newStallWriter(w http.ResponseWriter, stall time.Duration) http.ResponseWriter {
	ctl := http.NewResponseController(w)
	if ctl.SetWriteDeadline(time.Time{}) != nil {
		return w
	}
	return &stallWriter{ResponseWriter: w, ctl: ctl, stall: stall}
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *stallWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *stallWriter) arm() {
	w.ctl.SetWriteDeadline(time.Now().Add(w.stall)) //nolint:errcheck // newStallWriter checked support
}

func (w *stallWriter) WriteHeader(code int) {
	w.arm()
	w.ResponseWriter.WriteHeader(code)
}

func (w *stallWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), stallPiece)
		w.arm()
		m, err := w.ResponseWriter.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// FlushError flushes under a fresh deadline; http.ResponseController and
// httputil.ReverseProxy call it.
func (w *stallWriter) FlushError() error {
	w.arm()
	return w.ctl.Flush()
}
