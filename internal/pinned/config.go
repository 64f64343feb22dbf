package pinned

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// Pin is the key a peer's certificate must carry: its DER-encoded
// SubjectPublicKeyInfo.
type Pin []byte

// PinKey returns the pin of a public key.
func PinKey(pub crypto.PublicKey) (Pin, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return Pin(der), nil
}

// PinOf returns the pin of the key c carries.
func PinOf(c *x509.Certificate) Pin { return Pin(c.RawSubjectPublicKeyInfo) }

// Matches reports whether c carries the pinned key (an empty pin matches
// nothing).
func (p Pin) Matches(c *x509.Certificate) bool {
	return len(p) > 0 && c != nil && bytes.Equal(c.RawSubjectPublicKeyInfo, p)
}

// Verify decides whether a peer is accepted, given the certificate it
// presented. [Config] calls it once the TLS 1.3 handshake has proved that
// the peer holds the certificate's private key; an error refuses the peer
// (the handshake fails with it, and the peer gets an alert).
type Verify func(peer *x509.Certificate) error

// MismatchError reports a peer whose certificate does not carry the
// pinned key.
type MismatchError struct {
	// Peer names whom the pin is for ("server", "the device").
	Peer string
	// Pinner names who pins it ("the config"), if not this end.
	Pinner string
	// CN is the common name of the certificate presented (which carries
	// no weight: it only helps the reader tell which key came).
	CN string
}

func (e *MismatchError) Error() string {
	if e.Pinner == "" {
		return fmt.Sprintf("the certificate presented (CN %q) does not carry the key pinned for %s", e.CN, e.Peer)
	}
	return fmt.Sprintf("the certificate presented (CN %q) is not the one %s pins for %s", e.CN, e.Pinner, e.Peer)
}

// Only returns a [Verify] that accepts exactly the key pin, pinned by
// pinner for peer (both for the *MismatchError of any other).
func Only(pin Pin, peer, pinner string) Verify {
	return func(c *x509.Certificate) error {
		if !pin.Matches(c) {
			return &MismatchError{Peer: peer, Pinner: pinner, CN: c.Subject.CommonName}
		}
		return nil
	}
}

// PeerCertificate returns the certificate the peer presented in the
// handshake of cs.
func PeerCertificate(cs tls.ConnectionState) (*x509.Certificate, error) {
	if len(cs.PeerCertificates) == 0 {
		return nil, errors.New("the peer presented no certificate")
	}
	return cs.PeerCertificates[0], nil
}

// Config returns the TLS configuration of either end of a pinned
// connection, for tls.Client and tls.Server alike:
//
//   - TLS 1.3 only; the end presents id;
//   - a client must present a certificate (RequireAnyClientCert: any
//     certificate, no CA chain), and a server's chain is not verified
//     either (InsecureSkipVerify), since neither is issued by a CA;
//     both checks are replaced by verify, called through
//     VerifyConnection at both ends with the peer's certificate;
//   - no session tickets: every connection is authenticated afresh by a
//     full handshake, and nothing follows the handshake on the TLS layer
//     unless the application writes it (Slalom's sealed frames start on
//     the raw connection right after it).
//
// serverName is what a client sends as its server name (SNI); it may be
// empty, and a server ignores it.
func Config(id tls.Certificate, serverName string, verify Verify) *tls.Config {
	return &tls.Config{
		Certificates:           []tls.Certificate{id},
		MinVersion:             tls.VersionTLS13,
		ServerName:             serverName,
		InsecureSkipVerify:     true, // replaced by verify, below
		ClientAuth:             tls.RequireAnyClientCert,
		SessionTicketsDisabled: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			c, err := PeerCertificate(cs)
			if err != nil {
				return err
			}
			return verify(c)
		},
	}
}

// ExportKey returns size bytes of keying material exported from the
// finished TLS 1.3 session cs under label, with no context (RFC 8446
// §7.5): the same at both ends, bound to that handshake, and
// independent for different labels. It refuses a session that is not
// TLS 1.3 or whose handshake has not completed.
func ExportKey(cs tls.ConnectionState, label string, size int) ([]byte, error) {
	if !cs.HandshakeComplete {
		return nil, errors.New("exporting keys: the TLS handshake is not complete")
	}
	if cs.Version != tls.VersionTLS13 {
		return nil, fmt.Errorf("exporting keys: TLS version %#04x, want TLS 1.3", cs.Version)
	}
	return cs.ExportKeyingMaterial(label, nil, size)
}
