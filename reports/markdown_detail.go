package reports

import (
	"bytes"
	"fmt"
)

// Markdown bounds for the error set, so that many phases cannot push the
// summary past GitHub's 64 KiB step-summary limit: the texts shown per
// endpoint and phase, and the bytes shown of each.
const (
	mdErrorTexts = 3
	mdErrorWidth = 80
)

// writeMarkdownDetail writes, per phase, arm and endpoint, the latency
// p50/p95/p99/max/mean, the status codes, the error set and the bytes.
func writeMarkdownDetail(b *bytes.Buffer, r *Report) {
	rows := detailRows(r)
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "### Requests in detail%s\n\n", TrialScope(r))
	b.WriteString("| Phase | Arm | Endpoint | Requests | Latency | Status codes | Errors | Bytes in / out |\n")
	b.WriteString("|---|---|---|--:|---|---|---|--:|\n")
	for _, d := range rows {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
			mdEscape(d.Phase), mdEscape(d.Arm), d.Endpoint, count(d.Stats.Requests),
			mdEscape(LatencyText(r, d.Stats.LatencyMS)), mdEscape(StatusCodesText(r, d.Stats)),
			mdEscape(ErrorSetText(r, d.Stats, mdErrorTexts, mdErrorWidth)), mdEscape(BytesText(r, d.Stats)))
	}
	fmt.Fprintf(b, "\nLatency from send to the end of the response (p50–p99 within about 1%%; max and mean exact). Errors are the distinct error texts the load runner saw, most frequent first (here at most %d, cut at %d characters; report.json keeps the first %d distinct texts and counts later ones as other).\n\n",
		mdErrorTexts, mdErrorWidth, MaxErrorTexts)
}
