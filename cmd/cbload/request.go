package main

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/cbload/cbload/harness"
	"github.com/cbload/cbload/internal/inputfile"
)

// requestOptions holds the flags that say what cbload sends to a user's
// service and what a good answer looks like.
type requestOptions struct {
	method     string
	headers    []string // "Name: value"
	headerEnv  []string // "Name=ENV_VAR"
	body       string
	bodyFile   string
	targets    string // a request file in vegeta's targets format
	expect     []string
	insecure   bool
	caCert     string
	upstreamTL string   // --upstream-tls DIR
	upstreamGR bool     // --upstream-grpc
	allow      string   // --allow-remote CIDR,...
	upstreams  []string // --upstream NAME=ADDR
}

//go:embed helptext/requestHelp.txt
var requestHelp string

// parseAllow parses --allow-remote.
func (o *requestOptions) parseAllow() (harness.AllowList, error) {
	if o.allow == "" {
		return nil, nil
	}
	a, err := harness.ParseAllowList(o.allow)
	if err != nil {
		return nil, flagErrorf("--allow-remote", " %v", err)
	}
	return a, nil
}

// applyRequests turns the request flags into the targets' requests and
// the run's checks. It runs after the targets are resolved, before cfg is
// validated.
func applyRequests(ctx context.Context, cfg *harness.Config, o *requestOptions, allow harness.AllowList) error {
	given := map[string]bool{
		"method": o.method != "" && o.method != http.MethodGet, "header": len(o.headers) > 0, "header-env": len(o.headerEnv) > 0,
		"body": o.body != "", "body-file": o.bodyFile != "", "targets": o.targets != "", "expect": len(o.expect) > 0,
		"insecure": o.insecure, "ca-cert": o.caCert != "", "upstream-tls": o.upstreamTL != "", "upstream-grpc": o.upstreamGR, "allow-remote": len(allow) > 0,
		"upstream": len(o.upstreams) > 0,
	}
	if len(cfg.Targets) == 0 {
		for _, name := range []string{"method", "header", "header-env", "body", "body-file", "targets", "expect", "insecure", "ca-cert", "upstream-tls", "upstream-grpc", "allow-remote", "upstream"} {
			if given[name] {
				return flagErrorf("--"+name, ": only used with --target")
			}
		}
		return nil
	}
	header := http.Header{}
	for _, h := range o.headers {
		k, v, err := harness.ParseHeader(h)
		if err != nil {
			return flagErrorf("--header", " %v", err)
		}
		header.Add(k, v)
	}
	for _, h := range o.headerEnv {
		k, v, err := harness.ParseHeaderEnv(h, os.LookupEnv)
		if err != nil {
			return flagErrorf("--header-env", " %v", err)
		}
		header.Set(k, v)
	}
	if o.method != "" && !harness.ValidMethod(o.method) {
		return flagErrorf("--method", " %q: want an HTTP method in capitals like GET or POST", o.method)
	}
	var body []byte
	switch {
	case given["body"] && given["body-file"]:
		return flagErrorf("--body", ", --body-file: give one or the other")
	case o.bodyFile != "":
		b, err := readCapped(ctx, o.bodyFile, harness.MaxBodySize)
		if err != nil {
			return flagErrorf("--body-file", ": %v", err)
		}
		body = b
	case given["body"]:
		if len(o.body) > harness.MaxBodySize {
			return flagErrorf("--body", ": %d bytes; a body holds at most %d (1 MiB)", len(o.body), harness.MaxBodySize)
		}
		body = []byte(o.body)
	}

	if o.targets != "" {
		for _, name := range []string{"method", "body", "body-file"} {
			if given[name] {
				return flagErrorf("--"+name, ": not used with --targets; the request file says each request's method, body and role")
			}
		}
		for _, t := range cfg.Targets {
			if t.Collateral != "" {
				return flagErrorf("--collateral", ": not used with --targets; tag collateral requests in the file with \"# cbload: collateral\"")
			}
		}
		data, err := readCapped(ctx, o.targets, harness.MaxRequestFileSize)
		if err != nil {
			return flagErrorf("--targets", ": %v", err)
		}
		dir := filepath.Dir(o.targets)
		reqs, err := harness.ParseRequestFile(o.targets, data, func(p string) ([]byte, error) {
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			return readCapped(ctx, p, harness.MaxBodySize)
		})
		if err != nil {
			return flagErrorf("--targets", ": %v", err)
		}
		for i := range cfg.Targets {
			t := &cfg.Targets[i]
			if u, err := url.Parse(t.URL); err == nil && u.Path != "" && u.Path != "/" {
				return flagErrorf("--target", " %s: with --targets the paths come from the request file; give the origin only, like %s://%s", t.Name, u.Scheme, u.Host)
			}
			if t.Requests, err = harness.RebaseRequests(reqs, t.URL); err != nil {
				return flagErrorf("--target", " %s: %v", t.Name, err)
			}
			for j := range t.Requests {
				for k, vs := range header {
					t.Requests[j].Header[k] = vs
				}
			}
		}
	} else if len(header) > 0 || body != nil || given["method"] {
		for i := range cfg.Targets {
			t := &cfg.Targets[i]
			t.Requests = []harness.Request{{Method: cmp.Or(o.method, http.MethodGet), URL: t.URL, Header: header.Clone(), Body: body}}
			if t.Collateral != "" {
				t.Requests = append(t.Requests, harness.Request{Method: http.MethodGet, URL: t.Collateral, Header: header.Clone(), Collateral: true})
			}
		}
	}

	for _, e := range o.expect {
		x, err := harness.ParseExpectation(e)
		if err != nil {
			return flagErrorf("--expect", " %v", err)
		}
		cfg.Expect = append(cfg.Expect, x)
	}
	cfg.TargetTLS.Insecure = o.insecure
	if o.caCert != "" {
		b, err := readCapped(ctx, o.caCert, 1<<20)
		if err != nil {
			return flagErrorf("--ca-cert", ": %v", err)
		}
		cfg.TargetTLS.CAPEM = b
	}
	cfg.UpstreamTLSDir = o.upstreamTL
	cfg.UpstreamGRPC = o.upstreamGR
	cfg.AllowRemote = allow
	for _, u := range o.upstreams {
		name, addr, ok := strings.Cut(u, "=")
		if !ok || name == "" || addr == "" {
			return flagErrorf("--upstream", " %q: want NAME=ADDR like payments=127.0.0.1:3001", u)
		}
		cfg.Upstreams = append(cfg.Upstreams, harness.NamedUpstream{Name: name, Addr: addr})
	}
	return nil
}

// readCapped reads a file of at most limit bytes through inputfile, so a
// FIFO no one writes to gives up after inputfile.Timeout or on a signal.
func readCapped(ctx context.Context, path string, limit int) ([]byte, error) {
	b, err := inputfile.Read(ctx, path, int64(limit), inputfile.Timeout)
	var tl *inputfile.TooLargeError
	switch {
	case ctx.Err() != nil:
		return nil, errInterrupted
	case errors.As(err, &tl):
		return nil, fmt.Errorf("%s: larger than %d bytes, the most cbload reads", path, limit)
	case errors.Is(err, inputfile.ErrTimeout):
		return nil, fmt.Errorf("%s: not read to its end within %v; want a regular file (a pipe must be written and closed)", path, inputfile.Timeout)
	}
	return b, err
}
