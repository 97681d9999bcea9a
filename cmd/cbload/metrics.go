package main

import (
	"fmt"
	"net/http"

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
