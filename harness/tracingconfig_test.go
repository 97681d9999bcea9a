package harness

import (
	"testing"

	"github.com/cbload/cbload/internal/field"
)

// TestTracingConfigValidate: a tracing setting given is checked whether or
// not anything is exported, and refused with its path, its flag and its value.
func TestTracingConfigValidate(t *testing.T) {
	for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_TRACES_EXPORTER"} {
		t.Setenv(k, "")
	}
	t.Setenv("OTEL_SDK_DISABLED", "true") // nothing is exported
	two := 2.0
	for _, tt := range []struct {
		cfg        TracingConfig
		path, want string
	}{
		{TracingConfig{JaegerURL: DefaultJaegerURL}, "", ""},
		{TracingConfig{Protocol: "udp"}, "tracing.otlp_protocol", `--otlp-protocol "udp": want grpc or http/protobuf`},
		{TracingConfig{Endpoint: "ftp://127.0.0.1:4318"}, "tracing.otlp_endpoint", `--otlp-endpoint "ftp://127.0.0.1:4318": want a URL like http://127.0.0.1:4318 (http:// or https://, then host[:port]), or host:port`},
		{TracingConfig{JaegerURL: "localhost:16686"}, "tracing.jaeger_url", `--jaeger-url "localhost:16686": want an http:// or https:// URL like http://127.0.0.1:16686, with a port from 1 to 65535 if any`},
		{TracingConfig{JaegerURL: "http://127.0.0.1:99999"}, "tracing.jaeger_url", `--jaeger-url "http://127.0.0.1:99999": want an http:// or https:// URL like http://127.0.0.1:16686, with a port from 1 to 65535 if any`},
		{TracingConfig{SampleRatio: &two}, "tracing.sample", `--trace-sample "2": want a fraction in [0,1] like 0.1`},
	} {
		err := tt.cfg.validate()
		fe := field.As(err)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("validate(%+v) = %v; want nil", tt.cfg, err)
		case tt.want != "" && (fe == nil || fe.Path() != tt.path || err.Error() != tt.want):
			t.Errorf("validate(%+v) = %v (at %q); want %q at %s", tt.cfg, err, fe.Path(), tt.want, tt.path)
		}
	}
}
