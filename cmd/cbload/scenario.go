package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/harness"
)

// A scenario file says in YAML everything `cbload run` flags can say. Flags
// given on the command line override the file. Decoding is strict: an
// unknown or mistyped field is an error naming its line.
//
//	description: what this scenario teaches
//	seed: 7
//	load:     {rate: 200, collateral_share: 0.2, client_timeout: 3s}
//	gateway:  {workers: 32, queue_timeout: 1s, call_timeout: 500ms, local_work: 1ms}
//	breaker:  {timeout: 2s, max_requests: 3, interval: 10s, bucket_period: 1s,
//	           consecutive_failures: 5, failure_ratio: 0.5, min_requests: 20}
//	upstream: {service_time: 2ms, jitter: 1ms, addr: 127.0.0.1:9090}
//	arms: [breaker, no-breaker]
//	targets:  [{name: breaker, url: http://127.0.0.1:8081/api, collateral: /local, breaker_state_url: /breaker}]
//	collateral: /local            # default for every target
//	breaker_state_url: /breaker   # default for every target
//	phases:
//	  - {name: baseline, duration: 5s}
//	  - repeat: 5
//	    phases:
//	      - {name: down, duration: 3s, faults: [refuse]}
//	      - {name: up, duration: 3s}
//	  - {name: recovery, duration: 10s}
//	thresholds: ["breaker.figures.opens >= 1"]
//	tracing: {otlp_endpoint: http://127.0.0.1:4318, otlp_protocol: http/protobuf, sample: auto,
//	          jaeger_url: http://127.0.0.1:16686}
//	output: {dir: out, force: true, junit: junit.xml, progress: never, step_summary: false}
//
// A repeated group's phases are named with the repeat number: down-1, up-1,
// down-2, … so every phase keeps its own summary and threshold paths.

type scenario struct {
	Description     string           `yaml:"description"`
	Seed            *scenarioInt     `yaml:"seed"`
	Load            scenarioLoad     `yaml:"load"`
	Gateway         scenarioGateway  `yaml:"gateway"`
	Breaker         scenarioBreaker  `yaml:"breaker"`
	Upstream        scenarioUpstream `yaml:"upstream"`
	Arms            []string         `yaml:"arms"`
	Targets         []scenarioTarget `yaml:"targets"`
	Collateral      *string          `yaml:"collateral"`
	BreakerStateURL *string          `yaml:"breaker_state_url"`
	Phases          []scenarioPhase  `yaml:"phases"`
	Thresholds      []scenarioString `yaml:"thresholds"`
	Tracing         scenarioTracing  `yaml:"tracing"`
	Output          scenarioOutput   `yaml:"output"`

	// doc is the file's node tree, for the lines of errors found after
	// decoding; nil when the file has no mapping at the top.
	doc *yaml.Node
}

type scenarioLoad struct {
	Rate            *float64          `yaml:"rate"`
	CollateralShare *float64          `yaml:"collateral_share"`
	ClientTimeout   *scenarioDuration `yaml:"client_timeout"`
}

type scenarioGateway struct {
	Workers      *scenarioInt      `yaml:"workers"`
	QueueTimeout *scenarioDuration `yaml:"queue_timeout"`
	CallTimeout  *scenarioDuration `yaml:"call_timeout"`
	LocalWork    *scenarioDuration `yaml:"local_work"`
}

type scenarioBreaker struct {
	Timeout             *scenarioDuration `yaml:"timeout"`
	MaxRequests         *scenarioCount    `yaml:"max_requests"`
	Interval            *scenarioDuration `yaml:"interval"`
	BucketPeriod        *scenarioDuration `yaml:"bucket_period"`
	ConsecutiveFailures *scenarioCount    `yaml:"consecutive_failures"`
	FailureRatio        *float64          `yaml:"failure_ratio"`
	MinRequests         *scenarioCount    `yaml:"min_requests"`
}

type scenarioUpstream struct {
	ServiceTime *scenarioDuration `yaml:"service_time"`
	Jitter      *scenarioDuration `yaml:"jitter"`
	Addr        *string           `yaml:"addr"`
}

type scenarioTarget struct {
	Name            string `yaml:"name"`
	URL             string `yaml:"url"`
	Collateral      string `yaml:"collateral"`
	BreakerStateURL string `yaml:"breaker_state_url"`
	line            int
}

