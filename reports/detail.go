package reports

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cbload/cbload/internal/printable"
)

// This file formats the request details every renderer shows the same way:
// latency p50/p95/p99/max/mean, status codes, the error set and bytes.

// LatencyText formats a latency summary on one line:
// "p50 2.70 ms · p95 3.47 ms · p99 4.32 ms · max 5.72 ms · mean 2.82 ms".
// Upgraded v1 reports, which lacked p95 and the mean, show them as unknown.
func LatencyText(r *Report, l Latency) string {
	p95, mean := Millis(l.P95), Millis(l.Mean)
	if r.UpgradedFrom != "" {
		p95, mean = "unknown", "unknown"
	}
	return "p50 " + Millis(l.P50) + " · p95 " + p95 + " · p99 " + Millis(l.P99) + " · max " + Millis(l.Max) + " · mean " + mean
}

// StatusCodesText lists the status codes in numeric order with their
// counts: "200 ×162 · 503 ×418"; "0" is a request without a response.
// It is "unknown" for a report upgraded from v1 and "—" without requests.
func StatusCodesText(r *Report, s Stats) string {
	if r.UpgradedFrom != "" {
		return "unknown"
	}
	if len(s.StatusCodes) == 0 {
		return "—"
	}
	codes := sortedCodes(s.StatusCodes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		label := c
		if c == "0" {
			label = "no response"
		}
		parts[i] = label + " ×" + count(s.StatusCodes[c])
	}
	return strings.Join(parts, " · ")
}

// sortedCodes returns the status codes in numeric order: they are decimal
// numbers without leading zeros.
func sortedCodes(m map[string]int64) []string {
	codes := make([]string, 0, len(m))
	for c := range m {
		codes = append(codes, c)
	}
	slices.SortFunc(codes, func(x, y string) int { return cmp.Or(cmp.Compare(len(x), len(y)), cmp.Compare(x, y)) })
	return codes
}

// ErrorSetText lists at most top error texts, each cut at width bytes
// (0: whole), with their counts, then how many more texts and requests in
// the "other" bucket there were: "503 Service Unavailable ×418 · 1 more
// text ×36". It is "none" without errors, "unknown" for a v1 report.
func ErrorSetText(r *Report, s Stats, top, width int) string {
	if r.UpgradedFrom != "" {
		return "unknown"
	}
	if len(s.Errors) == 0 && s.ErrorsOther == 0 {
		return "none"
	}
	var parts []string
	var restN, restC int64
	for i, e := range s.Errors {
		if i >= top {
			restN++
			restC += e.Count
			continue
		}
		// A report file's text, maybe from an older cbload: escaped.
		text := printable.String(e.Error, 0)
		if width > 0 && len(text) > width {
			cut := width
			for cut > 0 && text[cut]&0xC0 == 0x80 {
				cut--
			}
			text = text[:cut] + "…"
		}
		parts = append(parts, text+" ×"+count(e.Count))
	}
	if restN > 0 {
		parts = append(parts, count(restN)+" more "+plural(restN, "text", "texts")+" ×"+count(restC))
	}
	if s.ErrorsOther > 0 {
		parts = append(parts, "other (beyond the first "+strconv.Itoa(MaxErrorTexts)+" texts) ×"+count(s.ErrorsOther))
	}
	return strings.Join(parts, " · ")
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Bytes formats a byte count in binary units: "512 B", "25.0 KiB", "3.2 MiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, i := float64(n), 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + [...]string{"", "KiB", "MiB", "GiB", "TiB"}[i]
}

// BytesText is "in / out" for a phase's requests, or "unknown" for a v1
// report.
func BytesText(r *Report, s Stats) string {
	if r.UpgradedFrom != "" {
		return "unknown"
	}
	return Bytes(s.BytesIn) + " / " + Bytes(s.BytesOut)
}

// TrialScope says which trial per-phase details come from: "" for a single
// trial, " (trial 1 of N)" when there were several, whose summaries are
// trial 1's.
func TrialScope(r *Report) string {
	if r.Trials == nil {
		return ""
	}
	return fmt.Sprintf(" (trial 1 of %d)", r.Trials.N)
}

// detailRow is one endpoint of one arm in one phase, as the renderers show
// its details.
type detailRow struct {
	Phase, Arm, Endpoint string
	Stats                Stats
}

// detailRows lists, phase by phase and arm by arm, the api then the
// collateral endpoint (named in r's terms), every endpoint that had
// requests.
func detailRows(r *Report) []detailRow {
	var out []detailRow
	t := TermsOf(r.Config)
	for _, p := range r.Phases {
		for _, a := range r.Arms {
			s, ok := a.Summary[p.Name]
			if !ok {
				continue
			}
			for _, e := range []struct {
				name  string
				stats Stats
			}{{t.API, s.API}, {t.Collateral, s.Collateral}} {
				if e.stats.Requests > 0 {
					out = append(out, detailRow{Phase: p.Name, Arm: a.Name, Endpoint: e.name, Stats: e.stats})
				}
			}
		}
	}
	return out
}

// htmlDetail is one row of the HTML report's "Requests in detail" table,
// every value formatted.
type htmlDetail struct {
	Phase, Arm, Endpoint, Requests string
	P50, P95, P99, Max, Mean       string
	Codes, Bytes                   string
	// Errors lists the whole error set, one text with its count each.
	Errors []string
}

// htmlDetails builds the HTML report's detail rows from detailRows.
func htmlDetails(r *Report) []htmlDetail {
	var out []htmlDetail
	for _, d := range detailRows(r) {
		l := d.Stats.LatencyMS
		h := htmlDetail{Phase: d.Phase, Arm: d.Arm, Endpoint: d.Endpoint, Requests: count(d.Stats.Requests),
			P50: Millis(l.P50), P95: Millis(l.P95), P99: Millis(l.P99), Max: Millis(l.Max), Mean: Millis(l.Mean),
			Codes: StatusCodesText(r, d.Stats), Bytes: BytesText(r, d.Stats)}
		if r.UpgradedFrom != "" {
			h.P95, h.Mean = "unknown", "unknown"
		}
		for _, e := range d.Stats.Errors {
			h.Errors = append(h.Errors, e.Error+" ×"+count(e.Count))
		}
		if d.Stats.ErrorsOther > 0 {
			h.Errors = append(h.Errors, "other (beyond the first "+strconv.Itoa(MaxErrorTexts)+" texts) ×"+count(d.Stats.ErrorsOther))
		}
		out = append(out, h)
	}
	return out
}
