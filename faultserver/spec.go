package faultserver

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Spec is one parsed fault: a kind with its settings, the probability that
// it applies to a request and the path prefix it is limited to. Build Specs
// with ParseSpec; the zero Spec is not a fault.
type Spec struct {
	// Kind is the fault kind's name, one of those listed by Kinds.
	Kind string
	// Rate is the probability, per request, that the fault applies. It is 1
	// unless the spec says rate=.
	Rate float64
	// Path limits the fault to request paths with this prefix; "" matches
	// every path.
	Path string

	f fault
}

// String returns the normalised spec: defaults filled in or dropped,
// durations and sizes in canonical units, keys in a fixed order. It parses
// back with ParseSpec to an equal Spec.
func (s Spec) String() string {
	if s.f == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(s.Kind)
	if a := s.f.arg(); a != "" {
		b.WriteByte(':')
		b.WriteString(a)
	}
	for _, p := range s.f.params() {
		b.WriteByte(',')
		b.WriteString(p)
	}
	if s.Rate != 1 {
		b.WriteString(",rate=")
		b.WriteString(strconv.FormatFloat(s.Rate, 'g', -1, 64))
	}
	if s.Path != "" {
		b.WriteString(",path=")
		b.WriteString(s.Path)
	}
	return b.String()
}

// MarshalText returns the normalised spec, so a Spec reads as a string in
// JSON and other text formats.
func (s Spec) MarshalText() ([]byte, error) {
	if s.f == nil {
		return nil, errors.New("marshal fault spec: zero Spec")
	}
	return []byte(s.String()), nil
}

// UnmarshalText parses text with ParseSpec.
func (s *Spec) UnmarshalText(text []byte) error {
	p, err := ParseSpec(string(text))
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// matches reports whether the spec applies to a request for path.
func (s *Spec) matches(path string) bool {
	return strings.HasPrefix(path, s.Path)
}

const commonForm = "[,rate=P][,path=/PREFIX]"

// SpecError is a spec ParseSpec cannot use; its message names Spec, the
// spec as given, quoted whole.
type SpecError struct {
	Spec string
	msg  string
}

func (e *SpecError) Error() string { return e.msg }

// ParseSpec parses one fault spec of the form "KIND[:ARG][,key=value...]",
// for example "latency:200ms,jitter=50ms,rate=0.3,path=/api". KIND is one of
// the names listed by Kinds; ARG and the kind-specific keys are described
// there. Every kind except refuse also takes rate= (a probability per
// request, default 1) and path= (a path prefix, default every path). A kind
// given without ARG uses its Kind.DefaultArg.
//
// The error for a bad spec is one line naming the part that is wrong and the
// accepted form.
func ParseSpec(s string) (Spec, error) {
	in := s
	if len(s) > MaxSpecLen {
		return Spec{}, fmt.Errorf("fault spec %.40q...: %d bytes, over the limit of %d", s, len(s), MaxSpecLen)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return Spec{}, fmt.Errorf("empty fault spec (form: KIND[:ARG][,key=value...], KIND one of %s)", kindNames())
	}
	parts := strings.Split(s, ",")
	name, arg, hasArg := strings.Cut(parts[0], ":")
	name = strings.ToLower(strings.TrimSpace(name))
	idx := kindIndex(name)
	if idx < 0 {
		return Spec{}, &SpecError{Spec: in, msg: fmt.Sprintf("fault spec %q: unknown kind %q (form: KIND[:ARG][,key=value...], KIND one of %s)", in, name, kindNames())}
	}
	def := &kindTable[idx]
	form := def.form
	switch {
	case def.perConn:
		form += "[,rate=P]"
	case !def.connLevel:
		form += commonForm
	}
	bad := func(format string, args ...any) error {
		return &SpecError{Spec: in, msg: fmt.Sprintf("fault spec %q: %s (form: %s)", in, fmt.Sprintf(format, args...), form)}
	}

	arg = strings.TrimSpace(arg)
	if hasArg && arg == "" {
		return Spec{}, bad("empty argument after %q", name+":")
	}
	spec := Spec{Kind: def.Name, Rate: 1}
	kv := make(map[string]string)
	seen := make(map[string]bool)
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if !ok || k == "" {
			return Spec{}, bad("%q is not key=value", strings.TrimSpace(p))
		}
		if seen[k] {
			return Spec{}, bad("key %q given twice", k)
		}
		seen[k] = true
		switch {
		case (k == "rate" || k == "path") && def.connLevel:
			return Spec{}, bad("%s= does not apply to %s: it acts on the listener, not on requests", k, name)
		case k == "path" && def.perConn:
			return Spec{}, bad("path= does not apply to %s: it acts on the TLS handshake, before any request", name)
		case k == "rate":
			r, err := strconv.ParseFloat(v, 64)
			if err != nil || !(r >= 0 && r <= 1) {
				return Spec{}, bad("rate %q is not a probability between 0 and 1", v)
			}
			spec.Rate = r
		case k == "path":
			if err := checkPath(v); err != nil {
				return Spec{}, bad("path %q %v", v, err)
			}
			spec.Path = v
		case contains(def.keys, k):
			kv[k] = v
		default:
			return Spec{}, bad("unknown key %q for %s", k, name)
		}
	}
	if arg == "" {
		arg = def.DefaultArg
	}
	f, err := def.parse(arg, kv)
	if err != nil {
		return Spec{}, bad("%v", err)
	}
	spec.f = f
	return spec, nil
}

