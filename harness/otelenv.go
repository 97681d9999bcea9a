package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel"
	"google.golang.org/grpc/grpclog"

	"github.com/cbload/cbload/internal/field"
	"github.com/cbload/cbload/internal/inputfile"
	"github.com/cbload/cbload/internal/printable"
)

// An environment variable cbload honours, with the check that holds it to
// the same standard as a flag: one line naming the variable and the
// accepted form, exit 2. Values are trimmed of spaces, as the OpenTelemetry
// SDK trims them.
type envVar struct {
	name string
	// check is nil for a variable naming a PEM file that the OpenTelemetry
	// SDK reads by its name: readableFile checks those.
	check func(v string) error
}

var (
	otlpProtocols = []string{"grpc", "http/protobuf"}
	samplers      = []string{"always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"}
)

// envVars lists every variable a run reads, directly or through the
// OpenTelemetry SDK; the README's environment table is the same list.
var envVars = []envVar{
	{"OTEL_EXPORTER_OTLP_ENDPOINT", CheckEndpointURL},
	{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", CheckEndpointURL},
	{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", CheckEndpointURL},
	{"OTEL_EXPORTER_OTLP_PROTOCOL", oneOf(otlpProtocols...)},
	{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", oneOf(otlpProtocols...)},
	{"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", oneOf(otlpProtocols...)},
	{"OTEL_EXPORTER_OTLP_INSECURE", boolean},
	{"OTEL_EXPORTER_OTLP_TRACES_INSECURE", boolean},
	{"OTEL_EXPORTER_OTLP_METRICS_INSECURE", boolean},
	{"OTEL_EXPORTER_OTLP_HEADERS", checkHeaderList},
	{"OTEL_EXPORTER_OTLP_TRACES_HEADERS", checkHeaderList},
	{"OTEL_EXPORTER_OTLP_METRICS_HEADERS", checkHeaderList},
	{"OTEL_EXPORTER_OTLP_TIMEOUT", milliseconds},
	{"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", milliseconds},
	{"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", milliseconds},
	{"OTEL_EXPORTER_OTLP_COMPRESSION", oneOf("gzip", "none")},
	{"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", oneOf("gzip", "none")},
	{"OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", oneOf("gzip", "none")},
	// nil: a PEM file the SDK reads by its name, see readableFile.
	{"OTEL_EXPORTER_OTLP_CERTIFICATE", nil},
	{"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", nil},
	{"OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", nil},
	{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", nil},
	{"OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", nil},
	{"OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE", nil},
	{"OTEL_EXPORTER_OTLP_CLIENT_KEY", nil},
	{"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", nil},
	{"OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY", nil},
	{"OTEL_TRACES_SAMPLER", oneOf(samplers...)},
	{"OTEL_TRACES_SAMPLER_ARG", fraction},
	{"OTEL_TRACES_EXPORTER", oneOf("otlp", "none")},
	{"OTEL_METRICS_EXPORTER", oneOf("otlp", "none")},
	{"OTEL_METRIC_EXPORT_INTERVAL", positiveMilliseconds},
	{"OTEL_METRIC_EXPORT_TIMEOUT", positiveMilliseconds},
	{"OTEL_SDK_DISABLED", boolean},
	{"OTEL_SERVICE_NAME", serviceName},
	{"OTEL_RESOURCE_ATTRIBUTES", checkKeyValues},
}

// CheckEnv checks every OpenTelemetry variable a run reads (directly or
// through the SDK) that is set, as a flag is checked: the error names the
// variable ($NAME, its path) and the accepted form. A PEM file a variable
// names is read through, so that an unreadable or huge one is found now;
// when ctx ends meanwhile, CheckEnv returns ctx's error.
func CheckEnv(ctx context.Context) error {
	return checkEnvVars(ctx, func(string) bool { return true })
}

// CheckMetricsEnv checks the variables `cbload serve` reads, as CheckEnv
// does: those that are not for traces alone.
func CheckMetricsEnv(ctx context.Context) error {
	return checkEnvVars(ctx, func(name string) bool { return !strings.Contains(name, "TRACES") })
}

// checkEnvVars checks every variable of envVars that is set and that which
// accepts.
func checkEnvVars(ctx context.Context, which func(name string) bool) error {
	for _, e := range envVars {
		if !which(e.name) {
			continue
		}
		v, ok := os.LookupEnv(e.name)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		var err error
		if e.check == nil {
			err = readableFile(ctx, strings.TrimSpace(v))
		} else {
			err = e.check(strings.TrimSpace(v))
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return field.Invalid("$"+e.name, "$"+e.name+" "+QuoteEnvValue(e.name, v), "%v", err)
		}
	}
	return nil
}

// QuoteEnvValue quotes the value of variable name for a message, except secrets: headers and
// tokens carry credentials and are never printed.
func QuoteEnvValue(name, v string) string {
	if strings.HasSuffix(name, "_HEADERS") || strings.HasSuffix(name, "_TOKEN") {
		return "(value not shown)"
	}
	if len(v) > 60 {
		v = v[:60] + "…"
	}
	return strconv.Quote(v)
}

func oneOf(allowed ...string) func(string) error {
	return func(v string) error {
		if !slices.Contains(allowed, v) {
			if len(allowed) == 1 {
				return fmt.Errorf("want %s, the only value cbload supports", allowed[0])
			}
			return fmt.Errorf("want one of %s", strings.Join(allowed, ", "))
		}
		return nil
	}
}

func boolean(v string) error {
	if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
		return errors.New("want true or false")
	}
	return nil
}

// maxMilliseconds is the longest export timeout, 1h, harness.MaxTimeout:
// the SDK multiplies the number into a time.Duration, which overflows.
const maxMilliseconds = int(MaxTimeout / time.Millisecond)

func milliseconds(v string) error {
	if n, err := strconv.Atoi(v); err != nil || n < 0 || n > maxMilliseconds {
		return fmt.Errorf("want a whole number of milliseconds from 0 to %d (1h) like 10000", maxMilliseconds)
	}
	return nil
}

func positiveMilliseconds(v string) error {
	if n, err := strconv.Atoi(v); err != nil || n <= 0 || n > 3_600_000 {
		return errors.New("want a whole number of milliseconds from 1 to 3600000 (an hour) like 5000")
	}
	return nil
}

func fraction(v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f >= 0 && f <= 1) {
		return errors.New("want a fraction in [0,1] like 0.1")
	}
	return nil
}

// readableFile checks a PEM file that the OpenTelemetry SDK will read by
// its name: it must be a regular file (the SDK's own read of a FIFO or a
// device could block forever, out of reach of a signal), and cbload reads
// it first, through inputfile, so that an unreadable or huge file is bad
// input now rather than an exporter error later.
func readableFile(ctx context.Context, v string) error {
	_, err := inputfile.ReadRegular(ctx, v, maxPEMFile, inputfile.Timeout)
	var pe *os.PathError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		return errors.New("want a readable PEM file: " + pe.Err.Error())
	}
	return fmt.Errorf("want a readable PEM file: %w", err)
}

func serviceName(v string) error {
	if len(v) > 255 || strings.IndexFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		return errors.New("want a name of at most 255 printable characters (cbload names its three services itself: cbload-loadgen, cbload-gateway, cbload-upstream)")
	}
	return nil
}

