package harness

import (
	"bytes"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/cbload/cbload/internal/field"
	"github.com/cbload/cbload/reports"
)

// StateMetric picks a breaker's state out of a page of Prometheus text
// exposition, the form resilience4j, GoFr, opossum's Prometheus plugin and
// hystrix exporters publish. Two kinds of series are read:
//
//   - one series per state, the state in a label and 1 for the current one:
//     resilience4j_circuitbreaker_state{name="backend",state="open"} 1,
//     with ByLabel "state";
//   - one series whose value is the state: app_http_circuit_breaker_state
//     {service="payments"} 1, with Values 0=closed, 1=open.
type StateMetric struct {
	// Metric is the metric's name; Labels the label values a series must
	// have (others are ignored).
	Metric string
	Labels map[string]string
	// ByLabel, when set, names the label that holds the state: of the
	// series selected, the one whose value is not 0 is the current state.
	ByLabel string
	// Values maps a series value to a state, when ByLabel is "".
	Values map[float64]string
}

var (
	promNameRE     = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	promLabelRE    = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*$`)
	promSelectorRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$`)
)

// DefaultStateMap is the value mapping a state metric has unless told
// otherwise: the form of GoFr's and hystrix exporters' gauges.
const DefaultStateMap = "0=closed,1=open,2=half-open"

// ParseStateMetric reads --breaker-state-metric, a series selector like
// resilience4j_circuitbreaker_state{name="backend"}, and
// --breaker-state-map, "label:NAME" (the state is in label NAME, its
// series at 1) or VALUE=STATE pairs like 0=closed,1=open,2=half-open
// ("" for DefaultStateMap). A value it cannot use is a *field.Error at
// breaker_state_metric or breaker_state_map, named by its flag.
func ParseStateMetric(selector, mapping string) (*StateMetric, error) {
	m := promSelectorRE.FindStringSubmatch(strings.TrimSpace(selector))
	if m == nil {
		return nil, field.InvalidValue("breaker_state_metric", "--breaker-state-metric", "%q: want a metric name with optional labels, like resilience4j_circuitbreaker_state{name=\"backend\"}", selector)
	}
	sm := &StateMetric{Metric: m[1], Labels: map[string]string{}}
	if strings.TrimSpace(m[2]) != "" {
		for _, part := range splitLabels(m[2]) {
			lm := promLabelRE.FindStringSubmatch(part)
			if lm == nil {
				return nil, field.InvalidValue("breaker_state_metric", "--breaker-state-metric", "%q: label %q: want name=\"value\"", selector, part)
			}
			v, err := strconv.Unquote(`"` + lm[2] + `"`)
			if err != nil {
				return nil, field.InvalidValue("breaker_state_metric", "--breaker-state-metric", "%q: label %q: %w", selector, part, err)
			}
			if _, dup := sm.Labels[lm[1]]; dup {
				return nil, field.InvalidValue("breaker_state_metric", "--breaker-state-metric", "%q: label %s given twice", selector, lm[1])
			}
			sm.Labels[lm[1]] = v
		}
	}
	if mapping == "" {
		mapping = DefaultStateMap
	}
	if l, ok := strings.CutPrefix(mapping, "label:"); ok {
		if !promLabelRE.MatchString(l + `=""`) {
			return nil, field.InvalidValue("breaker_state_map", "--breaker-state-map", "%q: want label:NAME with a label name like state", mapping)
		}
		if _, ok := sm.Labels[l]; ok {
			return nil, field.InvalidValue("breaker_state_map", "--breaker-state-map", "%q: the selector fixes label %s; leave it out, the state is read from it", mapping, l)
		}
		sm.ByLabel = l
		return sm, nil
	}
	sm.Values = map[float64]string{}
	for _, pair := range strings.Split(mapping, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		f, err := strconv.ParseFloat(strings.TrimSpace(k), 64)
		st := stateWord(v)
		if !ok || err != nil || st == reports.StateUnknown {
			return nil, field.InvalidValue("breaker_state_map", "--breaker-state-map", "%q: %q: want VALUE=STATE pairs like %s (states closed, open, half-open), or label:NAME", mapping, pair, DefaultStateMap)
		}
		sm.Values[f] = st
	}
	return sm, nil
}

// splitLabels splits a selector's label list at commas outside quotes.
func splitLabels(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, esc := false, false
	for _, r := range s {
		switch {
		case esc:
			esc = false
		case r == '\\' && quoted:
			esc = true
		case r == '"':
			quoted = !quoted
		case r == ',' && !quoted:
			out = append(out, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteRune(r)
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, cur.String())
	}
	return out
}

// String renders the selector as it was given, labels sorted.
func (sm *StateMetric) String() string {
	if len(sm.Labels) == 0 {
		return sm.Metric
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(sm.Labels)) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, sm.Labels[k]))
	}
	return sm.Metric + "{" + strings.Join(parts, ",") + "}"
}