// ParseSpecs parses each string with ParseSpec and returns the first error.
// More than MaxFaults specs are an error.
func ParseSpecs(ss []string) ([]Spec, error) {
	if len(ss) > MaxFaults {
		return nil, fmt.Errorf("%d fault specs, over the limit of %d", len(ss), MaxFaults)
	}
	specs := make([]Spec, 0, len(ss))
	for _, s := range ss {
		sp, err := ParseSpec(s)
		if err != nil {
			return nil, err
		}
		specs = append(specs, sp)
	}
	return specs, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func checkPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return errors.New("must start with /")
	}
	if !utf8.ValidString(p) {
		return errors.New("is not valid UTF-8")
	}
	for _, r := range p {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return errors.New("must not contain spaces or control characters")
		}
	}
	return nil
}

// parseDuration parses a non-negative duration for the named part, up to
// MaxDuration.
func parseDuration(what, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s %q is not a duration like 250ms or 2s", what, s)
	}
	if d > MaxDuration {
		return 0, fmt.Errorf("%s %q is over the limit of %s", what, s, shortDuration(MaxDuration))
	}
	return d, nil
}

// Byte units accepted in sizes and bandwidths, matched case-insensitively.
var byteUnits = []struct {
	name string
	n    int64
}{
	{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3},
	{"B", 1},
}

// parseBytes parses a size such as "512B", "10KB" or "1.5KiB", between one
// byte and MaxBytes.
func parseBytes(s string) (int64, error) {
	i := strings.IndexFunc(s, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
	if i <= 0 {
		return 0, errors.New("want a number and a unit (B, KB, KiB, MB, MiB, GB, GiB)")
	}
	num, unit := s[:i], s[i:]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", num)
	}
	for _, u := range byteUnits {
		if strings.EqualFold(unit, u.name) {
			n := math.Round(v * float64(u.n))
			if n < 1 || n > MaxBytes {
				return 0, fmt.Errorf("must be between 1B and the limit of %s", formatBytes(MaxBytes))
			}
			return int64(n), nil
		}
	}
	return 0, fmt.Errorf("unknown unit %q (want B, KB, KiB, MB, MiB, GB, GiB)", unit)
}

// formatBytes writes n in the largest unit that divides it exactly.
func formatBytes(n int64) string {
	for _, u := range byteUnits {
		if n%u.n == 0 {
			return strconv.FormatInt(n/u.n, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
