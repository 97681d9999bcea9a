package reports_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cbload/cbload/reports"
)

func TestJSONRoundTrip(t *testing.T) {
	want := sample(t)
	var b bytes.Buffer
	if err := reports.WriteJSON(&b, want); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "{\n  \"schema\": \"cbload/report/v2\",") {
		t.Errorf("WriteJSON output starts %q; want indented JSON with the schema first", b.String()[:40])
	}
	got, err := reports.ReadJSON(&b)
	if err != nil {
		t.Fatalf("ReadJSON(WriteJSON(sample)): %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip changed the report (-want +got):\n%s", diff)
	}
}

func TestReadJSONErrors(t *testing.T) {
	tests := []struct {
		name, in string
		is       error
		want     string
	}{
		{"empty", "", reports.ErrMalformed, "malformed report: the file is empty"},
		{"not json", "hello", reports.ErrMalformed, "malformed report: line 1, column 1: invalid character 'h'"},
		{"truncated", "{\n  \"schema\": \"cbload/report/v1\",\n  \"arms\": [", reports.ErrMalformed, "malformed report: line 3, column 11: unexpected end of JSON input"},
		{"array", "[1, 2]", reports.ErrMalformed, "malformed report: line 1, column 1: the document must be an object, not a JSON array"},
		{"no schema", `{"seed": 1}`, reports.ErrSchema, `unsupported report schema: no "schema" field; not a cbload report`},
		{"other version", `{"schema": "cbload/report/v3"}`, reports.ErrSchema, `unsupported report schema "cbload/report/v3": this cbload reads "cbload/report/v2" and "cbload/report/v1"`},
		{"wrong type", "{\"schema\": \"cbload/report/v1\",\n\"seed\": \"42\"}", reports.ErrMalformed, "malformed report: line 2, column 12: seed must be an integer, not a JSON string"},
		{"bad duration", `{"schema": "cbload/report/v1", "config": {"call_timeout": "fast"}}`, reports.ErrMalformed, `malformed report: duration "fast": want a Go duration`},
		{"trailing data", `{"schema": "cbload/report/v1"} {}`, reports.ErrMalformed, "malformed report: line 1, column 32: invalid character '{' after top-level value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := reports.ReadJSON(strings.NewReader(tt.in))
			if !errors.Is(err, tt.is) {
				t.Fatalf("ReadJSON(%q) = %v; want an error wrapping %v", tt.in, err, tt.is)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("ReadJSON(%q) = %q; want it to start %q", tt.in, err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("ReadJSON(%q) error spans lines: %q", tt.in, err)
			}
		})
	}
}

// A v1 report is upgraded on read: its send-time buckets are kept and said
// to be so, its whole-run in-flight peak keeps its meaning under the new
// name, and the fault figure is recomputed from the fault phases.
func TestReadJSONUpgradesV1(t *testing.T) {
	raw, err := os.ReadFile("testdata/report.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var old struct {
		Arms []struct {
			Figures struct {
				InflightPeak int64 `json:"inflight_peak"`
			} `json:"figures"`
			Series []struct {
				Offered int64 `json:"offered"`
			} `json:"series"`
		} `json:"arms"`
	}
	if err := json.Unmarshal(raw, &old); err != nil {
		t.Fatal(err)
	}
	r, err := reports.ReadJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("ReadJSON(v1): %v", err)
	}
	if r.Schema != reports.Schema || r.UpgradedFrom != reports.SchemaV1 || r.Attribution != reports.AttributionSend || r.Validity != nil {
		t.Errorf("upgraded report: schema %q, from %q, attribution %q, validity %v; want %q, %q, %q, nil",
			r.Schema, r.UpgradedFrom, r.Attribution, r.Validity, reports.Schema, reports.SchemaV1, reports.AttributionSend)
	}
	for i, a := range r.Arms {
		if got, want := a.Figures.InflightPeakWholeRun, old.Arms[i].Figures.InflightPeak; got != want {
			t.Errorf("%s: inflight_peak_whole_run = %d; want v1's inflight_peak %d", a.Name, got, want)
		}
		if got, want := a.Figures.InflightPeak, a.Summary["fault"].InflightPeak; got != want {
			t.Errorf("%s: inflight_peak = %d; want the fault phase's %d", a.Name, got, want)
		}
		for j, s := range a.Series {
			if s.Sent != old.Arms[i].Series[j].Offered || s.API.Sent != s.API.Requests {
				t.Errorf("%s second %d: sent %d, /api sent %d of %d; want v1's offered %d and every request sent in its second",
					a.Name, s.T, s.Sent, s.API.Sent, s.API.Requests, old.Arms[i].Series[j].Offered)
				break
			}
		}
	}
	md := render(t, reports.WriteMarkdown, r)
	if !strings.Contains(md, "Not checked: this report was upgraded from cbload/report/v1") {
		t.Errorf("Markdown of an upgraded report does not say validity was not checked:\n%s", md)
	}
}

func TestReadJSONIgnoresUnknownFields(t *testing.T) {
	data, err := os.ReadFile("testdata/report.json")
	if err != nil {
		t.Fatal(err)
	}
	doc := `{"added_later": {"x": 1}, "arms_v3": [1, 2],` + strings.TrimPrefix(strings.TrimSpace(string(data)), "{")
	r, err := reports.ReadJSON(strings.NewReader(doc))
	if err != nil {
		t.Fatalf("ReadJSON with an unknown field: %v", err)
	}
	if want := sample(t).Seed; r.Seed != want {
		t.Errorf("Seed = %d; want %d", r.Seed, want)
	}
}

