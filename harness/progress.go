package harness

import (
	"fmt"
	"io"
	"slices"

	"github.com/cbload/cbload/internal/printable"
	"github.com/cbload/cbload/reports"
)

// Line describes the second p just ended: its phase and span,
// requests sent against the schedule, api and collateral success of the
// answers that arrived in it (named in t's terms; no collateral without a
// collateral endpoint), in-flight requests and the breaker state.
func (p Progress) Line(t reports.Terms) string {
	state := p.State
	if state == "" || state == reports.StateNone {
		state = "-"
	}
	pct := func(v float64) string {
		if v < 0 {
			return "     —"
		}
		return fmt.Sprintf("%5.1f%%", v*100)
	}
	coll := ""
	if t.HasCollateral {
		coll = fmt.Sprintf("  %s ok %s", t.Collateral, pct(p.LocalOK))
	}
	inflight := "in-flight"
	if t.Target {
		inflight = "in flight at the load runner"
	}
	return fmt.Sprintf("[%-10s] %-9s %4s/%-4s sent %5d/%-5d  %s ok %s%s  %s %4d  breaker %s",
		p.Arm, p.Phase, fmt.Sprintf("%d–%ds", p.Second, p.Second+1), p.Total, p.Sent, p.Scheduled,
		t.API, pct(p.APIOK), coll, inflight, p.Inflight, state)
}

// ProgressPrinter shows the live line (Progress.Line) of a run. On a terminal it keeps one line per
// arm and rewrites it in place every second; elsewhere it prints a plain
// line every `every` seconds.
type ProgressPrinter struct {
	w       io.Writer
	inPlace bool
	every   int
	terms   reports.Terms
	// lines are the arms with a line on the terminal, the cursor on the
	// last; together is how many of the last ones may still be rewritten:
	// the arms that run at once (1, or 0, when they run one at a time).
	lines    []string
	together int
}

// Together tells an in-place printer that n arms run at once: each keeps
// its own line, rewritten where it is.
func (p *ProgressPrinter) Together(n int) { p.together = n }

// NewProgressPrinter returns a printer of lines in terms to w: rewritten in
// place (w must be a terminal, which gets the control sequences) when
// inPlace, else printed every every seconds.
func NewProgressPrinter(w io.Writer, inPlace bool, every int, terms reports.Terms) *ProgressPrinter {
	return &ProgressPrinter{w: w, inPlace: inPlace, every: max(every, 1), terms: terms}
}

// Show prints the line of pr; it is a Config.Progress.
func (p *ProgressPrinter) Show(pr Progress) {
	if p.inPlace {
		live := p.lines[max(len(p.lines)-max(p.together, 1), 0):]
		up := len(live) - 1 - slices.Index(live, pr.Arm)
		if up >= len(live) { // not among them: a line of its own below
			if len(p.lines) > 0 {
				fmt.Fprintln(p.w)
			}
			p.lines, up = append(p.lines, pr.Arm), 0
		}
		if up > 0 {
			fmt.Fprintf(p.w, "\033[%dA", up)
		}
		fmt.Fprintf(p.w, "\r\033[K%s", printable.String(pr.Line(p.terms), 0))
		if up > 0 {
			fmt.Fprintf(p.w, "\033[%dB", up)
		}
		return
	}
	if (pr.Second+1)%p.every == 0 {
		fmt.Fprintln(p.w, pr.Line(p.terms))
	}
}

// Done ends the line being rewritten, if any; a nil printer does nothing.
func (p *ProgressPrinter) Done() {
	if p != nil && p.inPlace && len(p.lines) > 0 {
		fmt.Fprintln(p.w)
		p.lines = nil
	}
}
