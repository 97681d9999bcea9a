// Command retry is a small service for cbload's end-to-end test: GET /api
// calls the upstream with a client that retries a failed call (transport
// error or 5xx) at once, up to -attempts calls in all, the way fasthttp's
// client does by default; it has no breaker. GET /stats returns the /api
// requests it answered and the upstream calls it made, as JSON.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/cbload/cbload/internal/testenv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	upstream := flag.String("upstream", "", "base URL of the upstream")
	attempts := flag.Int("attempts", 4, "calls per /api request at most, the first included")
	callTimeout := flag.Duration("call-timeout", 300*time.Millisecond, "deadline of each upstream call")
	flag.Parse()

	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}}
	var requests, calls atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"requests":%d,"calls":%d}`, requests.Load(), calls.Load())
	})
	mux.HandleFunc("GET /api", func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		var err error
		for range *attempts {
			calls.Add(1)
			if err = testenv.CallUpstream(r.Context(), client, *upstream, *callTimeout); err == nil {
				io.WriteString(w, `{"source":"primary"}`)
				return
			}
		}
		http.Error(w, "upstream failed: "+err.Error(), http.StatusBadGateway)
	})
	mux.HandleFunc("GET /local", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	testenv.Serve(*addr, mux)
}
