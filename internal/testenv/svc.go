package testenv

import (
	"context"
	"errors"
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
)

// The pieces the test services under testdata share: each is a small
// program a test builds and starts, standing in for a user's service.

// Serve listens on addr, prints "listening on http://ADDR" for the test
// that started the program to read, and serves h until SIGTERM or SIGINT.
// It ends the program on a failure to listen or to serve.
func Serve(addr string, h http.Handler) {
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

// CallUpstream makes one GET of upstream+"/work" within timeout and reads
// the answer; a 5xx counts as a failure, as a breaker should count it.
func CallUpstream(ctx context.Context, c *http.Client, upstream string, timeout time.Duration) error {
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

// Workers returns a wrapper that lets n requests run at once, a fixed
// pool the handlers it wraps share; a request that waits 500 ms for its
// turn is answered 503 "saturated".
func Workers(n int) func(http.HandlerFunc) http.HandlerFunc {
	pool := make(chan struct{}, n)
	return func(h http.HandlerFunc) http.HandlerFunc {
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
}

// StateLog appends a breaker's state changes to a file, one
// "<unix nanoseconds> <from> <to>" line each: the service's own record, for
// a test to check cbload's figures against. It is safe for concurrent use;
// the caller must call Close.
type StateLog struct {
	mu sync.Mutex
	f  *os.File
}

// OpenStateLog opens path for appending, creating it if need be; it ends
// the program if it cannot.
func OpenStateLog(path string) *StateLog {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	return &StateLog{f: f}
}

// Record appends one state change, stamped now.
func (l *StateLog) Record(from, to fmt.Stringer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.f, "%d %s %s\n", time.Now().UnixNano(), from, to)
}

// Close closes the file.
func (l *StateLog) Close() error { return l.f.Close() }
