package reports

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// SymptomRow is one line of the fault → symptom account: for one arm and
// phase, what the upstreams injected and what the service under test
// answered. Renderers show it; it is built from the report's summaries,
// never measured anew.
type SymptomRow struct {
	Arm, Phase string
	// Injected says, per upstream, what it received and what each fault
	// kind acted on: "payments: 1203 received, error 1203"; for a gRPC
	// upstream also its calls by method and status code: "…;
	// /grpc.health.v1.Health/Check: OK 600, UNAVAILABLE 603".
	Injected string
	// Answered is the /api outcomes: "ok 12 · upstream 5xx 1191".
	Answered string
	// Attempts is the upstream attempts per /api request and what they
	// show: "4.00 — amplification (retries)".
	Attempts string
}

// effectText says in words what an Effect means.
var effectText = map[string]string{
	EffectBaseline:      "baseline",
	EffectAsBaseline:    "as in the baseline",
	EffectAmplification: "amplification: more calls per request than in the baseline (retries)",
	EffectShedding:      "shedding: fewer calls per request than in the baseline (a breaker, a queue or a fallback skipped them)",
}

// unknownAttempts says why a phase's attempts are unknown.
const unknownAttempts = "unknown — an upstream refused connections or failed TLS handshakes, so the calls the service tried were never requests it could count"