type scenarioPhase struct {
	Name     string           `yaml:"name"`
	Duration scenarioDuration `yaml:"duration"`
	Faults   []scenarioFault  `yaml:"faults"`
	Repeat   scenarioInt      `yaml:"repeat"`
	Phases   []scenarioPhase  `yaml:"phases"`
	line     int
}

// scenarioTracing is the tracing section; sample is "auto" or a ratio.
type scenarioTracing struct {
	OTLPEndpoint *string `yaml:"otlp_endpoint"`
	OTLPProtocol *string `yaml:"otlp_protocol"`
	Sample       *string `yaml:"sample"`
	JaegerURL    *string `yaml:"jaeger_url"`
}

type scenarioOutput struct {
	Dir         *string `yaml:"dir"`
	Force       *bool   `yaml:"force"`
	JUnit       *string `yaml:"junit"`
	Progress    *string `yaml:"progress"`
	StepSummary *bool   `yaml:"step_summary"`
}

// scenarioDuration is a Go duration string ("250ms", "2s").
type scenarioDuration time.Duration

func (d *scenarioDuration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return lineErr(n, "%q is not a duration; want a Go duration like 250ms or 2s", n.Value)
	}
	*d = scenarioDuration(v)
	return nil
}

// scenarioFault is a fault spec, parsed where it stands so an error has its line.
type scenarioFault struct {
	spec faultserver.Spec
}

func (f *scenarioFault) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return lineErr(n, "a fault is a spec string like latency:1s or error:503,rate=0.3")
	}
	s, err := faultserver.ParseSpec(n.Value)
	if err != nil && !strings.Contains(err.Error(), strconv.Quote(n.Value)) {
		return lineErr(n, "fault spec %q: %v", n.Value, err)
	}
	if err != nil {
		return lineErr(n, "%v", err)
	}
	f.spec = s
	return nil
}

// scenarioString is a string that remembers its line, for thresholds.
type scenarioString struct {
	s    string
	line int
}

func (s *scenarioString) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return lineErr(n, "want a string")
	}
	s.s, s.line = n.Value, n.Line
	return nil
}

// scenarioInt is a whole number; yaml.v3 alone would truncate 1.5 to 1.
type scenarioInt int64

func (v *scenarioInt) UnmarshalYAML(n *yaml.Node) error {
	i, err := strconv.ParseInt(n.Value, 0, 64)
	if n.Kind == yaml.ScalarNode && errors.Is(err, strconv.ErrRange) {
		return lineErr(n, "%q is too large; want a whole number of at most 19 digits", n.Value)
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
		return lineErr(n, "%q is not a whole number", n.Value)
	}
	*v = scenarioInt(i)
	return nil
}

// scenarioCount is a whole number from 0 to 2³²-1.
type scenarioCount uint32

func (v *scenarioCount) UnmarshalYAML(n *yaml.Node) error {
	i, err := strconv.ParseUint(n.Value, 0, 32)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
		return lineErr(n, "%q is not a whole number from 0 to 4294967295", n.Value)
	}
	*v = scenarioCount(i)
	return nil
}

func lineErr(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, fmt.Sprintf(format, args...))}}
}

// loadScenario reads and strictly decodes a scenario file.
func loadScenario(path string) (*scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usagef("--scenario: %v", err)
	}
	defer f.Close()
	return decodeScenario(path, f)
}

func decodeScenario(name string, r io.Reader) (*scenario, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, usagef("scenario %s: %v", name, err)
	}
	// Decoding is strict only through a Decoder with KnownFields; custom
	// unmarshalers that call Node.Decode would lose it, so line numbers of
	// phases and targets come from a second pass over the node tree.
	var doc *yaml.Node
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err == nil && len(root.Content) == 1 {
		doc = root.Content[0]
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s scenario
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, usagef("scenario %s: the file is empty", name)
		}
		return nil, usagef("scenario %s: %s", name, yamlMessage(err, doc))
	}
	if doc != nil {
		s.doc = doc
		s.recordLines(doc)
	}
	return &s, nil
}

// line returns the line of the value at path, a dotted list of keys like
// "load.rate", or 0 when the file does not have it.
func (s *scenario) line(path string) int {
	n := s.doc
	for _, k := range strings.Split(path, ".") {
		if n = mapValue(n, k); n == nil {
			return 0
		}
	}
	return n.Line
}

