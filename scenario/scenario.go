// Package scenario reads cbload's scenario files: YAML that says everything
// the flags of `cbload run` can say. Decoding is strict (an unknown or
// mistyped field is an error) and every error is one line naming the file,
// the line and the field's path, like "load.rate" or "phases[1].faults[0]".
//
// A file looks like this:
//
//	description: what this scenario teaches
//	seed: 7
//	load:     {rate: 200, collateral_share: 0.2, client_timeout: 3s}
//	gateway:  {workers: 32, queue_timeout: 1s, call_timeout: 500ms, local_work: 1ms,
//	           tiers: 1, retries: 0, retry_backoff: 0s}
//	breaker:  {timeout: 2s, max_requests: 3, interval: 10s, bucket_period: 1s,
//	           consecutive_failures: 5, failure_ratio: 0.5, min_requests: 20}
//	retry_budget: {ratio: 10%, window: 10s}
//	throttle: {k: 2, window: 10s}
//	upstream: {service_time: 2ms, jitter: 1ms, addr: 127.0.0.1:9090,
//	           concurrency: 4, queue: 200, honor_cancel: false, tls_dir: cbload-tls}
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
//	output: {dir: out, force: true, junit: junit.xml, progress: never, step_summary: false}
//
// A repeated group's phases are named with the repeat number: down-1, up-1,
// down-2, … so every phase keeps its own summary and threshold paths.
//
// Paths in the file (body_file, targets_file, ca_cert, tls_dir, output) are
// relative to the working directory, as on the command line.
//
// To add a section: add a struct with yaml tags and a field of that type to
// File, and a row to sections (for the "unknown field" message). Fields that
// a flag can override are pointers, so "not in the file" is nil.
package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cbload/cbload/internal/inputfile"
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
	// that one arm can run.
	MaxDuration = time.Hour
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

// File is a decoded scenario file. Build one with ReadFile or Decode.
type File struct {
	Description string      `yaml:"description"`
	Seed        *Int        `yaml:"seed"`
	Load        Load        `yaml:"load"`
	Gateway     Gateway     `yaml:"gateway"`
	Breaker     Breaker     `yaml:"breaker"`
	RetryBudget RetryBudget `yaml:"retry_budget"`
	Throttle    Throttle    `yaml:"throttle"`
	Upstream    Upstream    `yaml:"upstream"`
	// Upstreams maps the names of several dependencies to the addresses
	// their upstreams listen on (--upstream NAME=ADDR); a fault for one is
	// NAME=SPEC.
	Upstreams       map[string]string `yaml:"upstreams"`
	Arms            []string          `yaml:"arms"`
	Targets         []Target          `yaml:"targets"`
	Collateral      *string           `yaml:"collateral"`
	BreakerStateURL *string           `yaml:"breaker_state_url"`
	// BreakerStateMetric and BreakerStateMap select the state on a
	// Prometheus page (--breaker-state-metric, --breaker-state-map).
	BreakerStateMetric *string     `yaml:"breaker_state_metric"`
	BreakerStateMap    *string     `yaml:"breaker_state_map"`
	Request            Request     `yaml:"request"`
	Expect             []string    `yaml:"expect"`
	TLS                TLS         `yaml:"tls"`
	AllowRemote        []string    `yaml:"allow_remote"`
	Phases             []Phase     `yaml:"phases"`
	Thresholds         []Threshold `yaml:"thresholds"`
	Tracing            Tracing     `yaml:"tracing"`
	Output             Output      `yaml:"output"`
	// Trials is how many times each arm runs, interleaved (--trials).
	Trials *Int `yaml:"trials"`
	// ArmMode is how a trial's arms run: sequential or concurrent
	// (--arm-mode).
	ArmMode *string `yaml:"arm_mode"`

	// name is the file's name, for errors found after decoding.
	name string
	// doc is the file's node tree, for the lines of errors found after
	// decoding; nil when the file has no mapping at the top.
	doc *yaml.Node
}

// Load is the load section: the offered load.
type Load struct {
	Rate            *float64  `yaml:"rate"`
	CollateralShare *float64  `yaml:"collateral_share"`
	ClientTimeout   *Duration `yaml:"client_timeout"`
}