// SymptomRows returns the fault → symptom rows of every arm and phase that
// has upstream counts, in phase order, or nil when no phase has them. With
// an external upstream (another process runs it, as for the shards of a
// run) every phase has a row, its injected faults and attempts unknown.
func SymptomRows(r *Report) []SymptomRow {
	var rows []SymptomRow
	for _, p := range r.Phases {
		for _, a := range r.Arms {
			s, ok := a.Summary[p.Name]
			if !ok || (s.Upstreams == nil && !r.Config.Upstream.External) {
				continue
			}
			row := SymptomRow{Arm: a.Name, Phase: p.Name, Injected: injectedText(s.Upstreams), Answered: outcomeText(s.API.Outcomes)}
			row.Attempts = "—"
			switch v := s.UpstreamAttemptsPerAPIRequest; {
			case s.Upstreams == nil:
				row.Injected, row.Attempts = ExternalInjected, "unknown"
			case v != nil:
				row.Attempts = fmt.Sprintf("%.2f — %s", *v, effectText[s.UpstreamEffect])
			case s.UpstreamEffect == EffectUnknown:
				row.Attempts = unknownAttempts
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// ExternalInjected is the injected column of a row whose upstream another
// process runs.
const ExternalInjected = "unknown: the upstream is run by another process (external), which counts what it injects — once for the whole run when shards share it (cbload serve's /stats)"

func injectedText(ups map[string]UpstreamPhase) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(ups)) {
		u := ups[name]
		s := fmt.Sprintf("%s: %s received", name, count(u.Requests))
		if len(u.Injected) == 0 {
			s += ", no fault"
		}
		for _, k := range slices.Sorted(maps.Keys(u.Injected)) {
			s += fmt.Sprintf(", %s %s", k, count(u.Injected[k]))
		}
		for _, m := range grpcMethodsText(u.GRPC) {
			s += "; " + m
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// grpcMethodsText says, for each method of a gRPC upstream's calls in
// name order, its calls by status code: "/shop.Payments/Charge: OK 6,
// UNAVAILABLE 4". Methods without a call are left out.
func grpcMethodsText(calls map[string]map[string]int64) []string {
	var out []string
	for _, m := range slices.Sorted(maps.Keys(calls)) {
		var codes []string
		for _, c := range slices.Sorted(maps.Keys(calls[m])) {
			if n := calls[m][c]; n > 0 {
				codes = append(codes, fmt.Sprintf("%s %s", c, count(n)))
			}
		}
		if len(codes) > 0 {
			out = append(out, fmt.Sprintf("%s: %s", m, strings.Join(codes, ", ")))
		}
	}
	return out
}

// grpcErrorSymptom is grpc-error's note.
const grpcErrorSymptom = "calls ended with the gRPC status code — a client sees a status error; a breaker counts it only if it counts that code (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED usually)"

// kindSymptoms says, for the fault kinds whose symptom is not their name,
// what a client of the upstream sees: what the service under test met on
// its calls, to read its answers by: text for an HTTP upstream, grpc for a
// gRPC one; a kind with no text there has no note.
var kindSymptoms = []struct{ kind, text, grpc string }{
	{"reset", "", "calls whose connection was reset — a client sees UNAVAILABLE for them and for every other call in flight on that connection, so more calls may fail than the rate says"},
	{"truncate", "answers cut mid-body after a 200 — a client sees unexpected EOF only if it reads the body; one that checks the status alone (and its breaker) takes them for successes",
		"calls whose stream was cut mid-message (the answer's headers and part of its message, then the connection closed) — a client sees UNAVAILABLE, as for every other call in flight on that connection"},
	{"empty", "connections closed without an answer — a client sees EOF, a failure for any breaker", ""},
	{"garbage", "bytes that are not HTTP instead of an answer — a client sees a malformed HTTP response, a failure for any breaker", ""},
	{"slowclose", "whole answers whose end (the close) comes late — a client whose timeout does not cover the body fails after a 200, which a breaker looking at the status counts a success", ""},
	{"slowupload", "request bodies read at a low bandwidth — answers come late, or the client's timeout fires while it sends", ""},
	{"grpc-error", grpcErrorSymptom, grpcErrorSymptom},
	{"tls", "failed TLS handshakes (an alert, an expired certificate, another name) — no request reached the upstream, so they are not in its received count; every client fails, and a breaker counts it", ""},
}

// SymptomNotes returns, for each fault kind of the report's phases whose
// symptom needs saying, "kind: what a client sees", in a fixed order; nil
// when there is none.
func SymptomNotes(r *Report) []string {
	used := map[string]bool{}
	for _, p := range r.Phases {
		for _, f := range p.Faults {
			spec := f
			// "NAME=SPEC": in a spec itself '=' only follows a ','.
			if name, rest, ok := strings.Cut(f, "="); ok && !strings.ContainsAny(name, ",:") {
				spec = rest
			}
			kind, _, _ := strings.Cut(strings.SplitN(spec, ",", 2)[0], ":")
			used[strings.TrimSpace(kind)] = true
		}
	}
	var notes []string
	for _, k := range kindSymptoms {
		text := k.text
		if r.Config.Upstream.GRPC {
			text = k.grpc
		}
		if used[k.kind] && text != "" {
			notes = append(notes, k.kind+": "+text)
		}
	}
	return notes
}

// writeMarkdownSymptoms writes the fault → symptom table.
func writeMarkdownSymptoms(b *bytes.Buffer, r *Report) {
	rows := SymptomRows(r)
	if len(rows) == 0 {
		return
	}
	b.WriteString("### Fault → symptom\n\n")
	api := mdEscape(TermsOf(r.Config).API)
	fmt.Fprintf(b, "What each upstream received and injected, what the service answered on %[1]s, and the upstream attempts per %[1]s request.\n\n", api)
	fmt.Fprintf(b, "| Phase | Arm | Upstream: received, injected | %[1]s answered | Attempts per %[1]s request |\n|---|---|---|---|---|\n", api)
	for _, row := range rows {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", mdEscape(row.Phase), mdEscape(row.Arm), mdEscape(row.Injected), mdEscape(row.Answered), mdEscape(row.Attempts))
	}
	b.WriteString("\n")
	if notes := SymptomNotes(r); len(notes) > 0 {
		for _, n := range notes {
			fmt.Fprintf(b, "- %s\n", mdEscape(n))
		}
		b.WriteString("\n")
	}
}
