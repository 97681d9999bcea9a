package harness

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Which requests are traced: the sampling policy from --trace-sample, the
// standard environment variables or the default trace budget.

// DefaultTraceBudget is how many request traces the default sampler aims for
// per run: every request of a run that offers at most this many (the
// default run offers 12,000), a proportional share of longer ones. About
// six spans a trace keeps a run under ~120k spans, which an in-memory
// Jaeger holds comfortably, while a run as short as the default one is
// traced completely, so the request that tripped the breaker and the
// half-open probes are in the traces.
const DefaultTraceBudget = 20000

// samplerChoice is the resolved sampling policy of a run.
type samplerChoice struct {
	name  string  // as OTEL_TRACES_SAMPLER spells it
	ratio float64 // the fraction of root requests sampled
	desc  string  // for the report
}

// chooseSampler resolves the sampling policy from the flag, the environment
// and the default, in that order; requests is how many requests the run
// offers in total.
func chooseSampler(c TracingConfig, requests float64) samplerChoice {
	if c.SampleRatio != nil {
		return ratioChoice(*c.SampleRatio, "--trace-sample")
	}
	name := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER")))
	arg := 1.0
	if s := os.Getenv("OTEL_TRACES_SAMPLER_ARG"); s != "" {
		if v, err := strconv.ParseFloat(s, 64); err == nil && v >= 0 && v <= 1 {
			arg = v
		}
	}
	switch name {
	case "always_on", "parentbased_always_on":
		return samplerChoice{name, 1, "every request (OTEL_TRACES_SAMPLER=" + name + ")"}
	case "always_off", "parentbased_always_off":
		return samplerChoice{name, 0, "no requests (OTEL_TRACES_SAMPLER=" + name + "); breaker transitions only"}
	case "traceidratio", "parentbased_traceidratio":
		c := ratioChoice(arg, "OTEL_TRACES_SAMPLER="+name)
		c.name = name
		return c
	}
	ratio := 1.0
	if requests > DefaultTraceBudget {
		ratio = DefaultTraceBudget / requests
	}
	c2 := ratioChoice(ratio, fmt.Sprintf("the default: at most about %d request traces per run", DefaultTraceBudget))
	if name != "" {
		c2.desc += fmt.Sprintf(" (OTEL_TRACES_SAMPLER=%s is not supported)", name)
	}
	return c2
}

func ratioChoice(r float64, from string) samplerChoice {
	return samplerChoice{
		name:  "parentbased_traceidratio",
		ratio: r,
		desc: fmt.Sprintf("%s of requests, decided by the load runner and followed by the gateway (or your service, when it propagates W3C trace context) and upstream, from %s; breaker state changes always",
			strconv.FormatFloat(r*100, 'g', 4, 64)+"%", from),
	}
}

func (s samplerChoice) sampler() sdktrace.Sampler {
	var root sdktrace.Sampler
	switch {
	case s.ratio >= 1:
		root = sdktrace.AlwaysSample()
	case s.ratio <= 0:
		root = sdktrace.NeverSample()
	default:
		root = sdktrace.TraceIDRatioBased(s.ratio)
	}
	if strings.HasPrefix(s.name, "parentbased_") {
		return keepStateChanges{sdktrace.ParentBased(root)}
	}
	return keepStateChanges{root}
}

// keepStateChanges samples every breaker state_change span, whatever the
// request ratio: they are few and they are what a reader searches for.
type keepStateChanges struct{ next sdktrace.Sampler }

func (k keepStateChanges) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if p.Name == stateChangeSpan {
		return sdktrace.SamplingResult{
			Decision:   sdktrace.RecordAndSample,
			Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState(),
		}
	}
	return k.next.ShouldSample(p)
}

func (k keepStateChanges) Description() string {
	return "KeepStateChanges{" + k.next.Description() + "}"
}
