package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "cbload",
		Short:         "Measure whether a circuit breaker prevents a cascading failure",
		Long:          rootLong,
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
		return &usageError{err: flagValueError(err), hint: "Run '" + c.CommandPath() + " --help' for usage."}
	})
	root.AddCommand(
		newRunCmd(stdout, stderr),
		newReportCmd(stdout, stderr),
		newCompareCmd(stdout, stderr),
		newServeCmd(stdout, stderr),
		newMergeCmd(stdout, stderr),
		newFaultCmd(stdout, stderr),
	)
	return root
}

// acceptedForms says, per pflag value type, what a flag of that type
// accepts; pflag's own message is a Go parse error ("strconv.ParseFloat:
// parsing "abc": invalid syntax").
var acceptedForms = map[string]string{
	"float64":  "a number like 200 or 0.5",
	"float32":  "a number like 200 or 0.5",
	"int":      "a whole number like 32",
	"int32":    "a whole number like 32",
	"int64":    "a whole number like 32",
	"uint":     "a whole number of 0 or more like 42",
	"uint32":   "a whole number of 0 or more like 42",
	"uint64":   "a whole number of 0 or more like 42",
	"duration": "a duration like 500ms, 2s or 1m30s",
	"bool":     "true or false",
}

// flagValueError rewrites a flag value pflag could not parse as one line
// naming the flag, the value and the accepted form: --rate "abc": want a
// number like 200 or 0.5. Other errors, and values of cbload's own flag
// types (whose messages already say what they accept), pass through.
func flagValueError(err error) error {
	var bad *pflag.InvalidValueError
	if !errors.As(err, &bad) {
		return err
	}
	f := bad.GetFlag()
	if form, ok := acceptedForms[f.Value.Type()]; ok {
		if errors.Is(bad, strconv.ErrRange) {
			return fmt.Errorf("--%s %q: out of range; want %s", f.Name, bad.GetValue(), form)
		}
		return fmt.Errorf("--%s %q: want %s", f.Name, bad.GetValue(), form)
	}
	return fmt.Errorf("--%s %q: %v", f.Name, bad.GetValue(), errors.Unwrap(bad))
}
