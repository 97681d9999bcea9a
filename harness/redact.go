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
