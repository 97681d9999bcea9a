package faultserver

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// FaultHeader is the response header naming the faults applied to a request,
// comma-separated in the order they acted, e.g. "latency,error".
const FaultHeader = "X-Cbload-Fault"

// step is one applied fault's action for one request.
type step struct {
	act     action
	kind    int
	spec    *Spec
	release <-chan struct{}
}

// maxSteps bounds the per-request plan kept on the stack.
const maxSteps = 8

// decide rolls the active faults for a request to path, in the order
// documented in the package comment, and returns the applied steps and the
// healthy service time. All draws happen under one lock so the sequence of
// decisions depends only on the seed and the order of requests.
func (s *Server) decide(path string, steps []step) ([]step, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	answered := false
	for _, af := range s.active {
		if kindTable[af.kind].perConn || !af.spec.matches(path) {
			continue // handshake faults are rolled per connection, in rollTLS
		}
		if s.rnd.Float64() >= af.spec.Rate {
			continue
		}
		steps = append(steps, step{act: af.spec.f.plan(s.rnd), kind: af.kind, spec: &af.spec, release: af.release})
		if af.spec.f.answers() {
			answered = true
			break
		}
	}
	var service time.Duration
	if !answered && s.cfg.ProxyTo == "" {
		service = uniformJitter(s.rnd, s.serviceTime, s.cfg.Jitter)
	}
	return steps, service
}

// healthyBody is the synthetic response body.
const healthyBody = `{"status":"ok"}` + "\n"

func (s *Server) serveData(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		panic(http.ErrAbortHandler)
	}
	defer s.handlers.Done()
	s.requests.Add(1)
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	w = newStallWriter(w, s.stallTimeout)

	var buf [maxSteps]step
	steps, service := s.decide(r.URL.Path, buf[:0])
	for _, st := range steps {
		if s.proxy != nil && st.kind == slowBodyKind {
			continue // counted by the slow writer, see Stats.Injected
		}
		s.injected[st.kind].Add(1)
	}
	if s.cfg.OnApplied != nil {
		applied := make([]Spec, len(steps))
		for i, st := range steps {
			applied[i] = *st.spec
		}
		s.cfg.OnApplied(r, applied)
	}
	if len(steps) > 0 {
		names := make([]string, len(steps))
		for i, st := range steps {
			names[i] = kindTable[st.kind].Name
		}
		w.Header().Set(FaultHeader, strings.Join(names, ","))
	}

	rc := &reqCtx{w: w, r: r, onHangEnd: s.cfg.OnHangEnd, slowdown: 1}
	if s.proxy != nil {
		rc.onSlowStart = func() { s.injected[slowBodyKind].Add(1) }
	}
	if s.readsBody(steps) {
		var bps int64
		for _, st := range steps {
			if u, ok := st.act.(slowUpload); ok {
				bps = u.bps // the first applied slowupload sets the pace
				break
			}
		}
		ok := s.readBody(rc, bps)
		defer func() { s.heldBytes.Add(-rc.heldBody) }()
		if !ok {
			// Returning would answer an implicit 200; abort instead,
			// so net/http closes the connection.
			panic(http.ErrAbortHandler)
		}
	}
	if s.proxy != nil && r.Body != http.NoBody && len(steps) > 0 && !rc.bodyRead {
		// The forward reads the rest of a body too large to keep, after
		// the faults act; they may hold the request longer than the read
		// timeout. Lift the deadline while they act and set it again for
		// the forward, or for the server's own discard of an unread body.
		ctl := http.NewResponseController(w)
		ctl.SetReadDeadline(time.Time{}) //nolint:errcheck // a plain HTTP/1 conn always supports it
		armed := false
		rc.bodyDeadline = func() {
			if !armed {
				armed = true
				ctl.SetReadDeadline(time.Now().Add(s.readTimeout)) //nolint:errcheck // as above
			}
		}
		defer rc.bodyDeadline()
	}
	for _, st := range steps {
		rc.release = st.release
		if st.act.act(rc) {
			return
		}
	}
	out := w
	for _, wrap := range rc.wraps {
		out = wrap(out)
	}
	defer func() {
		for _, f := range rc.after {
			f()
		}
	}()
	if s.proxy != nil {
		if rc.bodyDeadline != nil {
			rc.bodyDeadline()
		}
		s.proxy.ServeHTTP(out, r)
		return
	}
	if rc.slowdown > 1 {
		service = scaleDuration(service, rc.slowdown)
	}
	answer := writeHealthy
	if rc.answer != nil {
		answer = rc.answer
	}
	if s.pool != nil {
		s.pool.serve(out, r, service, rc.size, answer)
		return
	}
	if !rc.wait(service) {
		return
	}
	s.completed.Add(1)
	answer(out, rc.size)
}

// scaleDuration returns d times f, clamped to the longest Duration.
func scaleDuration(d time.Duration, f float64) time.Duration {
	return time.Duration(min(float64(d)*f, float64(math.MaxInt64)))
}

// faultWriter marks the writers faults wrap a response in.
type faultWriter interface {
	http.ResponseWriter
	faultWrapped() http.ResponseWriter
}

// unwrapFaults returns the writer under every fault's wrapper.
func unwrapFaults(w http.ResponseWriter) http.ResponseWriter {
	for {
		fw, ok := w.(faultWriter)
		if !ok {
			return w
		}
		w = fw.faultWrapped()
	}
}

// padding is what a padded synthetic body is streamed from, a piece at a
// time, so that no body is ever built in memory.
var padding = bytes.Repeat([]byte(" "), 32<<10)

// writeHealthy answers 200 with the synthetic body, padded to size bytes
// when size is larger. The padding is trailing whitespace, so the body stays
// valid JSON.
func writeHealthy(w http.ResponseWriter, size int64) {
	n := max(size, int64(len(healthyBody)))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(http.StatusOK)
	if n == int64(len(healthyBody)) {
		io.WriteString(w, healthyBody) //nolint:errcheck // the client may be gone
		return
	}
	if _, err := io.WriteString(w, healthyBody[:len(healthyBody)-1]); err != nil {
		return
	}
	for pad := n - int64(len(healthyBody)); pad > 0; {
		k := min(pad, int64(len(padding)))
		if _, err := w.Write(padding[:k]); err != nil {
			return // the client is gone
		}
		pad -= k
	}
	io.WriteString(w, "\n") //nolint:errcheck // the client may be gone
}
