package harness

import (
	"regexp"
	"strings"
)

// RedactedUserinfo stands in for the user name and password of a URL that
// cbload echoes: in a report, the results file, a plan line or a message.
const RedactedUserinfo = "xxxxx"

// userinfoRE matches the userinfo of a URL inside any text, up to its "@".
// The authority ends at "/", "?", "#" or a blank, and its userinfo at its
// last "@", as url.Parse reads it (a password may hold an unescaped "@", a
// quote or a backslash, which %q escapes).
var userinfoRE = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s<>]+@`)

// RedactURL returns u with its userinfo — user name and password, either of
// which may be a credential — replaced by RedactedUserinfo, for every place
// a URL cbload was given is echoed. It reads the authority as url.Parse
// does (up to the first "/", "?" or "#"; the userinfo up to its last "@"),
// but also in a URL that does not parse, such as one with a blank in its
// password, and in a host:port without a scheme (--otlp-endpoint's form).
func RedactURL(u string) string {
	if !strings.Contains(u, "@") {
		return u
	}
	prefix, rest := "", u
	if i := strings.Index(u, "://"); i >= 0 {
		prefix, rest = u[:i+3], u[i+3:]
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return u
	}
	return prefix + RedactedUserinfo + rest[at:]
}

// RedactText returns s with the userinfo of every URL in it replaced by
// RedactedUserinfo: for error messages and other text that may quote a URL
// (net/http's *url.Error quotes the request's URL, userinfo included).
func RedactText(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	return userinfoRE.ReplaceAllString(s, "${1}"+RedactedUserinfo+"@")
}

// secrets are the header values of a run's requests (--header, --header-env,
// a request file's), which cbload sends and never writes: a service that
// echoes one in an answer a check quotes, or in its breaker state, must not
// get it into a report or a message.
type secrets []string

// minSecret is the shortest header value hidden in text: a shorter one
// would mangle ordinary words, and is no credential worth the name.
const minSecret = 8

// requestSecrets collects the header values of every target's requests.
func requestSecrets(targets []Target) secrets {
	seen := map[string]bool{}
	var s secrets
	for _, t := range targets {
		for _, q := range t.Requests {
			for _, vs := range q.Header {
				for _, v := range vs {
					if len(v) >= minSecret && !seen[v] {
						seen[v] = true
						s = append(s, v)
					}
				}
			}
		}
	}
	return s
}

// redact returns text with URL userinfo (RedactText) and every secret
// replaced by RedactedUserinfo.
func (s secrets) redact(text string) string {
	text = RedactText(text)
	for _, v := range s {
		text = strings.ReplaceAll(text, v, RedactedUserinfo)
	}
	return text
}

// redactErr returns err with its message redacted, still wrapping err (a
// cancelled probe stays errors.Is context.Canceled).
func (s secrets) redactErr(err error) error {
	if msg := s.redact(err.Error()); msg != err.Error() {
		return &redactedError{msg: msg, err: err}
	}
	return err
}

// redactedError is an error whose message was redacted.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
