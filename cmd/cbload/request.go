package main

import (
	_ "embed"

	"github.com/cbload/cbload/harness"
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

// settings returns the request flags' values, for the harness to check
// and apply.
func (o *requestOptions) settings() *harness.RequestSettings {
	return &harness.RequestSettings{
		Method: o.method, Headers: o.headers, HeaderEnv: o.headerEnv, Body: o.body, BodyFile: o.bodyFile,
		TargetsFile: o.targets, Expect: o.expect, Insecure: o.insecure, CACert: o.caCert,
		UpstreamTLSDir: o.upstreamTL, UpstreamGRPC: o.upstreamGR, Upstreams: o.upstreams,
	}
}
