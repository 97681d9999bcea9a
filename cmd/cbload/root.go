package main

import (
	"io"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "cbload",
		Short: "Measure whether a circuit breaker prevents a cascading failure",
		Long: `cbload runs a measured, repeatable experiment: a fault-injecting upstream,
a gateway with bounded capacity that calls it through a circuit breaker, and
a constant-rate load, once with the breaker and once without. The report
shows whether the breaker kept the rest of the service healthy.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Without Args, cobra reports an unknown command as a plain error,
		// which would exit 1; without RunE it would not check Args at all.
		Args: func(cmd *cobra.Command, args []string) error {
			return unknownCommand(cmd, args)
		},
		RunE:                       func(cmd *cobra.Command, args []string) error { return cmd.Help() },
		SuggestionsMinimumDistance: 2,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{err: err, hint: "Run '" + c.CommandPath() + " --help' for usage."}
	})
	root.AddCommand(
		newRunCmd(stdout, stderr),
		newReportCmd(stdout, stderr),
		newServeCmd(stdout, stderr),
		newFaultCmd(stdout, stderr),
	)
	return root
}
