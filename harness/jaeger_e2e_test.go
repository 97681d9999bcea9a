package harness

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cbload/cbload/internal/testenv"
	"github.com/cbload/cbload/reports"
)

// The Jaeger end-to-end test runs a real Jaeger (bin/jaeger, built by make
// jaeger) on free loopback ports, runs short experiments exporting OTLP to
// it and checks what a reader of the traces would rely on through Jaeger's
// HTTP API. Without the binary it skips locally and fails in CI.

// jaegerBinary returns the path of the Jaeger binary: $CBLOAD_JAEGER_BIN or
// the repository's bin/jaeger.
func jaegerBinary(t *testing.T) string {
	t.Helper()
	p := os.Getenv("CBLOAD_JAEGER_BIN")
	if p == "" {
		p = filepath.Join("..", "bin", "jaeger")
	}
	if st, err := os.Stat(p); err == nil && !st.IsDir() {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	testenv.SkipOrFail(t, "Jaeger binary "+p+" not found; run make jaeger (or set CBLOAD_JAEGER_BIN) to run this test; CI must build it with make jaeger before make test")
	return ""
}

// jaeger is a running Jaeger all-in-one with in-memory storage.
type jaeger struct {
	otlpHTTP, otlpGRPC string // OTLP receiver URLs
	query              string // query API base URL
	client             *http.Client
}

// jaegerConfig is all-in-one reduced to what the test needs, every port
// given, so parallel runs cannot collide on Jaeger's defaults.
const jaegerConfig = `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: mem%s
    http:
      endpoint: 127.0.0.1:%d
    grpc:
      endpoint: 127.0.0.1:%d
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:%d
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
      http:
        endpoint: 127.0.0.1:%d
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
`

// startJaeger starts Jaeger and waits until it is healthy; it is killed when
// the test ends. With ui, a folder of built Jaeger UI assets, it serves that
// UI beside the query API.
func startJaeger(t *testing.T, ui string) *jaeger {
	t.Helper()
	bin := jaegerBinary(t)
	dir := t.TempDir()
	queryHTTP, queryGRPC, health, grpcPort, httpPort := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	cfgPath := filepath.Join(dir, "jaeger.yaml")
	var uiBlock string
	if ui != "" {
		uiBlock = fmt.Sprintf("\n    ui:\n      assets_path: %q", ui)
	}
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, jaegerConfig, uiBlock, queryHTTP, queryGRPC, health, grpcPort, httpPort), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testenv.Start(t, bin, "--config", cfgPath)
	j := &jaeger{
		otlpHTTP: fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		otlpGRPC: fmt.Sprintf("http://127.0.0.1:%d", grpcPort),
		query:    fmt.Sprintf("http://127.0.0.1:%d", queryHTTP),
		client:   &http.Client{Timeout: 30 * time.Second},
	}
	t.Cleanup(j.client.CloseIdleConnections)
	p.WaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/status", health), 30*time.Second)
	return j
}

func (j *jaeger) get(t *testing.T, path string, q url.Values, v any) int {
	t.Helper()
	u := j.query + path
	if q != nil {
		u += "?" + q.Encode()
	}
	resp, err := j.client.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: decode: %v", u, err)
	}
	return resp.StatusCode
}

