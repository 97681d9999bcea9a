package reports

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ErrSchema means a file is not a report this version of cbload can read: its
// "schema" field is missing or names another version of the contract.
var ErrSchema = errors.New("unsupported report schema")

// ErrMalformed means a file is not valid JSON, a field does not have the
// type the contract gives it, or a name or enumerated value is not one the
// contract allows.
var ErrMalformed = errors.New("malformed report")

// ErrTooLarge means a report is larger than MaxJSONSize.
var ErrTooLarge = errors.New("report too large")

// MaxJSONSize is the largest report.json ReadJSON reads, and WriteJSON
// writes. The largest run the caps allow (8 arms of 1 h, 200 phases, full
// error sets; TestLargestReportReadsBack) writes about 120 MiB without its
// per-second histograms and 160 MiB with them at the density of cbload's
// default run; with every histogram bucket full it would be about 750 MiB,
// and FitJSON leaves the histograms out.
const MaxJSONSize = 256 << 20

// JSONSchema is the JSON Schema (draft 2020-12) of the cbload/report/v2
// contract, the same document as reports/schema/report.v2.schema.json.
//
//go:embed schema/report.v2.schema.json
var JSONSchema []byte

// JSONSchemaV1 is the schema of the previous contract, cbload/report/v1,
// which ReadJSON still reads.
//
//go:embed schema/report.v1.schema.json
var JSONSchemaV1 []byte

// WriteJSON writes r as indented JSON, the report.json that CI jobs parse.
// It refuses, with ErrTooLarge, a report larger than MaxJSONSize, which
// ReadJSON could not read back; FitJSON makes room first.
func WriteJSON(w io.Writer, r *Report) error { return writeJSON(w, r, MaxJSONSize) }

// writeJSON is WriteJSON with the limit as a parameter, for tests.
func writeJSON(w io.Writer, r *Report, limit int) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	b = append(b, '\n')
	if len(b) > limit {
		return fmt.Errorf("%w: %s, over the %s that cbload report, compare and merge read", ErrTooLarge, mebibytes(len(b)), mebibytes(limit))
	}
	_, err = w.Write(b)
	return err
}

