package harness

import (
	"strings"
	"testing"
)

// FuzzParseRequestFile checks that no request file makes the parser panic,
// that every error is one line, and that what it accepts is valid.
func FuzzParseRequestFile(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		reqs, err := ParseRequestFile("f", data, func(string) ([]byte, error) { return []byte("body"), nil })
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error on more than one line: %q", err)
			}
			return
		}
		if len(reqs) == 0 || len(reqs) > MaxRequests {
			t.Fatalf("%d requests accepted", len(reqs))
		}
		for _, r := range reqs {
			if !methodRE.MatchString(r.Method) || checkRequestURL(r.URL) != nil {
				t.Fatalf("accepted %q %q", r.Method, r.URL)
			}
			// A header net/http would refuse only as the request is sent
			// must be refused here, where the error can name the line.
			if err := checkHeaders(r.Header); err != nil {
				t.Fatalf("accepted a header net/http refuses: %v", err)
			}
		}
	})
}

// FuzzParseExpectation checks that no --expect value makes the parser or a
// check panic, and that every error is one line naming the accepted forms.
func FuzzParseExpectation(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string, body []byte) {
		e, err := ParseExpectation(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "want status=") {
				t.Fatalf("error %q: want one line with the accepted forms", err)
			}
			return
		}
		if e.String() != s {
			t.Fatalf("String() = %q; want %q", e.String(), s)
		}
		_ = e.check(200, body, false)
	})
}
