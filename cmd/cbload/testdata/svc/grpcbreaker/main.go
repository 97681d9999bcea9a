// Command grpcbreaker is a small service for cbload's end-to-end test of a
// gRPC dependency: GET /api makes one gRPC call (grpc.health.v1.Health's
// Check) to -upstream through a sony/gobreaker v2 breaker (directly with
// -breaker=false) and answers 503 while it is open, 502 when the call
// failed; GET /local never calls the upstream. Both share a fixed pool of
// workers. The breaker counts UNAVAILABLE, DEADLINE_EXCEEDED and
// RESOURCE_EXHAUSTED as failures — the codes that say the dependency is in
// trouble — and any other outcome as a success. GET /breaker returns its
// state as {"state": "closed" | "open" | "half-open" | "disabled"}.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/sony/gobreaker/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/cbload/cbload/internal/testenv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	upstream := flag.String("upstream", "", "host:port of the gRPC dependency")
	workers := flag.Int("workers", 8, "requests served at once")
	callTimeout := flag.Duration("call-timeout", 300*time.Millisecond, "deadline of each gRPC call")
	openFor := flag.Duration("open-for", time.Second, "how long the breaker stays open")
	withBreaker := flag.Bool("breaker", true, "call the dependency through the breaker")
	flag.Parse()

	conn, err := grpc.NewClient("passthrough:///"+*upstream, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	cb := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "grpc-upstream",
		MaxRequests: 3,
		Timeout:     *openFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 5 },
		// Only the codes that say the dependency is in trouble count;
		// a NOT_FOUND or INVALID_ARGUMENT is the caller's problem.
		IsSuccessful: func(err error) bool {
			switch status.Code(err) {
			case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
				return false
			}
			return true
		},
	})
	call := func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, *callTimeout)
		defer cancel()
		_, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: "cbload.test"})
		return err
	}
	withWorker := testenv.Workers(*workers)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api", withWorker(func(w http.ResponseWriter, r *http.Request) {
		var err error
		if *withBreaker {
			_, err = cb.Execute(func() (struct{}, error) { return struct{}{}, call(r.Context()) })
		} else {
			err = call(r.Context())
		}
		switch {
		case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
			http.Error(w, "circuit open", http.StatusServiceUnavailable)
		case err != nil:
			http.Error(w, "dependency failed: "+status.Code(err).String(), http.StatusBadGateway)
		default:
			io.WriteString(w, `{"source":"primary"}`)
		}
	}))
	mux.HandleFunc("GET /local", withWorker(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	mux.HandleFunc("GET /breaker", func(w http.ResponseWriter, r *http.Request) {
		state := "disabled"
		if *withBreaker {
			state = cb.State().String()
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"state\":%q}\n", state)
	})
	testenv.Serve(*addr, mux)
}
