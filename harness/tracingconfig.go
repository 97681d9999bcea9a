package harness

import (
	"cmp"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/cbload/cbload/internal/field"
)

// The user's tracing settings: the OTLP endpoint and protocol, from flags
// or the standard environment variables, and where exemplar links point.

// DefaultJaegerURL is where exemplar links point unless told otherwise: the
// Jaeger UI that make jaeger-up starts (or a Docker Jaeger publishing port
// 16686). It is 127.0.0.1, not localhost, because make jaeger-up binds IPv4
// loopback only and localhost may resolve to ::1 first.
const DefaultJaegerURL = "http://127.0.0.1:16686"

// TracingConfig configures OpenTelemetry tracing of a run. Nothing is traced
// unless an OTLP endpoint is set, here or in the standard environment
// variables.
type TracingConfig struct {
	// Endpoint is the OTLP collector, e.g. "http://127.0.0.1:4318" (a URL
	// without a path gets /v1/traces for http/protobuf). Empty means
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT; with
	// neither set, tracing is off.
	Endpoint string
	// Protocol is "grpc" or "http/protobuf". Empty means
	// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL, else
	// http/protobuf.
	Protocol string
	// SampleRatio, when not nil, is the fraction of requests traced: the
	// load runner decides and the gateway and upstream follow the parent.
	// Nil means OTEL_TRACES_SAMPLER(_ARG) when set, else the default: every
	// request up to DefaultTraceBudget per run, proportionally fewer beyond.
	SampleRatio *float64
	// JaegerURL is the base of exemplar links, <JaegerURL>/trace/<id>.
	JaegerURL string
	// Version is cbload's version, for the service.version resource
	// attribute.
	Version string
}

// Exporting reports whether an OTLP endpoint is set, by c or by the
// environment, and tracing is not disabled (OTEL_SDK_DISABLED,
// OTEL_TRACES_EXPORTER=none).
func (c TracingConfig) Exporting() bool { return c.exporting(signalTraces) }

// The OpenTelemetry signals cbload exports, as the OTEL_* variables spell
// them.
const (
	signalTraces  = "TRACES"
	signalMetrics = "METRICS"
)

// exporting reports whether signal is exported: an endpoint is set for it,
// by c or by the environment, and neither OTEL_SDK_DISABLED nor
// OTEL_<signal>_EXPORTER=none turns it off.
func (c TracingConfig) exporting(signal string) bool {
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") ||
		strings.EqualFold(os.Getenv("OTEL_"+signal+"_EXPORTER"), "none") {
		return false
	}
	return c.endpoint(signal) != ""
}

// endpoint is where signal goes: --otlp-endpoint, else
// OTEL_EXPORTER_OTLP_<signal>_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT.
func (c TracingConfig) endpoint(signal string) string {
	return cmp.Or(c.Endpoint, os.Getenv("OTEL_EXPORTER_OTLP_"+signal+"_ENDPOINT"), os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
}

// protocol is how signal goes: --otlp-protocol, else
// OTEL_EXPORTER_OTLP_<signal>_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL,
// else http/protobuf.
func (c TracingConfig) protocol(signal string) string {
	return cmp.Or(c.Protocol, os.Getenv("OTEL_EXPORTER_OTLP_"+signal+"_PROTOCOL"), os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"), "http/protobuf")
}

// validate checks the settings c was given, each a *field.Error naming
// its flag and quoting its value, and, when traces are exported, the
// protocol the environment gives.
func (c TracingConfig) validate() error {
	if r := c.SampleRatio; r != nil && !(*r >= 0 && *r <= 1) {
		return field.InvalidValue("tracing.sample", "--trace-sample", "%q: want a fraction in [0,1] like 0.1", strconv.FormatFloat(*r, 'g', -1, 64))
	}
	if err := CheckOTLP(c.Endpoint, c.Protocol); err != nil {
		return err
	}
	if j := c.JaegerURL; j != "" {
		if u, err := url.Parse(j); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || CheckPort(j) != nil {
			return field.InvalidValue("tracing.jaeger_url", "--jaeger-url", "%q: want an http:// or https:// URL like %s, with a port from 1 to 65535 if any", j, DefaultJaegerURL)
		}
	}
	if !c.Exporting() {
		return nil
	}
	switch p := c.protocol(signalTraces); p {
	case "grpc", "http/protobuf":
	default:
		return fmt.Errorf("otlp protocol %q: want grpc or http/protobuf", p)
	}
	return nil
}

// endpointURL reads --otlp-endpoint: a URL, or host:port meaning http://.
func endpointURL(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("otlp-endpoint %q: want a URL like http://127.0.0.1:4318 or host:port", s)
	}
	return u, nil
}
