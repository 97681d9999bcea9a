package main

import (
	"context"
	"errors"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/internal/field"
)

// faultOptions holds the flags of `cbload fault`.
type faultOptions struct {
	control     string
	tokenEnv    string
	tokenEnvSet bool // --token-env was given: its variable must then be set
}

func newFaultCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := &faultOptions{}
	cmd := &cobra.Command{
		Use:     "fault list|set|add|remove|clear [args] [flags]",
		Short:   "Change the faults of a running cbload serve through its control API",
		Long:    faultLong,
		Example: faultExample,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("fault needs an action: list, set, add, remove or clear")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.tokenEnvSet = cmd.Flags().Changed("token-env")
			return runFault(cmd.Context(), opts, args[0], args[1:], stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.control, "control", "http://127.0.0.1:8474", "the control API's base URL, on loopback (redirects are not followed)")
	f.StringVar(&opts.tokenEnv, "token-env", controlTokenEnv, "environment variable that holds the bearer token (unset: no token)")
	registerFaultCompletions(cmd)
	return cmd
}

// runFault runs one fault action against the control API and prints the
// active faults it leaves.
func runFault(ctx context.Context, opts *faultOptions, action string, args []string, stdout io.Writer) error {
	call, err := faultserver.ParseAction(action, args)
	if err != nil {
		return asUsage(err)
	}
	if opts.tokenEnv == "" || strings.ContainsAny(opts.tokenEnv, "= \t\n") {
		return usagef("--token-env %q: want the name of an environment variable, like %s", opts.tokenEnv, controlTokenEnv)
	}
	token := os.Getenv(opts.tokenEnv)
	if token == "" && opts.tokenEnvSet {
		return usagef("--token-env %s: $%s is not set", opts.tokenEnv, opts.tokenEnv)
	}
	c, err := faultserver.NewClient(opts.control, token)
	if err != nil {
		if fe := field.As(err); fe != nil && fe.Path() == faultserver.PathControlURL {
			return usagef("--control: %v", err)
		}
		return usagef("$%s: %v", opts.tokenEnv, err)
	}
	defer c.Close()
	if err := checkControlURL(opts.control); err != nil {
		return err
	}

	faults, err := call(ctx, c)
	var ae *faultserver.APIError
	switch {
	case errors.As(err, &ae) && ae.Status < 500:
		return asUsage(err)
	case errors.As(err, &ae):
		// The control API failed on its side: the change could not be made,
		// as when it cannot be reached; not cbload's own failure (1).
		return withCode(exitCouldNotRun, err)
	case err != nil && ctx.Err() != nil:
		return withCode(exitInterrupted, errors.New("interrupted"))
	case err != nil:
		return withCode(exitCouldNotRun, err)
	}
	return faultserver.WriteFaults(stdout, faults)
}

// checkControlURL holds --control, once NewClient has read it as a URL, to
// the address rule of cbload run's URLs without --allow-remote: 127.0.0.1,
// ::1 or localhost, and a port from 1 to 65535, so that no control call
// leaves the machine. The client follows no redirect either.
func checkControlURL(raw string) error {
	if harness.CheckTargetURL(raw, nil) != nil {
		u, _ := url.Parse(raw) // NewClient parsed it
		return usagef("--control %q: host %s is not loopback; want a control API on this machine, like http://127.0.0.1:8474 (127.0.0.1, [::1] or localhost)", raw, u.Hostname())
	}
	if err := harness.CheckPort(raw); err != nil {
		return usagef("--control %v", err)
	}
	return nil
}
