package faultserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/cbload/cbload/internal/field"
	"github.com/cbload/cbload/internal/printable"
)

// Client is a client of a Server's control API, for another process (a CLI,
// a harness driving a remote upstream). Create one with NewClient; the
// caller must call Close when done. A Client is safe for concurrent use.
// It never follows a redirect.
type Client struct {
	base  *url.URL
	token string
	tr    *http.Transport
	hc    *http.Client
}

// Fault is one active fault as the control API lists it: its normalised
// spec and its name, "" when it was not added by name.
type Fault struct {
	Name string `json:"name,omitempty"`
	Spec string `json:"fault"`
}

// APIError is an error answer of the control API: its status and the
// one-line message it carried. Error escapes the message's control
// characters and cuts it at printable.MaxLen bytes: it is the server's
// text, on its way to a terminal.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("control API: %d %s: %s", e.Status, http.StatusText(e.Status), printable.Clip(e.Message))
}

// NewClient returns a client of the control API at controlURL (such as
// "http://127.0.0.1:8474"), sending token as a bearer token when it is not
// empty. Every call times out after ControlTimeout.
func NewClient(controlURL, token string) (*Client, error) {
	u, err := url.Parse(controlURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, field.Invalid(PathControlURL, fmt.Sprintf("control URL %q", controlURL), "want http://HOST:PORT or https://HOST:PORT")
	}
	if err := CheckToken(token); err != nil {
		return nil, err
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // the control API is a local service; no HTTP_PROXY detour
	return &Client{
		base:  u,
		token: token,
		tr:    tr,
		hc: &http.Client{
			Transport:     tr,
			Timeout:       ControlTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// Close closes the client's idle connections.
func (c *Client) Close() { c.tr.CloseIdleConnections() }

// Faults returns the active faults, in roll order.
func (c *Client) Faults(ctx context.Context) ([]Fault, error) {
	return c.faults(ctx, http.MethodGet, "/faults", nil)
}

// SetFaults replaces the active faults, named ones included, with specs
// and returns the new set.
func (c *Client) SetFaults(ctx context.Context, specs []string) ([]Fault, error) {
	if specs == nil {
		specs = []string{}
	}
	return c.faults(ctx, http.MethodPut, "/faults", map[string][]string{"faults": specs})
}

// AddFault adds spec under name, leaving the other faults as they are, and
// returns the new set. A taken name is an *APIError with status 409.
func (c *Client) AddFault(ctx context.Context, name, spec string) ([]Fault, error) {
	return c.faults(ctx, http.MethodPost, "/faults", map[string]string{"name": name, "fault": spec})
}

// RemoveFault removes the fault named name and returns the new set. An
// unknown name is an *APIError with status 404.
func (c *Client) RemoveFault(ctx context.Context, name string) ([]Fault, error) {
	if err := CheckFaultName(name); err != nil {
		return nil, err
	}
	return c.faults(ctx, http.MethodDelete, "/faults/"+name, nil)
}

// ClearFaults removes every fault, releasing held requests.
func (c *Client) ClearFaults(ctx context.Context) error {
	_, err := c.faults(ctx, http.MethodDelete, "/faults", nil)
	return err
}

// Stats returns the server's counters.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := c.do(ctx, http.MethodGet, "/stats", nil, &st)
	return st, err
}

func (c *Client) faults(ctx context.Context, method, path string, body any) ([]Fault, error) {
	var fl faultList
	if err := c.do(ctx, method, path, body, &fl); err != nil {
		return nil, err
	}
	if fl.Names != nil && len(fl.Names) != len(fl.Faults) {
		return nil, fmt.Errorf("control API: %d names for %d faults", len(fl.Names), len(fl.Faults))
	}
	out := make([]Fault, len(fl.Faults))
	for i, f := range fl.Faults {
		out[i].Spec = f
		if fl.Names != nil {
			out[i].Name = fl.Names[i]
		}
	}
	return out, nil
}

// do sends one request and decodes a 2xx answer into out. An error answer
// is an *APIError; anything else that goes wrong (no connection, timeout,
// an answer that is not the API's) is a plain error.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := *c.base
	u.Path += path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("control API %s %s: %w", method, c.base.Redacted(), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxControlBody+1))
	if err != nil {
		return fmt.Errorf("control API %s %s: reading the answer: %w", method, c.base.Redacted(), err)
	}
	if len(b) > MaxControlBody {
		return fmt.Errorf("control API %s %s: answer over %d bytes", method, c.base.Redacted(), MaxControlBody)
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return fmt.Errorf("control API %s %s: answered %d, a redirect, which is not followed", method, c.base.Redacted(), resp.StatusCode)
	}
	if resp.StatusCode >= 400 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = oneLine(string(b))
			if len(e.Error) > 200 {
				e.Error = e.Error[:200] + "..."
			}
		}
		return &APIError{Status: resp.StatusCode, Message: e.Error}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("control API %s %s: the answer is not the control API's: %w", method, c.base.Redacted(), err)
	}
	return nil
}
