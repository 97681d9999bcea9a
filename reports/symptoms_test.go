package reports

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestSymptomRows(t *testing.T) {
	four, tenth := 4.0, 0.05
	r := &Report{
		Phases: []Phase{{Name: "baseline"}, {Name: "fault", Faults: []string{"payments=error:503"}}},
		Arms: []Arm{{Name: "svc", Summary: map[string]PhaseSummary{
			"baseline": {API: Stats{Requests: 100, Outcomes: Outcomes{OK: 100}}, Upstreams: map[string]UpstreamPhase{"payments": {Requests: 100, Injected: map[string]int64{}}}},
			"fault": {API: Stats{Requests: 100, Outcomes: Outcomes{OK: 2, UpstreamError: 98}},
				Upstreams:                     map[string]UpstreamPhase{"payments": {Requests: 400, Injected: map[string]int64{"error": 392}}, "inventory": {Requests: 5, Injected: map[string]int64{}}},
				UpstreamAttemptsPerAPIRequest: &four, UpstreamEffect: EffectAmplification},
		}}, {Name: "old", Summary: map[string]PhaseSummary{"fault": {UpstreamAttemptsPerAPIRequest: &tenth, UpstreamEffect: EffectShedding, Upstreams: map[string]UpstreamPhase{}}}}},
	}
	rows := SymptomRows(r)
	if len(rows) != 3 {
		t.Fatalf("SymptomRows = %+v; want 3 rows", rows)
	}
	f := rows[1]
	if f.Phase != "fault" || f.Arm != "svc" || f.Injected != "inventory: 5 received, no fault; payments: 400 received, error 392" ||
		!strings.Contains(f.Answered, "98") || !strings.HasPrefix(f.Attempts, "4.00 — amplification") {
		t.Errorf("fault row = %+v", f)
	}
	if !strings.HasPrefix(rows[2].Attempts, "0.05 — shedding") {
		t.Errorf("shedding row = %+v", rows[2])
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "### Fault → symptom") || !strings.Contains(md.String(), "| fault | svc | inventory: 5 received, no fault; payments: 400 received, error 392 |") {
		t.Errorf("Markdown lacks the fault → symptom table:\n%s", md.String())
	}
	var html bytes.Buffer
	if err := WriteHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.String(), `id="symptoms"`) || !strings.Contains(html.String(), "payments: 400 received, error 392") {
		t.Errorf("HTML lacks the fault → symptom table")
	}
	if SymptomRows(&Report{Phases: r.Phases, Arms: []Arm{{Name: "x", Summary: map[string]PhaseSummary{"fault": {}}}}}) != nil {
		t.Errorf("rows for a report without upstream counts; want none")
	}
}

// TestSymptomNotes checks that the kinds whose symptom is not their name
// are explained under the fault → symptom table, once each, and only when
// a phase injects them.
func TestSymptomNotes(t *testing.T) {
	r := &Report{
		Phases: []Phase{{Name: "baseline"}, {Name: "cut", Faults: []string{"payments=truncate:1KiB,rate=0.5", "latency:1s"}}, {Name: "tls", Faults: []string{"tls:expired", "truncate"}}},
		Arms: []Arm{{Name: "svc", Summary: map[string]PhaseSummary{
			"cut": {API: Stats{Requests: 10, Outcomes: Outcomes{OK: 10}}, Upstreams: map[string]UpstreamPhase{"payments": {Requests: 10, Injected: map[string]int64{"truncate": 5}}}},
		}}},
	}
	notes := SymptomNotes(r)
	if len(notes) != 2 || !strings.HasPrefix(notes[0], "truncate: answers cut mid-body") || !strings.HasPrefix(notes[1], "tls: failed TLS handshakes") {
		t.Errorf("SymptomNotes = %q; want truncate's, then tls's", notes)
	}
	var md, html bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "- truncate: answers cut mid-body after a 200") {
		t.Errorf("Markdown lacks the truncate note:\n%s", md.String())
	}
	if err := WriteHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.String(), `id="symptom-notes"`) || !strings.Contains(html.String(), "tls: failed TLS handshakes") {
		t.Errorf("HTML lacks the symptom notes")
	}
	if n := SymptomNotes(&Report{Phases: []Phase{{Name: "f", Faults: []string{"latency:1s", "b=error:503"}}}}); n != nil {
		t.Errorf("SymptomNotes for latency and error = %q; want none", n)
	}
}

