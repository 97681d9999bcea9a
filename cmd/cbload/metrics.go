package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cbload/cbload/harness"
)

// metricsFlagHelp is the help of --metrics-addr, on run and serve.
const metricsFlagHelp = `serve Prometheus metrics at http://ADDR/metrics while it runs, e.g. 127.0.0.1:9464 (loopback unless --allow-remote; "" for none)`

// startMetricsServer serves h at http://addr/metrics; the caller must
// close it. A failure to listen means the address is taken or not this
// machine's: exit 3.
func startMetricsServer(addr string, h http.Handler) (*harness.MetricsServer, error) {
	ms, err := harness.StartMetricsServer(addr, h)
	if err != nil {
		return nil, withCode(exitCouldNotRun, fmt.Errorf("--metrics-addr %s: %w", addr, err))
	}
	return ms, nil
}

// metricsInterval is how often OTLP metrics are exported:
// $OTEL_METRIC_EXPORT_INTERVAL (checked by checkEnv) or the default.
func metricsInterval() time.Duration {
	if ms, err := strconv.Atoi(strings.TrimSpace(os.Getenv("OTEL_METRIC_EXPORT_INTERVAL"))); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return harness.DefaultMetricsInterval
}
