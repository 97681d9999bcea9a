package main

import (
	"fmt"
	"io"
	"os"

	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/internal/printable"
	"github.com/cbload/cbload/reports"
)

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressLine describes the second that just ended: its phase and span,
// requests sent against the schedule, api and collateral success of the
// answers that arrived in it (named in t's terms; no collateral without a
// collateral endpoint), in-flight requests and the breaker state.
func progressLine(p harness.Progress, t reports.Terms) string {
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

// progressPrinter shows the live line. On a terminal it keeps one line per
// arm and rewrites it in place every second; elsewhere it prints a plain
// line every `every` seconds.
type progressPrinter struct {
	w       io.Writer
	inPlace bool
	every   int
	arm     string
	terms   reports.Terms
}

// newProgressPrinter returns the printer for --progress mode on w, or nil
// for never: auto rewrites a line in place on a terminal and prints a
// heartbeat every 5 s elsewhere; always prints every second.
func newProgressPrinter(mode string, w io.Writer, terms reports.Terms) *progressPrinter {
	term := isTerminal(rawWriter(w))
	switch {
	case mode == "never":
		return nil
	case term:
		// Its own control sequences must reach the terminal as they are.
		return &progressPrinter{w: rawWriter(w), inPlace: true, every: 1, terms: terms}
	case mode == "always":
		return &progressPrinter{w: w, every: 1, terms: terms}
	}
	return &progressPrinter{w: w, every: heartbeatSeconds, terms: terms}
}

// heartbeatSeconds is how often the live line is printed when stderr is not
// a terminal and --progress is auto.
const heartbeatSeconds = 5

func (p *progressPrinter) show(pr harness.Progress) {
	if p.inPlace {
		if p.arm != "" && p.arm != pr.Arm {
			fmt.Fprintln(p.w)
		}
		p.arm = pr.Arm
		fmt.Fprintf(p.w, "\r\033[K%s", printable.String(progressLine(pr, p.terms), 0))
		return
	}
	if (pr.Second+1)%p.every == 0 {
		fmt.Fprintln(p.w, progressLine(pr, p.terms))
	}
}

// done ends the line being rewritten, if any.
func (p *progressPrinter) done() {
	if p != nil && p.inPlace && p.arm != "" {
		fmt.Fprintln(p.w)
		p.arm = ""
	}
}
