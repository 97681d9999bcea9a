package faultserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// truncate answers 200 with headers that promise a whole body, sends the
// first n bytes of it and closes the connection: a crashed backend, a proxy
// timing out mid-stream, a pod killed while it wrote. The promise is a
// Content-Length (framing=length) or a chunk header announcing the whole
// body, cut mid-chunk (framing=chunked). Synthetic bodies are padded to
// size= so there is something to cut; in proxy mode the backend's answer
// is cut after n bytes of its body (its own framing, chunked when
// framing=chunked drops its Content-Length), and a shorter one passes
// whole.
//
// What clients see: the status and headers arrive, and reading the body
// fails — Go's net/http "unexpected EOF", Python's IncompleteRead or
// ChunkedEncodingError. A client that checks the status and never reads
// the body (or ignores the read error) takes it for a success, and so does
// a breaker around it.
//
// Over gRPC (Config.GRPC) truncate cuts the stream mid-message
// (Server.cutCall): the answer's headers and about n bytes of a message of
// size bytes go out, then the connection closes; the client sees
// UNAVAILABLE "unexpected EOF". framing= does not apply.
type truncate struct {
	n       int64
	size    int64
	chunked bool
}

func parseTruncate(arg string, kv map[string]string) (fault, error) {
	f := truncate{size: defaultSlowBodySize}
	var err error
	if arg == "0" || strings.EqualFold(arg, "0B") {
		f.n = 0
	} else if f.n, err = parseBytes(arg); err != nil {
		return nil, fmt.Errorf("bytes to send %q: %v", arg, err)
	}
	if v, ok := kv["size"]; ok {
		if f.size, err = parseBytes(v); err != nil {
			return nil, fmt.Errorf("size %q: %v", v, err)
		}
	}
	if f.n >= f.size {
		return nil, fmt.Errorf("bytes to send %s must be below the body size %s, or nothing is cut", formatBytes(f.n), formatBytes(f.size))
	}
	switch v := kv["framing"]; v {
	case "", "length":
	case "chunked":
		f.chunked = true
	default:
		return nil, fmt.Errorf("framing %q is not length or chunked", v)
	}
	return f, nil
}

func (f truncate) arg() string {
	if f.n == 0 {
		return "0B"
	}
	return formatBytes(f.n)
}

func (f truncate) params() []string {
	var ps []string
	if f.size != defaultSlowBodySize {
		ps = append(ps, "size="+formatBytes(f.size))
	}
	if f.chunked {
		ps = append(ps, "framing=chunked")
	}
	return ps
}

func (f truncate) answers() bool          { return false }
func (f truncate) plan(randSource) action { return f }

func (f truncate) act(rc *reqCtx) bool {
	rc.size = max(rc.size, f.size)
	rc.answer = f.writeCut
	rc.wraps = append(rc.wraps, func(w http.ResponseWriter) http.ResponseWriter {
		return &truncWriter{ResponseWriter: w, left: f.n, chunked: f.chunked}
	})
	return false
}

// writeCut writes the synthetic answer on the raw connection, so the cut
// can fall inside a chunk: headers promising size bytes, the first n of
// them, then the close.
func (f truncate) writeCut(w http.ResponseWriter, size int64) {
	w = unwrapFaults(w)
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 or a middleware hiding the connection: abort the
		// stream, the nearest a client sees to a cut body.
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	h := w.Header().Clone()
	h.Set("Content-Type", "application/json")
	h.Set("Connection", "close")
	if f.chunked {
		h.Set("Transfer-Encoding", "chunked")
	} else {
		h.Set("Content-Length", strconv.FormatInt(size, 10))
	}
	bw := brw.Writer
	bw.WriteString("HTTP/1.1 200 OK\r\n") //nolint:errcheck // errors surface at Flush
	h.Write(bw)                           //nolint:errcheck // as above
	bw.WriteString("\r\n")                //nolint:errcheck // as above
	if f.chunked {
		fmt.Fprintf(bw, "%x\r\n", size) // one chunk for the whole body, never finished
	}
	writeBody(bw, f.n, size)
	bw.Flush() //nolint:errcheck // the client may be gone; the close follows anyway
}

// writeBody writes the first n bytes of the padded synthetic body of size
// bytes.
func writeBody(w *bufio.Writer, n, size int64) {
	body := healthyBody[:len(healthyBody)-1]
	if size <= int64(len(healthyBody)) {
		body = healthyBody
	}
	k := min(n, int64(len(body)))
	w.WriteString(body[:k]) //nolint:errcheck // errors surface at Flush
	for n -= k; n > 0; {
		p := min(n, int64(len(padding)))
		w.Write(padding[:p]) //nolint:errcheck // as above
		n -= p
	}
}

// errTruncated ends a proxied answer truncate cut.
var errTruncated = errors.New("answer truncated by the truncate fault")

// truncWriter cuts a proxied answer after left bytes of its body: it
// flushes them and fails the next write, so httputil.ReverseProxy aborts
// the handler and net/http closes the connection without finishing the
// body. With chunked it drops the backend's Content-Length first.
type truncWriter struct {
	http.ResponseWriter
	left    int64
	chunked bool
	cut     bool
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *truncWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *truncWriter) faultWrapped() http.ResponseWriter { return w.ResponseWriter }

func (w *truncWriter) WriteHeader(code int) {
	if w.chunked {
		w.Header().Del("Content-Length")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *truncWriter) Write(p []byte) (int, error) {
	if w.cut {
		return 0, errTruncated
	}
	if int64(len(p)) <= w.left {
		n, err := w.ResponseWriter.Write(p)
		w.left -= int64(n)
		return n, err
	}
	n, err := w.ResponseWriter.Write(p[:w.left])
	w.cut = true
	if err == nil {
		err = http.NewResponseController(w.ResponseWriter).Flush()
	}
	if err == nil {
		err = errTruncated
	}
	return n, err
}

var _ io.Writer = (*truncWriter)(nil)
