package transport

import (
	"crypto/tls"
	"fmt"
	"path/filepath"

	"veil/internal/pinned"
	"veil/mpc"
)

// KeyFile is the path of the private key GenerateIdentity writes for role
// in dir: "<dir>/<role>.key", for example "keys/server.key".
func KeyFile(role mpc.Party, dir string) string { return filepath.Join(dir, role.Role()+".key") }

// CertFile is the path of the certificate GenerateIdentity writes for role
// in dir: "<dir>/<role>.crt", for example "keys/server.crt".
func CertFile(role mpc.Party, dir string) string { return filepath.Join(dir, role.Role()+".crt") }

// GenerateIdentity creates a fresh Ed25519 key pair for role and writes it
// to dir (created with mode 0700 if missing) as two PEM files, each
// created exclusively (an existing file or symbolic link is never
// replaced or followed), in veil's one key file format (internal/pinned):
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
	id, err := pinned.Generate(name)
	if err == nil {
		err = pinned.Save(id, KeyFile(role, dir), CertFile(role, dir), pinned.AsCertificate)
	}
	if err != nil {
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
	id, err := pinned.Load(keyPath, certPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("transport: %w", err)
	}
	return id, nil
}