// stateWord maps a state's name, as libraries spell it, to a report state.
func stateWord(s string) string {
	switch strings.NewReplacer("_", "-", " ", "-").Replace(strings.ToLower(strings.TrimSpace(s))) {
	case "closed":
		return reports.StateClosed
	case "open", "forced-open":
		return reports.StateOpen
	case "half-open", "halfopen":
		return reports.StateHalfOpen
	case "none", "disabled", "off":
		return reports.StateNone
	}
	return reports.StateUnknown
}

// state reads the breaker's state from a Prometheus text page. raw is a
// short account of what was read, for notes; err says, in one line, why
// no state could be read: the page does not parse, no series or several
// match, or a value does not map.
func (sm *StateMetric) state(body []byte) (raw, state string, err error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, perr := p.TextToMetricFamilies(bytes.NewReader(body))
	if perr != nil {
		return "", reports.StateUnknown, fmt.Errorf("is not Prometheus text exposition (%s)", sanitizeNote(perr.Error(), 120))
	}
	fam := fams[sm.Metric]
	if fam == nil {
		return "", reports.StateUnknown, fmt.Errorf("has no metric %s (%d metrics on the page%s)", sm.Metric, len(fams), similarMetrics(fams, sm.Metric))
	}
	var picked []*dto.Metric
	for _, m := range fam.GetMetric() {
		if matchesLabels(m, sm.Labels) {
			picked = append(picked, m)
		}
	}
	if len(picked) == 0 {
		return "", reports.StateUnknown, fmt.Errorf("has no %s series with labels %s (series there: %s)", sm.Metric, sm, seriesList(fam.GetMetric(), 4))
	}
	if sm.ByLabel == "" {
		if len(picked) > 1 {
			return "", reports.StateUnknown, fmt.Errorf("has %d series matching %s, want one: add labels to pick it (%s)", len(picked), sm, seriesList(picked, 4))
		}
		v := metricValue(picked[0])
		raw = fmt.Sprintf("%s %s", seriesName(sm.Metric, picked[0]), strconv.FormatFloat(v, 'g', -1, 64))
		st, ok := sm.Values[v]
		if !ok {
			return raw, reports.StateUnknown, fmt.Errorf("series %s has value %v, which --breaker-state-map does not map to a state", seriesName(sm.Metric, picked[0]), v)
		}
		return raw, st, nil
	}
	var current []*dto.Metric
	for _, m := range picked {
		if labelValue(m, sm.ByLabel) == "" {
			return "", reports.StateUnknown, fmt.Errorf("series %s has no label %s to read the state from", seriesName(sm.Metric, m), sm.ByLabel)
		}
		if metricValue(m) != 0 {
			current = append(current, m)
		}
	}
	if len(current) != 1 {
		return "", reports.StateUnknown, fmt.Errorf("has %d series matching %s with a value other than 0, want one (the current state): %s", len(current), sm, seriesList(current, 4))
	}
	v := labelValue(current[0], sm.ByLabel)
	raw = fmt.Sprintf("%s %s", seriesName(sm.Metric, current[0]), strconv.FormatFloat(metricValue(current[0]), 'g', -1, 64))
	st := stateWord(v)
	if st == reports.StateUnknown {
		return raw, st, fmt.Errorf("series %s: label %s=%q is not a breaker state (closed, open, half_open)", seriesName(sm.Metric, current[0]), sm.ByLabel, sanitizeNote(v, 40))
	}
	return raw, st, nil
}

func matchesLabels(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		if labelValue(m, k) != v {
			return false
		}
	}
	return true
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	}
	return m.GetUntyped().GetValue()
}

// seriesName renders a series as name{label="value",…}, cut short.
func seriesName(metric string, m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	slices.Sort(parts)
	return sanitizeNote(metric+"{"+strings.Join(parts, ",")+"}", 120)
}

// seriesList names up to n series, and how many more there are.
func seriesList(ms []*dto.Metric, n int) string {
	if len(ms) == 0 {
		return "none"
	}
	var parts []string
	for i, m := range ms {
		if i == n {
			parts = append(parts, fmt.Sprintf("and %d more", len(ms)-n))
			break
		}
		parts = append(parts, strings.TrimPrefix(seriesName("", m), ""))
	}
	return strings.Join(parts, ", ")
}

// similarMetrics names up to three metrics of the page whose names share
// a word with want, as a hint.
func similarMetrics(fams map[string]*dto.MetricFamily, want string) string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(fams)) {
		if len(out) == 3 {
			break
		}
		for _, w := range []string{"breaker", "circuit", "state"} {
			if strings.Contains(name, w) && strings.Contains(want, w) {
				out = append(out, sanitizeNote(name, 80))
				break
			}
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "; similar: " + strings.Join(out, ", ")
}
