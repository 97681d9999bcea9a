package harness

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"golang.org/x/net/http/httpguts"

	"github.com/cbload/cbload/reports"
)

// Request is one request of the load mix sent to a user's service: the
// same Method, URL, Header and Body every time it is picked.
type Request struct {
	Method string
	// URL is absolute (http:// or https://). In a request file it may also
	// be a /path; RebaseRequests resolves either against a target's origin.
	URL    string
	Header http.Header
	Body   []byte
	// Collateral marks a request to an endpoint that does not call the
	// upstream; it gets the collateral share of the load.
	Collateral bool
}

// Limits of a request file (--targets). They keep a mistaken file — a log,
// a binary — from being read into memory whole.
const (
	MaxRequestFileSize = 1 << 20  // bytes of the file itself
	MaxRequests        = 1000     // requests in one file
	MaxBodySize        = 1 << 20  // bytes of one body (@file, --body, --body-file)
	MaxBodiesSize      = 16 << 20 // bytes of all bodies of one file together
)

var (
	methodRE     = regexp.MustCompile(`^[A-Z]+$`)
	headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// Limits of the headers of one request: every flag, scenario field and
// request-file line that adds a header counts.
const (
	MaxHeaders         = 100     // headers of one request
	MaxHeaderValueSize = 8 << 10 // bytes of one header value
)

// CheckHeader says what is wrong with a header cbload would send, in words
// that fit after the flag, variable or line that gave it and the header's
// name; nil if nothing.
// It never quotes the value, which may be a credential. (net/http refuses
// such a header only as the request is sent, which would fail the run's
// probe as if the target were unreachable.)
func CheckHeader(name, value string) error {
	switch {
	case !httpguts.ValidHeaderFieldName(name):
		return fmt.Errorf("name %q: want a token like X-Request-Id (letters, digits and !#$%%&'*+-.^_`|~)", clip(name))
	case !httpguts.ValidHeaderFieldValue(value):
		return errors.New("the value holds a control character (CR, LF, NUL or another below space); want one line of printable text")
	case len(value) > MaxHeaderValueSize:
		return fmt.Errorf("the value is %d bytes; a header value holds at most %d (8 KiB)", len(value), MaxHeaderValueSize)
	}
	return nil
}

// checkHeaders checks every header of a request, and their number.
func checkHeaders(h http.Header) error {
	for k, vs := range h {
		for _, v := range vs {
			if err := CheckHeader(k, v); err != nil {
				return fmt.Errorf("header %s: %w", clip(k), err)
			}
		}
	}
	if n := headerCount(h); n > MaxHeaders {
		return fmt.Errorf("%d headers; a request has at most %d", n, MaxHeaders)
	}
	return nil
}

// headerCount is the number of header lines h makes.
func headerCount(h http.Header) int {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	return n
}

// roleComment tags the request it precedes or belongs to in the http format.
const roleComment = "# cbload:"

// ParseRequestFile parses a request file in vegeta's targets format, http or
// JSON (one object per line); the format is recognised by the first
// character that is not blank or a comment. name is used in errors, which
// are one line each and carry the line number. readBody reads the file
// named by an "@path" line of the http format.
//
// cbload extends the format in two ways vegeta ignores or cannot express:
// a "# cbload: collateral" (or "# cbload: api") comment before a request or
// among its headers tags it, and so does a "cbload" field in JSON; and a URL
// may be a /path. Untagged requests are api requests.
func ParseRequestFile(name string, data []byte, readBody func(path string) ([]byte, error)) ([]Request, error) {
	if len(data) > MaxRequestFileSize {
		return nil, fmt.Errorf("%s: %d bytes; a request file holds at most %d (1 MiB)", name, len(data), MaxRequestFileSize)
	}
	var reqs []Request
	var err error
	if firstSignificant(data) == '{' {
		reqs, err = parseJSONRequests(name, data)
	} else {
		reqs, err = parseHTTPRequests(name, data, readBody)
	}
	if err != nil {
		return nil, err
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("%s: no requests; want lines like \"GET http://127.0.0.1:8080/api\" (vegeta's http format) or {\"method\":\"GET\",\"url\":\"...\"} (its JSON format)", name)
	}
	if err := checkRoles(name, reqs); err != nil {
		return nil, err
	}
	return reqs, nil
}

// firstSignificant returns the first byte that is not blank and not in a
// #-comment line, or 0.
func firstSignificant(data []byte) byte {
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' {
			return line[0]
		}
	}
	return 0
}

