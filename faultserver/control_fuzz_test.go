package faultserver

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzControlPutFaults feeds arbitrary bodies to PUT /faults: the answer is
// 200 with the new set, or a 4xx with a one-line JSON error and the previous
// set untouched — never a panic or a 5xx.
func FuzzControlPutFaults(f *testing.F) {
	for _, seed := range []string{
		`{"faults": ["latency:200ms", "error:503,rate=0.5"]}`,
		`{"faults": []}`,
		`{"faults": ["hang:30s,path=/api"]}`,
		`{"faults": ["slowbody:1KiB/s,size=4KiB"]}`,
		`{"faults": ["latency:-1s"]}`,
		`{"faults": "latency"}`,
		`{"fault": ["latency"]}`,
		`{"faults": ["latency"]} {}`,
		`{"faults": [null]}`,
		`[]`,
		``,
		`{`,
	} {
		f.Add(seed)
	}
	s, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	handler := s.controlHandler()
	initial := mustSpecs(f, "error:502,path=/keep")
	f.Fuzz(func(t *testing.T, body string) {
		s.SetFaults(initial)
		req := httptest.NewRequest(http.MethodPut, "/faults", strings.NewReader(body))
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		switch {
		case rec.Code == http.StatusOK:
			var got faultList
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("200 with a body that is not a fault list: %q", rec.Body.String())
			}
		case rec.Code >= 400 && rec.Code < 500:
			var e struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" || strings.Contains(e.Error, "\n") {
				t.Fatalf("%d with body %q; want a one-line JSON error", rec.Code, rec.Body.String())
			}
			if got := s.Faults(); len(got) != 1 || got[0].String() != initial[0].String() {
				t.Fatalf("after a rejected PUT the faults are %v; want %v kept", got, initial)
			}
		default:
			t.Fatalf("PUT /faults %q = %d %q; want 200 or 4xx", body, rec.Code, rec.Body.String())
		}
	})
}

// FuzzControlAuth feeds arbitrary Authorization, Host and Origin values to
// a control API with a token and to one without: the answer is never a
// panic or a 5xx; a refusal is a one-line JSON error (401 with
// WWW-Authenticate, or 403); a request is let through only with the token
// under a case-insensitive Bearer scheme, or, without a token, only from a
// host and origin naming this machine. The seed corpus is in
// testdata/fuzz/FuzzControlAuth.
func FuzzControlAuth(f *testing.F) {
	const token = "s3cret"
	locked, err := New(Config{ControlToken: token})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { locked.Close() })
	open, err := New(Config{ControlHosts: []string{"cbload.internal"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { open.Close() })

	f.Fuzz(func(t *testing.T, auth, host, origin string) {
		for _, s := range []*Server{locked, open} {
			req := httptest.NewRequest(http.MethodGet, "/stats", nil)
			req.Host = host
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			if origin != "" {
				req.Header.Set("Origin", origin)
			}
			rec := httptest.NewRecorder()
			s.controlHandler().ServeHTTP(rec, req)
			switch rec.Code {
			case http.StatusOK:
				if s == locked && !acceptableBearer(auth, token) {
					t.Fatalf("Authorization %q let through; want only Bearer %s", auth, token)
				}
				if s == open && (!localHost(host) || (origin != "" && !localOrigin(origin))) {
					t.Fatalf("Host %q Origin %q let through without a token; want only this machine's names", host, origin)
				}
			case http.StatusUnauthorized, http.StatusForbidden:
				var e struct{ Error string }
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" || strings.Contains(e.Error, "\n") {
					t.Fatalf("%d with body %q; want a one-line JSON error", rec.Code, rec.Body.String())
				}
				if rec.Code == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
					t.Fatalf("401 without WWW-Authenticate")
				}
				if s == locked && rec.Code == http.StatusUnauthorized && acceptableBearer(auth, token) {
					t.Fatalf("Authorization %q refused; the scheme is case-insensitive", auth)
				}
			default:
				t.Fatalf("GET /stats Authorization %q Host %q Origin %q = %d %q; want 200, 401 or 403", auth, host, origin, rec.Code, rec.Body.String())
			}
		}
	})
}

// acceptableBearer is the fuzz oracle for the token check: the Bearer
// scheme in any case, spaces, then exactly the token.
func acceptableBearer(auth, token string) bool {
	auth = strings.TrimSpace(auth)
	if len(auth) < len("bearer ") || !strings.EqualFold(auth[:len("bearer ")], "bearer ") {
		return false
	}
	return strings.TrimLeft(auth[len("bearer "):], " ") == token
}

// localHost is the fuzz oracle for the Host check: after the port, one of
// this machine's names (the test server listens on 127.0.0.1).
func localHost(hostport string) bool {
	h := strings.ToLower(hostport)
	if i := strings.LastIndex(h, ":"); i >= 0 && !strings.HasSuffix(h, "]") && strings.Count(h, ":") == 1 {
		h = h[:i]
	} else if strings.HasPrefix(h, "[") {
		if j := strings.Index(h, "]"); j > 0 {
			h = h[1:j]
		}
	}
	if h == "localhost" || h == "cbload.internal" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func localOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && u.Host != "" && localHost(u.Host)
}

// FuzzControlPostFault feeds arbitrary bodies to POST /faults: the answer
// is 201 with the new set, one fault longer, or a 4xx with a one-line JSON
// error and the set untouched — never a panic or a 5xx. The seed corpus is
// in testdata/fuzz/FuzzControlPostFault.
func FuzzControlPostFault(f *testing.F) {
	s, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	handler := s.controlHandler()
	f.Fuzz(func(t *testing.T, body string) {
		s.SetFaults(nil)
		s.AddFault("taken", mustSpecs(t, "latency:1ms")[0])
		req := httptest.NewRequest(http.MethodPost, "/faults", strings.NewReader(body))
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		n := len(s.Faults())
		switch {
		case rec.Code == http.StatusCreated:
			var got faultList
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || n != 2 || len(got.Names) != 2 || got.Names[0] != "taken" {
				t.Fatalf("201 with %q and %d faults; want the set with one more, named", rec.Body.String(), n)
			}
			if err := CheckFaultName(got.Names[1]); err != nil {
				t.Fatalf("201 added a fault named %q: %v", got.Names[1], err)
			}
		case rec.Code >= 400 && rec.Code < 500:
			var e struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" || strings.Contains(e.Error, "\n") {
				t.Fatalf("%d with body %q; want a one-line JSON error", rec.Code, rec.Body.String())
			}
			if n != 1 {
				t.Fatalf("after a rejected POST there are %d faults; want the 1 kept", n)
			}
		default:
			t.Fatalf("POST /faults %q = %d %q; want 201 or 4xx", body, rec.Code, rec.Body.String())
		}
	})
}
