package testenv

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Request makes one request with c, with body and, when token is not "",
// a bearer token, as a control API client does; it returns the status,
// the headers and the body, and fails the test if the request or the
// reading of its answer fails.
func Request(t testing.TB, c *http.Client, method, url, token, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}
