package reports

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
)

// ErrSchema means a file is not a report this version of cbload can read: its
// "schema" field is missing or names another version of the contract.
var ErrSchema = errors.New("unsupported report schema")

// ErrMalformed means a file is not valid JSON, or a field does not have the
// type the contract gives it.
var ErrMalformed = errors.New("malformed report")

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
func WriteJSON(w io.Writer, r *Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	b = append(b, '\n')
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
// upgraded on read (see upgradeV1) and has UpgradedFrom set.
func ReadJSON(rd io.Reader) (*Report, error) {
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, err
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
	return &r, nil
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
