package harness

import (
	"context"
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
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cbload/cbload/internal/field"
	"github.com/cbload/cbload/internal/inputfile"
	"github.com/cbload/cbload/internal/outfile"
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
			return field.Invalid("tls.ca_cert", "--ca-cert", "%w", err)
		}
	}
	return nil
}

// errNoPEM is a --ca-cert file without a certificate.
var errNoPEM = errors.New("no PEM certificate found; want a file with -----BEGIN CERTIFICATE----- blocks")

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
			return nil, errNoPEM
		}
		c.RootCAs = pool
	}
	return c, nil
}

// targetTransport returns the adjustments every client that talks to the
// user's service makes to its transport: its TLS settings, and a dialer
// that connects only where allow says.
func targetTransport(t TargetTLS, allow AllowList) (func(*http.Transport), error) {
	tc, err := t.clientConfig()
	if err != nil {
		return nil, err
	}
	return func(tr *http.Transport) {
		if tc != nil {
			tr.TLSClientConfig = tc.Clone()
		}
		tr.DialContext = allow.DialContext(30 * time.Second)
	}, nil
}

// EnsureUpstreamCert creates the HTTPS upstream's certificate in dir
// unless it is already there, so the user can make their service trust
// dir/UpstreamCAFile before the first run; it reports whether it created
// it.
func EnsureUpstreamCert(ctx context.Context, dir string) (bool, error) {
	_, created, err := upstreamCert(ctx, dir)
	return created, err
}

// Files of an HTTPS upstream's certificate, in Config.UpstreamTLSDir.
const (
	UpstreamCAFile  = "upstream-ca.pem"
	upstreamKeyFile = "upstream-key.pem"
)

// CopyUpstreamCA copies the HTTPS upstream's CA certificate from the
// folder it is kept in (Config.UpstreamTLSDir) into outDir, the report's
// folder, and returns the copy's path.
func CopyUpstreamCA(ctx context.Context, tlsDir, outDir string) (string, error) {
	b, err := inputfile.ReadRegular(ctx, filepath.Join(tlsDir, UpstreamCAFile), maxPEMFile, inputfile.Timeout)
	if err != nil {
		return "", err
	}
	p := filepath.Join(outDir, UpstreamCAFile)
	return p, outfile.Write(ctx, p, b)
}

// maxPEMFile is the most cbload reads of a certificate or key file.
const maxPEMFile = 1 << 20

// loadKeyPair is tls.LoadX509KeyPair reading both files through
// inputfile: capped, and given up on ctx's end.
func loadKeyPair(ctx context.Context, certPath, keyPath string) (tls.Certificate, error) {
	cert, err := inputfile.ReadRegular(ctx, certPath, maxPEMFile, inputfile.Timeout)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := inputfile.ReadRegular(ctx, keyPath, maxPEMFile, inputfile.Timeout)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(cert, key)
}

// upstreamCert loads the HTTPS upstream's certificate from dir, creating
// a self-signed one first when dir has none: valid for localhost and every
// loopback address, and for two years. Keeping it in dir lets the user's
// service trust UpstreamCAFile once, across runs. It reports whether it
// created the files. Both files must be regular files (the user's service
// reads the certificate too): a FIFO or a device there is an error, never
// waited on.
func upstreamCert(ctx context.Context, dir string) (tls.Certificate, bool, error) {
	certPath, keyPath := filepath.Join(dir, UpstreamCAFile), filepath.Join(dir, upstreamKeyFile)
	for _, p := range []string{certPath, keyPath} {
		if err := inputfile.CheckRegular(p); errors.Is(err, inputfile.ErrNotRegular) {
			return tls.Certificate{}, false, fmt.Errorf("upstream-tls %s: %s is %w; want the PEM file cbload created, or none", dir, filepath.Base(p), err)
		}
	}
	if _, statErr := os.Stat(certPath); statErr == nil {
		c, err := loadKeyPair(ctx, certPath, keyPath)
		if err != nil {
			if ctx.Err() != nil {
				return tls.Certificate{}, false, err
			}
			return tls.Certificate{}, false, fmt.Errorf("upstream-tls %s: %s and %s do not load as a key pair: %w; remove both to have cbload create new ones", dir, UpstreamCAFile, upstreamKeyFile, err)
		}
		return c, false, nil
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
	// Written as every output (outfile): a folder or socket in the way is
	// refused, a link's file replaced, the key readable by the user only.
	if err := outfile.WritePerm(context.Background(), keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return tls.Certificate{}, false, fmt.Errorf("upstream-tls %s: %w", dir, err)
	}
	if err := outfile.Write(context.Background(), certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})); err != nil {
		return tls.Certificate{}, false, fmt.Errorf("upstream-tls %s: %w", dir, err)
	}
	c, err := tls.LoadX509KeyPair(certPath, keyPath)
	return c, true, err
}

// AllowList is where cbload may send load and poll state besides this
// machine's own loopback addresses (127.0.0.1, ::1 and localhost, always
// allowed): the ranges given with --allow-remote. It is empty by default,
// so nothing else is reached unless the user says so. Every connection is
// checked when it is dialled, after name resolution, so neither a hostname
// nor a redirect can lead elsewhere.
type AllowList []netip.Prefix

// MaxAllowRanges is the most ranges --allow-remote (allow_remote) lists;
// every connection is checked against each.
const MaxAllowRanges = 100

