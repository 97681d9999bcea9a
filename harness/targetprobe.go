package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cbload/cbload/faultserver"
)

// probeTargets sends every request of every target once, and a GET to its
// state URL, before any load, and fails on the first that cannot be reached
// or whose answer shows a setup mistake: an api or collateral answer must
// meet the checks that judge its kind (2xx without a status check), a state
// URL must answer 2xx. Redirects are not followed: a redirect is the
// answer.
func probeTargets(ctx context.Context, targets []Target, checks expectations, upstream string, tune func(*http.Transport)) error {
	tr := &http.Transport{Proxy: nil}
	tune(tr)
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 3 * time.Second, CheckRedirect: noRedirects}
	for _, t := range targets {
		probes := t.requests()
		if t.BreakerStateURL != "" {
			probes = append(probes, Request{Method: http.MethodGet, URL: t.BreakerStateURL})
		}
		for i, q := range probes {
			state := i == len(probes)-1 && t.BreakerStateURL != ""
			req, err := http.NewRequestWithContext(ctx, q.Method, q.URL, bytes.NewReader(q.Body))
			if err != nil {
				return fmt.Errorf("target %s: %s", t.Name, RedactText(err.Error()))
			}
			for k, vs := range q.Header {
				req.Header[k] = vs
			}
			if h := q.Header.Get("Host"); h != "" {
				req.Host = h
			}
			resp, err := c.Do(req)
			if err != nil {
				return fmt.Errorf("target %s unreachable at %s: %w", t.Name, RedactURL(q.URL), errors.Unwrap(err))
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, maxCheckedBody+1))
			resp.Body.Close()
			what := fmt.Sprintf("target %s: %s %s", t.Name, q.Method, RedactURL(q.URL))
			if state {
				what = fmt.Sprintf("target %s: breaker state URL %s", t.Name, RedactURL(q.URL))
			}
			var judge expectations // none for the state URL: 2xx
			if !state {
				judge = checks.scoped(q.Collateral)
			}
			var sent []string // header names only: values may be secrets
			for k := range q.Header {
				if k != "Host" {
					sent = append(sent, k)
				}
			}
			slices.Sort(sent)
			if err := probeAnswer(resp, body, judge, state, q.Collateral, upstream, sent); err != nil {
				return fmt.Errorf("%s %v", what, err)
			}
			if state {
				if err := probeState(body, t.StateMetric); err != nil {
					return fmt.Errorf("%s %v", what, err)
				}
			}
		}
	}
	return nil
}

// firstLine returns the first non-empty line of a service's answer,
// sanitized and cut to 120 characters: a reason quoted in a message.
func firstLine(body []byte) string {
	for _, l := range strings.Split(string(body[:min(len(body), 4096)]), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return sanitizeNote(l, 120)
		}
	}
	return ""
}

// probeAnswer judges one probe's answer against checks, those that judge
// its kind; state says it is the answer of a breaker state URL, collateral
// that of a collateral request.
func probeAnswer(resp *http.Response, body []byte, checks expectations, state, collateral bool, upstream string, sent []string) error {
	code := resp.StatusCode
	if k := resp.Header.Get(faultserver.FaultHeader); k != "" {
		return fmt.Errorf("answered with %s: %s — that is a cbload fault server, not your service; the target is the service that calls the upstream", faultserver.FaultHeader, sanitizeNote(k, 40))
	}
	accepted, want := checks.acceptsStatus(code), checks.statusForms()
	if !accepted {
		status := fmt.Sprintf("%d %s", code, http.StatusText(code))
		hint := ""
		switch {
		case code >= 300 && code <= 399:
			hint = fmt.Sprintf(" (a redirect to %q, not followed)", resp.Header.Get("Location"))
		case code == http.StatusNotFound || code == http.StatusMethodNotAllowed:
			hint = " — check the path and method"
		case (code == http.StatusUnauthorized || code == http.StatusForbidden) && len(sent) > 0:
			hint = fmt.Sprintf(" — it refused the request with header %s: check the value (--header, --header-env)", strings.Join(sent, ", "))
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			hint = " — does it need a header (--header, --header-env)?"
		case code == http.StatusBadRequest && firstLine(body) != "":
			hint = fmt.Sprintf(" — it said %q: check the method, body and headers", firstLine(body))
		case code >= 500:
			hint = fmt.Sprintf(" before any fault — is it healthy, and does it reach the upstream at %s?", upstream)
		}
		change := " (--expect status=... changes the statuses accepted)"
		switch {
		case state:
			change = ""
		case collateral:
			change = " (--expect collateral:status=... changes the statuses accepted)"
		}
		return fmt.Errorf("answered %s%s; want %s%s", status, hint, want, change)
	}
	truncated := len(body) > maxCheckedBody
	if truncated {
		body = body[:maxCheckedBody]
	}
	if i, got := checks.failure(code, body, truncated); i >= 0 && collateral {
		return fmt.Errorf("missed --expect %s before any fault: got %s — is the collateral endpoint healthy, or is the check meant for api answers only (unscoped or api:)?", checks[i], got)
	} else if i >= 0 {
		return fmt.Errorf("missed --expect %s before any fault: got %s — is the service calling the upstream at %s, or is the check wrong?", checks[i], got, upstream)
	}
	return nil
}
