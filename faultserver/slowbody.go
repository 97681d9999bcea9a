package faultserver

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// slowBodyKind is slowbody's index in kindTable.
var slowBodyKind = kindIndex("slowbody")

// defaultSlowBodySize is the synthetic body size under slowbody: big enough
// that the trickle lasts seconds at the usual bandwidths.
const defaultSlowBodySize = 4 << 10

// slowBody sends the headers promptly and then trickles the body at bps bytes
// a second. Synthetic bodies are padded to size bytes; proxied bodies keep
// their size.
type slowBody struct {
	bps  int64
	size int64
}

func parseSlowBody(arg string, kv map[string]string) (fault, error) {
	if len(arg) < 2 || !strings.EqualFold(arg[len(arg)-2:], "/s") {
		return nil, fmt.Errorf("bandwidth %q is not a size per second like 512B/s, 10KB/s or 1KiB/s", arg)
	}
	bps, err := parseBytes(arg[:len(arg)-2])
	if err != nil {
		return nil, fmt.Errorf("bandwidth %q: %v", arg, err)
	}
	f := slowBody{bps: bps, size: defaultSlowBodySize}
	if v, ok := kv["size"]; ok {
		if f.size, err = parseBytes(v); err != nil {
			return nil, fmt.Errorf("size %q: %v", v, err)
		}
	}
	return f, nil
}

func (f slowBody) arg() string { return formatBytes(f.bps) + "/s" }

func (f slowBody) params() []string {
	if f.size != defaultSlowBodySize {
		return []string{"size=" + formatBytes(f.size)}
	}
	return nil
}

func (f slowBody) answers() bool          { return false }
func (f slowBody) plan(randSource) action { return f }

func (f slowBody) act(rc *reqCtx) bool {
	rc.size = max(rc.size, f.size)
	rc.wraps = append(rc.wraps, func(w http.ResponseWriter) http.ResponseWriter {
		return &slowWriter{ResponseWriter: w, rc: rc, bps: f.bps}
	})
	return false
}

// slowTick is how often a slow body sends a piece: often enough for a smooth
// trickle, rarely enough to stay cheap.
const slowTick = 50 * time.Millisecond

// slowWriter paces the body so that byte n leaves no earlier than n/bps
// seconds after the headers.
type slowWriter struct {
	http.ResponseWriter
	rc    *reqCtx
	bps   int64
	start time.Time
	sent  int64
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *slowWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *slowWriter) faultWrapped() http.ResponseWriter { return w.ResponseWriter }

func (w *slowWriter) WriteHeader(code int) {
	if !w.start.IsZero() {
		return
	}
	if w.rc.onSlowStart != nil {
		w.rc.onSlowStart()
	}
	w.ResponseWriter.WriteHeader(code)
	http.NewResponseController(w.ResponseWriter).Flush() //nolint:errcheck // headers go out with the first byte otherwise
	w.start = time.Now()
}

func (w *slowWriter) Write(p []byte) (int, error) {
	if w.start.IsZero() {
		w.WriteHeader(http.StatusOK)
	}
	piece := max(w.bps*int64(slowTick)/int64(time.Second), 1)
	written := 0
	for len(p) > 0 {
		n := min(int64(len(p)), piece)
		due := w.start.Add(time.Duration(float64(w.sent+n) / float64(w.bps) * float64(time.Second)))
		if !w.rc.wait(time.Until(due)) {
			return written, w.rc.r.Context().Err()
		}
		m, err := w.ResponseWriter.Write(p[:n])
		written += m
		w.sent += int64(m)
		if err != nil {
			return written, err
		}
		if err := http.NewResponseController(w.ResponseWriter).Flush(); err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}
