// Command cbload measures whether a circuit breaker prevents a cascading
// failure when a dependency goes bad. See README.md for the tour.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cbload/cbload/internal/printable"

	"github.com/cbload/cbload/harness"
)

// signalGrace is how long a command has, after the first SIGINT or
// SIGTERM, to stop by itself (writing its partial report) before the
// process ends anyway: a step that cannot look at its context — a
// template, a file system call — must not make the signal wait.
const signalGrace = time.Second

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		// The first signal asks for a clean stop and a partial report.
		cancel()
		watchdog(sigs, signalGrace, os.Stderr)
	}()
	exit(runContext(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// exiting makes the process's exit happen once: the command's own, or the
// watchdog's, whichever comes first.
var exiting sync.Mutex

func exit(code int) {
	exiting.Lock()
	os.Exit(code)
}

// holdUntil is when a command writing what it measured asked the watchdog
// to wait until (Unix nanoseconds; see holdWatchdog).
var holdUntil atomic.Int64

// holdWatchdog asks the watchdog to wait up to d from now before ending
// the process after a signal: `cbload run` calls it once the load has
// stopped, so that writing its partial results (a large report can take
// seconds) is not cut short — losing what was measured would be worse
// than a late exit. A second signal still ends the process at once.
func holdWatchdog(d time.Duration) {
	holdUntil.Store(time.Now().Add(d).UnixNano())
}

// watchdog ends the process with exit 130 once grace has passed since the
// first signal (or the time asked for with holdWatchdog, when later), or
// at once on a second signal, unless the command has returned by then.
func watchdog(sigs <-chan os.Signal, grace time.Duration, stderr io.Writer) {
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-t.C:
		if d := time.Until(time.Unix(0, holdUntil.Load())); d > 0 {
			t.Reset(d)
			select {
			case <-t.C:
			case <-sigs:
			}
		}
	case <-sigs:
	}
	exiting.Lock()
	fmt.Fprintf(stderr, "cbload: interrupted; stopped without waiting for the current step to finish\n")
	os.Exit(exitInterrupted)
}

// run executes the command line and returns the process exit code. It is
// main without os.Exit and without signal handling, so tests can drive the
// whole CLI in-process.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

// runContext is run under ctx, which main cancels on the first signal.
// Everything the commands print goes through printable.Writer: text from
// outside cbload (a service's status line, a report file's values, a
// control API's answer) cannot put control sequences on the terminal.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	stdout, stderr = &printable.Writer{W: stdout}, &printable.Writer{W: stderr}
	harness.QuietLibraries(stderr)
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := unknownCommand(root, args)
	if err == nil {
		err = root.ExecuteContext(ctx)
	}
	if err == nil {
		return exitOK
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// A step that only saw its context end: the signal is the news.
		err = errInterrupted
	}
	code := exitCode(err)
	if ctx.Err() != nil {
		// 130 wins over every other failure.
		code = exitInterrupted
	}
	if !errors.Is(err, errSilent) {
		// A message may quote a URL cbload was given, or net/http's error
		// for it: neither may show its userinfo. A long value is named, not
		// echoed whole.
		fmt.Fprintf(stderr, "cbload: %s\n", printable.ClipQuoted(harness.RedactText(err.Error())))
	}
	if code == exitUsage {
		var ue *usageError
		if errors.As(err, &ue) && ue.hint != "" {
			fmt.Fprintln(stderr, ue.hint)
		}
	}
	return code
}

// rawWriter returns the writer under a printable.Writer, for the one
// output that writes control sequences on purpose: the progress line
// rewritten in place on a terminal.
func rawWriter(w io.Writer) io.Writer {
	if p, ok := w.(*printable.Writer); ok {
		return p.W
	}
	return w
}
