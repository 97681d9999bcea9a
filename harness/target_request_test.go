package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cbload/cbload/faultserver"
	"github.com/cbload/cbload/reports"
)

// fallbackService is an HTTPS service whose POST /api calls an HTTPS
// upstream and, when the call fails, answers 200 with a fallback body.
type fallbackService struct {
	srv                 *httptest.Server
	badRequests, calls  atomic.Int64
	fallbacks, primarys atomic.Int64
}

func startFallbackService(t *testing.T, upstreamURL string, upstreamCA []byte) *fallbackService {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(upstreamCA) {
		t.Fatal("upstream CA does not parse")
	}
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: pool}},
		Timeout:   2 * time.Second, // TLS handshakes under -race on a loaded machine; the fault (error:503) answers at once
	}
	s := &fallbackService{}
	mux := http.NewServeMux()
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer s3cret" || string(body) != `{"id":1}` {
			s.badRequests.Add(1)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		s.calls.Add(1)
		resp, err := client.Get(upstreamURL + "/work")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err != nil || resp.StatusCode >= 500 {
			s.fallbacks.Add(1)
			io.WriteString(w, `{"source":"fallback"}`)
			return
		}
		s.primarys.Add(1)
		io.WriteString(w, `{"source":"primary"}`)
	})
	mux.HandleFunc("/local", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	s.srv = httptest.NewTLSServer(mux)
	t.Cleanup(func() {
		client.CloseIdleConnections()
		s.srv.Close()
	})
	return s
}

// TestTargetRealRequests runs a target with a method, a secret header, a
// body, an --expect JSON check, an HTTPS target and an HTTPS upstream: the
// fallback answers (200 with "source":"fallback") must count as
// assertion_failed, not ok, and the header's value must appear nowhere in
// the report.
func TestTargetRealRequests(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upAddr := ln.Addr().String()
	ln.Close()
	tlsDir := t.TempDir()
	// The service must trust the upstream's CA before the run: create it
	// the way the first run does.
	if _, created, err := upstreamCert(context.Background(), tlsDir); err != nil || !created {
		t.Fatalf("upstreamCert = %v, created %v", err, created)
	}
	ca, err := os.ReadFile(filepath.Join(tlsDir, UpstreamCAFile))
	if err != nil {
		t.Fatal(err)
	}
	svc := startFallbackService(t, "https://"+upAddr, ca)

	cfg := testConfig(t, "error:503")
	cfg.Rate = 25
	cfg.ClientTimeout = 5 * time.Second // TLS under -race on a loaded machine
	cfg.Phases = []Phase{
		{Name: "baseline", Duration: 2 * time.Second},
		{Name: "fault", Duration: 2 * time.Second, Faults: cfg.Phases[1].Faults},
		{Name: "recovery", Duration: time.Second},
	}
	header := http.Header{"Authorization": {"Bearer s3cret"}}
	cfg.Targets = []Target{{Name: "svc", URL: svc.srv.URL + "/api", Requests: []Request{
		{Method: http.MethodPost, URL: svc.srv.URL + "/api", Header: header, Body: []byte(`{"id":1}`)},
		{Method: http.MethodGet, URL: svc.srv.URL + "/local", Header: header, Collateral: true},
	}}}
	cfg.UpstreamAddr = upAddr
	cfg.UpstreamTLSDir = tlsDir
	cfg.TargetTLS.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: svc.srv.Certificate().Raw})
	for _, s := range []string{"status=200", "json:.source=primary"} {
		e, err := ParseExpectation(s)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Expect = append(cfg.Expect, e)
	}
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := svc.badRequests.Load(); n > 0 {
		t.Errorf("the service got %d requests without the method, header or body configured", n)
	}
	a := r.Arm("svc")
	base, fault := a.Summary["baseline"].API, a.Summary["fault"].API
	if base.Outcomes.AssertionFailed != 0 || base.OK == 0 {
		t.Errorf("baseline /api outcomes %+v; want all ok (the upstream is healthy)", base.Outcomes)
	}
	// The fallback answers 200: only the JSON check tells it from a success.
	if fault.Outcomes.AssertionFailed < fault.Requests*9/10 || fault.OK > fault.Requests/10 {
		t.Errorf("fault /api outcomes %+v of %d; want ≥ 90%% assertion_failed (the service answered fallbacks)", fault.Outcomes, fault.Requests)
	}
	if total := a.Summary["fault"].API.Outcomes.AssertionFailed + a.Summary["recovery"].API.Outcomes.AssertionFailed + base.Outcomes.AssertionFailed; total > svc.fallbacks.Load() {
		t.Errorf("%d assertion failures counted; the service answered only %d fallbacks", total, svc.fallbacks.Load())
	}
	if c := a.Summary["fault"].Collateral; c.Requests == 0 || c.OK != c.Requests {
		t.Errorf("fault collateral %+v; want every /local ok (--expect judges api answers only)", c)
	}
	notes := strings.Join(a.Notes, "\n")
	if !strings.Contains(notes, `missed --expect json:.source=primary (the first got .source = "fallback")`) {
		t.Errorf("notes %q; want the assertion failures explained", notes)
	}
	if !r.Config.Upstream.TLS || len(r.Config.Targets[0].Requests) != 2 || r.Config.Targets[0].Requests[0] != "POST "+svc.srv.URL+"/api" {
		t.Errorf("config upstream %+v targets %+v; want tls and the requests listed", r.Config.Upstream, r.Config.Targets)
	}
	var b strings.Builder
	if err := reports.WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "s3cret") {
		t.Errorf("report.json contains the Authorization header's value")
	}
}

// TestTargetTLSUntrusted checks that an HTTPS target whose certificate is
// not trusted stops the run before any load, naming the target.
func TestTargetTLSUntrusted(t *testing.T) {
	svc := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer svc.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upAddr := ln.Addr().String()
	ln.Close()
	cfg := testConfig(t, "latency:1s")
	cfg.Targets = []Target{{Name: "svc", URL: svc.URL + "/api"}}
	cfg.UpstreamAddr = upAddr
	_, err = Run(context.Background(), cfg)
	var se *SetupError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "target svc unreachable") || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Run against an untrusted HTTPS target = %v; want a SetupError about the certificate", err)
	}
	cfg.TargetTLS.Insecure = true
	cfg.Phases = cfg.Phases[:1]
	cfg.Phases[0].Duration = time.Second
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Errorf("Run with --insecure = %v; want it to run", err)
	}
}

func TestFaultserverTLSReset(t *testing.T) {
	cert, _, err := upstreamCert(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reset, _ := faultserver.ParseSpec("reset")
	up, err := faultserver.New(faultserver.Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Faults: []faultserver.Spec{reset}})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer tr.CloseIdleConnections()
	if !strings.HasPrefix(up.URL(), "https://") {
		t.Errorf("URL() = %s; want https://", up.URL())
	}
	resp, err := (&http.Client{Transport: tr}).Get(up.URL() + "/work")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET through a reset fault over TLS answered %d; want the connection aborted", resp.StatusCode)
	}
}
