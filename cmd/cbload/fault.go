package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/internal/field"
	"github.com/cbload/cbload/internal/printable"
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
	call, err := faultAction(action, args)
	if err != nil {
		return err
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
	return printFaults(stdout, faults)
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

// faultAction checks an action's arguments, specs and names locally (so
// bad input is exit 2 without a server) and returns the call to make.
func faultAction(action string, args []string) (func(context.Context, *faultserver.Client) ([]faultserver.Fault, error), error) {
	want := map[string]int{"list": 0, "clear": 0, "add": 2, "remove": 1}
	if n, ok := want[action]; ok && len(args) != n {
		forms := map[string]string{"list": "fault list", "clear": "fault clear", "add": "fault add NAME SPEC", "remove": "fault remove NAME"}
		return nil, usagef("%s takes %d argument(s), got %d (form: %s)", action, n, len(args), forms[action])
	}
	switch action {
	case "list":
		return func(ctx context.Context, c *faultserver.Client) ([]faultserver.Fault, error) {
			return c.Faults(ctx)
		}, nil
	case "clear":
		return func(ctx context.Context, c *faultserver.Client) ([]faultserver.Fault, error) {
			return nil, c.ClearFaults(ctx)
		}, nil
	case "set":
		if len(args) == 0 {
			return nil, usagef("set needs at least one spec (form: fault set SPEC...); to remove every fault, use fault clear")
		}
		if _, err := faultserver.ParseSpecs(args); err != nil {
			return nil, usagef("set: %v", err)
		}
		return func(ctx context.Context, c *faultserver.Client) ([]faultserver.Fault, error) {
			return c.SetFaults(ctx, args)
		}, nil
	case "add":
		if err := faultserver.CheckFaultName(args[0]); err != nil {
			return nil, usagef("add: %v", err)
		}
		if _, err := faultserver.ParseSpec(args[1]); err != nil {
			return nil, usagef("add: %v", err)
		}
		return func(ctx context.Context, c *faultserver.Client) ([]faultserver.Fault, error) {
			return c.AddFault(ctx, args[0], args[1])
		}, nil
	case "remove":
		if err := faultserver.CheckFaultName(args[0]); err != nil {
			return nil, usagef("remove: %v", err)
		}
		return func(ctx context.Context, c *faultserver.Client) ([]faultserver.Fault, error) {
			return c.RemoveFault(ctx, args[0])
		}, nil
	}
	return nil, usagef("unknown fault action %q: want list, set, add, remove or clear", action)
}

// printFaults writes the active faults as a table, or says there are none.
func printFaults(w io.Writer, faults []faultserver.Fault) error {
	if len(faults) == 0 {
		_, err := fmt.Fprintln(w, "no faults (healthy)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFAULT")
	for _, f := range faults {
		name := f.Name
		if name == "" {
			name = "-"
		}
		// The server's words: escaped, so a tab or line break in them
		// cannot break the table, nor an ESC reach the terminal.
		fmt.Fprintf(tw, "%s\t%s\n", printable.Clip(name), printable.Clip(f.Spec))
	}
	return tw.Flush()
}
