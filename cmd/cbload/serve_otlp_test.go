package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cbload/cbload/internal/testenv"
)

// TestServeOTLPMetrics checks that serve with an OTLP endpoint, given by
// --otlp-endpoint or by OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, exports the
// upstream's counters while it runs, with the values its Prometheus page
// shows, and that promtool finds nothing to say about that page.
func TestServeOTLPMetrics(t *testing.T) {
	for _, how := range []string{"flag", "env"} {
		t.Run(how, func(t *testing.T) {
			checkLeaks(t)
			recv := &testenv.MetricsReceiver{}
			collector := httptest.NewServer(recv)
			t.Cleanup(collector.Close) // after serve's own cleanup, which exports the final values
			t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "100")
			args := []string{"--fault", "error:503,path=/bad", "--seed", "7", "--metrics-addr", "127.0.0.1:0"}
			if how == "flag" {
				args = append(args, "--otlp-endpoint", collector.URL)
			} else {
				t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", collector.URL+"/v1/metrics")
			}
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 5 * time.Second}

			up, _, out := startServe(t, args...)
			if want := "otlp      " + collector.URL + "/v1/metrics  (the same counters as OTLP metrics over http/protobuf, every 100ms)"; !strings.Contains(out.String(), want) {
				t.Errorf("serve output lacks %q:\n%s", want, out)
			}
			metricsURL := listenRE.FindAllStringSubmatch(out.String(), -1)
			var page string
			for _, m := range metricsURL {
				if m[1] == "metrics" {
					page = m[2]
				}
			}
			if page == "" {
				t.Fatalf("serve printed no metrics URL:\n%s", out)
			}
			for _, p := range []string{"/bad", "/bad", "/good"} {
				do(t, c, "GET", up+p, "", "")
			}
			status, body := do(t, c, "GET", page, "", "")
			if status != 200 {
				t.Fatalf("GET %s = %d; want 200", page, status)
			}
			if tool, err := exec.LookPath("promtool"); err == nil {
				checkMetricsPage(t, tool, []byte(body+"\n"))
			} else if os.Getenv("CI") != "" {
				t.Error("promtool not on PATH; CI must install it (apt-get install prometheus, in .ci/run)")
			}
			fams, err := testenv.ParsePromText(body + "\n")
			if err != nil {
				t.Fatalf("parse the Prometheus page: %v\n%s", err, body)
			}
			want := testenv.PromValues(fams)

			// An export that began after the scrape: the one after the
			// next, since the next may have read the counters before it.
			n0, _, _ := recv.Exports()
			var got map[string]float64
			for deadline := time.Now().Add(10 * time.Second); ; {
				n, _, last := recv.Exports()
				if n >= n0+2 {
					got = last
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d OTLP exports within 10s of the scrape (%d before it); want one every 100ms", n-n0, n0)
				}
				time.Sleep(20 * time.Millisecond) // polling the receiver's record
			}
			for k, v := range want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("OTLP %s = %v (present %v); the Prometheus page has %v", k, g, ok, v)
				}
			}
			if len(want) < 20 {
				t.Errorf("the Prometheus page has %d series; want every counter of the upstream (over 20)", len(want))
			}
			for k, v := range map[string]float64{
				testenv.Key("cbload_upstream_requests_total", nil):                                       3,
				testenv.Key("cbload_upstream_faults_injected_total", map[string]string{"kind": "error"}): 2,
			} {
				if got[k] != v {
					t.Errorf("OTLP %s = %v; want %v", k, got[k], v)
				}
			}
		})
	}
}

// TestServeOTLPBadInput checks that serve holds its OTLP flags and the
// variables it reads to the standard of run's, and leaves the traces'
// variables, which it does not read, alone.
func TestServeOTLPBadInput(t *testing.T) {
	tests := []struct {
		args []string
		env  [2]string
		code int
		want string
	}{
		{[]string{"--otlp-protocol", "udp"}, [2]string{}, exitUsage, `--otlp-protocol "udp": want grpc or http/protobuf`},
		{[]string{"--otlp-endpoint", "ftp://127.0.0.1:4318"}, [2]string{}, exitUsage, `--otlp-endpoint "ftp://127.0.0.1:4318": want a URL like http://127.0.0.1:4318`},
		{nil, [2]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "127.0.0.1:4318"}, exitUsage, `$OTEL_EXPORTER_OTLP_METRICS_ENDPOINT "127.0.0.1:4318": want a URL like http://127.0.0.1:4318`},
		{nil, [2]string{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"}, exitUsage, `$OTEL_EXPORTER_OTLP_PROTOCOL "http/json": want one of grpc, http/protobuf`},
		{nil, [2]string{"OTEL_METRIC_EXPORT_INTERVAL", "0"}, exitUsage, `$OTEL_METRIC_EXPORT_INTERVAL "0": want a whole number of milliseconds from 1`},
		// Not serve's: a port that is taken shows the check got past it.
		{nil, [2]string{"OTEL_TRACES_SAMPLER", "sometimes"}, exitCouldNotRun, "address already in use"},
	}
	busy := httptest.NewServer(http.NotFoundHandler())
	defer busy.Close()
	for _, tt := range tests {
		t.Run(strings.Join(append(tt.args, tt.env[0]), " "), func(t *testing.T) {
			if tt.env[0] != "" {
				t.Setenv(tt.env[0], tt.env[1])
			}
			args := append([]string{"serve", "--addr", strings.TrimPrefix(busy.URL, "http://"), "--control-addr", ""}, tt.args...)
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("cbload %q = exit %d, stderr %q; want exit %d, stderr containing %q", args, code, stderr.String(), tt.code, tt.want)
			}
		})
	}
}

// TestServeOTLPFinalExport checks that serve exports its counters once
// more as it stops, so that the last requests are not lost between two
// exports: with an hour between exports, the only one is the last.
func TestServeOTLPFinalExport(t *testing.T) {
	checkLeaks(t)
	recv := &testenv.MetricsReceiver{}
	collector := httptest.NewServer(recv)
	t.Cleanup(collector.Close)
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "3600000")
	// Registered before serve starts, so it runs after serve has stopped.
	t.Cleanup(func() {
		n, _, last := recv.Exports()
		if k := testenv.Key("cbload_upstream_requests_total", nil); n != 1 || last[k] != 2 {
			t.Errorf("after serve stopped: %d OTLP exports, the last with %s = %v; want one, with 2", n, k, last[k])
		}
	})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	up, _, _ := startServe(t, "--seed", "7", "--otlp-endpoint", collector.URL)
	for range 2 {
		do(t, c, "GET", up+"/", "", "")
	}
	if n, _, _ := recv.Exports(); n != 0 {
		t.Errorf("%d OTLP exports while serve runs with an hour between them; want none before it stops", n)
	}
}
