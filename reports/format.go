package reports

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// This file holds the formatting shared by the Markdown and HTML renderers,
// so both say the same thing in the same words.

// headline is the first line of a rendered report: the verdict's outcome in
// a few words, and whether the run was cut short.
func headline(r *Report) string {
	label := outcomeLabel(r.Verdict.Outcome)
	if failed := r.Validity.Failed(); len(failed) > 0 {
		label += " · not valid: " + failed[0].Name
	}
	if r.Partial {
		return "Partial run · " + strings.ToLower(label[:1]) + label[1:]
	}
	return label
}

func outcomeLabel(outcome string) string { return verdictOutcome(outcome).Label }

// outcomeEmoji marks the outcome in Markdown, where there is no colour.
func outcomeEmoji(r *Report) string {
	if r.Partial || len(r.Validity.Failed()) > 0 {
		return "⚠️"
	}
	return verdictOutcome(r.Verdict.Outcome).Emoji
}

// partialNote explains a partial report in one sentence, or returns "".
func partialNote(r *Report) string {
	if !r.Partial {
		return ""
	}
	why := r.PartialReason
	if why == "" {
		why = "no reason recorded"
	}
	return fmt.Sprintf("This run did not finish (%s): the report holds what was measured until it stopped.", why)
}

// faultText lists the faults of the fault phase.
func faultText(r *Report) string {
	fp := r.FaultPhase()
	if fp == nil {
		return "none"
	}
	return strings.Join(fp.Faults, ", ")
}

// phasesText is the schedule in one line: "baseline 0–3 s · fault 3–11 s …".
func phasesText(r *Report) string {
	var parts []string
	for _, p := range r.Phases {
		parts = append(parts, fmt.Sprintf("%s %s–%s s", p.Name, num(p.StartS), num(p.EndS)))
	}
	return strings.Join(parts, " · ")
}

// Percent formats a ratio in [0,1] as a percentage with one decimal, never
// rounding a ratio below 1 up to 100%: a report must not call 99.96%
// success "100%".
func Percent(v float64) string {
	s := strconv.FormatFloat(v*100, 'f', 1, 64) + "%"
	if v < 1 && s == "100.0%" {
		s = "99.9%"
	}
	return s
}

// ratio formats ok/n as a percentage, or "—" when n is zero.
func ratio(ok, n int64) string {
	if n == 0 {
		return "—"
	}
	return Percent(float64(ok) / float64(n))
}

// Millis formats a latency given in milliseconds, the one way every report
// and summary shows latency: milliseconds below 1 s ("2.45 ms", "259.1 ms")
// and seconds from 1 s up ("1.00 s"), never "1003.5 ms".
func Millis(v float64) string {
	switch {
	case v == 0:
		return "0 ms"
	case v < 9.995: // would round to "10.00 ms"
		return strconv.FormatFloat(v, 'f', 2, 64) + " ms"
	case v < 999.95: // would round to "1000.0 ms"
		return strconv.FormatFloat(v, 'f', 1, 64) + " ms"
	default:
		return strconv.FormatFloat(v/1000, 'f', 2, 64) + " s"
	}
}

// secs formats an optional duration in seconds; nil means it never happened.
func secs(v *float64) string {
	if v == nil {
		return "never"
	}
	return Seconds(*v)
}

// Seconds formats a time in seconds at the 10 ms precision cbload dates
// transitions and recoveries with, like "1.60 s".
func Seconds(v float64) string {
	return strconv.FormatFloat(v, 'f', 2, 64) + " s"
}

// num formats a number without trailing zeros.
func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// count formats an integer with thin thousands separators for reading.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// outcomeText lists the non-zero outcome counts: "ok 482 · timeout 45".
func outcomeText(o Outcomes) string {
	var parts []string
	for _, oc := range OutcomeClasses {
		if n := oc.Get(o); n > 0 {
			parts = append(parts, oc.Key+" "+count(n))
		}
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, " · ")
}

// validityRow is one validity check as the renderers show it.
type validityRow struct {
	Name, Arm, Measured, Limit, Message string
	Pass                                bool
}

// validityRows lists the checks, failed ones first, each with its value
// and limit formatted in its unit.
func validityRows(r *Report) []validityRow {
	if r.Validity == nil {
		return nil
	}
	var failed, passed []validityRow
	for _, c := range r.Validity.Checks {
		row := validityRow{Name: c.Name, Arm: c.Arm, Measured: unitValue(c.Value, c.Unit), Limit: checkLimit(c), Message: c.Message, Pass: c.Pass}
		if c.Pass {
			passed = append(passed, row)
		} else {
			failed = append(failed, row)
		}
	}
	return append(failed, passed...)
}

func checkLimit(c ValidityCheck) string {
	switch c.Name {
	case CheckOfferedRate:
		return "within " + unitValue(c.Limit, c.Unit) + " every second"
	case CheckBaselineHealthy:
		return "≥ " + unitValue(c.Limit, c.Unit)
	case CheckUpstreamReached:
		return "≥ " + unitValue(c.Limit, c.Unit)
	case CheckNoStall:
		return "no gap > " + unitValue(c.Limit, c.Unit)
	case CheckCPU:
		return "≤ " + unitValue(c.Limit, c.Unit) + " at p99, all but the worst seconds"
	}
	return "≤ " + unitValue(c.Limit, c.Unit)
}

