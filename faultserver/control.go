package faultserver

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxControlBody caps control API request bodies.
const maxControlBody = 1 << 20

// apiError is a control API failure with the status it is answered with.
type apiError struct {
	status int
	msg    string
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

// faultList is the body of GET, PUT and DELETE /faults.
type faultList struct {
	Faults []string `json:"faults"`
}

func (s *Server) faultList() faultList {
	specs := s.Faults()
	fl := faultList{Faults: make([]string, len(specs))}
	for i, sp := range specs {
		fl.Faults[i] = sp.String()
	}
	return fl
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
	if tok := s.cfg.ControlToken; tok != "" {
		got := r.Header.Get("Authorization")
		if subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+tok)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cbload"`)
			return apiErrorf(http.StatusUnauthorized, "missing or wrong bearer token")
		}
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
			s.SetFaults(specs)
		case http.MethodDelete:
			s.SetFaults(nil)
		default:
			w.Header().Set("Allow", "GET, PUT, DELETE")
			return apiErrorf(http.StatusMethodNotAllowed, "method %s not allowed on /faults (use GET, PUT or DELETE)", r.Method)
		}
		writeJSON(w, http.StatusOK, s.faultList())
	case "/stats":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET")
			return apiErrorf(http.StatusMethodNotAllowed, "method %s not allowed on /stats (use GET)", r.Method)
		}
		writeJSON(w, http.StatusOK, s.Stats())
	default:
		return apiErrorf(http.StatusNotFound, "no such endpoint %q (use /faults or /stats)", r.URL.Path)
	}
	return nil
}

// readFaults decodes and parses a PUT /faults body.
func readFaults(w http.ResponseWriter, r *http.Request) ([]Spec, error) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxControlBody))
	dec.DisallowUnknownFields()
	var body struct {
		Faults *[]string `json:"faults"`
	}
	err := dec.Decode(&body)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("data after the JSON object")
		}
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, apiErrorf(http.StatusRequestEntityTooLarge, "request body over %d bytes", maxControlBody)
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
