package harness

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/cbload/cbload/internal/field"
	"github.com/cbload/cbload/internal/inputfile"
)

// RequestSettings are the settings that say what cbload sends to a user's
// service and what a good answer looks like, as given: the request flags,
// or a scenario file's request, expect, tls, upstream and upstreams.
// Apply checks them and turns them into the targets' requests and the
// run's checks.
type RequestSettings struct {
	Method         string
	Headers        []string // "Name: value"
	HeaderEnv      []string // "Name=ENV_VAR"
	Body           string
	BodyFile       string
	TargetsFile    string // a request file in vegeta's targets format
	Expect         []string
	Insecure       bool
	CACert         string   // a PEM file
	UpstreamTLSDir string   // where the upstream's certificate is kept
	UpstreamGRPC   bool     // the upstreams serve gRPC
	Upstreams      []string // "NAME=ADDR"
}

// requestSetting is one of the request settings: its flag, as messages
// name it, its path in a scenario file, and whether it was given.
type requestSetting struct {
	flag, path string
	given      bool
}

// settings lists the request settings, in the order they are reported.
func (s *RequestSettings) settings(allow AllowList) []requestSetting {
	return []requestSetting{
		{"--method", "request.method", s.Method != "" && s.Method != http.MethodGet},
		{"--header", "request.headers", len(s.Headers) > 0},
		{"--header-env", "request.header_env", len(s.HeaderEnv) > 0},
		{"--body", "request.body", s.Body != ""},
		{"--body-file", "request.body_file", s.BodyFile != ""},
		{"--targets", "request.targets_file", s.TargetsFile != ""},
		{"--expect", "expect", len(s.Expect) > 0},
		{"--insecure", "tls.insecure", s.Insecure},
		{"--ca-cert", "tls.ca_cert", s.CACert != ""},
		{"--upstream-tls", "upstream.tls_dir", s.UpstreamTLSDir != ""},
		{"--upstream-grpc", "upstream.grpc", s.UpstreamGRPC},
		{"--allow-remote", "allow_remote", len(allow) > 0},
		{"--upstream", "upstreams", len(s.Upstreams) > 0},
		{"--collateral", "collateral", false},
		{"--target", "targets", false},
	}
}

