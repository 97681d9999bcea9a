// Command breaker is a small service for cbload's end-to-end test: GET /api
// calls the upstream through a sony/gobreaker v2 breaker (directly with
// -breaker=false) and answers 503 while it is open; GET /local never calls
// the upstream. Both share a
// fixed pool of workers. Every state change is appended to -state-log as
// "<unix nanoseconds> <from> <to>", the service's own record to check
// cbload's inferred figures against.
package main

import (
	"errors"
	"flag"
	"io"
	"net/http"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/cbload/cbload/internal/testenv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	upstream := flag.String("upstream", "", "base URL of the upstream")
	stateLog := flag.String("state-log", "", "file the breaker's state changes are appended to")
	workers := flag.Int("workers", 8, "requests served at once")
	callTimeout := flag.Duration("call-timeout", 300*time.Millisecond, "deadline of each upstream call")
	openFor := flag.Duration("open-for", time.Second, "how long the breaker stays open")
	withBreaker := flag.Bool("breaker", true, "call the upstream through the breaker")
	flag.Parse()

	states := testenv.OpenStateLog(*stateLog)
	defer states.Close()
	cb := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:          "upstream",
		MaxRequests:   3,
		Timeout:       *openFor,
		ReadyToTrip:   func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 5 },
		OnStateChange: func(_ string, from, to gobreaker.State) { states.Record(from, to) },
	})
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: *workers}}
	withWorker := testenv.Workers(*workers)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api", withWorker(func(w http.ResponseWriter, r *http.Request) {
		var err error
		if *withBreaker {
			_, err = cb.Execute(func() (struct{}, error) {
				return struct{}{}, testenv.CallUpstream(r.Context(), client, *upstream, *callTimeout)
			})
		} else {
			err = testenv.CallUpstream(r.Context(), client, *upstream, *callTimeout)
		}
		switch {
		case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
			http.Error(w, "circuit open", http.StatusServiceUnavailable)
		case err != nil:
			http.Error(w, "upstream failed", http.StatusBadGateway)
		default:
			io.WriteString(w, `{"source":"primary"}`)
		}
	}))
	mux.HandleFunc("GET /local", withWorker(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	testenv.Serve(*addr, mux)
}
