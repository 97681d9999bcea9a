package testenv

import (
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// PromValues returns the value of every series of fams by Key: counters,
// gauges and untyped series by value, histograms by sample count — the
// form Values gives an OTLP export, so that the two can be compared.
func PromValues(fams []*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			var v float64
			switch {
			case m.Counter != nil:
				v = m.GetCounter().GetValue()
			case m.Gauge != nil:
				v = m.GetGauge().GetValue()
			case m.Histogram != nil:
				v = float64(m.GetHistogram().GetSampleCount())
			default:
				v = m.GetUntyped().GetValue()
			}
			out[Key(f.GetName(), labels)] = v
		}
	}
	return out
}

// ParsePromText reads a page of Prometheus text exposition into metric
// families.
func ParsePromText(page string) ([]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	byName, err := p.TextToMetricFamilies(strings.NewReader(page))
	if err != nil {
		return nil, err
	}
	var out []*dto.MetricFamily
	for _, f := range byName {
		out = append(out, f)
	}
	return out, nil
}