// ParseAllowList parses a comma-separated list of CIDR ranges or single
// addresses, like "10.0.0.0/8,192.168.1.7".
func ParseAllowList(s string) (AllowList, error) {
	var out AllowList
	parts := strings.Split(s, ",")
	if len(parts) > MaxAllowRanges {
		return nil, fmt.Errorf("lists %d ranges; the limit is %d", len(parts), MaxAllowRanges)
	}
	for _, part := range parts {
		part = strings.TrimSpace(part)
		var p netip.Prefix
		var err error
		if strings.Contains(part, "%") {
			return nil, fmt.Errorf("%q: zones are not supported; give the address without %%zone", clip(part))
		}
		if strings.Contains(part, "/") {
			p, err = netip.ParsePrefix(part)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(part); err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		switch {
		case err != nil:
			return nil, fmt.Errorf("%q: want CIDR ranges or addresses like 10.0.0.0/8,192.168.1.7", clip(part))
		case p.Bits() == 0:
			return nil, fmt.Errorf("%q: allows every address; name the networks your service is in, like 10.0.0.0/8", part)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// String returns the list as ParseAllowList reads it.
func (a AllowList) String() string {
	s := make([]string, len(a))
	for i, p := range a {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// ownLoopback are the addresses cbload always may reach.
var ownLoopback = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}

// allows says whether cbload may connect to ip.
func (a AllowList) allows(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, l := range ownLoopback {
		if ip == l {
			return true
		}
	}
	for _, p := range a {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// refusal says why host is not allowed.
func (a AllowList) refusal(host string) string {
	what := "is not loopback"
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().IsLoopback() {
		what = "is another loopback address than 127.0.0.1 and ::1"
	}
	if len(a) == 0 {
		return fmt.Sprintf("host %s %s; cbload sends only to 127.0.0.1, ::1 and localhost unless --allow-remote CIDR names its range", host, what)
	}
	return fmt.Sprintf("host %s %s and not in --allow-remote %s", host, what, a)
}

// CheckTargetURL returns an error unless u is an absolute http(s) URL that
// cbload may send to: its host is localhost, 127.0.0.1, ::1, an address in
// a, or — only when a is not empty — a name, whose addresses are checked
// when each connection is made.
func CheckTargetURL(u string, a AllowList) error {
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return fmt.Errorf("%q: want an absolute http:// URL like http://127.0.0.1:8080/api", clip(RedactURL(u)))
	}
	if err := a.checkHost(pu.Hostname()); err != nil {
		return fmt.Errorf("%q: %w", clip(RedactURL(u)), err)
	}
	return nil
}

// CheckHost returns an error unless cbload may connect to host: see
// CheckTargetURL.
func (a AllowList) CheckHost(host string) error { return a.checkHost(host) }

// CheckListenHost returns an error unless host is an address of this
// machine a server may listen on: localhost, 127.0.0.1, ::1 or an address
// in a. Every interface (0.0.0.0, ::, "") is never accepted: it would
// expose the server to every network this machine is on.
func (a AllowList) CheckListenHost(host string) error {
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	switch {
	case host == "" || (err == nil && ip.IsUnspecified()):
		return fmt.Errorf("every interface: name one address, 127.0.0.1 or an address of this machine allowed with --allow-remote")
	case err != nil:
		return fmt.Errorf("host %s: want an IP address, not a name", host)
	case !a.allows(ip):
		return errors.New(a.refusal(host))
	}
	return nil
}

// DialContext dials like net.Dialer with timeout, refusing before any packet
// is sent an address the list does not allow.
func (a AllowList) DialContext(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: a.control}).DialContext
}

func (a AllowList) checkHost(h string) error {
	if strings.EqualFold(h, "localhost") {
		return nil
	}
	ip, err := netip.ParseAddr(h)
	if err != nil {
		if len(a) > 0 {
			return nil // a name: checked at dial time
		}
		return errors.New(a.refusal(h))
	}
	if !a.allows(ip) {
		return errors.New(a.refusal(h))
	}
	return nil
}

// checkListenAddr checks the upstream's listen address: a host:port with a
// port, on this machine's loopback or an address in a (an interface your
// service can reach, say a container bridge).
func (a AllowList) checkListenAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	shown, shownHost := clip(RedactURL(addr)), RedactURL(host) // in messages
	if err != nil {
		return fmt.Errorf("%q: want a loopback host:port your service calls, like 127.0.0.1:9090", shown)
	}
	// Checked here: a port out of range would otherwise fail at listen
	// time, as if the address were in use.
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("%q: port %q: want a number from 1 to 65535", shown, clip(port))
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !a.allows(ip) {
		if len(a) == 0 {
			return fmt.Errorf("%q: host %s is not loopback; want 127.0.0.1 or ::1 (or an address of this machine allowed with --allow-remote)", shown, shownHost)
		}
		return fmt.Errorf("%q: host %s: want 127.0.0.1, ::1 or an address of this machine in --allow-remote %s", shown, shownHost, a)
	}
	return nil
}

// control refuses, before any packet is sent, a connection to an address
// the list does not allow; it is a net.Dialer's Control.
func (a AllowList) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: not an IP address and port", address)
	}
	if !a.allows(ap.Addr()) {
		return fmt.Errorf("dial %s: %s", address, a.refusal(ap.Addr().String()))
	}
	return nil
}
