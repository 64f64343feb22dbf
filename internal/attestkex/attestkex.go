// Package attestkex is veil's one attested key exchange: fresh nonces, a
// fresh X25519 key born in this process, evidence that binds that key to
// the session and the verifiers' nonces (attest.Bind), the verification
// of a peer's evidence against a policy, and keys derived from the
// agreed secret with HKDF-SHA256. Aramis' three-party handshake
// (mpc/aramis) and Slalom's client service (slalom) are both built from
// it; each keeps its own messages, session ids and key labels.
//
// # The exchange
//
//  1. Each verifier sends a fresh [NonceSize]-byte nonce ([NewNonce]).
//  2. The attested party draws a fresh X25519 key ([NewKey]) and
//     presents evidence of it ([Attest]): its platform's report over
//     attest.Bind(public key, session id, nonces...), so the evidence
//     vouches for this key, in this session, after these nonces existed.
//  3. A verifier checks the evidence against its policy and the report
//     data it computes itself from the key the evidence names, the
//     session id and the nonces as it knows them ([Verify]). Evidence
//     replayed from another session, made before the nonces, or for
//     another session id or key is refused.
//  4. Both ends agree on the X25519 secret ([Agree]) with the key the
//     evidence names, salted with a hash of their exchange
//     ([Transcript]), and draw their keys from it ([Secret.Key],
//     [Secret.Pair] for a record layer, internal/record). Only the
//     attested process holds the private key, so only it can derive
//     them: whatever is sealed under them comes from the attested code.
//
// A party that is also attested (Aramis) does both roles at once. The
// key must be generated inside the attested process and never leave it.
package attestkex

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"veil/attest"
	"veil/internal/record"
)

// NonceSize is the size of a verifier's nonce.
const NonceSize = 32

// KeySize is the size of an X25519 public key on the wire.
const KeySize = 32

// NewNonce returns a fresh random nonce of NonceSize bytes.
func NewNonce() ([]byte, error) {
	n := make([]byte, NonceSize)
	if _, err := rand.Read(n); err != nil {
		return nil, fmt.Errorf("drawing a nonce: %w", err)
	}
	return n, nil
}

// NewKey draws a fresh X25519 key for one exchange.
func NewKey() (*ecdh.PrivateKey, error) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("drawing an X25519 key: %w", err)
	}
	return k, nil
}

// Attest returns a's evidence for key: a report over attest.Bind(key's
// public half, sessionID, nonces...), with PubKey set to that public
// half. The nonces' order is part of the binding: verifiers must list
// them alike.
func Attest(a attest.Attester, key *ecdh.PrivateKey, sessionID []byte, nonces ...[]byte) (*attest.Evidence, error) {
	if a == nil {
		return nil, errors.New("no attester")
	}
	return attest.AttestKey(a, key.PublicKey().Bytes(), sessionID, nonces...)
}

// PeerKey parses the X25519 public key a peer sent (in its evidence, or
// unattested, in a hello).
func PeerKey(pub []byte) (*ecdh.PublicKey, error) {
	if len(pub) != KeySize {
		return nil, fmt.Errorf("X25519 key of %d bytes, want %d", len(pub), KeySize)
	}
	return ecdh.X25519().NewPublicKey(pub)
}

// Verify checks a peer's evidence against pol: the platform's signature,
// the measurement, debug, TCB (attest.Policy.Check), and that its report
// data is attest.Bind(ev.PubKey, sessionID, nonces...), computed here
// from the session id and the nonces as this verifier knows them. The
// key the evidence names must be an X25519 key. It returns what the
// evidence established.
func Verify(pol attest.Policy, ev *attest.Evidence, sessionID []byte, nonces ...[]byte) (*attest.Claims, error) {
	if ev == nil {
		return nil, errors.New("no evidence")
	}
	if _, err := PeerKey(ev.PubKey); err != nil {
		return nil, fmt.Errorf("the evidence binds no usable key: %w", err)
	}
	return pol.Check(ev, attest.Bind(ev.PubKey, sessionID, nonces...))
}

// Transcript is SHA-256(domain ‖ BE32 length ‖ part ‖ ...): a hash of an
// exchange's messages, each length-prefixed so that no two lists of
// parts hash alike. It salts the keys ([Agree]) and makes session ids.
func Transcript(domain string, parts ...[]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(domain))
	var n [4]byte
	for _, p := range parts {
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	var s [32]byte
	h.Sum(s[:0])
	return s
}

// Secret is an agreed secret and the salt that binds it to its exchange;
// keys are drawn from it with HKDF-SHA256.
type Secret struct {
	shared, salt []byte
}

// Agree computes the X25519 secret of key with the peer's public key
// (as it came, in its evidence or hello) and returns it with salt.
func Agree(key *ecdh.PrivateKey, peer, salt []byte) (*Secret, error) {
	pub, err := PeerKey(peer)
	if err != nil {
		return nil, err
	}
	shared, err := key.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("key agreement: %w", err)
	}
	return NewSecret(shared, salt), nil
}

// NewSecret returns the secret shared, salted with salt, as [Agree]
// would (for a secret agreed elsewhere; tests use fixed ones).
func NewSecret(shared, salt []byte) *Secret {
	return &Secret{shared: bytes.Clone(shared), salt: bytes.Clone(salt)}
}

// Key derives size bytes labelled info: HKDF-SHA256(secret, salt, info).
// Different labels give independent keys.
func (s *Secret) Key(info string, size int) ([]byte, error) {
	return hkdf.Key(sha256.New, s.shared, s.salt, info, size)
}

// Pair derives the two directions' record keys of this end, size bytes
// each (16 or 32), labelled out (what this end seals) and in (what it
// opens), and returns this end of the record layer (internal/record).
// The peer calls it with the labels swapped.
func (s *Secret) Pair(out, in string, size int) (record.Pair, error) {
	if out == in {
		return record.Pair{}, errors.New("the same label for both directions")
	}
	ko, err := s.Key(out, size)
	if err != nil {
		return record.Pair{}, err
	}
	ki, err := s.Key(in, size)
	if err != nil {
		return record.Pair{}, err
	}
	p, err := record.NewPair(ko, ki)
	clear(ko)
	clear(ki)
	return p, err
}