// CheckEndpointURL checks an OTLP endpoint as the SDK reads it: a URL with
// an http or https scheme and a host; a valid port when it has one.
func CheckEndpointURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return errors.New("want a URL like http://127.0.0.1:4318 (http:// or https://, then host[:port])")
	}
	if err := CheckPort(v); err != nil {
		return errors.New("want a URL like http://127.0.0.1:4318 with a port from 1 to 65535")
	}
	return nil
}

// checkKeyValues checks a W3C-baggage-like list, key=value,key=value, with
// percent-encoded values, as OTEL_EXPORTER_OTLP_HEADERS and
// OTEL_RESOURCE_ATTRIBUTES are written.
func checkKeyValues(v string) error {
	for _, kv := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t\"(),/:;<=>?@[\\]{}") {
			return errors.New("want key=value pairs separated by commas, like key1=value1,key2=value2")
		}
		if _, err := url.PathUnescape(val); err != nil {
			return errors.New("want percent-encoded values (%XX) in key=value pairs")
		}
	}
	return nil
}

// checkHeaderList checks OTEL_EXPORTER_OTLP_HEADERS: key=value pairs whose
// decoded values are sent as header values, so may hold no CR, LF or NUL
// (the exporter would fail each export instead).
func checkHeaderList(v string) error {
	if err := checkKeyValues(v); err != nil {
		return err
	}
	for _, kv := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(kv, "=")
		val, _ = url.PathUnescape(val)
		if err := CheckHeader(strings.TrimSpace(k), strings.TrimSpace(val)); err != nil {
			return fmt.Errorf("key %s: %v", printable.Echo(strings.TrimSpace(k)), err)
		}
	}
	return nil
}

// CheckPort checks the port of an absolute URL, if it has one: from 1 to
// 65535.
func CheckPort(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q: want an absolute URL like http://127.0.0.1:8080/api", printable.Echo(RedactURL(raw)))
	}
	if strings.HasSuffix(u.Host, ":") {
		return fmt.Errorf("%q: empty port; want a port from 1 to 65535 after the colon, or none", printable.Echo(RedactURL(raw)))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("%q: port %q: want a number from 1 to 65535", printable.Echo(RedactURL(raw)), printable.Echo(p))
		}
	}
	return nil
}

// MaxLibraryText is where a library's error message (which may quote a
// collector's answer) is cut on the terminal.
const MaxLibraryText = 400

var (
	quietOnce  sync.Once
	libHandler = &onceHandler{seen: map[string]bool{}}
)

// QuietLibraries routes what OpenTelemetry and gRPC would log on their own
// to w as one line each, prefixed like cbload's messages and printed once
// per distinct message: the SDK's logger and error handler, and gRPC's
// logger, default to raw multi-part lines on stderr. These are process-wide
// settings, so a command's main makes them; each call sends later messages to w.
func QuietLibraries(w io.Writer) {
	libHandler.reset(w)
	quietOnce.Do(func() {
		otel.SetErrorHandler(libHandler)
		otel.SetLogger(logr.Discard())
		grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, io.Discard))
	})
}

// onceHandler prints each distinct library error once, on one line, and
// at most maxLibraryErrors of them.
type onceHandler struct {
	mu   sync.Mutex
	w    io.Writer
	seen map[string]bool
}

const maxLibraryErrors = 5

func (h *onceHandler) reset(w io.Writer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.w, h.seen = w, map[string]bool{}
}

// Handle implements otel.ErrorHandler.
func (h *onceHandler) Handle(err error) {
	// A collector's answer may be quoted in it: one line, escaped, cut.
	msg := printable.String(strings.Join(strings.Fields(err.Error()), " "), MaxLibraryText)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.w == nil || h.seen[msg] || len(h.seen) >= maxLibraryErrors {
		return
	}
	h.seen[msg] = true
	signal := "tracing"
	if se := (*SignalError)(nil); errors.As(err, &se) {
		signal = se.Signal // the metrics exporter's
	}
	fmt.Fprintf(h.w, "cbload: %s: %s\n", signal, msg)
}