// Jaeger's API v3 answers in OTLP JSON.
type otlpTraces struct {
	Result struct {
		ResourceSpans []struct {
			Resource struct {
				Attributes []otlpKV `json:"attributes"`
			} `json:"resource"`
			ScopeSpans []struct {
				Spans []otlpSpan `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	} `json:"result"`
}

type otlpKV struct {
	Key   string         `json:"key"`
	Value map[string]any `json:"value"`
}

type otlpSpan struct {
	TraceID      string   `json:"traceId"`
	SpanID       string   `json:"spanId"`
	ParentSpanID string   `json:"parentSpanId"`
	Name         string   `json:"name"`
	Kind         int      `json:"kind"`
	Attributes   []otlpKV `json:"attributes"`
	Status       struct {
		Code int `json:"code"`
	} `json:"status"`
	Events []struct {
		Name       string   `json:"name"`
		Attributes []otlpKV `json:"attributes"`
	} `json:"events"`
	Links []struct {
		TraceID string `json:"traceId"`
		SpanID  string `json:"spanId"`
	} `json:"links"`

	service string
	res     map[string]string
	attrs   map[string]string
}

const statusError = 2 // OTLP STATUS_CODE_ERROR

// kvString renders an OTLP AnyValue; arrays become comma-joined.
func kvString(v map[string]any) string {
	for k, x := range v {
		switch k {
		case "arrayValue":
			var parts []string
			if m, ok := x.(map[string]any); ok {
				vals, _ := m["values"].([]any)
				for _, e := range vals {
					if em, ok := e.(map[string]any); ok {
						parts = append(parts, kvString(em))
					}
				}
			}
			return strings.Join(parts, ",")
		default:
			return fmt.Sprint(x)
		}
	}
	return ""
}

func kvMap(kvs []otlpKV) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kvString(kv.Value)
	}
	return m
}

// spans flattens an answer into spans that know their service and
// attributes.
func (o *otlpTraces) spans() []otlpSpan {
	var out []otlpSpan
	for _, rs := range o.Result.ResourceSpans {
		res := kvMap(rs.Resource.Attributes)
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				s.service, s.res, s.attrs = res["service.name"], res, kvMap(s.Attributes)
				out = append(out, s)
			}
		}
	}
	return out
}

// trace fetches one trace, waiting for it to become queryable.
func (j *jaeger) trace(t *testing.T, id string) []otlpSpan {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var o otlpTraces
		if code := j.get(t, "/api/v3/traces/"+id, nil, &o); code == http.StatusOK {
			if s := o.spans(); len(s) > 0 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s not found in Jaeger", id)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// find returns the spans of up to n traces of service with operation op
// started within the last 10 minutes.
func (j *jaeger) find(t *testing.T, service, op string, n int) []otlpSpan {
	t.Helper()
	now := time.Now()
	q := url.Values{
		"query.service_name":   {service},
		"query.start_time_min": {now.Add(-10 * time.Minute).UTC().Format(time.RFC3339Nano)},
		"query.start_time_max": {now.Add(time.Minute).UTC().Format(time.RFC3339Nano)},
		"query.num_traces":     {fmt.Sprint(n)},
	}
	if op != "" {
		q.Set("query.operation_name", op)
	}
	var o otlpTraces
	if code := j.get(t, "/api/v3/traces", q, &o); code != http.StatusOK {
		t.Fatalf("find %s %q: status %d", service, op, code)
	}
	return o.spans()
}

func exemplarID(t *testing.T, a *reports.Arm, phase, kind string) string {
	t.Helper()
	for _, e := range a.Exemplars {
		if e.Phase == phase && e.Kind == kind {
			return e.TraceID
		}
	}
	t.Fatalf("%s arm: no %s exemplar in phase %s; have %+v", a.Name, kind, phase, a.Exemplars)
	return ""
}

func TestJaegerEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Jaeger and a 24-second experiment")
	}
	ui, uiMissing := jaegerUIAssets()
	j := startJaeger(t, ui)

	cfg := testConfig(t, "latency:1s")
	cfg.Tracing = TracingConfig{Endpoint: j.otlpHTTP, Protocol: "http/protobuf", JaegerURL: "http://jaeger.example:16686", Version: "e2e"}
	r := runOrFail(t, cfg)
	assertBreakerCycle(t, r)

	tr := r.Tracing
	if tr == nil || !tr.Enabled || tr.SpansExported == 0 || tr.SpansFailed != 0 || tr.SpansDropped != 0 {
		t.Fatalf("report tracing = %+v; want enabled, spans exported, none failed or dropped", tr)
	}
	if tr.Sampler != "parentbased_traceidratio" || tr.SamplerArg != 1 {
		t.Errorf("sampler = %s %v; want parentbased_traceidratio 1 for a run this short", tr.Sampler, tr.SamplerArg)
	}

	// The three services exist.
	var svcs struct {
		Services []string `json:"services"`
	}
	j.get(t, "/api/v3/services", nil, &svcs)
	for _, s := range []string{serviceLoadgen, serviceGateway, serviceUpstream} {
		if !slices.Contains(svcs.Services, s) {
			t.Errorf("services = %v; want %s among them", svcs.Services, s)
		}
	}

	br, nb := r.Arm(reports.ArmBreaker), r.Arm(reports.ArmNoBreaker)

	// The request that tripped the breaker: one trace across all three
	// tiers, loadgen → gateway → breaker → gateway client → upstream.
	t.Run("tripping request", func(t *testing.T) {
		spans := j.trace(t, exemplarID(t, br, "fault", "tripped_breaker"))
		byID := map[string]otlpSpan{}
		for _, s := range spans {
			byID[s.SpanID] = s
			if s.res["cbload.run_id"] != r.RunID || s.res["service.version"] != "e2e" {
				t.Errorf("%s/%s resource = %v; want cbload.run_id %s, service.version e2e", s.service, s.Name, s.res, r.RunID)
			}
			if s.attrs["cbload.arm"] != "breaker" || s.attrs["cbload.phase"] != "fault" {
				t.Errorf("%s/%s: cbload.arm=%q cbload.phase=%q; want breaker, fault", s.service, s.Name, s.attrs["cbload.arm"], s.attrs["cbload.phase"])
			}
		}
		chain := []struct{ service, name string }{
			{serviceLoadgen, "GET /api"},
			{serviceGateway, "GET /api"},
			{serviceGateway, "breaker upstream"},
			{serviceGateway, "GET /work"},
			{serviceUpstream, "GET /work"},
		}
		var parent string
		for i, want := range chain {
			var got *otlpSpan
			for _, s := range spans {
				if s.service == want.service && s.Name == want.name && s.ParentSpanID == parent {
					got = &s
					break
				}
			}
			if got == nil {
				t.Fatalf("no %s span %q whose parent is %q (step %d); spans: %v", want.service, want.name, parent, i, describe(spans))
			}
			parent = got.SpanID
			if want.name == "breaker upstream" {
				if got.Kind != 1 || got.attrs["cbload.breaker.name"] != "upstream" || got.attrs["cbload.breaker.outcome"] != "failure" ||
					got.attrs["cbload.breaker.state"] != "closed" {
					t.Errorf("breaker span kind %d attributes %v; want INTERNAL, name upstream, outcome failure, state closed", got.Kind, got.attrs)
				}
				var changed bool
				for _, e := range got.Events {
					a := kvMap(e.Attributes)
					changed = changed || (e.Name == "state_change" && a["cbload.breaker.from"] == "closed" && a["cbload.breaker.to"] == "open")
				}
				if !changed {
					t.Errorf("breaker span events %+v; want a state_change closed → open", got.Events)
				}
			}
			if want.service == serviceUpstream && !strings.Contains(got.attrs["cbload.fault.kinds"], "latency") ||
				want.service == serviceUpstream && !strings.HasPrefix(got.attrs["cbload.fault.specs"], "latency:1s") {
				t.Errorf("upstream span attributes %v; want cbload.fault.kinds latency and cbload.fault.specs latency:1s", got.attrs)
			}
		}
	})

	// A rejection: the breaker span says so, with status Error, and no call
	// was made.
	t.Run("first rejection", func(t *testing.T) {
		spans := j.trace(t, exemplarID(t, br, "fault", "first_rejection"))
		var rejected bool
		for _, s := range spans {
			if s.Name == "breaker upstream" {
				rejected = s.attrs["cbload.breaker.outcome"] == "rejected_open" && s.Status.Code == statusError &&
					s.attrs["error.type"] == "circuit_breaker_open" && s.attrs["cbload.breaker.state"] == "open"
			}
			if s.service == serviceUpstream || s.Name == "GET /work" {
				t.Errorf("rejected request has a %s span %q; want no upstream call", s.service, s.Name)
			}
		}
		if !rejected {
			t.Errorf("no rejected_open breaker span with status Error and error.type circuit_breaker_open in %v", describe(spans))
		}
	})

	// During the fault the breaker arm rejects, the no-breaker arm never does.
	t.Run("rejections by arm", func(t *testing.T) {
		var rejectedInFault int
		for _, s := range j.find(t, serviceGateway, "breaker upstream", 20000) {
			if s.Name != "breaker upstream" {
				continue
			}
			if s.attrs["cbload.arm"] != "breaker" {
				t.Fatalf("breaker span in arm %q; the no-breaker arm has no breaker", s.attrs["cbload.arm"])
			}
			if s.attrs["cbload.breaker.outcome"] == "rejected_open" && s.attrs["cbload.phase"] == "fault" {
				if s.Status.Code != statusError {
					t.Errorf("rejected_open span with status %d; want Error", s.Status.Code)
				}
				rejectedInFault++
			}
		}
		if rejectedInFault == 0 {
			t.Errorf("no rejected_open breaker spans in the breaker arm during the fault")
		}
		var nbFault int
		for _, s := range j.find(t, serviceGateway, "GET /api", 20000) {
			if s.service != serviceGateway || s.Name != "GET /api" || s.attrs["cbload.arm"] != "no-breaker" {
				continue
			}
			if s.attrs["cbload.phase"] == "fault" {
				nbFault++
			}
			if s.attrs["cbload.outcome"] == outcomeRejected {
				t.Errorf("no-breaker arm: gateway span with outcome rejected: %v", s.attrs)
			}
		}
		if nbFault == 0 {
			t.Errorf("no gateway /api spans of the no-breaker arm during the fault")
		}
		t.Logf("breaker arm: %d rejected_open spans during the fault; no-breaker arm: %d /api spans during the fault, none rejected", rejectedInFault, nbFault)
	})

	// Every transition has a state_change span linked to a request.
	t.Run("transitions", func(t *testing.T) {
		seen := map[string]bool{}
		for _, s := range j.find(t, serviceGateway, stateChangeSpan, 1000) {
			if s.Name != stateChangeSpan {
				continue
			}
			if len(s.Links) == 0 {
				t.Errorf("state_change span %v has no link to the request that caused it", s.attrs)
			}
			seen[s.attrs["cbload.breaker.from"]+"→"+s.attrs["cbload.breaker.to"]] = true
		}
		for _, tr := range br.Transitions {
			if !seen[tr.From+"→"+tr.To] {
				t.Errorf("report transition %s → %s at %vs has no state_change span; spans seen %v", tr.From, tr.To, tr.T, seen)
			}
		}
	})

	// Every exemplar in the report can be opened.
	t.Run("exemplars", func(t *testing.T) {
		for _, a := range []*reports.Arm{br, nb} {
			exemplarID(t, a, "fault", "slowest_api")
			exemplarID(t, a, "fault", "slowest_local")
			for _, e := range a.Exemplars {
				if want := "http://jaeger.example:16686/trace/" + e.TraceID; e.URL != want {
					t.Errorf("exemplar URL %s; want %s", e.URL, want)
				}
				j.trace(t, e.TraceID)
			}
		}
		exemplarID(t, br, "fault", "half_open_probe")
	})

	// The same traces in Jaeger's web UI, in a browser.
	t.Run("ui", func(t *testing.T) {
		if uiMissing != "" {
			testenv.SkipOrFail(t, uiMissing+"; the Jaeger UI test did not run")
		}
		checkJaegerUI(t, j, r)
	})

	// The gRPC exporter too.
	t.Run("grpc", func(t *testing.T) {
		cfg := testConfig(t, "latency:1s")
		cfg.Arms = []string{reports.ArmNoBreaker}
		cfg.Phases = cfg.Phases[:1]
		cfg.Tracing = TracingConfig{Endpoint: j.otlpGRPC, Protocol: "grpc"}
		r := runOrFail(t, cfg)
		if tr := r.Tracing; tr.SpansExported == 0 || tr.SpansFailed != 0 || tr.Protocol != "grpc" {
			t.Fatalf("report tracing = %+v; want spans exported over grpc, none failed", tr)
		}
		j.trace(t, exemplarID(t, &r.Arms[0], "baseline", "slowest_api"))
	})
}

func describe(spans []otlpSpan) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "\n  %s %q id=%s parent=%s", s.service, s.Name, s.SpanID, s.ParentSpanID)
	}
	return b.String()
}
