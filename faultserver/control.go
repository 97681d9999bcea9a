package faultserver

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiError is a control API failure with the status it is answered with,
// and a header to set on the answer when header[0] is not empty.
type apiError struct {
	status int
	msg    string
	header [2]string
}

func (e *apiError) Error() string { return e.msg }

func apiErrorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, msg: oneLine(fmt.Sprintf(format, args...))}
}

// writeError answers err as {"error": "..."}, with the status an *apiError
// carries or 500.
func writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	var ae *apiError
	if errors.As(err, &ae) {
		status = ae.status
		if ae.header[0] != "" {
			w.Header().Set(ae.header[0], ae.header[1])
		}
	}
	writeJSON(w, status, map[string]string{"error": oneLine(err.Error())})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client may be gone
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// faultList is the answer of every /faults request: the active faults in
// roll order and, when any is named, their names (Names[i] names Faults[i],
// "" for an unnamed one).
type faultList struct {
	Faults []string `json:"faults"`
	Names  []string `json:"names,omitempty"`
}

func (s *Server) faultList() faultList {
	nf := s.NamedFaults()
	fl := faultList{Faults: make([]string, len(nf))}
	named := false
	for i, f := range nf {
		fl.Faults[i] = f.Spec.String()
		named = named || f.Name != ""
	}
	if named {
		fl.Names = make([]string, len(nf))
		for i, f := range nf {
			fl.Names[i] = f.Name
		}
	}
	return fl
}

// namedFault is the body of POST /faults and the answer of GET
// /faults/NAME.
type namedFault struct {
	Name  *string `json:"name"`
	Fault *string `json:"fault"`
}

// controlHandler serves the control API described in the package comment.
func (s *Server) controlHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.enter() {
			panic(http.ErrAbortHandler)
		}
		defer s.handlers.Done()
		if err := s.control(w, r); err != nil {
			writeError(w, err)
		}
	})
}

func (s *Server) control(w http.ResponseWriter, r *http.Request) error {
	if err := s.authorize(r); err != nil {
		// Close the connection after the answer instead of reading the
		// rest of a body nobody asked for: a client that failed to
		// authenticate must not hold the server.
		w.Header().Set("Connection", "close")
		http.NewResponseController(w).SetReadDeadline(time.Now()) //nolint:errcheck // a plain HTTP/1 conn always supports it
		return err
	}
	switch r.URL.Path {
	case "/faults":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodPut:
			specs, err := readFaults(w, r)
			if err != nil {
				return err
			}
			if err := s.SetFaults(specs); err != nil {
				return apiErrorf(http.StatusBadRequest, "%v", err)
			}
		case http.MethodPost:
			if err := s.postFault(w, r); err != nil {
				return err
			}
			writeJSON(w, http.StatusCreated, s.faultList())
			return nil
		case http.MethodDelete:
			s.SetFaults(nil) //nolint:errcheck // an empty set is always accepted
		default:
			w.Header().Set("Allow", "GET, PUT, POST, DELETE")
			return apiErrorf(http.StatusMethodNotAllowed, "method %s not allowed on /faults (use GET, PUT, POST or DELETE)", r.Method)
		}
		writeJSON(w, http.StatusOK, s.faultList())
	case "/stats":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET")
			return apiErrorf(http.StatusMethodNotAllowed, "method %s not allowed on /stats (use GET)", r.Method)
		}
		writeJSON(w, http.StatusOK, s.Stats())
	default:
		name, ok := strings.CutPrefix(r.URL.Path, "/faults/")
		if !ok {
			return apiErrorf(http.StatusNotFound, "no such endpoint %q (use /faults, /faults/NAME or /stats)", r.URL.Path)
		}
		return s.oneFault(w, r, name)
	}
	return nil
}

// postFault adds the named fault of a POST /faults body.
func (s *Server) postFault(w http.ResponseWriter, r *http.Request) error {
	const want = `(want {"name": "NAME", "fault": "KIND[:ARG][,key=value...]"})`
	b, err := readBody(w, r)
	if err != nil {
		return err
	}
	var body namedFault
	switch err := decodeBody(b, &body); {
	case err != nil:
		return apiErrorf(http.StatusBadRequest, "bad body: %v %s", err, want)
	case body.Name == nil || body.Fault == nil:
		return apiErrorf(http.StatusBadRequest, `bad body: "name" and "fault" are both required %s`, want)
	}
	if err := CheckFaultName(*body.Name); err != nil {
		return apiErrorf(http.StatusBadRequest, "%v", err)
	}
	sp, err := ParseSpec(*body.Fault)
	if err != nil {
		return apiErrorf(http.StatusBadRequest, "%v", err)
	}
	switch err := s.AddFault(*body.Name, sp); {
	case errors.Is(err, ErrNameTaken):
		return apiErrorf(http.StatusConflict, "%v: remove it first, or pick another name", err)
	case err != nil:
		return apiErrorf(http.StatusBadRequest, "%v", err)
	}
	return nil
}