// Apply sets cfg's requests to its targets, its checks of their answers,
// its TLS and upstream settings and its remote allow list from s. It runs
// after the targets are resolved, before cfg is validated. A setting that
// cannot be used is a *field.Error named by its flag (--body-file); files
// are read through inputfile, so a FIFO no one writes to gives up after
// inputfile.Timeout or when ctx ends (then the error is ctx's).
func (s *RequestSettings) Apply(ctx context.Context, cfg *Config, allow AllowList) error {
	settings := s.settings(allow)
	path := map[string]string{}
	given := map[string]bool{}
	for _, st := range settings {
		path[st.flag], given[st.flag] = st.path, st.given
	}
	bad := func(flag, format string, args ...any) error {
		return field.Invalid(path[flag], flag, format, args...)
	}
	badValue := func(flag, format string, args ...any) error {
		return field.InvalidValue(path[flag], flag, format, args...)
	}
	if len(cfg.Targets) == 0 {
		for _, st := range settings {
			if st.given {
				return bad(st.flag, "only used with --target")
			}
		}
		return nil
	}
	header := http.Header{}
	for _, h := range s.Headers {
		k, v, err := ParseHeader(h)
		if err != nil {
			return badValue("--header", "%w", err)
		}
		header.Add(k, v)
	}
	for _, h := range s.HeaderEnv {
		k, v, err := ParseHeaderEnv(h, os.LookupEnv)
		if err != nil {
			return badValue("--header-env", "%w", err)
		}
		header.Set(k, v)
	}
	if s.Method != "" && !ValidMethod(s.Method) {
		return badValue("--method", "%q: want an HTTP method in capitals like GET or POST", s.Method)
	}
	var body []byte
	switch {
	case given["--body"] && given["--body-file"]:
		return field.All([]string{path["--body"], path["--body-file"]}, []string{"--body", "--body-file"}, "give one or the other")
	case s.BodyFile != "":
		b, err := readCapped(ctx, s.BodyFile, MaxBodySize)
		if err != nil {
			return orCtx(ctx, bad("--body-file", "%w", err))
		}
		body = b
	case given["--body"]:
		if len(s.Body) > MaxBodySize {
			return bad("--body", "%d bytes; a body holds at most %d (1 MiB)", len(s.Body), MaxBodySize)
		}
		body = []byte(s.Body)
	}

	if s.TargetsFile != "" {
		for _, flag := range []string{"--method", "--body", "--body-file"} {
			if given[flag] {
				return bad(flag, "not used with --targets; the request file says each request's method, body and role")
			}
		}
		for _, t := range cfg.Targets {
			if t.Collateral != "" {
				return bad("--collateral", "not used with --targets; tag collateral requests in the file with \"# cbload: collateral\"")
			}
		}
		data, err := readCapped(ctx, s.TargetsFile, MaxRequestFileSize)
		if err != nil {
			return orCtx(ctx, bad("--targets", "%w", err))
		}
		dir := filepath.Dir(s.TargetsFile)
		reqs, err := ParseRequestFile(s.TargetsFile, data, func(p string) ([]byte, error) {
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			return readCapped(ctx, p, MaxBodySize)
		})
		if err != nil {
			return orCtx(ctx, bad("--targets", "%w", err))
		}
		for i := range cfg.Targets {
			t := &cfg.Targets[i]
			if u, err := url.Parse(t.URL); err == nil && u.Path != "" && u.Path != "/" {
				return badValue("--target", "%s: with --targets the paths come from the request file; give the origin only, like %s://%s", t.Name, u.Scheme, u.Host)
			}
			if t.Requests, err = RebaseRequests(reqs, t.URL); err != nil {
				return badValue("--target", "%s: %w", t.Name, err)
			}
			for j := range t.Requests {
				for k, vs := range header {
					t.Requests[j].Header[k] = vs
				}
			}
		}
	} else if len(header) > 0 || body != nil || given["--method"] {
		for i := range cfg.Targets {
			t := &cfg.Targets[i]
			t.Requests = []Request{{Method: cmp.Or(s.Method, http.MethodGet), URL: t.URL, Header: header.Clone(), Body: body}}
			if t.Collateral != "" {
				t.Requests = append(t.Requests, Request{Method: http.MethodGet, URL: t.Collateral, Header: header.Clone(), Collateral: true})
			}
		}
	}

	for _, e := range s.Expect {
		x, err := ParseExpectation(e)
		if err != nil {
			return badValue("--expect", "%w", err)
		}
		cfg.Expect = append(cfg.Expect, x)
	}
	cfg.TargetTLS.Insecure = s.Insecure
	if s.CACert != "" {
		b, err := readCapped(ctx, s.CACert, 1<<20)
		if err != nil {
			return orCtx(ctx, bad("--ca-cert", "%w", err))
		}
		cfg.TargetTLS.CAPEM = b
		if _, err := cfg.TargetTLS.clientConfig(); errors.Is(err, errNoPEM) {
			return bad("--ca-cert", "no PEM certificate found in %s; want a file with -----BEGIN CERTIFICATE----- blocks", s.CACert)
		}
	}
	if d := s.UpstreamTLSDir; d != "" {
		// Made on first use; anything but a folder there cannot hold the
		// certificate, and the run would stop after it started.
		if st, err := os.Stat(d); err == nil && !st.IsDir() {
			return bad("--upstream-tls", "%s is not a folder; want a folder to keep the upstream's certificate in (made if missing)", d)
		}
	}
	cfg.UpstreamTLSDir = s.UpstreamTLSDir
	cfg.UpstreamGRPC = s.UpstreamGRPC
	cfg.AllowRemote = allow
	for _, u := range s.Upstreams {
		name, addr, ok := strings.Cut(u, "=")
		if !ok || name == "" || addr == "" {
			return badValue("--upstream", "%q: want NAME=ADDR like payments=127.0.0.1:3001", u)
		}
		cfg.Upstreams = append(cfg.Upstreams, NamedUpstream{Name: name, Addr: addr})
	}
	return nil
}

// orCtx returns ctx's error once it has ended, else err: a read cut short
// by a signal is the signal's news, not a bad setting.
func orCtx(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// readCapped reads a file of at most limit bytes through inputfile, so a
// FIFO no one writes to gives up after inputfile.Timeout or when ctx ends.
func readCapped(ctx context.Context, path string, limit int) ([]byte, error) {
	b, err := inputfile.Read(ctx, path, int64(limit), inputfile.Timeout)
	var tl *inputfile.TooLargeError
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.As(err, &tl):
		return nil, fmt.Errorf("%s: larger than %d bytes, the most cbload reads", path, limit)
	case errors.Is(err, inputfile.ErrTimeout):
		return nil, fmt.Errorf("%s: not read to its end within %v; want a regular file (a pipe must be written and closed)", path, inputfile.Timeout)
	}
	return b, err
}
