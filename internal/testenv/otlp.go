package testenv

import (
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"
)

// MetricsReceiver is an OTLP/HTTP metrics receiver that keeps every export
// it decodes. Serve it with httptest.NewServer; the exporter's endpoint is
// the server's URL + "/v1/metrics". It is safe for concurrent use.
type MetricsReceiver struct {
	mu      sync.Mutex
	exports []*colmetricpb.ExportMetricsServiceRequest
	at      []time.Time
}

// ServeHTTP takes one protobuf export on /v1/metrics and answers 400 to
// anything else.
func (r *MetricsReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil || req.URL.Path != "/v1/metrics" || req.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want a protobuf export on /v1/metrics", http.StatusBadRequest)
		return
	}
	var ex colmetricpb.ExportMetricsServiceRequest
	if err := proto.Unmarshal(body, &ex); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.exports = append(r.exports, &ex)
	r.at = append(r.at, time.Now())
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&colmetricpb.ExportMetricsServiceResponse{})
	w.Write(out)
}

// Exports returns how many exports have arrived, the times they arrived
// and the values of the last one (nil before the first), as Values reads
// them.
func (r *MetricsReceiver) Exports() (n int, at []time.Time, last map[string]float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.exports) > 0 {
		last = Values(r.exports[len(r.exports)-1])
	}
	return len(r.exports), append([]time.Time(nil), r.at...), last
}

// Key names a data point: metric name and sorted attributes, as in
// name{a=x,b=y}.
func Key(name string, attrs map[string]string) string {
	var parts []string
	for k, v := range attrs {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return name + "{" + strings.Join(parts, ",") + "}"
}

// Values returns the values in an export by Key: sums and gauges by value,
// histograms by count.
func Values(ex *colmetricpb.ExportMetricsServiceRequest) map[string]float64 {
	out := map[string]float64{}
	for _, rm := range ex.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				switch d := m.GetData().(type) {
				case *metricpb.Metric_Sum:
					for _, p := range d.Sum.GetDataPoints() {
						out[Key(m.GetName(), attrs(p.GetAttributes()))] = p.GetAsDouble() + float64(p.GetAsInt())
					}
				case *metricpb.Metric_Gauge:
					for _, p := range d.Gauge.GetDataPoints() {
						out[Key(m.GetName(), attrs(p.GetAttributes()))] = p.GetAsDouble() + float64(p.GetAsInt())
					}
				case *metricpb.Metric_ExponentialHistogram:
					for _, p := range d.ExponentialHistogram.GetDataPoints() {
						out[Key(m.GetName(), attrs(p.GetAttributes()))] = float64(p.GetCount())
					}
				case *metricpb.Metric_Histogram:
					for _, p := range d.Histogram.GetDataPoints() {
						out[Key(m.GetName(), attrs(p.GetAttributes()))] = float64(p.GetCount())
					}
				}
			}
		}
	}
	return out
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	return m
}
