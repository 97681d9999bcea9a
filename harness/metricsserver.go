package harness

import (
	"context"
	"net"
	"net/http"
	"time"
)

// MetricsServer serves a metrics handler at /metrics, for Prometheus to
// scrape while a run or an upstream goes on. The caller must call Close.
type MetricsServer struct {
	srv  *http.Server
	done chan struct{}
	// URL is where the metrics are: http://ADDR/metrics.
	URL string
}

// StartMetricsServer listens on addr and serves h at /metrics. A failure
// to listen means the address is taken or not this machine's.
func StartMetricsServer(addr string, h http.Handler) (*MetricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	m := &MetricsServer{
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       60 * time.Second,
		},
		URL:  "http://" + ln.Addr().String() + "/metrics",
		done: make(chan struct{}),
	}
	go func() {
		defer close(m.done)
		_ = m.srv.Serve(ln) // it fails only when the listener does: scrapes fail, the run goes on
	}()
	return m, nil
}

// Close lets a scrape in progress finish, for up to a second, then stops
// the server and waits for it. It is nil-safe.
func (m *MetricsServer) Close() {
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if m.srv.Shutdown(ctx) != nil {
		m.srv.Close()
	}
	<-m.done
}
