package scenario

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/harness"
)

// The scalar values a scenario file holds, each read from its YAML node
// with a message naming the line.
// Duration is a Go duration string ("250ms", "2s").
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return lineErr(n, "%q is not a duration; want a Go duration like 250ms or 2s", n.Value)
	}
	*d = Duration(v)
	return nil
}

type Fault struct {
	// Upstream names the upstream the fault is for; "" for the only one.
	Upstream string
	Spec     faultserver.Spec
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (f *Fault) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return lineErr(n, "a fault is a spec string like latency:1s or error:503,rate=0.3")
	}
	name, s, err := harness.ParseUpstreamFault(n.Value)
	var se *faultserver.SpecError
	switch {
	case errors.As(err, &se) && se.Spec == n.Value:
		return lineErr(n, "%v", err) // it names the whole spec already
	case err != nil:
		return lineErr(n, "fault spec %q: %v", n.Value, err)
	}
	f.Upstream, f.Spec = name, s
	return nil
}

// Threshold is a threshold expression and its line; the caller parses it.
// In the file it is the expression itself, or a mapping {check: EXPR,
// abort_on_fail: true} for one that stops the run as soon as it has failed
// and can no longer pass.
type Threshold struct {
	Expr        string
	AbortOnFail bool
	Line        int
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Threshold) UnmarshalYAML(n *yaml.Node) error {
	const want = `want an expression, or a mapping like {check: "breaker.fault.collateral.success_ratio >= 99%", abort_on_fail: true}`
	s.Line = n.Line
	switch n.Kind {
	case yaml.ScalarNode:
		s.Expr = n.Value
		return nil
	case yaml.MappingNode:
	default:
		return lineErr(n, "%s", want)
	}
	check := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "check":
			if v.Kind != yaml.ScalarNode {
				return lineErr(v, "want a threshold expression as a string")
			}
			s.Expr, check = v.Value, true
		case "abort_on_fail":
			b, err := strconv.ParseBool(v.Value)
			if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || err != nil {
				return lineErr(v, "%q: want true or false", v.Value)
			}
			s.AbortOnFail = b
		default:
			return lineErr(k, "unknown field %q in a threshold; %s", k.Value, want)
		}
	}
	if !check {
		return lineErr(n, "a threshold mapping needs check: the expression; %s", want)
	}
	return nil
}

// Int is a whole number; yaml.v3 alone would truncate 1.5 to 1.
type Int int64

// UnmarshalYAML implements yaml.Unmarshaler.
func (v *Int) UnmarshalYAML(n *yaml.Node) error {
	i, err := strconv.ParseInt(n.Value, 0, 64)
	if n.Kind == yaml.ScalarNode && errors.Is(err, strconv.ErrRange) {
		return lineErr(n, "%q is too large; want a whole number of at most 19 digits", n.Value)
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
		return lineErr(n, "%q is not a whole number", n.Value)
	}
	*v = Int(i)
	return nil
}

// Count is a whole number from 0 to 2³²-1.
type Count uint32

// UnmarshalYAML implements yaml.Unmarshaler.
func (v *Count) UnmarshalYAML(n *yaml.Node) error {
	i, err := strconv.ParseUint(n.Value, 0, 32)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
		return lineErr(n, "%q is not a whole number from 0 to 4294967295", n.Value)
	}
	*v = Count(i)
	return nil
}

func lineErr(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, fmt.Sprintf(format, args...))}}
}

// Share is a fraction written as a percentage ("10%") or a number (0.1).
type Share float64

// UnmarshalYAML implements yaml.Unmarshaler.
func (v *Share) UnmarshalYAML(n *yaml.Node) error {
	f, err := ParseShare(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return lineErr(n, "%q is not a share; want a percentage like 10%% or a fraction like 0.1", n.Value)
	}
	*v = Share(f)
	return nil
}

// ParseShare reads a share written as a percentage ("10%") or a fraction
// ("0.1"). It does not check the range.
func ParseShare(s string) (float64, error) {
	s = strings.TrimSpace(s)
	scale := 1.0
	if t, ok := strings.CutSuffix(s, "%"); ok {
		s, scale = strings.TrimSpace(t), 100
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	return f / scale, nil
}
