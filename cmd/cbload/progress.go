package main

import (
	"io"
	"os"

	"github.com/cbload/cbload/harness"
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

// newProgressPrinter returns the printer for --progress mode on w, or nil
// for never: auto rewrites a line in place on a terminal and prints a
// heartbeat every 5 s elsewhere; always prints every second.
func newProgressPrinter(mode string, w io.Writer, terms reports.Terms) *harness.ProgressPrinter {
	term := isTerminal(rawWriter(w))
	switch {
	case mode == "never":
		return nil
	case term:
		// Its own control sequences must reach the terminal as they are.
		return harness.NewProgressPrinter(rawWriter(w), true, 1, terms)
	case mode == "always":
		return harness.NewProgressPrinter(w, false, 1, terms)
	}
	return harness.NewProgressPrinter(w, false, heartbeatSeconds, terms)
}

// heartbeatSeconds is how often the live line is printed when stderr is not
// a terminal and --progress is auto.
const heartbeatSeconds = 5
