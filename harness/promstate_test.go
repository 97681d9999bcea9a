package harness

import (
	"strings"
	"testing"

	"github.com/cbload/cbload/reports"
)

func TestStateMetric(t *testing.T) {
	gofr := `# HELP app_http_circuit_breaker_state Current state of the circuit breaker (0 for Closed, 1 for Open)
# TYPE app_http_circuit_breaker_state gauge
app_http_circuit_breaker_state{otel_scope_name="gofr-app",service="payments"} 1
app_http_circuit_breaker_state{otel_scope_name="gofr-app",service="orders"} 0
`
	hystrix := "hystrix_circuit_open{command=\"get_user\"} 0\n"
	for _, tt := range []struct {
		selector, mapping, page string
		want, err               string
	}{
		{`app_http_circuit_breaker_state{service="payments"}`, "", gofr, reports.StateOpen, ""},
		{`app_http_circuit_breaker_state{service="orders"}`, "0=closed,1=open", gofr, reports.StateClosed, ""},
		{`app_http_circuit_breaker_state`, "", gofr, "", "has 2 series matching app_http_circuit_breaker_state, want one"},
		{`app_http_circuit_breaker_state{service="payments"}`, "0=closed", gofr, "", "has value 1, which --breaker-state-map does not map"},
		{`hystrix_circuit_open{command="get_user"}`, "0=closed,1=open", hystrix, reports.StateClosed, ""},
		{`hystrix_circuit_open`, "", "<html>not metrics</html>", "", "is not Prometheus text exposition"},
	} {
		sm, err := ParseStateMetric(tt.selector, tt.mapping)
		if err != nil {
			t.Fatalf("ParseStateMetric(%q, %q): %v", tt.selector, tt.mapping, err)
		}
		_, got, err := sm.state([]byte(tt.page))
		if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) || (err == nil && got != tt.want) {
			t.Errorf("%s %s: state = %q, %v; want %q, error containing %q", tt.selector, tt.mapping, got, err, tt.want, tt.err)
		}
	}
	for _, tt := range []struct{ selector, mapping, want string }{
		{`resilience4j_circuitbreaker_state{name="a",}`, "label:state", ""},
		{`resilience4j_circuitbreaker_state{name="a,b"}`, "label:state", ""},
		{`resilience4j circuitbreaker`, "", "want a metric name"},
		{`m{name=a}`, "", `label "name=a": want name="value"`},
		{`m{name="a",name="b"}`, "", "given twice"},
		{`m{state="open"}`, "label:state", "the selector fixes label state"},
		{`m`, "0=shut", `"0=shut": want VALUE=STATE pairs`},
		{`m`, "label:", "want label:NAME"},
	} {
		_, err := ParseStateMetric(tt.selector, tt.mapping)
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("ParseStateMetric(%q, %q) = %v; want an error containing %q", tt.selector, tt.mapping, err, tt.want)
		}
	}
}
