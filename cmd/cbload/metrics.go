package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cbload/cbload/harness"
)

// metricsFlagHelp is the help of --metrics-addr, on run and serve.
const metricsFlagHelp = `serve Prometheus metrics at http://ADDR/metrics while it runs, e.g. 127.0.0.1:9464 (loopback unless --allow-remote; "" for none)`

// checkMetricsAddr checks --metrics-addr as every listener is checked:
// host:port, on loopback or in --allow-remote's ranges.
func checkMetricsAddr(addr string, allow harness.AllowList) error {
	if addr == "" {
		return nil
	}
	if err := checkListenAddr("--metrics-addr", addr); err != nil {
		return err
	}
	return checkListenHost("--metrics-addr", addr, allow)
}

// metricsServer serves a metrics handler at /metrics. The caller must call
// close.
type metricsServer struct {
	srv  *http.Server
	url  string
	done chan struct{}
}

// startMetricsServer listens on addr and serves h at /metrics. A failure to
// listen means the address is taken or not this machine's: exit 3.
func startMetricsServer(addr string, h http.Handler) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, withCode(exitCouldNotRun, fmt.Errorf("--metrics-addr %s: %w", addr, err))
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	m := &metricsServer{
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       60 * time.Second,
		},
		url:  "http://" + ln.Addr().String() + "/metrics",
		done: make(chan struct{}),
	}
	go func() {
		defer close(m.done)
		_ = m.srv.Serve(ln) // it fails only when the listener does: scrapes fail, the run goes on
	}()
	return m, nil
}

// close lets a scrape in progress finish, for up to a second, then stops
// the server and waits for it. It is nil-safe.
func (m *metricsServer) close() {
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

// checkOTLPFlags checks --otlp-endpoint (a URL, or host:port meaning
// http://) and --otlp-protocol, on run and serve.
func checkOTLPFlags(endpoint, protocol string) error {
	switch protocol {
	case "", "grpc", "http/protobuf":
	default:
		return flagErrorf("--otlp-protocol", " %q: want grpc or http/protobuf", protocol)
	}
	if e := endpoint; e != "" {
		// host:port means http://, as the harness reads it.
		if !strings.Contains(e, "://") {
			e = "http://" + e
		}
		if err := harness.CheckEndpointURL(e); err != nil {
			return flagErrorf("--otlp-endpoint", " %q: %v, or host:port", endpoint, err)
		}
	}
	return nil
}

// metricsInterval is how often OTLP metrics are exported:
// $OTEL_METRIC_EXPORT_INTERVAL (checked by checkEnv) or the default.
func metricsInterval() time.Duration {
	if ms, err := strconv.Atoi(strings.TrimSpace(os.Getenv("OTEL_METRIC_EXPORT_INTERVAL"))); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return harness.DefaultMetricsInterval
}
