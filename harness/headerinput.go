package harness

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/cbload/cbload/internal/printable"
)

var (
	headerEnvNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// sensitiveHeaderRE matches header names whose values are credentials.
	sensitiveHeaderRE = regexp.MustCompile(`(?i)^(authorization|proxy-authorization|cookie|set-cookie)$|token|secret|key|auth|session|password`)
)

// ParseHeader reads a header given as "Name: value" (--header) and checks
// it (CheckHeader). The error fits after the flag that gave it, and never
// quotes a credential's value.
func ParseHeader(h string) (name, value string, err error) {
	k, v, ok := strings.Cut(h, ":")
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	if !ok || !headerNameRE.MatchString(k) {
		return "", "", fmt.Errorf("%q: want 'Name: value' like 'Accept: application/json'", printable.Echo(RedactHeader(h)))
	}
	if err := CheckHeader(k, v); err != nil {
		return "", "", fmt.Errorf("%s: %w", printable.Echo(k), err)
	}
	return k, v, nil
}

// ParseHeaderEnv reads a header given as "Name=ENV_VAR" (--header-env),
// its value looked up with lookup (os.LookupEnv), and checks it. The error
// fits after the flag that gave it, and names the variable, never its value.
func ParseHeaderEnv(h string, lookup func(string) (string, bool)) (name, value string, err error) {
	k, env, ok := strings.Cut(h, "=")
	if !ok || !headerNameRE.MatchString(k) || !headerEnvNameRE.MatchString(env) {
		return "", "", fmt.Errorf("%q: want Name=ENV_VAR like Authorization=API_TOKEN", printable.Echo(h))
	}
	v, set := lookup(env)
	if !set || v == "" {
		return "", "", fmt.Errorf("%s: $%s is not set or empty; export it with the header's value", h, env)
	}
	if err := CheckHeader(k, v); err != nil {
		return "", "", fmt.Errorf("%s: $%s: %w", h, env, err)
	}
	return k, v, nil
}

// ValidMethod reports whether s is an HTTP method as cbload takes one: a
// word in capitals like GET or POST.
func ValidMethod(s string) bool { return methodRE.MatchString(s) }

// RedactHeader hides the value of a header given as "Name: value" that
// carries a credential, for the repro command and error messages.
func RedactHeader(h string) string {
	k, _, ok := strings.Cut(h, ":")
	if ok && sensitiveHeaderRE.MatchString(strings.TrimSpace(k)) {
		return strings.TrimSpace(k) + ": <redacted; pass it with --header-env>"
	}
	return h
}
