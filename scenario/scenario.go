// Package scenario reads cbload's scenario files: YAML that says everything
// the flags of `cbload run` can say. Decoding is strict (an unknown or
// mistyped field is an error) and every error is one line naming the file,
// the line and the field's path, like "load.rate" or "phases[1].faults[0]".
//
// A file looks like this:
//
//	description: what this scenario teaches
//	seed: 7
//	trials: 1                     # each arm this many times, interleaved
//	arm_mode: sequential          # or concurrent
//	load:     {rate: 200, collateral_share: 0.2, client_timeout: 3s}
//	gateway:  {workers: 32, queue_timeout: 1s, call_timeout: 500ms, local_work: 1ms,
//	           tiers: 1, retries: 0, retry_backoff: 0s}
//	breaker:  {timeout: 2s, max_requests: 3, interval: 10s, bucket_period: 1s,
//	           consecutive_failures: 5, failure_ratio: 0.5, min_requests: 20}
//	retry_budget: {ratio: 10%, window: 10s}
//	throttle: {k: 2, window: 10s}
//	upstream: {service_time: 2ms, jitter: 1ms, addr: 127.0.0.1:9090,
//	           concurrency: 4, queue: 200, honor_cancel: false, tls_dir: cbload-tls, grpc: false}
//	upstreams: {payments: 127.0.0.1:3001, search: 127.0.0.1:3002}   # instead of upstream.addr
//	arms: [breaker, no-breaker]   # also retry-budget, throttle
//	targets:  [{name: breaker, url: http://127.0.0.1:8081/api, collateral: /local, breaker_state_url: /breaker}]
//	collateral: /local            # default for every target
//	breaker_state_url: /breaker   # default for every target
//	breaker_state_metric: resilience4j_circuitbreaker_state{name="backend"}  # a Prometheus page
//	breaker_state_map: label:state
//	request:  {method: POST, headers: {Content-Type: application/json},
//	           header_env: {Authorization: API_TOKEN}, body: '{"id":1}',
//	           body_file: order.json, targets_file: requests.txt}
//	expect: ["status=200-299", "json:.source=primary", "collateral:body-contains=ok"]
//	tls: {insecure: false, ca_cert: ca.pem}
//	allow_remote: [10.0.0.0/8]
//	phases:
//	  - {name: baseline, duration: 5s}
//	  - repeat: 5
//	    phases:
//	      - {name: down, duration: 3s, faults: [refuse]}   # or ["payments=refuse"]
//	      - {name: up, duration: 3s}
//	  - {name: recovery, duration: 10s}
//	thresholds: ["breaker.figures.opens >= 1"]
//	tracing: {otlp_endpoint: http://127.0.0.1:4318, otlp_protocol: http/protobuf, sample: auto,
//	          jaeger_url: http://127.0.0.1:16686}
//	output: {dir: out, force: true, junit: junit.xml, progress: never, step_summary: false,
//	         results: results.json, summary_template: summary.tmpl}
//
// A repeated group's phases are named with the repeat number: down-1, up-1,
// down-2, … so every phase keeps its own summary and threshold paths.
//
// Paths in the file (body_file, targets_file, ca_cert, tls_dir, output) are
// relative to the working directory, as on the command line.
//
// The package reads the file's structured sections itself: description,
// phases (with their repeat groups), thresholds and targets. Every other
// setting is declared by the caller, once: Decode takes each one's path and
// Go type (a Field; cbload run's come from its flag table) and checks the
// file against them as strictly as against its own sections, and Value reads
// one into the caller's field. A key that is neither is an unknown field.
package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cbload/cbload/internal/inputfile"
	"github.com/cbload/cbload/schedule"
)

// Limits on what a scenario can ask for; beyond them it is an error. The
// README's limits table lists them. Flags that say the same things are held
// to the same limits by the CLI.
const (
	// MaxFileSize is the largest scenario file read.
	MaxFileSize = 1 << 20
	// ReadTimeout is how long reading the file may take, so a FIFO no one
	// writes to cannot hold the process.
	ReadTimeout = 10 * time.Second
	// MaxPhases is the most phases a run can have, counted after repeat
	// groups are expanded.
	MaxPhases = 200
	// MaxRepeat is the largest count of a repeat group.
	MaxRepeat = 1000
	// MaxDuration is the longest schedule, the sum of the phases' durations,
	// that one arm can run: schedule.MaxDuration, checked by schedule.New.
	MaxDuration = schedule.MaxDuration
	// MaxFaults is the most fault specs one phase can list.
	MaxFaults = 16
	// MaxThresholds is the most thresholds a run can check.
	MaxThresholds = 100
	// MaxTargets is the most targets (arms) a run can drive.
	MaxTargets = 8
	// MaxHeaders is the most headers (request.headers and
	// request.header_env together) sent with each request.
	MaxHeaders = 100
	// MaxExpect is the most checks (expect) an answer is held to.
	MaxExpect = 100
)

