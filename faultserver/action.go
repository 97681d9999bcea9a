package faultserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/cbload/cbload/internal/printable"
)

// Action is one call to a running server's control API, as `cbload fault`
// names them; it returns the faults active after it (none for clear).
type Action func(ctx context.Context, c *Client) ([]Fault, error)

// ParseAction checks an action's arguments, specs and names locally, so
// that bad input is refused without a server, and returns the call to
// make: list, set SPEC..., add NAME SPEC, remove NAME or clear. Every
// error is bad input, in one line.
func ParseAction(action string, args []string) (Action, error) {
	want := map[string]int{"list": 0, "clear": 0, "add": 2, "remove": 1}
	if n, ok := want[action]; ok && len(args) != n {
		forms := map[string]string{"list": "fault list", "clear": "fault clear", "add": "fault add NAME SPEC", "remove": "fault remove NAME"}
		return nil, fmt.Errorf("%s takes %d argument(s), got %d (form: %s)", action, n, len(args), forms[action])
	}
	switch action {
	case "list":
		return func(ctx context.Context, c *Client) ([]Fault, error) { return c.Faults(ctx) }, nil
	case "clear":
		return func(ctx context.Context, c *Client) ([]Fault, error) { return nil, c.ClearFaults(ctx) }, nil
	case "set":
		if len(args) == 0 {
			return nil, errors.New("set needs at least one spec (form: fault set SPEC...); to remove every fault, use fault clear")
		}
		if _, err := ParseSpecs(args); err != nil {
			return nil, fmt.Errorf("set: %w", err)
		}
		return func(ctx context.Context, c *Client) ([]Fault, error) { return c.SetFaults(ctx, args) }, nil
	case "add":
		if err := CheckFaultName(args[0]); err != nil {
			return nil, fmt.Errorf("add: %w", err)
		}
		if _, err := ParseSpec(args[1]); err != nil {
			return nil, fmt.Errorf("add: %w", err)
		}
		return func(ctx context.Context, c *Client) ([]Fault, error) { return c.AddFault(ctx, args[0], args[1]) }, nil
	case "remove":
		if err := CheckFaultName(args[0]); err != nil {
			return nil, fmt.Errorf("remove: %w", err)
		}
		return func(ctx context.Context, c *Client) ([]Fault, error) { return c.RemoveFault(ctx, args[0]) }, nil
	}
	return nil, fmt.Errorf("unknown fault action %q: want list, set, add, remove or clear", action)
}

// WriteFaults writes the active faults as a table of names and specs, or
// says there are none. The server's words are escaped, so that a tab or
// line break in them cannot break the table, nor an ESC reach a terminal.
func WriteFaults(w io.Writer, faults []Fault) error {
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
		fmt.Fprintf(tw, "%s\t%s\n", printable.Clip(name), printable.Clip(f.Spec))
	}
	return tw.Flush()
}
