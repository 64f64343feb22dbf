package slalom

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// The T↔D channel is TLS 1.3 with mutual authentication by pinned Ed25519
// keys: each side holds its own key and the other's public key, and a
// peer is accepted only if its certificate carries exactly that key (no
// CA; the handshake proves possession of the private key).

// Identity is an Ed25519 key with a self-signed certificate.
type Identity struct {
	Cert tls.Certificate
	Pub  ed25519.PublicKey
}

// NewIdentity makes a fresh identity.
func NewIdentity(name string) (*Identity, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return identityFrom(name, pub, priv)
}

func identityFrom(name string, pub ed25519.PublicKey, priv ed25519.PrivateKey) (*Identity, error) {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "veil slalom " + name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return nil, err
	}
	return &Identity{Cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}, Pub: pub}, nil
}

// Save writes NAME.key (PKCS#8 PEM, mode 0600) and NAME.pub (the public
// key, PEM) in dir.
func (id *Identity) Save(dir, name string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	k, err := x509.MarshalPKCS8PrivateKey(id.Cert.PrivateKey)
	if err != nil {
		return err
	}
	p, err := x509.MarshalPKIXPublicKey(id.Pub)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: p}), 0o644)
}

// LoadIdentity reads NAME.key from dir.
func LoadIdentity(dir, name string) (*Identity, error) {
	b, err := os.ReadFile(filepath.Join(dir, name+".key"))
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s.key: not PEM", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s.key: not an Ed25519 key", name)
	}
	return identityFrom(name, priv.Public().(ed25519.PublicKey), priv)
}

// LoadPublic reads NAME.pub from dir.
func LoadPublic(dir, name string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(filepath.Join(dir, name+".pub"))
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s.pub: not PEM", name)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s.pub: not an Ed25519 key", name)
	}
	return pub, nil
}

func pinned(peer ed25519.PublicKey) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("slalom: peer sent no certificate")
		}
		k, ok := cs.PeerCertificates[0].PublicKey.(ed25519.PublicKey)
		if !ok || !bytes.Equal(k, peer) {
			return errors.New("slalom: peer key is not the pinned one")
		}
		return nil
	}
}

func tlsConfig(id *Identity, peer ed25519.PublicKey) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{id.Cert},
		InsecureSkipVerify: true, // replaced by the pin check
		ClientAuth:         tls.RequireAnyClientCert,
		VerifyConnection:   pinned(peer),
	}
}

// coalescing buffers TLS's 16 KB records into large socket writes,
// flushed at the end of every frame (fewer system calls). During the
// handshake it writes through.
type coalescing struct {
	net.Conn
	w      *bufio.Writer
	direct bool
}

func (c *coalescing) Write(b []byte) (int, error) {
	if c.direct {
		return c.Conn.Write(b)
	}
	return c.w.Write(b)
}

func (c *coalescing) Flush() error { return c.w.Flush() }

// tlsConn wraps a connection in TLS over a coalescing writer, completes
// the handshake (with the pin check) and returns the framed connection.
func tlsConn(raw net.Conn, cfg *tls.Config, client bool) (*Conn, *tls.Conn, error) {
	cc := &coalescing{Conn: raw, w: bufio.NewWriterSize(raw, 1<<20), direct: true}
	var tc *tls.Conn
	if client {
		tc = tls.Client(cc, cfg)
	} else {
		tc = tls.Server(cc, cfg)
	}
	raw.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.Handshake(); err != nil {
		return nil, nil, err
	}
	raw.SetDeadline(time.Time{})
	cc.direct = false
	c := NewConn(tc)
	c.lower = cc
	return c, tc, nil
}

// Dial connects T to the device at addr, both sides authenticated.
func Dial(addr string, id *Identity, device ed25519.PublicKey) (*Conn, net.Conn, error) {
	raw, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, nil, fmt.Errorf("slalom: connecting to the device at %s: %w", addr, err)
	}
	c, tc, err := tlsConn(raw, tlsConfig(id, device), true)
	if err != nil {
		raw.Close()
		return nil, nil, fmt.Errorf("slalom: connecting to the device at %s: %w", addr, err)
	}
	return c, tc, nil
}

// Listener is the device's listener: TLS that accepts only T.
type Listener struct {
	net.Listener
	cfg *tls.Config
}

// Listen returns a TLS listener for the device that accepts only T.
func Listen(addr string, id *Identity, trusted ed25519.PublicKey) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Listener{ln, tlsConfig(id, trusted)}, nil
}

// ServeListener serves connections one at a time (T is a single client);
// a connection that fails the handshake is dropped.
func (d *Device) ServeListener(ln *Listener, logf func(string, ...any)) error {
	for {
		raw, err := ln.Accept()
		if err != nil {
			return err
		}
		c, _, err := tlsConn(raw, ln.cfg, false)
		if err != nil {
			logf("refused connection from %s: %v", raw.RemoteAddr(), err)
			raw.Close()
			continue
		}
		err = d.Serve(c)
		raw.Close()
		if err != nil {
			logf("session ended: %v", err)
		}
	}
}