// oneFault serves GET and DELETE /faults/NAME.
func (s *Server) oneFault(w http.ResponseWriter, r *http.Request, name string) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		for _, f := range s.NamedFaults() {
			if f.Name == name {
				spec := f.Spec.String()
				writeJSON(w, http.StatusOK, namedFault{Name: &f.Name, Fault: &spec})
				return nil
			}
		}
		return apiErrorf(http.StatusNotFound, "fault %q: %v", name, ErrNoSuchFault)
	case http.MethodDelete:
		if err := s.RemoveFault(name); err != nil {
			return apiErrorf(http.StatusNotFound, "%v", err)
		}
		writeJSON(w, http.StatusOK, s.faultList())
		return nil
	default:
		w.Header().Set("Allow", "GET, DELETE")
		return apiErrorf(http.StatusMethodNotAllowed, "method %s not allowed on /faults/NAME (use GET or DELETE)", r.Method)
	}
}

// authorize checks a control request: the bearer token when there is one,
// and otherwise its Host and Origin, which must name this machine. Without
// the Host check a web page could drive a token-less control API from the
// victim's browser through DNS rebinding; without the Origin check, through
// a cross-site form post.
func (s *Server) authorize(r *http.Request) error {
	if tok := s.cfg.ControlToken; tok != "" {
		got, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(tok)) != 1 {
			return &apiError{status: http.StatusUnauthorized, msg: "missing or wrong bearer token (want Authorization: Bearer TOKEN)",
				header: [2]string{"WWW-Authenticate", `Bearer realm="cbload"`}}
		}
		return nil
	}
	if !s.hostAllowed(r.Host) {
		return apiErrorf(http.StatusForbidden, "host %q not allowed: without a token the control API answers only localhost, loopback IPs, its own IP and the configured control hosts", r.Host)
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || !s.hostAllowed(u.Host) {
			return apiErrorf(http.StatusForbidden, "origin %q not allowed: without a token the control API answers only pages on localhost, loopback IPs, its own IP and the configured control hosts", o)
		}
	}
	return nil
}

// bearerToken returns the credentials of an Authorization header of the
// Bearer scheme, whose name is case-insensitive (RFC 7235, section 2.1).
func bearerToken(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimLeft(tok, " "), true
}

// hostAllowed reports whether hostport (a Host header or an origin's host)
// names this machine: localhost, a loopback IP, the control listener's own
// IP, or one of Config.ControlHosts.
func (s *Server) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	if host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || (s.ctlIP != nil && !s.ctlIP.IsUnspecified() && ip.Equal(s.ctlIP))) {
		return true
	}
	for _, h := range s.cfg.ControlHosts {
		if strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}

// readBody reads a control request body of at most MaxControlBody bytes; a
// larger one is a 413, whatever it holds.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxControlBody {
		w.Header().Set("Connection", "close")
		return nil, apiErrorf(http.StatusRequestEntityTooLarge, "request body of %d bytes is over the limit of %d", r.ContentLength, MaxControlBody)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxControlBody))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, apiErrorf(http.StatusRequestEntityTooLarge, "request body over the limit of %d bytes", MaxControlBody)
	case err != nil:
		return nil, apiErrorf(http.StatusBadRequest, "reading the request body: %v", err)
	}
	return b, nil
}

// decodeBody decodes a whole JSON object into v, strictly: no unknown
// fields and nothing after the object.
func decodeBody(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("data after the JSON object")
		}
	}
	return err
}

// readFaults decodes and parses a PUT /faults body.
func readFaults(w http.ResponseWriter, r *http.Request) ([]Spec, error) {
	b, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	var body struct {
		Faults *[]string `json:"faults"`
	}
	switch err := decodeBody(b, &body); {
	case err != nil:
		return nil, apiErrorf(http.StatusBadRequest, `bad body: %v (want {"faults": ["KIND[:ARG][,key=value...]", ...]})`, err)
	case body.Faults == nil:
		return nil, apiErrorf(http.StatusBadRequest, `bad body: no "faults" list (want {"faults": ["KIND[:ARG][,key=value...]", ...]})`)
	}
	specs, err := ParseSpecs(*body.Faults)
	if err != nil {
		return nil, apiErrorf(http.StatusBadRequest, "%v", err)
	}
	return specs, nil
}