func unitValue(v float64, unit string) string {
	switch unit {
	case "ratio":
		return Percent(v)
	case "ms":
		return Millis(v)
	}
	return count(int64(v))
}

// validityNote says in one sentence why the verdict is withheld, or "".
func validityNote(r *Report) string {
	failed := r.Validity.Failed()
	if len(failed) == 0 {
		return ""
	}
	c := failed[0]
	return fmt.Sprintf("The experiment was not valid: %s failed for the %s arm (measured %s; limit: %s), so there is no verdict.",
		c.Name, c.Arm, unitValue(c.Value, c.Unit), checkLimit(c))
}

// attributionText explains how requests are attributed to seconds and
// phases, for "How to read this".
func attributionText(r *Report) string {
	if r.Attribution == AttributionSend {
		return "This report was upgraded from " + r.UpgradedFrom + ", which counted every request in the second and phase it was sent in."
	}
	return "Every outcome and latency counts in the second and phase the request completed in, so the fault is never credited with answers given after it ended; sent and scheduled counts are by send time."
}

// figureValue formats key figure kf for arm a; with several trials, the
// median followed by the range over the trials.
func figureValue(r *Report, kf keyFigure, a *Arm) string {
	if kf.fig != nil && kf.fig.AtUpstream && r.Config.Upstream.External {
		return "unknown" // another process runs it
	}
	v := kf.value(a)
	ta := r.Trials.TrialArm(a.Name)
	if ta == nil {
		return v
	}
	lo, hi := *a, *a
	lo.Figures, hi.Figures = ta.Min, ta.Max
	l, h := kf.value(&lo), kf.value(&hi)
	if l == v && h == v {
		return v
	}
	return fmt.Sprintf("%s (%s–%s)", v, l, h)
}

// figuresHeading heads the key figures' column of labels: with several
// trials, that the values are medians with their range.
func figuresHeading(r *Report) string {
	if r.Trials == nil {
		return "Figure"
	}
	return fmt.Sprintf("Figure (median of %d trials, min–max)", r.Trials.N)
}

// keyFigure is one row of the A/B comparison: a catalogue figure's label,
// hint and formatter. Label and hint are written in the built-in gateway's
// words (Terms.Label rewrites them); targetHint, when set, replaces the
// hint for a user's service.
type keyFigure struct {
	label      string
	hint       string
	value      func(a *Arm) string
	targetHint string
	fig        *Figure
}

// figureGroup is a set of key figures that apply to the same stretch of the
// run, shown under one heading so that, say, the time to recover is not read
// as something measured during the fault.
type figureGroup struct {
	id, title string
	figures   []keyFigure
}

// keyFigureGroups are the numbers compared between arms: the catalogue's
// figures with a group, grouped by when they apply, in the order shown.
// The first figure of the first group is the lead: the cascade evidence.
var keyFigureGroups = func() []figureGroup {
	var out []figureGroup
	for _, g := range FigureGroups {
		fg := figureGroup{id: g.ID, title: g.Title}
		for i := range Catalogue {
			if f := &Catalogue[i]; f.Group == g.ID {
				fg.figures = append(fg.figures, keyFigure{label: f.Label, hint: f.Hint, value: f.Text, targetHint: f.TargetHint, fig: f})
			}
		}
		slices.SortStableFunc(fg.figures, func(a, b keyFigure) int { return cmp.Compare(a.fig.Order, b.fig.Order) })
		out = append(out, fg)
	}
	return out
}()

// exemplarLinks says whether the exemplar traces can be linked to the
// tracing backend: only when spans reached the collector, since a link to a
// trace that was never exported opens nothing. why explains a missing or
// doubtful link in one sentence, or is "".
func exemplarLinks(r *Report) (links bool, why string) {
	tr := r.Tracing
	switch {
	case tr == nil || !tr.Enabled:
		return false, "No links: tracing was off, so no trace was exported."
	case tr.SpansExported == 0:
		why = fmt.Sprintf("No links: no span reached the collector (%s dropped, %s refused)", count(tr.SpansDropped), count(tr.SpansFailed))
		if tr.LastError != "" {
			why += "; last export error: " + tr.LastError
		}
		return false, why + "."
	case tr.SpansDropped > 0 || tr.SpansFailed > 0:
		return true, fmt.Sprintf("Some spans were not exported (%s dropped, %s refused): a linked trace may be incomplete or missing.", count(tr.SpansDropped), count(tr.SpansFailed))
	}
	return true, ""
}

// AttemptsPerRequest formats an arm's attempts reaching the upstream per
// /api request during the fault, or "—" when the report does not have it
// (a report written before cbload measured it).
func AttemptsPerRequest(a *Arm) string {
	f := a.Figures
	if f.AttemptsPerRequestDuringFault == 0 && f.UpstreamRequestsDuringFault > 0 {
		return "—"
	}
	return strconv.FormatFloat(f.AttemptsPerRequestDuringFault, 'f', 2, 64) + "×"
}

// AfterTrigger formats the metastability rule's finding for an arm:
// "back in 1.30 s" (formatted like the other times), "stuck" (it did not recover), or "—" when the rule does
// not apply.
func AfterTrigger(a *Arm) string {
	t := a.Figures.AfterTrigger
	switch {
	case t == nil:
		return "—"
	case t.Recovered && t.TimeToRecoverS != nil:
		return "back in " + secs(t.TimeToRecoverS)
	case t.Recovered:
		return "back"
	}
	return "stuck"
}
