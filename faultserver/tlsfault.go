package faultserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// tlsKind is tls's index in kindTable.
var tlsKind = kindIndex("tls")

// tlsFault breaks the TLS handshake of an HTTPS upstream (Config.TLS): it
// acts on connections, before any request, so path= does not apply and
// rate= is per connection; while it is active keep-alive is off, so every
// request makes a handshake and the rate is per request too. Three
// failures a client sees differently:
//
//   - handshake: the server aborts the handshake with an alert — Go's
//     "remote error: tls: internal error", the way a server with a broken
//     certificate store or an expired key fails.
//   - expired: the certificate expired yesterday — "x509: certificate has
//     expired or is not yet valid".
//   - wrongname: the certificate is for another name (wrong-name.invalid)
//     — "x509: certificate is valid for wrong-name.invalid, not localhost",
//     or for an IP "… doesn't contain any IP SANs".
//
// The certificates are made when the server starts, from fixed templates,
// and signed by Config.TLS's own certificate when it is a CA (as the one
// --upstream-tls creates is), so a client that trusts it fails on the
// expiry or the name, not on an unknown issuer; otherwise they are
// self-signed. Every one is a handshake error: no request, no status, and
// a breaker around the call counts a failure.
type tlsFault struct {
	mode string
}

// tlsModes are the accepted arguments of tls, in the order of help.
var tlsModes = []string{"handshake", "expired", "wrongname"}

func parseTLS(arg string, _ map[string]string) (fault, error) {
	for _, m := range tlsModes {
		if arg == m {
			return tlsFault{mode: m}, nil
		}
	}
	return nil, fmt.Errorf("%q is not handshake, expired or wrongname", arg)
}

func (f tlsFault) arg() string      { return f.mode }
func (f tlsFault) params() []string { return nil }
func (f tlsFault) answers() bool    { return false }

// plan is never called: decide skips connection-level kinds.
func (f tlsFault) plan(randSource) action { return noAction{} }

type noAction struct{}

func (noAction) act(*reqCtx) bool { return false }

// tlsFaults serves the handshakes of an HTTPS data listener, rolling the
// active tls faults for each.
type tlsFaults struct {
	base           *tls.Config
	expired, wrong *tls.Config
}

// wrongName is the only name in the wrongname certificate: .invalid never
// resolves (RFC 2606).
const wrongName = "wrong-name.invalid"

// newTLSFaults makes the faulty certificates for base's and returns the
// config the data listener serves with.
func (s *Server) newTLSFaults(base *tls.Config) (*tls.Config, error) {
	if len(base.Certificates) == 0 {
		return nil, errors.New("tls config: no certificate")
	}
	good := base.Certificates[0]
	leaf := good.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(good.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tls config: parse the certificate: %w", err)
		}
	}
	now := time.Now()
	expired := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "cbload upstream (expired on purpose: tls:expired fault)"},
		NotBefore:    now.Add(-48 * time.Hour),
		NotAfter:     now.Add(-24 * time.Hour),
		DNSNames:     leaf.DNSNames,
		IPAddresses:  leaf.IPAddresses,
	}
	wrong := &x509.Certificate{
		SerialNumber: big.NewInt(3),
		Subject:      pkix.Name{CommonName: wrongName},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		DNSNames:     []string{wrongName},
	}
	f := &tlsFaults{base: base}
	for _, c := range []struct {
		tmpl *x509.Certificate
		dst  **tls.Config
	}{{expired, &f.expired}, {wrong, &f.wrong}} {
		cert, err := issue(c.tmpl, leaf, good)
		if err != nil {
			return nil, fmt.Errorf("tls faults: make a certificate: %w", err)
		}
		cfg := base.Clone()
		cfg.Certificates = []tls.Certificate{cert}
		cfg.GetCertificate = nil
		*c.dst = cfg
	}
	cfg := base.Clone()
	cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		switch s.rollTLS() {
		case "handshake":
			return nil, errors.New("tls:handshake fault")
		case "expired":
			return f.expired, nil
		case "wrongname":
			return f.wrong, nil
		}
		return nil, nil // the base config
	}
	return cfg, nil
}

// issue makes a certificate from tmpl with a new key, signed by ca when it
// may sign certificates, self-signed otherwise.
func issue(tmpl, ca *x509.Certificate, caCert tls.Certificate) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	parent, signer := tmpl, any(key)
	if ca.IsCA && ca.KeyUsage&x509.KeyUsageCertSign != 0 && caCert.PrivateKey != nil {
		parent, signer = ca, caCert.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return tls.Certificate{}, err
	}
	chain := [][]byte{der}
	if parent == ca {
		chain = append(chain, caCert.Certificate[0])
	}
	return tls.Certificate{Certificate: chain, PrivateKey: key}, nil
}

// rollTLS rolls the active tls faults for one handshake, in order, and
// returns the mode of the first that applies, or "". It counts it.
func (s *Server) rollTLS() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, af := range s.active {
		if af.kind != tlsKind {
			continue
		}
		if s.rnd.Float64() >= af.spec.Rate {
			continue
		}
		s.injected[tlsKind].Add(1)
		return af.spec.f.(tlsFault).mode
	}
	return ""
}
