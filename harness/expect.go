package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Expectation is one check of a response (--expect): what a real success
// looks like, so that a fallback the service answers with 200 counts as an
// assertion failure rather than a success. A check applies to api answers
// unless scoped: "collateral:CHECK" judges collateral answers, "all:CHECK"
// every answer, and "api:CHECK" says the default outright. Unscoped checks
// keep the meaning they had before scopes existed, in flags, scenario
// files and reports alike.
type Expectation struct {
	raw   string
	scope expectScope
	kind  expectKind
	// statuses, for status=: the accepted ranges.
	statuses []statusRange
	// text, for body-contains= and body-lacks=.
	text string
	// path and value, for json:PATH=VALUE and json:PATH!=VALUE.
	path  []pathStep
	value string
}

type expectKind uint8

const (
	expectStatus expectKind = iota
	expectBodyContains
	expectBodyLacks
	expectJSONEqual
	expectJSONNotEqual
)

type statusRange struct{ lo, hi int }

// expectScope says which answers a check judges.
type expectScope uint8

const (
	scopeAPI expectScope = iota // api answers: the default
	scopeCollateral
	scopeAll
)

// expectScopes maps a scope prefix (before the ":") to its scope.
var expectScopes = map[string]expectScope{"api": scopeAPI, "collateral": scopeCollateral, "all": scopeAll}

