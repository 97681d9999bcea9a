// Command fallback is a small service for cbload's end-to-end test: GET /api
// calls the upstream through a sony/gobreaker v2 breaker and, when the call
// fails or the breaker is open, answers 200 at once with a fallback body,
// {"source":"fallback"} — a fail-fast fallback, which only an --expect
// check tells from a success. Every state change is appended to -state-log
// as "<unix nanoseconds> <from> <to>".
package main

import (
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
	callTimeout := flag.Duration("call-timeout", 300*time.Millisecond, "deadline of each upstream call")
	openFor := flag.Duration("open-for", time.Second, "how long the breaker stays open")
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
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api", func(w http.ResponseWriter, r *http.Request) {
		_, err := cb.Execute(func() (struct{}, error) {
			return struct{}{}, testenv.CallUpstream(r.Context(), client, *upstream, *callTimeout)
		})
		if err != nil {
			io.WriteString(w, `{"source":"fallback"}`)
			return
		}
		io.WriteString(w, `{"source":"primary"}`)
	})
	mux.HandleFunc("GET /local", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	testenv.Serve(*addr, mux)
}