// TestReadJSONContract feeds reports whose names and enumerations break the
// schema, each as a hostile report.json might: each must be refused with one
// line naming the field.
func TestReadJSONContract(t *testing.T) {
	var base bytes.Buffer
	if err := reports.WriteJSON(&base, sample(t)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(r *reports.Report)
		want   string
	}{
		{"arm name", func(r *reports.Report) { r.Arms[0].Name = "<script>alert(1)</script>" }, `arms[0].name "<script>alert(1)</script>": want a letter`},
		{"arm name fence", func(r *reports.Report) { r.Arms[1].Name = "a```" }, `arms[1].name "a` + "```" + `"`},
		{"config arm", func(r *reports.Report) { r.Config.Arms = []string{"breaker", "x y"} }, `config.arms[1] "x y"`},
		{"target name", func(r *reports.Report) { r.Config.Targets = []reports.Target{{Name: "<b>", URL: "http://127.0.0.1/"}} }, `config.targets[0].name "<b>"`},
		{"phase name", func(r *reports.Report) { r.Phases[1].Name = "<img src=x onerror=alert(1)>" }, `phases[1].name "<img src=x onerror=alert(1)>"`},
		{"summary key", func(r *reports.Report) { r.Arms[0].Summary["a|b"] = reports.PhaseSummary{} }, `arms[0].summary key "a|b"`},
		{"transition from", func(r *reports.Report) { r.Arms[0].Transitions[0].From = "<script>" }, `arms[0].transitions[0].from "<script>": want one of closed, open, half-open, none, unknown`},
		{"transition to", func(r *reports.Report) { r.Arms[0].Transitions[0].To = "opened" }, `arms[0].transitions[0].to "opened"`},
		{"series state", func(r *reports.Report) { r.Arms[1].Series[2].State = "" }, `arms[1].series[2].state ""`},
		{"series phase", func(r *reports.Report) { r.Arms[1].Series[0].Phase = "\n" }, `arms[1].series[0].phase "\n"`},
		{"outcome", func(r *reports.Report) { r.Verdict.Outcome = "great" }, `verdict.outcome "great": want one of prevented`},
		{"exemplar kind", func(r *reports.Report) {
			r.Arms[0].Exemplars = []reports.Exemplar{{Phase: "fault", Kind: "<i>", TraceID: strings.Repeat("a", 32)}}
		}, `arms[0].exemplars[0].kind "<i>"`},
		{"exemplar trace", func(r *reports.Report) {
			r.Arms[0].Exemplars = []reports.Exemplar{{Phase: "fault", Kind: "slowest_api", TraceID: "x)"}}
		}, `arms[0].exemplars[0].trace_id "x)"`},
		{"protocol", func(r *reports.Report) { r.Tracing = &reports.Tracing{Protocol: "<x>"} }, `tracing.protocol "<x>"`},
		{"long value", func(r *reports.Report) { r.Arms[0].Name = strings.Repeat("<", 100) }, `"` + strings.Repeat("<", 40) + `…"`},
		{"several", func(r *reports.Report) { r.Arms[0].Name, r.Arms[1].Name = "<a>", "<b>" }, "(and 1 more)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := reports.ReadJSON(bytes.NewReader(base.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			tt.change(r)
			var b bytes.Buffer
			if err := reports.WriteJSON(&b, r); err != nil {
				t.Fatal(err)
			}
			_, err = reports.ReadJSON(&b)
			if !errors.Is(err, reports.ErrMalformed) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("ReadJSON = %v; want one line wrapping ErrMalformed containing %q", err, tt.want)
			}
		})
	}
}

// TestReadJSONTooLarge checks that reading stops after MaxJSONSize bytes.
func TestReadJSONTooLarge(t *testing.T) {
	zeros := &countingReader{n: 1 << 40}
	_, err := reports.ReadJSON(zeros)
	if !errors.Is(err, reports.ErrTooLarge) || !strings.Contains(err.Error(), "256 MiB") {
		t.Errorf("ReadJSON(endless) = %v; want ErrTooLarge naming the 256 MiB limit", err)
	}
	if read := int64(1<<40) - zeros.n; read > reports.MaxJSONSize+1<<20 {
		t.Errorf("ReadJSON read %d bytes of an endless input; want at most about MaxJSONSize", read)
	}
}

// countingReader yields n spaces.
type countingReader struct{ n int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), c.n)
	for i := range k {
		p[i] = ' '
	}
	c.n -= k
	return int(k), nil
}

// FuzzReadJSON checks that no input makes the report reader panic, that
// every error is one line wrapping ErrSchema or ErrMalformed, and that what
// it accepts renders in every format, with no raw HTML from the input in
// the Markdown.
func FuzzReadJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := reports.ReadJSON(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, reports.ErrSchema) && !errors.Is(err, reports.ErrMalformed) {
				t.Errorf("ReadJSON(%q) = %v; want ErrSchema or ErrMalformed", in, err)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("ReadJSON(%q) error spans lines: %q", in, err)
			}
			return
		}
		for _, w := range []func(io.Writer, *reports.Report) error{reports.WriteJSON, reports.WriteMarkdown, reports.WriteHTML} {
			if err := w(io.Discard, r); err != nil {
				t.Errorf("render of an accepted report %q: %v", in, err)
			}
		}
		var md bytes.Buffer
		_ = reports.WriteMarkdown(&md, r)
		if ps := markdownProblems(md.String()); len(ps) > 0 {
			t.Errorf("Markdown of an accepted report: %s", strings.Join(ps, "; "))
		}
	})
}