// scopeRE matches what looks like a scope: a word and a colon before any
// "=", as in "colateral:status=200". "json:" is a check, not a scope.
var scopeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_-]*):`)

// applies says whether the check judges an answer to an api request
// (collateral false) or to a collateral one.
func (e Expectation) applies(collateral bool) bool {
	switch e.scope {
	case scopeAll:
		return true
	case scopeCollateral:
		return collateral
	}
	return !collateral
}

// pathStep is one step of a JSON path: a key, or an index when key is "".
type pathStep struct {
	key   string
	index int
}

// ExpectForms lists the accepted forms of an expectation, for help and errors.
const ExpectForms = `status=200-299 (codes and ranges, comma-separated; 2xx for a class), body-contains=TEXT, body-lacks=TEXT, json:.PATH=VALUE or json:.PATH!=VALUE (PATH like .source or .items[0].id); a check judges api answers unless prefixed collateral: (collateral answers) or all: (every answer)`

// outcomeAssertionFailed is the X-Cbload-Outcome expectTransport sets on
// an answer that missed a check.
const outcomeAssertionFailed = "assertion_failed"

// maxCheckedBody is how much of a response body the body and JSON checks
// read.
const maxCheckedBody = 1 << 20

var (
	jsonKeyRE  = regexp.MustCompile(`^[A-Za-z0-9_$@-]+`)
	jsonIdxRE  = regexp.MustCompile(`^\[(\d{1,9})\]`)
	statusRE   = regexp.MustCompile(`^([1-5])xx$`)
	statusNumR = regexp.MustCompile(`^[1-5]\d\d$`)
)

// ParseExpectation parses one --expect value; see ExpectForms.
func ParseExpectation(s string) (Expectation, error) {
	e := Expectation{raw: s}
	bad := func(format string, args ...any) (Expectation, error) {
		return Expectation{}, fmt.Errorf("%q: %s; want %s", clip(s), fmt.Sprintf(format, args...), ExpectForms)
	}
	if m := scopeRE.FindStringSubmatch(s); m != nil && m[1] != "json" {
		scope, ok := expectScopes[m[1]]
		if !ok {
			return bad("scope %q is not api, collateral or all", clip(m[1]))
		}
		e.scope, s = scope, s[len(m[0]):]
	}
	switch {
	case strings.HasPrefix(s, "status="):
		e.kind = expectStatus
		for _, part := range strings.Split(strings.TrimPrefix(s, "status="), ",") {
			part = strings.TrimSpace(part)
			if m := statusRE.FindStringSubmatch(part); m != nil {
				c := int(m[1][0]-'0') * 100
				e.statuses = append(e.statuses, statusRange{c, c + 99})
				continue
			}
			lo, hi, isRange := strings.Cut(part, "-")
			if !isRange {
				hi = lo
			}
			if !statusNumR.MatchString(lo) || !statusNumR.MatchString(hi) {
				return bad("status %q is not a code from 100 to 599, a range like 200-299 or a class like 2xx", part)
			}
			l, _ := strconv.Atoi(lo)
			h, _ := strconv.Atoi(hi)
			if l > h {
				return bad("range %s runs backwards", part)
			}
			e.statuses = append(e.statuses, statusRange{l, h})
		}
	case strings.HasPrefix(s, "body-contains="), strings.HasPrefix(s, "body-lacks="):
		k, text, _ := strings.Cut(s, "=")
		if text == "" {
			return bad("the text is empty")
		}
		e.kind, e.text = expectBodyContains, text
		if k == "body-lacks" {
			e.kind = expectBodyLacks
		}
	case strings.HasPrefix(s, "json:"):
		spec := strings.TrimPrefix(s, "json:")
		path, value, ok := strings.Cut(spec, "=")
		if !ok {
			return bad("no = between the path and the value")
		}
		e.kind = expectJSONEqual
		if p, found := strings.CutSuffix(path, "!"); found {
			path, e.kind = p, expectJSONNotEqual
		}
		steps, err := parseJSONPath(path)
		if err != nil {
			return bad("path %q: %v", path, err)
		}
		e.path, e.value = steps, value
	default:
		return bad("unknown check")
	}
	return e, nil
}

func parseJSONPath(p string) ([]pathStep, error) {
	if !strings.HasPrefix(p, ".") {
		return nil, fmt.Errorf("starts with . (the whole body is .)")
	}
	var steps []pathStep
	rest := p
	if rest == "." {
		return nil, nil
	}
	for rest != "" {
		if m := jsonIdxRE.FindStringSubmatch(rest); m != nil {
			i, _ := strconv.Atoi(m[1])
			steps = append(steps, pathStep{index: i})
			rest = rest[len(m[0]):]
			continue
		}
		if !strings.HasPrefix(rest, ".") {
			return nil, fmt.Errorf("at %q: want .key or [index]", rest)
		}
		k := jsonKeyRE.FindString(rest[1:])
		if k == "" {
			return nil, fmt.Errorf("at %q: a key is letters, digits, _, -, $ or @", rest)
		}
		steps = append(steps, pathStep{key: k})
		rest = rest[1+len(k):]
	}
	return steps, nil
}

// String returns the expectation as it was given.
func (e Expectation) String() string { return e.raw }

// needsBody says whether the check reads the body.
func (e Expectation) needsBody() bool { return e.kind != expectStatus }

// statusOK says whether code is accepted by a status expectation.
func (e Expectation) statusOK(code int) bool {
	for _, r := range e.statuses {
		if code >= r.lo && code <= r.hi {
			return true
		}
	}
	return false
}

// check returns "" when a response meets e, and otherwise what it got
// instead, in a few words.
func (e Expectation) check(code int, body []byte, truncated bool) string {
	switch e.kind {
	case expectStatus:
		if !e.statusOK(code) {
			return fmt.Sprintf("status %d", code)
		}
	case expectBodyContains:
		if !bytes.Contains(body, []byte(e.text)) {
			return "body without " + strconv.Quote(clip(e.text))
		}
	case expectBodyLacks:
		if bytes.Contains(body, []byte(e.text)) {
			return "body with " + strconv.Quote(clip(e.text))
		}
	case expectJSONEqual, expectJSONNotEqual:
		if truncated {
			return fmt.Sprintf("body over %d bytes, not checked", maxCheckedBody)
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return "a body that is not JSON"
		}
		got, found := lookup(v, e.path)
		switch {
		case !found && e.kind == expectJSONEqual:
			return "no field " + pathString(e.path)
		case !found:
			return ""
		case (got == e.value) != (e.kind == expectJSONEqual):
			return pathString(e.path) + " = " + strconv.Quote(clip(got))
		}
	}
	return ""
}

// lookup follows path into v and renders what it finds: a string as
// itself, anything else as compact JSON, so json:.count=3 matches 3 and "3".
func lookup(v any, path []pathStep) (string, bool) {
	for _, st := range path {
		switch c := v.(type) {
		case map[string]any:
			if st.key == "" {
				return "", false
			}
			var ok bool
			if v, ok = c[st.key]; !ok {
				return "", false
			}
		case []any:
			if st.key != "" || st.index >= len(c) {
				return "", false
			}
			v = c[st.index]
		default:
			return "", false
		}
	}
	if s, ok := v.(string); ok {
		return s, true
	}
	b, _ := json.Marshal(v)
	return string(b), true
}

func pathString(p []pathStep) string {
	if len(p) == 0 {
		return "."
	}
	var b strings.Builder
	for _, st := range p {
		if st.key != "" {
			b.WriteString("." + st.key)
		} else {
			fmt.Fprintf(&b, "[%d]", st.index)
		}
	}
	return b.String()
}

// expectations is the list of --expect checks of a run.
type expectations []Expectation

// scoped returns the checks that judge api answers (collateral false) or
// collateral ones.
func (es expectations) scoped(collateral bool) expectations {
	var out expectations
	for _, e := range es {
		if e.applies(collateral) {
			out = append(out, e)
		}
	}
	return out
}

// acceptsStatus says whether code is a status the checks accept: every
// status expectation must hold; with none, 2xx is expected.
func (es expectations) acceptsStatus(code int) bool {
	have := false
	for _, e := range es {
		if e.kind == expectStatus {
			have = true
			if !e.statusOK(code) {
				return false
			}
		}
	}
	return have || (code >= 200 && code <= 299)
}

// statusForms describes the accepted statuses, for the probe's errors.
func (es expectations) statusForms() string {
	var s []string
	for _, e := range es {
		if e.kind == expectStatus {
			_, codes, _ := strings.Cut(e.raw, "status=")
			s = append(s, codes)
		}
	}
	if len(s) == 0 {
		return "200-299"
	}
	return strings.Join(s, " and ")
}

// failure returns the first check resp does not meet and what it got
// instead, or -1.
func (es expectations) failure(code int, body []byte, truncated bool) (int, string) {
	for i, e := range es {
		if got := e.check(code, body, truncated); got != "" {
			return i, got
		}
	}
	return -1, ""
}

// expectTransport checks every response against the expectations that
// judge its kind, api or collateral. A response that cbload would count as
// OK (status below 400, and no other outcome claimed by the service's
// X-Cbload-Outcome) but misses a check is marked with the assertion-failed
// outcome, which the recorder counts on its own, in the api or the
// collateral bucket: a fallback is not a success. It keeps, per check and
// kind, how many responses missed it and what the first one got instead.
type expectTransport struct {
	next http.RoundTripper
	// checks are all the checks; byKind[0] those of api answers, byKind[1]
	// those of collateral ones, as indexes into checks.
	checks expectations
	byKind [2][]int
	// collateral says whether a request is a collateral one.
	collateral func(*http.Request) bool

	mu     sync.Mutex
	missed [][2]expectMiss // per check, per kind
}

type expectMiss struct {
	n     int64
	first string
}

func newExpectTransport(next http.RoundTripper, checks expectations, collateral func(*http.Request) bool) *expectTransport {
	t := &expectTransport{next: next, checks: checks, collateral: collateral, missed: make([][2]expectMiss, len(checks))}
	for i, e := range checks {
		for k, coll := range []bool{false, true} {
			if e.applies(coll) {
				t.byKind[k] = append(t.byKind[k], i)
			}
		}
	}
	return t
}

func (t *expectTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	kind := 0
	if t.collateral(r) {
		kind = 1
	}
	idx := t.byKind[kind]
	if len(idx) == 0 {
		return resp, nil
	}
	if resp.StatusCode >= 400 {
		return resp, nil // a failure already; its status says which
	}
	if o := resp.Header.Get(outcomeHeader); o != "" && o != outcomeOK {
		return resp, nil
	}
	var body []byte
	truncated := false
	if slices.ContainsFunc(idx, func(i int) bool { return t.checks[i].needsBody() }) {
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxCheckedBody+1))
		if err != nil {
			resp.Body.Close()
			return nil, err
		}
		if truncated = len(body) > maxCheckedBody; truncated {
			body = body[:maxCheckedBody]
		}
		resp.Body = readCloser{Reader: io.MultiReader(bytes.NewReader(body), resp.Body), Closer: resp.Body}
	}
	for _, i := range idx {
		got := t.checks[i].check(resp.StatusCode, body, truncated)
		if got == "" {
			continue
		}
		resp.Header.Set(outcomeHeader, outcomeAssertionFailed)
		t.mu.Lock()
		if t.missed[i][kind].n == 0 {
			t.missed[i][kind].first = got
		}
		t.missed[i][kind].n++
		t.mu.Unlock()
		break
	}
	return resp, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// notes says, per check and kind of answer that missed it, how many and
// what the first one got instead.
func (t *expectTransport) notes() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for i, m := range t.missed {
		for k, kind := range []string{"api", "collateral"} {
			if m[k].n > 0 {
				out = append(out, fmt.Sprintf("assertion failed: %d %s responses missed --expect %s (the first got %s); they count as assertion_failed, not ok", m[k].n, kind, t.checks[i], m[k].first))
			}
		}
	}
	return out
}
