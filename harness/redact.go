package harness

import (
	"net/url"
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
// a URL cbload was given is echoed. A string that does not parse as a URL
// is redacted as text (RedactText).
func RedactURL(u string) string {
	if !strings.Contains(u, "@") {
		return u
	}
	if !strings.Contains(u, "://") { // host:port, as --otlp-endpoint takes it
		authority, _, _ := strings.Cut(u, "/")
		if i := strings.LastIndex(authority, "@"); i >= 0 {
			return RedactedUserinfo + u[i:]
		}
		return u
	}
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return RedactText(u)
	}
	p.User = url.User(RedactedUserinfo)
	return p.String()
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
