// Command fallback is a small service for cbload's end-to-end test: GET /api
// calls the upstream through a sony/gobreaker v2 breaker and, when the call
// fails or the breaker is open, answers 200 at once with a fallback body,
// {"source":"fallback"} — a fail-fast fallback, which only an --expect
// check tells from a success. Every state change is appended to -state-log
// as "<unix nanoseconds> <from> <to>".
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
	"sync"
	"syscall"
	"time"

	"github.com/sony/gobreaker/v2"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	upstream := flag.String("upstream", "", "base URL of the upstream")
	stateLog := flag.String("state-log", "", "file the breaker's state changes are appended to")
	callTimeout := flag.Duration("call-timeout", 300*time.Millisecond, "deadline of each upstream call")
	openFor := flag.Duration("open-for", time.Second, "how long the breaker stays open")
	flag.Parse()

	var mu sync.Mutex
	logf, err := os.OpenFile(*stateLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	defer logf.Close()
	cb := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "upstream",
		MaxRequests: 3,
		Timeout:     *openFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 5 },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			mu.Lock()
			fmt.Fprintf(logf, "%d %s %s\n", time.Now().UnixNano(), from, to)
			mu.Unlock()
		},
	})
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api", func(w http.ResponseWriter, r *http.Request) {
		_, err := cb.Execute(func() (struct{}, error) { return struct{}{}, call(r.Context(), client, *upstream, *callTimeout) })
		if err != nil {
			io.WriteString(w, `{"source":"fallback"}`)
			return
		}
		io.WriteString(w, `{"source":"primary"}`)
	})
	mux.HandleFunc("GET /local", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	serve(*addr, mux)
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

// serve listens, prints "listening on http://ADDR" and serves until
// SIGTERM or SIGINT.
func serve(addr string, h http.Handler) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
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