// Gateway is the gateway section: the built-in gateway's capacity.
type Gateway struct {
	Workers      *Int      `yaml:"workers"`
	QueueTimeout *Duration `yaml:"queue_timeout"`
	CallTimeout  *Duration `yaml:"call_timeout"`
	LocalWork    *Duration `yaml:"local_work"`
	Tiers        *Int      `yaml:"tiers"`
	Retries      *Int      `yaml:"retries"`
	RetryBackoff *Duration `yaml:"retry_backoff"`
}

// RetryBudget is the retry_budget section: the retry-budget arm's settings.
type RetryBudget struct {
	Ratio  *Share    `yaml:"ratio"`
	Window *Duration `yaml:"window"`
}

// Throttle is the throttle section: the throttle arm's settings.
type Throttle struct {
	K      *float64  `yaml:"k"`
	Window *Duration `yaml:"window"`
}

// Breaker is the breaker section: the circuit breaker's settings.
type Breaker struct {
	Timeout             *Duration `yaml:"timeout"`
	MaxRequests         *Count    `yaml:"max_requests"`
	Interval            *Duration `yaml:"interval"`
	BucketPeriod        *Duration `yaml:"bucket_period"`
	ConsecutiveFailures *Count    `yaml:"consecutive_failures"`
	FailureRatio        *float64  `yaml:"failure_ratio"`
	MinRequests         *Count    `yaml:"min_requests"`
}

// Upstream is the upstream section: the healthy fault server.
type Upstream struct {
	ServiceTime *Duration `yaml:"service_time"`
	Jitter      *Duration `yaml:"jitter"`
	Addr        *string   `yaml:"addr"`
	Concurrency *Int      `yaml:"concurrency"`
	Queue       *Int      `yaml:"queue"`
	HonorCancel *bool     `yaml:"honor_cancel"`
	// TLSDir is --upstream-tls: the folder of the HTTPS upstream's
	// certificate.
	TLSDir *string `yaml:"tls_dir"`
	// GRPC is --upstream-grpc: the upstreams serve gRPC.
	GRPC *bool `yaml:"grpc"`
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

// Tracing is the tracing section; Sample is "auto" or a ratio.
type Tracing struct {
	OTLPEndpoint *string `yaml:"otlp_endpoint"`
	OTLPProtocol *string `yaml:"otlp_protocol"`
	Sample       *string `yaml:"sample"`
	JaegerURL    *string `yaml:"jaeger_url"`
}

// Output is the output section: where the reports go.
type Output struct {
	Dir         *string `yaml:"dir"`
	Force       *bool   `yaml:"force"`
	JUnit       *string `yaml:"junit"`
	Progress    *string `yaml:"progress"`
	StepSummary *bool   `yaml:"step_summary"`
	// Results is a file to stream every raw result to (--results).
	Results *string `yaml:"results"`
	// SummaryTemplate is a text/template rendered over the report into
	// summary.txt (--summary-template).
	SummaryTemplate *string `yaml:"summary_template"`
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
// opening the file as it is; every other error is an *Error.
func ReadFile(ctx context.Context, path string) (*File, error) {
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
	return Decode(path, bytes.NewReader(data))
}

// Decode reads and strictly decodes a scenario file of at most MaxFileSize
// bytes; name is the file's name for error messages. Errors are *Error.
func Decode(name string, r io.Reader) (*File, error) {
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
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	s := File{name: name}
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: name, Msg: "the file is empty"}
		}
		return nil, yamlError(name, err, doc)
	}
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
	return &s, nil
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
		return yamlError(name, err, nil)
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
	if n := len(s.Request.Headers) + len(s.Request.HeaderEnv); n > MaxHeaders {
		path := "request.headers"
		if s.Request.Headers == nil {
			path = "request.header_env"
		}
		return fail(path, n, MaxHeaders, "headers (headers and header_env together)")
	}
	if n := len(s.Expect); n > MaxExpect {
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

// Request is the request section: what is sent to each target (the
// --method, --header, --header-env, --body, --body-file and --targets
// flags). Headers and HeaderEnv map a header's name to its value and to the
// environment variable holding its value.
type Request struct {
	Method      *string           `yaml:"method"`
	Headers     map[string]string `yaml:"headers"`
	HeaderEnv   map[string]string `yaml:"header_env"`
	Body        *string           `yaml:"body"`
	BodyFile    *string           `yaml:"body_file"`
	TargetsFile *string           `yaml:"targets_file"`
}

// TLS is the tls section: how HTTPS targets' certificates are checked.
type TLS struct {
	Insecure *bool   `yaml:"insecure"`
	CACert   *string `yaml:"ca_cert"`
}