// fieldAt returns the path, like "load.rate" or "phases[1].faults[0]", of
// the first node of kind on line whose value is value (lists and mappings
// have none), or "" when there is none.
// yaml's own type errors give only the line and the value; this names the
// field.
func fieldAt(n *yaml.Node, line int, kind yaml.Kind, value string) string {
	// yaml shortens long values in its messages to their start and "...".
	short, cut := strings.CutSuffix(value, "...")
	var walk func(n *yaml.Node, path string) string
	walk = func(n *yaml.Node, path string) string {
		// The innermost node first: a flow mapping shares its line with
		// the mapping around it.
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key := n.Content[i].Value
				if path != "" {
					key = path + "." + key
				}
				if p := walk(n.Content[i+1], key); p != "" {
					return p
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if p := walk(c, fmt.Sprintf("%s[%d]", path, i)); p != "" {
					return p
				}
			}
		}
		if n.Line != line || path == "" || n.Kind != kind {
			return ""
		}
		if kind != yaml.ScalarNode || n.Value == value || cut && strings.HasPrefix(n.Value, short) {
			return path
		}
		return ""
	}
	if n == nil {
		return ""
	}
	return walk(n, "")
}

// recordLines copies the line of every phase and target entry from the node
// tree into s, for errors found after decoding.
func (s *scenario) recordLines(doc *yaml.Node) {
	var phases func(seq *yaml.Node, ps []scenarioPhase)
	phases = func(seq *yaml.Node, ps []scenarioPhase) {
		if seq == nil || seq.Kind != yaml.SequenceNode {
			return
		}
		for i, n := range seq.Content {
			if i < len(ps) {
				ps[i].line = n.Line
				phases(mapValue(n, "phases"), ps[i].Phases)
			}
		}
	}
	phases(mapValue(doc, "phases"), s.Phases)
	if seq := mapValue(doc, "targets"); seq != nil && seq.Kind == yaml.SequenceNode {
		for i, n := range seq.Content {
			if i < len(s.Targets) {
				s.Targets[i].line = n.Line
			}
		}
	}
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

var (
	// valueErrRE matches the errors of cbload's own unmarshalers: lineErr
	// quotes the value right after the line.
	valueErrRE = regexp.MustCompile(`^line (\d+): [^"]*("(?:[^"\\]|\\.)*")`)
	notFoundRE = regexp.MustCompile(`^line (\d+): field (\S+) not found in type main\.(\w+)$`)
	cannotRE   = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+)(?: `(.*?)`)? into (.+)$")
)

// sectionTypes names the scenario's sections for error messages.
var sectionTypes = map[string]struct {
	name string
	typ  reflect.Type
}{
	"scenario":         {"the top level", reflect.TypeFor[scenario]()},
	"scenarioLoad":     {"load", reflect.TypeFor[scenarioLoad]()},
	"scenarioGateway":  {"gateway", reflect.TypeFor[scenarioGateway]()},
	"scenarioBreaker":  {"breaker", reflect.TypeFor[scenarioBreaker]()},
	"scenarioUpstream": {"upstream", reflect.TypeFor[scenarioUpstream]()},
	"scenarioTarget":   {"a target", reflect.TypeFor[scenarioTarget]()},
	"scenarioPhase":    {"a phase", reflect.TypeFor[scenarioPhase]()},
	"scenarioTracing":  {"tracing", reflect.TypeFor[scenarioTracing]()},
	"scenarioOutput":   {"output", reflect.TypeFor[scenarioOutput]()},
}

