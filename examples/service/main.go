// Command service is a small HTTP service to try cbload's --target mode on:
// a stand-in for your own service.
//
// GET /api calls the upstream through a sony/gobreaker v2 circuit breaker
// (or directly, with -breaker=false) under a per-call deadline that covers
// the body. GET /local does a little local work and never touches the
// upstream. Both share a fixed pool of workers, the way a servlet thread
// pool is shared, so a slow upstream can starve /local — the cascade a
// breaker is meant to prevent. GET /breaker returns the breaker state as
// JSON for cbload's --breaker-state-url.
//
//	go run ./examples/service -addr 127.0.0.1:8081 -upstream http://127.0.0.1:9090
//	go run ./examples/service -addr 127.0.0.1:8082 -upstream http://127.0.0.1:9090 -breaker=false
//	cbload run --upstream-addr 127.0.0.1:9090 --fault latency \
//	    --target breaker=http://127.0.0.1:8081/api --target no-breaker=http://127.0.0.1:8082/api \
//	    --collateral /local --breaker-state-url /breaker
//
// It prints "listening on http://ADDR" once it accepts connections and stops
// cleanly on SIGINT or SIGTERM.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sony/gobreaker/v2"
)

type service struct {
	upstream    string
	client      *http.Client
	cb          *gobreaker.CircuitBreaker[struct{}] // nil without a breaker
	workers     chan struct{}
	queue       time.Duration
	callTimeout time.Duration
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (port 0 picks a free one)")
	upstream := flag.String("upstream", "http://127.0.0.1:9090", "base URL of the upstream /api calls")
	withBreaker := flag.Bool("breaker", true, "call the upstream through a circuit breaker (false: call it directly)")
	workers := flag.Int("workers", 16, "requests served at once, shared by /api and /local")
	queue := flag.Duration("queue-timeout", time.Second, "how long a request waits for a worker before 503")
	callTimeout := flag.Duration("call-timeout", 500*time.Millisecond, "deadline of each upstream call, body included")
	openFor := flag.Duration("breaker-timeout", 2*time.Second, "how long the breaker stays open before letting probes through")
	flag.Parse()

	s := &service{
		upstream:    *upstream,
		client:      &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: *workers}},
		workers:     make(chan struct{}, *workers),
		queue:       *queue,
		callTimeout: *callTimeout,
	}
	if *withBreaker {
		s.cb = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
			Name:        "upstream",
			MaxRequests: 3,
			Timeout:     *openFor,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 5 },
		})
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("service: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api", s.withWorker(s.api))
	mux.HandleFunc("GET /local", s.withWorker(s.local))
	mux.HandleFunc("GET /breaker", s.state)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Printf("listening on http://%s (breaker %v, upstream %s)\n", ln.Addr(), *withBreaker, *upstream)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		log.Fatalf("service: %v", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		srv.Close()
	}
}

// withWorker runs h on one of the fixed workers, or answers 503 when none
// frees up within the queue timeout.
func (s *service) withWorker(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(s.queue)
		defer t.Stop()
		select {
		case s.workers <- struct{}{}:
			defer func() { <-s.workers }()
			h(w, r)
		case <-t.C:
			http.Error(w, "saturated", http.StatusServiceUnavailable)
		case <-r.Context().Done():
		}
	}
}

func (s *service) api(w http.ResponseWriter, r *http.Request) {
	var err error
	if s.cb != nil {
		_, err = s.cb.Execute(func() (struct{}, error) { return struct{}{}, s.call(r.Context()) })
	} else {
		err = s.call(r.Context())
	}
	switch {
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		http.Error(w, "circuit open", http.StatusServiceUnavailable)
	case errors.Is(err, context.DeadlineExceeded):
		http.Error(w, "upstream timeout", http.StatusGatewayTimeout)
	case err != nil:
		http.Error(w, "upstream error", http.StatusBadGateway)
	default:
		fmt.Fprintln(w, `{"status":"ok"}`)
	}
}

// call makes one upstream call; a 5xx counts as a failure.
func (s *service) call(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.upstream+"/work", nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
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

func (s *service) local(w http.ResponseWriter, _ *http.Request) {
	time.Sleep(time.Millisecond) // a cache lookup, a little computation
	fmt.Fprintln(w, `{"status":"ok"}`)
}

func (s *service) state(w http.ResponseWriter, _ *http.Request) {
	state := "disabled"
	if s.cb != nil {
		state = s.cb.State().String()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"state": state})
}