// ReadJSON decodes a report written by WriteJSON. Errors about the content
// wrap ErrSchema (a missing or unknown "schema") or ErrMalformed (invalid
// JSON, wrong field types) and fit on one line; errors reading rd are
// returned as they are.
//
// Unknown fields are ignored: additive changes keep the schema version, so an
// older cbload can read a newer v2 report. A cbload/report/v1 report is
// upgraded on read (see readV1) and has UpgradedFrom set.
//
// The report is checked against the contract (Validate): names (arms,
// phases, targets) and enumerations, so that a hostile file cannot smuggle
// markup into the renderers; ranges and counts, so that merge, compare and
// the renderers allocate and loop only as much as a real run needs; and
// the run's invariants, so that no data is dropped without a word. Reading
// stops after MaxJSONSize bytes with ErrTooLarge.
func ReadJSON(rd io.Reader) (*Report, error) {
	data, err := io.ReadAll(io.LimitReader(rd, MaxJSONSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxJSONSize {
		return nil, fmt.Errorf("%w: larger than the %d MiB limit", ErrTooLarge, MaxJSONSize>>20)
	}
	var head struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, malformed(data, err)
	}
	switch {
	case head.Schema == nil:
		return nil, fmt.Errorf("%w: no \"schema\" field; not a cbload report", ErrSchema)
	case *head.Schema == SchemaV1:
		return readV1(data)
	case *head.Schema != Schema:
		return nil, fmt.Errorf("%w %q: this cbload reads %q and %q", ErrSchema, *head.Schema, Schema, SchemaV1)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, malformed(data, err)
	}
	if err := Validate(&r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return &r, nil
}

// readV1 reads a cbload/report/v1 report and upgrades it to the current
// contract. v1 bucketed every count by send time, so each bucket's Sent is
// its Requests and each second's Sent its "offered"; it had no schedule, no
// validity checks, no load generator figures, and no p95, mean, status
// codes, error set or bytes, which stay empty (renderers and thresholds
// call them unknown, as UpgradedFrom is set). Its
// figures.inflight_peak covered the whole run: it becomes
// InflightPeakWholeRun, and InflightPeak is recomputed over the fault
// phases from the per-phase peaks.
func readV1(data []byte) (*Report, error) {
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, malformed(data, err)
	}
	var old struct {
		Arms []struct {
			Series []struct {
				Offered int64 `json:"offered"`
			} `json:"series"`
		} `json:"arms"`
	}
	if err := json.Unmarshal(data, &old); err != nil {
		return nil, malformed(data, err)
	}
	r.UpgradedFrom, r.Schema, r.Attribution = SchemaV1, Schema, AttributionSend
	r.Config.Trials = 1
	for i := range r.Arms {
		a := &r.Arms[i]
		for j := range a.Series {
			s := &a.Series[j]
			if i < len(old.Arms) && j < len(old.Arms[i].Series) {
				s.Sent = old.Arms[i].Series[j].Offered
			}
			s.API.Sent, s.Collateral.Sent = s.API.Requests, s.Collateral.Requests
		}
		// v1 recorded no status codes, error set or bytes: empty, and shown
		// as unknown because UpgradedFrom is set.
		for name, ps := range a.Summary {
			for _, st := range []*Stats{&ps.API, &ps.Collateral} {
				st.StatusCodes, st.Errors = map[string]int64{}, []ErrorCount{}
			}
			a.Summary[name] = ps
		}
		a.Figures.InflightPeakWholeRun = a.Figures.InflightPeak
		a.Figures.InflightPeak = 0
		for _, p := range r.Phases {
			if len(p.Faults) > 0 {
				a.Figures.InflightPeak = max(a.Figures.InflightPeak, a.Summary[p.Name].InflightPeak)
			}
		}
	}
	if err := Validate(&r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return &r, nil
}

// Patterns and enumerations of the contract, as the JSON Schema states them.
var (
	nameRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
	kindRE    = regexp.MustCompile(`^[a-z][a-z_]*$`)
	traceIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)
	states    = []string{StateClosed, StateOpen, StateHalfOpen, StateNone, StateUnknown}
	protocols = []string{"", "grpc", "http/protobuf"}
	// validityChecks are the names a validity check may have.
	validityChecks = []string{CheckOfferedRate, CheckSendLag, CheckNoStall, CheckResourceErrors, CheckBaselineHealthy, CheckUpstreamReached, CheckCPU}
)

// checkContract checks the names and enumerated values of r, which the
// renderers put into Markdown, HTML and mermaid.
func checkContract(r *Report) error {
	name := func(path, v string) error {
		if !nameRE.MatchString(v) {
			return fmt.Errorf("%s %s: want a letter followed by letters, digits, _ or -", path, shortQuote(v))
		}
		return nil
	}
	oneOf := func(path, v string, allowed []string) error {
		if !slices.Contains(allowed, v) {
			return fmt.Errorf("%s %s: want one of %s", path, shortQuote(v), strings.Join(allowed, ", "))
		}
		return nil
	}
	var first error
	more := 0
	add := func(err error) {
		switch {
		case err == nil:
		case first == nil:
			first = err
		default:
			more++
		}
	}
	for i, a := range r.Config.Arms {
		add(name(fmt.Sprintf("config.arms[%d]", i), a))
	}
	for i, t := range r.Config.Targets {
		add(name(fmt.Sprintf("config.targets[%d].name", i), t.Name))
	}
	for i, p := range r.Phases {
		add(name(fmt.Sprintf("phases[%d].name", i), p.Name))
	}
	for i, a := range r.Arms {
		at := fmt.Sprintf("arms[%d]", i)
		add(name(at+".name", a.Name))
		for _, k := range slices.Sorted(maps.Keys(a.Summary)) {
			add(name(at+".summary key", k))
		}
		for j, t := range a.Transitions {
			add(oneOf(fmt.Sprintf("%s.transitions[%d].from", at, j), t.From, states))
			add(oneOf(fmt.Sprintf("%s.transitions[%d].to", at, j), t.To, states))
		}
		for j, s := range a.Series {
			add(name(fmt.Sprintf("%s.series[%d].phase", at, j), s.Phase))
			add(oneOf(fmt.Sprintf("%s.series[%d].state", at, j), s.State, states))
		}
		for j, e := range a.Exemplars {
			ex := fmt.Sprintf("%s.exemplars[%d]", at, j)
			add(name(ex+".phase", e.Phase))
			if !kindRE.MatchString(e.Kind) {
				add(fmt.Errorf("%s.kind %s: want lower-case letters and _", ex, shortQuote(e.Kind)))
			}
			if !traceIDRE.MatchString(e.TraceID) {
				add(fmt.Errorf("%s.trace_id %s: want 32 lower-case hex digits", ex, shortQuote(e.TraceID)))
			}
		}
	}
	if v := r.Validity; v != nil {
		for i, c := range v.Checks {
			add(oneOf(fmt.Sprintf("validity.checks[%d].name", i), c.Name, validityChecks))
			add(name(fmt.Sprintf("validity.checks[%d].arm", i), c.Arm))
		}
	}
	if t := r.Trials; t != nil {
		for i, a := range t.Arms {
			add(name(fmt.Sprintf("trials.arms[%d].name", i), a.Name))
		}
		for i, o := range t.Outcomes {
			add(oneOf(fmt.Sprintf("trials.outcomes[%d]", i), o, outcomes))
		}
	}
	if r.Verdict.Outcome != "" { // absent in a report cut short
		add(oneOf("verdict.outcome", r.Verdict.Outcome, outcomes))
	}
	if r.Tracing != nil {
		add(oneOf("tracing.protocol", r.Tracing.Protocol, protocols))
	}
	if first == nil || more == 0 {
		return first
	}
	return fmt.Errorf("%v (and %d more)", first, more)
}

// shortQuote quotes v for a one-line message, shortened to 40 runes.
func shortQuote(v string) string {
	if r := []rune(v); len(r) > 40 {
		v = string(r[:40]) + "…"
	}
	return strconv.Quote(v)
}

// malformed describes a decoding error on one line, with the position of a
// syntax or type error as line:column.
func malformed(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		return fmt.Errorf("%w: the file is empty", ErrMalformed)
	case errors.As(err, &syn):
		line, col := position(data, syn.Offset)
		return fmt.Errorf("%w: line %d, column %d: %v", ErrMalformed, line, col, syn)
	case errors.As(err, &typ):
		line, col := position(data, typ.Offset)
		field := typ.Field
		if field == "" {
			field = "the document"
		}
		return fmt.Errorf("%w: line %d, column %d: %s must be %s, not a JSON %s", ErrMalformed, line, col, field, jsonKind(typ.Type), typ.Value)
	}
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}

// jsonKind names what a Go type looks like in JSON.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}

// position converts the offset json reports (the bytes read when the error
// was found) into the 1-based line and column of the last byte read.
func position(data []byte, off int64) (line, col int) {
	off = min(max(off-1, 0), int64(len(data)))
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}
