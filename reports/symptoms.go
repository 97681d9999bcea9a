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
	// kind acted on: "payments: 1203 received, error 1203".
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
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
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
}