func parseHTTPRequests(name string, data []byte, readBody func(string) ([]byte, error)) ([]Request, error) {
	var (
		reqs    []Request
		cur     *Request // the request whose headers are being read
		pending *bool    // a role comment waiting for its request
		bodies  int
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), MaxRequestFileSize+1)
	for n := 1; sc.Scan(); n++ {
		at := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", name, n, fmt.Sprintf(format, args...))
		}
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			cur = nil
			continue
		case strings.HasPrefix(line, roleComment):
			role := strings.TrimSpace(strings.TrimPrefix(line, roleComment))
			var collateral bool
			switch role {
			case "api":
			case "collateral":
				collateral = true
			default:
				return nil, at("%q: want \"# cbload: api\" or \"# cbload: collateral\"", line)
			}
			if cur != nil {
				cur.Collateral = collateral
			} else {
				pending = &collateral
			}
			continue
		case line[0] == '#':
			continue
		}
		method, rest, _ := strings.Cut(line, " ")
		if methodRE.MatchString(method) && rest != "" {
			if len(reqs) == MaxRequests {
				return nil, at("more than %d requests; a request file holds at most %d", MaxRequests, MaxRequests)
			}
			u := strings.TrimSpace(rest)
			if err := checkRequestURL(u); err != nil && cur != nil {
				// Among a request's headers, a line like "X TOKEN: v" is
				// more likely a header gone wrong than a request line.
				return nil, at("%q: want a header like \"Accept: application/json\" (no blank in the name), a body \"@file\", or a blank line before the next request", clip(line))
			} else if err != nil {
				return nil, at("%v", err)
			}
			reqs = append(reqs, Request{Method: method, URL: u, Header: http.Header{}})
			cur = &reqs[len(reqs)-1]
			if pending != nil {
				cur.Collateral, pending = *pending, nil
			}
			continue
		}
		if cur == nil {
			return nil, at("%q: want a request line like \"GET http://127.0.0.1:8080/api\" (method in capitals, a space, the URL)", clip(line))
		}
		if path, ok := strings.CutPrefix(line, "@"); ok {
			if readBody == nil {
				return nil, at("@%s: body files are not allowed here", path)
			}
			b, err := readBody(path)
			if err != nil {
				return nil, at("body @%s: %v", path, err)
			}
			if len(b) > MaxBodySize {
				return nil, at("body @%s: %d bytes; a body holds at most %d (1 MiB)", path, len(b), MaxBodySize)
			}
			if bodies += len(b); bodies > MaxBodiesSize {
				return nil, at("body @%s: the file's bodies add up to more than %d bytes (16 MiB)", path, MaxBodiesSize)
			}
			cur.Body = b
			cur = nil // as in vegeta, the body ends the request
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || !headerNameRE.MatchString(k) || v == "" {
			return nil, at("%q: want a header like \"Accept: application/json\", a body \"@file\", or a blank line before the next request", clip(line))
		}
		if err := CheckHeader(k, v); err != nil {
			return nil, at("header %s: %v", clip(k), err)
		}
		if n := headerCount(cur.Header); n >= MaxHeaders {
			return nil, at("header %s: more than %d headers; a request has at most %d", k, MaxHeaders, MaxHeaders)
		}
		cur.Header[k] = append(cur.Header[k], v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return reqs, nil
}

// jsonRequest is a line of vegeta's JSON targets format, plus cbload's tag.
type jsonRequest struct {
	Method string              `json:"method"`
	URL    string              `json:"url"`
	Body   []byte              `json:"body"` // base64, as vegeta writes it
	Header map[string][]string `json:"header"`
	Cbload string              `json:"cbload"`
}

func parseJSONRequests(name string, data []byte) ([]Request, error) {
	var reqs []Request
	bodies := 0
	for i, line := range bytes.Split(data, []byte("\n")) {
		n := i + 1
		at := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", name, n, fmt.Sprintf(format, args...))
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if len(reqs) == MaxRequests {
			return nil, at("more than %d requests; a request file holds at most %d", MaxRequests, MaxRequests)
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		var jr jsonRequest
		if err := dec.Decode(&jr); err != nil {
			return nil, at("%s; want one object per line like {\"method\":\"GET\",\"url\":\"http://127.0.0.1:8080/api\",\"header\":{\"Accept\":[\"application/json\"]},\"body\":\"<base64>\",\"cbload\":\"collateral\"}", jsonProblem(err))
		}
		if dec.More() {
			return nil, at("more than one JSON value on the line; want one object per line")
		}
		if !methodRE.MatchString(jr.Method) {
			return nil, at("method %q: want an HTTP method in capitals like GET or POST", jr.Method)
		}
		if err := checkRequestURL(jr.URL); err != nil {
			return nil, at("url: %v", err)
		}
		r := Request{Method: jr.Method, URL: jr.URL, Header: http.Header{}, Body: jr.Body}
		for k, vs := range jr.Header {
			if !headerNameRE.MatchString(k) {
				return nil, at("header %q: not a valid header name", clip(k))
			}
			r.Header[k] = append([]string(nil), vs...)
		}
		if err := checkHeaders(r.Header); err != nil {
			return nil, at("%v", err)
		}
		switch jr.Cbload {
		case "", "api":
		case "collateral":
			r.Collateral = true
		default:
			return nil, at("cbload %q: want \"api\" or \"collateral\"", jr.Cbload)
		}
		if len(r.Body) > MaxBodySize {
			return nil, at("body: %d bytes; a body holds at most %d (1 MiB)", len(r.Body), MaxBodySize)
		}
		if bodies += len(r.Body); bodies > MaxBodiesSize {
			return nil, at("body: the file's bodies add up to more than %d bytes (16 MiB)", MaxBodiesSize)
		}
		reqs = append(reqs, r)
	}
	return reqs, nil
}

// jsonProblem names what encoding/json found wrong, in one line.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q: got a JSON %s", te.Field, te.Value)
	}
	return oneLineErr(err.Error())
}

