package transport

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"veil/internal/keyfile"
	"veil/mpc"
)

// identityValidity is how long a generated certificate is valid.
const identityValidity = 10 * 365 * 24 * time.Hour

// KeyFile is the path of the private key GenerateIdentity writes for role
// in dir: "<dir>/<role>.key", for example "keys/server.key".
func KeyFile(role mpc.Party, dir string) string { return filepath.Join(dir, role.Role()+".key") }

// CertFile is the path of the certificate GenerateIdentity writes for role
// in dir: "<dir>/<role>.crt", for example "keys/server.crt".
func CertFile(role mpc.Party, dir string) string { return filepath.Join(dir, role.Role()+".crt") }

// GenerateIdentity creates a fresh Ed25519 key pair for role and writes it
// to dir (created with mode 0700 if missing) as two PEM files, each
// created exclusively (an existing file or symbolic link is never
// replaced or followed):
//
//   - <role>.key: the private key, PKCS#8 ("PRIVATE KEY"), mode 0600;
//   - <role>.crt: a self-signed X.509 certificate for the key ("CERTIFICATE"),
//     common name the role name ("client", "server" or "helper"), valid for
//     about ten years, for TLS client and server authentication.
//
// The certificate is what the other parties pin in their configuration;
// the key never leaves the party. GenerateIdentity refuses to overwrite an
// existing key or certificate, so that a working identity is never lost by
// accident: remove the files first to replace them.
func GenerateIdentity(role mpc.Party, dir string) error {
	name := role.Role()
	if name == "" {
		return fmt.Errorf("transport: generate identity: unknown party %d", uint8(role))
	}
	keyPath, certPath := KeyFile(role, dir), CertFile(role, dir)
	for _, p := range []string{keyPath, certPath} {
		// Checked before anything is written (the writes below are
		// exclusive too), so that a half-made identity is never left.
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("transport: generate identity for %s: %s already exists; remove it to make a new identity: %w", name, p, fs.ErrExist)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("transport: generate identity for %s: %w", name, err)
		}
	}

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("transport: generate identity for %s: %w", name, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return fmt.Errorf("transport: generate identity for %s: %w", name, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour), // tolerate some clock skew
		NotAfter:              now.Add(identityValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return fmt.Errorf("transport: generate identity for %s: %w", name, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("transport: generate identity for %s: %w", name, err)
	}

	if err := keyfile.MkdirPrivate(dir); err != nil {
		return fmt.Errorf("transport: generate identity for %s: %w", name, err)
	}
	if err := keyfile.WritePrivate(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})); err != nil {
		return fmt.Errorf("transport: generate identity for %s: %w", name, err)
	}
	if err := keyfile.WritePublic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})); err != nil {
		os.Remove(keyPath)
		return fmt.Errorf("transport: generate identity for %s: %w", name, err)
	}
	return nil
}

// LoadIdentity reads a party's private key (PEM, PKCS#8 as GenerateIdentity
// writes it; PKCS#1 and SEC 1 keys are accepted too) and its certificate
// (PEM), checks that they belong together, and returns them ready for TLS,
// with Leaf set. The key must not be a symbolic link nor, on Unix,
// readable or writable by group or others (see internal/keyfile).
func LoadIdentity(keyPath, certPath string) (tls.Certificate, error) {
	keyPEM, err := keyfile.ReadPrivate(keyPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("transport: reading key: %w", err)
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("transport: reading certificate: %w", err)
	}
	id, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("transport: key %s with certificate %s: %w", keyPath, certPath, err)
	}
	if id.Leaf == nil {
		if id.Leaf, err = x509.ParseCertificate(id.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("transport: certificate %s: %w", certPath, err)
		}
	}
	return id, nil
}

// readCert reads the first certificate of a PEM file.
func readCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading certificate: %w", err)
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("certificate %s: no PEM CERTIFICATE block", path)
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", path, err)
		}
		return c, nil
	}
}