// yamlMessage turns a yaml error into one line a user can act on: the first
// problem with its line number, and how many more there are.
func yamlMessage(err error, doc *yaml.Node) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		return oneLine(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	msg := te.Errors[0]
	// named prefixes a message about the value on line with the field's path.
	named := func(line string, kind yaml.Kind, value, rest string) string {
		n, _ := strconv.Atoi(line)
		if field := fieldAt(doc, n, kind, value); field != "" {
			return fmt.Sprintf("line %s: %s: %s", line, field, rest)
		}
		return fmt.Sprintf("line %s: %s", line, rest)
	}
	if m := notFoundRE.FindStringSubmatch(msg); m != nil {
		sec := sectionTypes[m[3]]
		fields := yamlFields(sec.typ)
		if sec.name == "" {
			sec.name = "this section"
		}
		msg = fmt.Sprintf("line %s: unknown field %q in %s; want one of: %s", m[1], m[2], sec.name, strings.Join(fields, ", "))
	} else if m := cannotRE.FindStringSubmatch(msg); m != nil {
		kind, got := yaml.ScalarNode, fmt.Sprintf("%q is %s", m[3], yamlKind(m[2]))
		switch m[2] {
		case "map":
			kind, got = yaml.MappingNode, "got a mapping"
		case "seq":
			kind, got = yaml.SequenceNode, "got a list"
		}
		msg = named(m[1], kind, m[3], fmt.Sprintf("%s; want %s", got, goKind(m[4])))
	} else if m := valueErrRE.FindStringSubmatch(msg); m != nil {
		// cbload's own unmarshalers quote the value they reject.
		value, err := strconv.Unquote(m[2])
		if err != nil {
			value = ""
		}
		msg = named(m[1], yaml.ScalarNode, value, msg[len("line "+m[1]+": "):])
	}
	if n := len(te.Errors) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return oneLine(msg)
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func yamlFields(t reflect.Type) []string {
	var out []string
	if t == nil {
		return out
	}
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("yaml"); tag != "" {
			out = append(out, strings.Split(tag, ",")[0])
		}
	}
	return out
}

func yamlKind(tag string) string {
	switch tag {
	case "str":
		return "a string"
	case "map":
		return "a mapping"
	case "seq":
		return "a list"
	case "int", "float":
		return "a number"
	case "bool":
		return "true/false"
	}
	return "a " + tag
}

func goKind(t string) string {
	t = strings.TrimPrefix(t, "*")
	switch {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "a whole number"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	}
	return "a mapping"
}

// phaseNameRE is what a phase name must look like to be a threshold path
// segment.
var phaseNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// harnessPhases expands the scenario's phases, repeats included, and
// returns the line of each.
func (s *scenario) harnessPhases() ([]harness.Phase, []int, error) {
	var out []harness.Phase
	var lines []int
	for i, p := range s.Phases {
		where := fmt.Sprintf("phases[%d] (line %d)", i, p.line)
		if p.Repeat != 0 || len(p.Phases) > 0 {
			if p.Name != "" || p.Duration != 0 || len(p.Faults) > 0 {
				return nil, nil, fmt.Errorf("%s: a repeat group has only repeat and phases; put name, duration and faults on the phases inside it", where)
			}
			if p.Repeat < 1 || p.Repeat > 1000 {
				return nil, nil, fmt.Errorf("%s: repeat %d: want a count from 1 to 1000", where, p.Repeat)
			}
			if len(p.Phases) == 0 {
				return nil, nil, fmt.Errorf("%s: a repeat group needs phases to repeat", where)
			}
			for k := 1; k <= int(p.Repeat); k++ {
				for j, q := range p.Phases {
					in := fmt.Sprintf("%s.phases[%d] (line %d)", where, j, q.line)
					if q.Repeat != 0 || len(q.Phases) > 0 {
						return nil, nil, fmt.Errorf("%s: repeat groups do not nest", in)
					}
					ph, err := q.phase(in)
					if err != nil {
						return nil, nil, err
					}
					ph.Name += "-" + strconv.Itoa(k)
					out, lines = append(out, ph), append(lines, q.line)
				}
			}
			continue
		}
		ph, err := p.phase(where)
		if err != nil {
			return nil, nil, err
		}
		out, lines = append(out, ph), append(lines, p.line)
	}
	return out, lines, nil
}

func (p scenarioPhase) phase(where string) (harness.Phase, error) {
	switch {
	case p.Name == "":
		return harness.Phase{}, fmt.Errorf("%s: name is required", where)
	case !phaseNameRE.MatchString(p.Name):
		return harness.Phase{}, fmt.Errorf("%s: name %q: want a letter followed by letters, digits, _ or - (it becomes a threshold path segment)", where, p.Name)
	case p.Name == "figures":
		return harness.Phase{}, fmt.Errorf("%s: name %q is reserved for threshold paths; choose another", where, p.Name)
	case p.Duration == 0:
		return harness.Phase{}, fmt.Errorf("%s (%s): duration is required, like 5s", where, p.Name)
	}
	ph := harness.Phase{Name: p.Name, Duration: time.Duration(p.Duration)}
	for _, f := range p.Faults {
		ph.Faults = append(ph.Faults, f.spec)
	}
	return ph, nil
}
