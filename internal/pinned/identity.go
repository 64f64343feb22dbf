package pinned

import (
	"crypto"
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
)

// validity is how long a generated certificate is valid: about ten
// years (validity carries no weight for a pinned key; it only has to
// outlive the key's use).
const validity = 10 * 365 * 24 * time.Hour

// PEM block types of the key files.
const (
	privateKeyBlock  = "PRIVATE KEY"
	certificateBlock = "CERTIFICATE"
	publicKeyBlock   = "PUBLIC KEY"
)

// Generate makes a fresh Ed25519 identity: the key and a self-signed
// certificate for it, with Leaf set.
func Generate(name string) (tls.Certificate, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	return selfSign(name, priv)
}

// selfSign returns the identity of an existing Ed25519 key: a
// self-signed X.509 certificate with common name name, a random serial
// number, valid from an hour ago (to tolerate clock skew) for
// validity, for TLS server and client authentication. Leaf is set.
func selfSign(name string, priv ed25519.PrivateKey) (tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	pub := priv.Public()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, nil
}

// PublicForm is how [Save] writes an identity's public half.
type PublicForm int

const (
	// AsCertificate writes the self-signed certificate (PEM
	// "CERTIFICATE").
	AsCertificate PublicForm = iota
	// AsPublicKey writes the bare public key (PEM "PUBLIC KEY", PKIX).
	AsPublicKey
)

// Save writes id's private key to keyPath (PEM PKCS#8, mode 0600) and its
// public half to pubPath in the given form (PEM, mode 0644), creating
// their directories with mode 0700 where missing. It never replaces a
// file nor writes through a symbolic link: if either file exists the
// error wraps fs.ErrExist and nothing is written. If the public half
// cannot be written, the key written before it is removed.
func Save(id tls.Certificate, keyPath, pubPath string, form PublicForm) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(id.PrivateKey)
	if err != nil {
		return err
	}
	var pub *pem.Block
	switch form {
	case AsCertificate:
		if len(id.Certificate) == 0 {
			return errors.New("identity has no certificate")
		}
		pub = &pem.Block{Type: certificateBlock, Bytes: id.Certificate[0]}
	case AsPublicKey:
		signer, ok := id.PrivateKey.(crypto.Signer)
		if !ok {
			return fmt.Errorf("private key of type %T has no public key", id.PrivateKey)
		}
		der, err := x509.MarshalPKIXPublicKey(signer.Public())
		if err != nil {
			return err
		}
		pub = &pem.Block{Type: publicKeyBlock, Bytes: der}
	default:
		return fmt.Errorf("unknown public form %d", form)
	}
	for _, p := range []string{keyPath, pubPath} {
		// Checked before anything is written (the writes below are
		// exclusive too), so that a half-made identity is never left.
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s already exists; remove it to make a new key: %w", p, fs.ErrExist)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	for _, dir := range []string{filepath.Dir(keyPath), filepath.Dir(pubPath)} {
		if err := keyfile.MkdirPrivate(dir); err != nil {
			return err
		}
	}
	if err := keyfile.WritePrivate(keyPath, pem.EncodeToMemory(&pem.Block{Type: privateKeyBlock, Bytes: keyDER})); err != nil {
		return err
	}
	if err := keyfile.WritePublic(pubPath, pem.EncodeToMemory(pub)); err != nil {
		os.Remove(keyPath)
		return err
	}
	return nil
}

// Load reads a private key (PEM: PKCS#8 as [Save] writes it; PKCS#1 and
// SEC 1 keys are accepted too) and the certificate of its public half
// (PEM), checks that they belong together and returns them ready for TLS,
// with Leaf set. The key must not be a symbolic link nor, on Unix,
// readable or writable by group or others (internal/keyfile). Errors
// name the file.
func Load(keyPath, certPath string) (tls.Certificate, error) {
	keyPEM, err := keyfile.ReadPrivate(keyPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("reading key: %w", err)
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("reading certificate: %w", err)
	}
	id, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key %s with certificate %s: %w", keyPath, certPath, err)
	}
	if id.Leaf == nil {
		if id.Leaf, err = x509.ParseCertificate(id.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("certificate %s: %w", certPath, err)
		}
	}
	return id, nil
}

// LoadKey reads an Ed25519 private key file (PEM PKCS#8, as [Save]
// writes it, under the same rules as [Load]) whose public half was saved
// without a certificate, and returns its identity with a fresh
// self-signed certificate named name, as [Generate] makes.
func LoadKey(keyPath, name string) (tls.Certificate, error) {
	b, err := keyfile.ReadPrivate(keyPath)
	if err != nil {
		return tls.Certificate{}, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != privateKeyBlock {
		return tls.Certificate{}, fmt.Errorf("%s: not a PEM %q block", keyPath, privateKeyBlock)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", keyPath, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return tls.Certificate{}, fmt.Errorf("%s: not an Ed25519 key (%T)", keyPath, k)
	}
	return selfSign(name, priv)
}

// ReadCertificate reads the first certificate of a PEM file (blocks of
// other types before it are skipped).
func ReadCertificate(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading certificate: %w", err)
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("certificate %s: no PEM %s block", path, certificateBlock)
		}
		if b.Type != certificateBlock {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", path, err)
		}
		return c, nil
	}
}

// ReadPublic reads the public half of a key file, in either form [Save]
// writes: the key of the first CERTIFICATE or PUBLIC KEY block of a PEM
// file.
func ReadPublic(path string) (crypto.PublicKey, error) { return readPublic(path, false) }

// PublicOf returns the public key of a key file of either half: the
// private key ("PRIVATE KEY", PKCS#8, as [Save] writes it) or its public
// half ("CERTIFICATE" or "PUBLIC KEY", as [ReadPublic] reads them),
// whichever block comes first. It is for binding a key (veil attest
// produce --key), not for using it: a private key file is read without
// the checks of [Load], and its private half is dropped.
func PublicOf(path string) (crypto.PublicKey, error) { return readPublic(path, true) }

// readPublic returns the key of the first PEM block of the file at path
// that carries one: a PUBLIC KEY or a CERTIFICATE block, and with private
// also a PRIVATE KEY block (its public half).
func readPublic(path string, private bool) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		switch {
		case b == nil && private:
			return nil, fmt.Errorf("%s: no PEM %s, %s or %s block", path, privateKeyBlock, certificateBlock, publicKeyBlock)
		case b == nil:
			return nil, fmt.Errorf("%s: no PEM %s or %s block", path, publicKeyBlock, certificateBlock)
		case b.Type == publicKeyBlock:
			k, err := x509.ParsePKIXPublicKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return k, nil
		case b.Type == certificateBlock:
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return c.PublicKey, nil
		case b.Type == privateKeyBlock && private:
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			s, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("%s: unsupported key type %T", path, k)
			}
			return s.Public(), nil
		}
	}
}