// TestSymptomRowsGRPC checks that a gRPC upstream's calls are counted by
// method and status code in the fault → symptom table, and that a
// grpc-error fault is explained under it.
func TestSymptomRowsGRPC(t *testing.T) {
	r := &Report{
		Phases: []Phase{{Name: "fault", Faults: []string{"grpc-error:UNAVAILABLE,rate=0.5"}}},
		Arms: []Arm{{Name: "svc", Summary: map[string]PhaseSummary{
			"fault": {API: Stats{Requests: 10, Outcomes: Outcomes{OK: 10}}, Upstreams: map[string]UpstreamPhase{"upstream": {Requests: 10, Injected: map[string]int64{"grpc-error": 4},
				GRPC: map[string]map[string]int64{"/grpc.health.v1.Health/Check": {"OK": 6, "UNAVAILABLE": 4, "CANCELLED": 0}}}}},
		}}},
	}
	rows := SymptomRows(r)
	const want = "upstream: 10 received, grpc-error 4; /grpc.health.v1.Health/Check: OK 6, UNAVAILABLE 4"
	if len(rows) != 1 || rows[0].Injected != want {
		t.Errorf("SymptomRows = %+v; want one row injecting %q", rows, want)
	}
	if notes := SymptomNotes(r); len(notes) != 1 || !strings.HasPrefix(notes[0], "grpc-error: ") {
		t.Errorf("SymptomNotes = %q; want the grpc-error note", notes)
	}
	r.Config.Upstream.GRPC = true
	r.Phases[0].Faults = append(r.Phases[0].Faults, "truncate:100B,rate=0.1", "reset,rate=0.1")
	if notes := SymptomNotes(r); len(notes) != 3 || !strings.HasPrefix(notes[0], "reset: calls whose connection was reset") ||
		!strings.HasPrefix(notes[1], "truncate: calls whose stream was cut mid-message") || !strings.HasPrefix(notes[2], "grpc-error: ") {
		t.Errorf("SymptomNotes over gRPC = %q; want reset's, truncate's and grpc-error's gRPC notes", notes)
	}
	// Every format shows the calls by method and status code.
	const calls = "/grpc.health.v1.Health/Check: OK 6, UNAVAILABLE 4"
	for _, f := range []struct {
		name  string
		write func(io.Writer, *Report) error
		want  string
	}{
		{"terminal", WriteTerminal, "gRPC calls to upstream: " + calls},
		{"markdown", WriteMarkdown, "| fault | svc | " + want + " |"},
		{"html", WriteHTML, calls},
		{"json", WriteJSON, `"grpc": {`},
	} {
		var b bytes.Buffer
		if err := f.write(&b, r); err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		if !strings.Contains(b.String(), f.want) {
			t.Errorf("%s output lacks %q:\n%s", f.name, f.want, b.String())
		}
	}
}

// TestTerminalGRPCMethodsCapped checks that the terminal summary counts the
// calls of a few gRPC methods and points to the report for the rest.
func TestTerminalGRPCMethodsCapped(t *testing.T) {
	calls := map[string]map[string]int64{}
	for i := range 5 {
		calls[fmt.Sprintf("/s.S/M%d", i)] = map[string]int64{"OK": 1}
	}
	r := &Report{
		Phases: []Phase{{Name: "fault", Faults: []string{"latency:1s"}}},
		Arms: []Arm{{Name: "svc", Summary: map[string]PhaseSummary{
			"fault": {API: Stats{Requests: 5, Outcomes: Outcomes{OK: 5}}, Upstreams: map[string]UpstreamPhase{"up": {Requests: 5, Injected: map[string]int64{"latency": 5}, GRPC: calls}}},
		}}},
	}
	var b bytes.Buffer
	if err := WriteTerminal(&b, r); err != nil {
		t.Fatal(err)
	}
	if want := "gRPC calls to up: /s.S/M0: OK 1; /s.S/M1: OK 1; /s.S/M2: OK 1; 2 more methods in report.md\n"; !strings.Contains(b.String(), want) {
		t.Errorf("WriteTerminal lacks %q:\n%s", want, b.String())
	}
}
