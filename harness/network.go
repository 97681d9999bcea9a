package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// TargetTLS says how cbload checks the certificates of HTTPS targets and
// state URLs.
type TargetTLS struct {
	// Insecure skips certificate verification (--insecure).
	Insecure bool
	// CAPEM, when set, holds PEM certificates to trust instead of the
	// system's (--ca-cert).
	CAPEM []byte
}

func (t TargetTLS) validate() error {
	if len(t.CAPEM) > 0 {
		if _, err := t.clientConfig(); err != nil {
			return err
		}
	}
	return nil
}

// clientConfig returns the TLS settings of every client that talks to the
// user's service, or nil for Go's defaults.
func (t TargetTLS) clientConfig() (*tls.Config, error) {
	if !t.Insecure && len(t.CAPEM) == 0 {
		return nil, nil
	}
	c := &tls.Config{InsecureSkipVerify: t.Insecure} //nolint:gosec // asked for with --insecure
	if len(t.CAPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(t.CAPEM) {
			return nil, errors.New("ca-cert: no PEM certificate found; want a file with -----BEGIN CERTIFICATE----- blocks")
		}
		c.RootCAs = pool
	}
	return c, nil
}

// targetTransport returns the adjustments every client that talks to the
// user's service makes to its transport.
func targetTransport(t TargetTLS) (func(*http.Transport), error) {
	tc, err := t.clientConfig()
	if err != nil {
		return nil, err
	}
	return func(tr *http.Transport) {
		if tc != nil {
			tr.TLSClientConfig = tc.Clone()
		}
	}, nil
}

// Files of an HTTPS upstream's certificate, in Config.UpstreamTLSDir.
const (
	UpstreamCAFile  = "upstream-ca.pem"
	upstreamKeyFile = "upstream-key.pem"
)

// upstreamCert loads the HTTPS upstream's certificate from dir, creating
// a self-signed one first when dir has none: valid for localhost and every
// loopback address, and for two years. Keeping it in dir lets the user's
// service trust UpstreamCAFile once, across runs. It reports whether it
// created the files.
func upstreamCert(dir string) (tls.Certificate, bool, error) {
	certPath, keyPath := filepath.Join(dir, UpstreamCAFile), filepath.Join(dir, upstreamKeyFile)
	if c, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil {
		return c, false, nil
	} else if _, statErr := os.Stat(certPath); statErr == nil {
		return tls.Certificate{}, false, fmt.Errorf("upstream-tls %s: %s and %s do not load as a key pair: %w; remove both to have cbload create new ones", dir, UpstreamCAFile, upstreamKeyFile, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, false, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "cbload upstream (self-signed, loopback only)"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(2 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return tls.Certificate{}, false, fmt.Errorf("upstream-tls %s: %w", dir, err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return tls.Certificate{}, false, fmt.Errorf("upstream-tls %s: %w", dir, err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return tls.Certificate{}, false, fmt.Errorf("upstream-tls %s: %w", dir, err)
	}
	c, err := tls.LoadX509KeyPair(certPath, keyPath)
	return c, true, err
}