func oneLineErr(s string) string { return strings.Join(strings.Fields(s), " ") }

// clip shortens a line quoted in an error.
func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// checkRequestURL accepts an absolute http(s) URL or a /path.
func checkRequestURL(u string) error {
	if strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") {
		if _, err := url.ParseRequestURI(u); err != nil {
			return fmt.Errorf("%q: not a valid path", clip(u))
		}
		return nil
	}
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return fmt.Errorf("%q: want an absolute http:// or https:// URL, or a /path", clip(u))
	}
	return nil
}

// checkRoles refuses a request that is both api and collateral: results
// are told apart by method and URL.
func checkRoles(name string, reqs []Request) error {
	role := map[string]bool{}
	for _, r := range reqs {
		k := r.Method + " " + r.URL
		if c, ok := role[k]; ok && c != r.Collateral {
			return fmt.Errorf("%s: %s is tagged both api and collateral; cbload tells results apart by method and URL", name, k)
		}
		role[k] = r.Collateral
	}
	return nil
}

// RebaseRequests returns reqs with every URL sent to origin (a target's
// scheme, host and port) instead, keeping path and query: one request file
// describes the service, and each target says where one instance of it
// listens.
func RebaseRequests(reqs []Request, origin string) ([]Request, error) {
	o, err := url.Parse(origin)
	if err != nil || o.Host == "" {
		return nil, fmt.Errorf("%q: want an origin like http://127.0.0.1:8080", origin)
	}
	out := make([]Request, len(reqs))
	for i, r := range reqs {
		u, err := url.Parse(r.URL)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", r.URL, err)
		}
		u.Scheme, u.Host, u.User = o.Scheme, o.Host, nil
		r.URL = u.String()
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out, nil
}

