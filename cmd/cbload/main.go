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
	"syscall"

	"github.com/cbload/cbload/harness"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the process exit code. It is
// main without os.Exit, so tests can drive the whole CLI in-process.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal asks for a clean stop and a partial report; once it
	// has arrived, a second one kills the process the default way.
	context.AfterFunc(ctx, stop)

	quietLibraries(stderr)
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := unknownCommand(root, args)
	if err == nil {
		err = root.ExecuteContext(ctx)
	}
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	if !errors.Is(err, errSilent) {
		// A message may quote a URL cbload was given, or net/http's error
		// for it: neither may show its userinfo. A long value is named, not
		// echoed whole.
		fmt.Fprintf(stderr, "cbload: %s\n", clipQuoted(harness.RedactText(err.Error())))
	}
	if code == exitUsage {
		var ue *usageError
		if errors.As(err, &ue) && ue.hint != "" {
			fmt.Fprintln(stderr, ue.hint)
		}
	}
	return code
}
