package harness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cbload/cbload/internal/field"
)

// TestRequestSettingsApply checks that a request setting that cannot be
// used is a field error with the setting's scenario path, and the
// message its flag gives, and that good settings become the targets'
// requests.
func TestRequestSettingsApply(t *testing.T) {
	dir := t.TempDir()
	bodyFile := filepath.Join(dir, "body")
	if err := os.WriteFile(bodyFile, []byte("payload"), 0o644); err != nil {
		t.Fatal(err)
	}
	target := func() *Config { return &Config{Targets: []Target{{Name: "svc", URL: "http://127.0.0.1:1/api"}}} }
	for _, tt := range []struct {
		cfg       *Config
		s         RequestSettings
		path, msg string
	}{
		{&Config{}, RequestSettings{Expect: []string{"status=200"}}, "expect", "--expect: only used with --target"},
		{target(), RequestSettings{Method: "post"}, "request.method", `--method "post": want an HTTP method in capitals like GET or POST`},
		{target(), RequestSettings{Headers: []string{"no colon"}}, "request.headers", `--header "no colon": want 'Name: value'`},
		{target(), RequestSettings{Body: "x", BodyFile: bodyFile}, "request.body", "--body, --body-file: give one or the other"},
		{target(), RequestSettings{BodyFile: filepath.Join(dir, "missing")}, "request.body_file", "--body-file: open "},
		{target(), RequestSettings{TargetsFile: bodyFile}, "request.targets_file", "--targets: "},
		{target(), RequestSettings{Upstreams: []string{"payments"}}, "upstreams", `--upstream "payments": want NAME=ADDR`},
		{target(), RequestSettings{UpstreamTLSDir: bodyFile}, "upstream.tls_dir", "--upstream-tls: " + bodyFile + " is not a folder"},
	} {
		err := tt.s.Apply(context.Background(), tt.cfg, nil)
		fe := field.As(err)
		if fe.Path() != tt.path || err == nil || !strings.HasPrefix(err.Error(), tt.msg) {
			t.Errorf("Apply(%+v) = %v (path %q); want %q… at %s", tt.s, err, fe.Path(), tt.msg, tt.path)
		}
	}

	cfg := target()
	s := RequestSettings{Method: "PUT", Headers: []string{"X-Tenant: acme"}, BodyFile: bodyFile}
	if err := s.Apply(context.Background(), cfg, nil); err != nil {
		t.Fatalf("Apply(%+v) = %v", s, err)
	}
	if r := cfg.Targets[0].Requests; len(r) != 1 || r[0].Method != "PUT" || string(r[0].Body) != "payload" || r[0].Header.Get("X-Tenant") != "acme" {
		t.Errorf("requests %+v; want one PUT with the file's body and the header", r)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (&RequestSettings{BodyFile: bodyFile}).Apply(ctx, target(), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Apply with an ended context = %v; want the context's error", err)
	}
}
