// Command retry is a small service for cbload's end-to-end test: GET /api
// calls the upstream with a client that retries a failed call (transport
// error or 5xx) at once, up to -attempts calls in all, the way fasthttp's
// client does by default; it has no breaker. GET /stats returns the /api
// requests it answered and the upstream calls it made, as JSON.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
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
			if err = call(r.Context(), client, *upstream, *callTimeout); err == nil {
				io.WriteString(w, `{"source":"primary"}`)
				return
			}
		}
		http.Error(w, "upstream failed: "+err.Error(), http.StatusBadGateway)
	})
	mux.HandleFunc("GET /local", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// call makes one upstream call; a 5xx counts as a failure.
func call(ctx context.Context, c *http.Client, upstream string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, upstream+"/work", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode >= 500 {
		return fmt.Errorf("upstream answered %d", resp.StatusCode)
	}
	return nil
}