// mix is a target's load: its api and collateral requests.
type mix struct {
	api, collateral []Request
	// isCollateral is keyed by method and URL as vegeta reports them
	// (a struct key: looking it up builds no string per result),
	// isCollateralURL by method and the URL as net/http re-encodes it.
	isCollateral    map[methodURL]bool
	isCollateralURL map[string]bool
}

func newMix(reqs []Request) *mix {
	m := &mix{isCollateral: map[methodURL]bool{}, isCollateralURL: map[string]bool{}}
	for _, r := range reqs {
		if r.Collateral {
			m.collateral = append(m.collateral, r)
		} else {
			m.api = append(m.api, r)
		}
		m.isCollateral[methodURL{r.Method, r.URL}] = r.Collateral
		if u, err := url.Parse(r.URL); err == nil {
			m.isCollateralURL[r.Method+" "+u.String()] = r.Collateral
		}
	}
	return m
}

// methodURL is a request's method and URL.
type methodURL struct{ method, url string }

// collateralResult says whether a result came from a collateral request.
func (m *mix) collateralResult(res *vegeta.Result) bool {
	return m.isCollateral[methodURL{res.Method, res.URL}]
}

// collateralRequest says whether an outgoing request is a collateral one.
func (m *mix) collateralRequest(r *http.Request) bool {
	return m.isCollateralURL[r.Method+" "+r.URL.String()]
}

// targeter sends each request to a collateral request with probability
// share (when there are any) and to an api request otherwise, taking the
// requests of each kind in turn; the draws come from a seeded source, so
// the same seed gives the same request sequence. sent counts the requests
// as they are sent.
func (m *mix) targeter(share float64, seed int64, sent *atomic.Int64) vegeta.Targeter {
	if len(m.collateral) == 0 {
		share = 0
	}
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6362_6c6f_6164)) // "cbload"
	var nextAPI, nextCollateral int
	return func(t *vegeta.Target) error {
		mu.Lock()
		var r Request
		if rng.Float64() < share {
			r = m.collateral[nextCollateral%len(m.collateral)]
			nextCollateral++
		} else {
			r = m.api[nextAPI%len(m.api)]
			nextAPI++
		}
		mu.Unlock()
		sent.Add(1)
		t.Method, t.URL, t.Body = r.Method, r.URL, r.Body
		// Shared, not cloned: vegeta only reads it, copying it into the
		// request it builds (Target.Request).
		t.Header = r.Header
		return nil
	}
}

// requestMix counts each request of a mix's answers, when the mix has
// more than one request of a kind; its zero-length form counts nothing.
type requestMix struct {
	index map[string]int // by method and URL as vegeta reports them
	figs  []reports.RequestFigures
}

func newRequestMix(reqs []Request) *requestMix {
	m := &requestMix{index: map[string]int{}}
	var api, coll int
	for _, r := range reqs {
		if r.Collateral {
			coll++
		} else {
			api++
		}
	}
	if api < 2 && coll < 2 {
		return m // the endpoint totals say it all
	}
	for _, r := range reqs {
		key := r.Method + " " + r.URL
		if _, dup := m.index[key]; dup {
			continue
		}
		path := r.URL
		if u, err := url.Parse(r.URL); err == nil {
			path = u.Path
			if u.RawQuery != "" {
				path += "?" + u.RawQuery
			}
		}
		m.index[key] = len(m.figs)
		m.figs = append(m.figs, reports.RequestFigures{Request: r.Method + " " + path, Collateral: r.Collateral})
	}
	return m
}

// add counts a result; fault says it completed in a fault phase.
func (m *requestMix) add(res *vegeta.Result, fault bool) {
	i, ok := m.index[res.Method+" "+res.URL]
	if !ok {
		return
	}
	f := &m.figs[i]
	okAnswer := classify(res) == oOK
	f.Total++
	if okAnswer {
		f.TotalOK++
	}
	if fault {
		f.Requests++
		if okAnswer {
			f.OK++
		}
	}
}

func (m *requestMix) figures() []reports.RequestFigures { return m.figs }
