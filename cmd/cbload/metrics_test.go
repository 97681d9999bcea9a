package main

import (
	"bytes"
	"net"
	"strings"
	"testing"
)

// TestDryRunMetrics checks that a dry run says where it would serve and
// export live metrics, and listens on nothing: the address given is taken.
func TestDryRunMetrics(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    []string
		notWant []string
	}{
		{"prometheus and OTLP from the flag", []string{"--metrics-addr", addr, "--otlp-endpoint", "127.0.0.1:4318"}, nil,
			[]string{"metrics: Prometheus at http://" + addr + "/metrics while it runs\n", "metrics: OTLP to http://127.0.0.1:4318/v1/metrics (http/protobuf), every 5s and at the end\n"}, nil},
		{"OTLP from the metrics variable", nil, map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://127.0.0.1:9000/custom", "OTEL_METRIC_EXPORT_INTERVAL": "2000"},
			[]string{"metrics: OTLP to http://127.0.0.1:9000/custom (http/protobuf), every 2s and at the end\n"}, []string{"Prometheus at"}},
		{"OTLP from the common variable, gRPC", nil, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://user:secret@127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			[]string{"metrics: OTLP to http://xxxxx@127.0.0.1:4317 (grpc)"}, []string{"secret", "user"}},
		{"OTLP metrics off", []string{"--otlp-endpoint", "127.0.0.1:4318"}, map[string]string{"OTEL_METRICS_EXPORTER": "none"},
			nil, []string{"metrics:"}},
		{"neither", nil, nil, nil, []string{"metrics:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			args := append([]string{"run", "--fault", "latency", "--seed", "1", "--dry-run"}, tt.args...)
			var stdout, stderr bytes.Buffer
			if code := run(args, &stdout, &stderr); code != exitOK {
				t.Fatalf("cbload %q = exit %d, stderr %q; want 0", args, code, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("dry run lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(stdout.String(), w) {
					t.Errorf("dry run has %q:\n%s", w, stdout.String())
				}
			}
		})
	}
}
