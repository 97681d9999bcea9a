// Command breaker is a small service for cbload's end-to-end test: GET /api
// calls the upstream through a sony/gobreaker v2 breaker (directly with
// -breaker=false) and answers 503 while it is open; GET /local never calls
// the upstream. Both share a
// fixed pool of workers. Every state change is appended to -state-log as
// "<unix nanoseconds> <from> <to>", the service's own record to check
// cbload's inferred figures against.
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
	workers := flag.Int("workers", 8, "requests served at once")
	callTimeout := flag.Duration("call-timeout", 300*time.Millisecond, "deadline of each upstream call")
	openFor := flag.Duration("open-for", time.Second, "how long the breaker stays open")
	withBreaker := flag.Bool("breaker", true, "call the upstream through the breaker")
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
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: *workers}}
	pool := make(chan struct{}, *workers)
	withWorker := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			select {
			case pool <- struct{}{}:
				defer func() { <-pool }()
				h(w, r)
			case <-time.After(500 * time.Millisecond):
				http.Error(w, "saturated", http.StatusServiceUnavailable)
			}
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api", withWorker(func(w http.ResponseWriter, r *http.Request) {
		var err error
		if *withBreaker {
			_, err = cb.Execute(func() (struct{}, error) { return struct{}{}, call(r.Context(), client, *upstream, *callTimeout) })
		} else {
			err = call(r.Context(), client, *upstream, *callTimeout)
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