// File is a decoded scenario file. Build one with ReadFile or Decode. It
// holds the sections this package reads itself; the settings the caller
// declared (see Field) are read with Value.
type File struct {
	Description string
	Phases      []Phase
	Thresholds  []Threshold
	Targets     []Target

	// name is the file's name, for errors found after decoding.
	name string
	// doc is the file's node tree, for the lines of errors found after
	// decoding; nil when the file has no mapping at the top.
	doc *yaml.Node
	// values holds the decoded value of every declared field, by path: a
	// pointer, slice or map, nil when the file does not have it.
	values map[string]reflect.Value
	// types holds the type Value reads each declared field into, by path.
	types map[string]reflect.Type
}

// Target is one entry of targets: a user's own service as an arm.
type Target struct {
	Name            string `yaml:"name"`
	URL             string `yaml:"url"`
	Collateral      string `yaml:"collateral"`
	BreakerStateURL string `yaml:"breaker_state_url"`
	// Line is the entry's line in the file.
	Line int `yaml:"-"`
}

// Phase is one entry of phases: a phase, or a repeat group of phases.
type Phase struct {
	Name     string   `yaml:"name"`
	Duration Duration `yaml:"duration"`
	Faults   []Fault  `yaml:"faults"`
	Repeat   Int      `yaml:"repeat"`
	Phases   []Phase  `yaml:"phases"`
	// Line is the entry's line in the file.
	Line int `yaml:"-"`
}

// Error is a problem with a scenario file. Its message is one line:
// "scenario NAME: " and Msg, which names the line and the field.
type Error struct {
	File string // the file's name as given
	Line int    // the line of the problem; 0 when not known
	Path string // the field, like "load.rate" or "phases[1]"; "" when not known
	Msg  string // the message after the file's name
}

func (e *Error) Error() string { return "scenario " + e.File + ": " + e.Msg }

// ReadFile reads and strictly decodes the scenario file at path, reading at
// most MaxFileSize bytes within ReadTimeout. It returns ctx's error as soon
// as ctx is done, even while waiting for a FIFO's writer, and an error
// opening the file as it is; every other error is an *Error. fields are
// the settings the caller reads, as for Decode.
func ReadFile(ctx context.Context, path string, fields []Field) (*File, error) {
	data, err := inputfile.Read(ctx, path, MaxFileSize, ReadTimeout)
	var tl *inputfile.TooLargeError
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.As(err, &tl):
		return nil, &Error{File: path, Msg: fmt.Sprintf("the file is larger than the %s limit for scenario files", inputfile.Size(tl.Limit))}
	case errors.Is(err, inputfile.ErrTimeout):
		return nil, &Error{File: path, Msg: fmt.Sprintf("the file was not read to its end within %v; want a regular file (a pipe must be written and closed)", ReadTimeout)}
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Op == "open" {
			return nil, err
		}
		return nil, &Error{File: path, Msg: err.Error()}
	}
	return Decode(path, bytes.NewReader(data), fields)
}

// Decode reads and strictly decodes a scenario file of at most MaxFileSize
// bytes; name is the file's name for error messages. fields are the
// settings the caller reads with Value, besides the sections File holds:
// any other key is an unknown field, and every value is checked against its
// field's type here, so that the error is the file's first problem. Errors
// are *Error. Decode panics when fields cannot describe a file (a path
// twice, a path that is a value and a section, a type Value does not read):
// that is the caller's mistake, not the file's.
func Decode(name string, r io.Reader, fields []Field) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, &Error{File: name, Msg: err.Error()}
	}
	if len(data) > MaxFileSize {
		return nil, &Error{File: name, Msg: fmt.Sprintf("the file is larger than the %s limit for scenario files", inputfile.Size(MaxFileSize))}
	}
	// Decoding is strict only through a Decoder with KnownFields; custom
	// unmarshalers that call Node.Decode would lose it, so line numbers of
	// phases and targets come from a second pass over the node tree.
	var doc *yaml.Node
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err == nil && len(root.Content) == 1 {
		doc = root.Content[0]
	}
	sc := newSchema(fields)
	v := reflect.New(sc.typ)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v.Interface()); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: name, Msg: "the file is empty"}
		}
		return nil, yamlError(name, err, doc, sc.sections)
	}
	s := sc.file(name, v.Elem())
	if err := oneDocument(name, data); err != nil {
		return nil, err
	}
	if doc != nil {
		s.doc = doc
		s.recordLines(doc)
	}
	if err := s.checkCounts(); err != nil {
		return nil, err
	}
	return s, nil
}

