package faultserver

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
)

// BackendErrorHeader, in proxy mode, marks a 502 the server answered because
// the forward to the backend failed; it carries the reason. Such a response
// has no FaultHeader: the failure is the backend's, not an injected fault.
const BackendErrorHeader = "X-Cbload-Backend-Error"

func parseProxyURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		hint := ""
		if u != nil && u.Scheme == "grpc" {
			hint = " (grpc:// needs a gRPC upstream, --grpc)"
		}
		return nil, fmt.Errorf("proxy target %q is not an http:// or https:// URL with a host%s", raw, hint)
	}
	return u, nil
}

func (s *Server) setupProxy(raw string) error {
	u, err := parseProxyURL(raw)
	if err != nil {
		return err
	}
	s.transport = http.DefaultTransport.(*http.Transport).Clone()
	s.transport.MaxIdleConnsPerHost = 256
	if s.cfg.ProxyDial != nil {
		s.transport.DialContext = s.cfg.ProxyDial
	}
	// A ReverseProxy never follows redirects: a 3xx from the backend goes
	// back to the client as it is.
	s.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
		},
		Transport:     s.transport,
		FlushInterval: -1, // stream bodies through as they come
		ErrorLog:      log.New(io.Discard, "", 0),
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode >= 500 {
				s.backend5xx.Add(1)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client gave up or the server is closing
			}
			s.backendErrors.Add(1)
			// The failure is the backend's: answer at once, not trickled
			// by slowbody nor cut by truncate, and without naming the
			// faults that applied.
			w = unwrapFaults(w)
			msg := "proxy: " + oneLine(err.Error())
			w.Header().Del(FaultHeader)
			w.Header().Set(BackendErrorHeader, msg)
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": msg})
		},
	}
	return nil
}