// oneDocument checks that data holds exactly one YAML document and that it
// is not empty: a second document, even an empty one after a trailing ---,
// would otherwise be ignored without a word.
func oneDocument(name string, data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var first, second yaml.Node
	if err := dec.Decode(&first); err != nil {
		// The strict decoder has accepted the first document already.
		return &Error{File: name, Msg: "the file is empty"}
	}
	err := dec.Decode(&second)
	switch {
	case err == nil:
		return &Error{File: name, Line: second.Line, Msg: fmt.Sprintf("line %d: a second YAML document (after ---); a scenario file holds one document", second.Line)}
	case !errors.Is(err, io.EOF):
		return yamlError(name, err, nil, nil)
	}
	if len(first.Content) == 1 && first.Content[0].Tag == "!!null" {
		return &Error{File: name, Line: first.Line, Msg: "the file is empty"}
	}
	return nil
}

// checkCounts holds every list of the file to its limit. It runs before the
// phases are expanded, so a huge repeat count is refused without allocating.
func (s *File) checkCounts() error {
	fail := func(path string, n, limit int, what string) error {
		line := s.Line(path)
		return &Error{File: s.name, Line: line, Path: path,
			Msg: fmt.Sprintf("line %d: %s: %d %s; the limit is %d", line, path, n, what, limit)}
	}
	if n := len(s.Thresholds); n > MaxThresholds {
		return fail("thresholds", n, MaxThresholds, "thresholds")
	}
	if n := len(s.Targets); n > MaxTargets {
		return fail("targets", n, MaxTargets, "targets")
	}
	if n := s.size("request.headers") + s.size("request.header_env"); n > MaxHeaders {
		path := "request.headers"
		if found, _ := s.has("request.headers"); !found {
			path = "request.header_env"
		}
		return fail(path, n, MaxHeaders, "headers (headers and header_env together)")
	}
	if n := s.size("expect"); n > MaxExpect {
		return fail("expect", n, MaxExpect, "checks")
	}
	total := 0
	for i, p := range s.Phases {
		path := fmt.Sprintf("phases[%d]", i)
		if n := len(p.Faults); n > MaxFaults {
			return fail(path+".faults", n, MaxFaults, "faults in one phase")
		}
		n := 1
		if p.Repeat != 0 || len(p.Phases) > 0 {
			if p.Repeat < 1 || p.Repeat > MaxRepeat {
				// Named with its line by ExpandPhases.
				return nil
			}
			for j, q := range p.Phases {
				if n := len(q.Faults); n > MaxFaults {
					return fail(fmt.Sprintf("%s.phases[%d].faults", path, j), n, MaxFaults, "faults in one phase")
				}
			}
			n = int(p.Repeat) * len(p.Phases)
			if n > MaxPhases {
				line := p.Line
				return &Error{File: s.name, Line: line, Path: path + ".repeat",
					Msg: fmt.Sprintf("line %d: %s.repeat: %d × %d phases make %d phases; the limit is %d phases in all, after repeat", line, path, p.Repeat, len(p.Phases), n, MaxPhases)}
			}
		}
		if total += n; total > MaxPhases {
			return &Error{File: s.name, Line: p.Line, Path: path,
				Msg: fmt.Sprintf("line %d: %s: the phases up to here make %d phases; the limit is %d phases in all, after repeat", p.Line, path, total, MaxPhases)}
		}
	}
	return nil
}

// Line returns the line of the value at path, a dotted list of keys like
// "load.rate" or "phases[2].faults", or 0 when the file does not have it.
func (s *File) Line(path string) int {
	n := s.doc
	for _, seg := range strings.Split(path, ".") {
		key, idx, indexed := strings.Cut(seg, "[")
		if n = mapValue(n, key); n == nil {
			return 0
		}
		if indexed {
			i, err := strconv.Atoi(strings.TrimSuffix(idx, "]"))
			if err != nil || n.Kind != yaml.SequenceNode || i >= len(n.Content) {
				return 0
			}
			n = n.Content[i]
		}
	}
	return n.Line
}

// recordLines copies the line of every phase and target entry from the node
// tree into s, for errors found after decoding.
func (s *File) recordLines(doc *yaml.Node) {
	var phases func(seq *yaml.Node, ps []Phase)
	phases = func(seq *yaml.Node, ps []Phase) {
		if seq == nil || seq.Kind != yaml.SequenceNode {
			return
		}
		for i, n := range seq.Content {
			if i < len(ps) {
				ps[i].Line = n.Line
				phases(mapValue(n, "phases"), ps[i].Phases)
			}
		}
	}
	phases(mapValue(doc, "phases"), s.Phases)
	if seq := mapValue(doc, "targets"); seq != nil && seq.Kind == yaml.SequenceNode {
		for i, n := range seq.Content {
			if i < len(s.Targets) {
				s.Targets[i].Line = n.Line
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
