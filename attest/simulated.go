package attest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"veil/internal/keyfile"
)

// The simulated report, Evidence.Raw of format "simulated-insecure":
//
//	magic "VEILSIM1" ‖ measurement length (1 byte) ‖ measurement ‖
//	debug (1 byte, 0 or 1) ‖ TCB (8 bytes little-endian) ‖ report data (64) ‖
//	Ed25519 signature (64)
//
// The signature covers simDomain ‖ everything before it ‖ the platform
// public key (Evidence.Certs).
var simMagic = []byte("VEILSIM1")

const simDomain = "veil/attest/v1 simulated report\x00"

// Simulated is an insecure software attester: a platform Ed25519 key held
// in ordinary memory signs (measurement ‖ debug ‖ TCB ‖ report data). It
// proves nothing about the code that runs (whoever holds the key signs any
// claim) and exists for tests and demos on machines without a TEE;
// Policy refuses its evidence unless InsecureAllowSimulated is set.
type Simulated struct {
	key ed25519.PrivateKey
	// Measurement claimed; NewSimulated sets SelfMeasurement().
	Measurement []byte
	Debug       bool
	TCB         uint64
}

// NewSimulated returns a simulated attester signing with platformKey, or a
// freshly generated key if platformKey is nil. Its measurement is
// SelfMeasurement(), debug off, TCB 0.
func NewSimulated(platformKey ed25519.PrivateKey) (*Simulated, error) {
	if platformKey == nil {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		platformKey = k
	}
	if len(platformKey) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("attest: simulated platform key of %d bytes, want %d", len(platformKey), ed25519.PrivateKeySize)
	}
	m, err := SelfMeasurement()
	if err != nil {
		return nil, err
	}
	return &Simulated{key: platformKey, Measurement: m}, nil
}

// Format is "simulated-insecure".
func (s *Simulated) Format() string { return FormatSimulated }

// PlatformKey is the public key a verifier must pin.
func (s *Simulated) PlatformKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// Attest signs a simulated report carrying rd.
func (s *Simulated) Attest(rd ReportData) (*Evidence, error) {
	if len(s.Measurement) == 0 || len(s.Measurement) > 255 {
		return nil, fmt.Errorf("attest: simulated measurement of %d bytes (want 1..255)", len(s.Measurement))
	}
	raw := append([]byte{}, simMagic...)
	raw = append(raw, byte(len(s.Measurement)))
	raw = append(raw, s.Measurement...)
	raw = append(raw, b2u(s.Debug))
	raw = binary.LittleEndian.AppendUint64(raw, s.TCB)
	raw = append(raw, rd[:]...)
	pub := s.PlatformKey()
	raw = append(raw, ed25519.Sign(s.key, simSigned(raw, pub))...)
	return &Evidence{Format: FormatSimulated, Raw: raw, Certs: bytes.Clone(pub)}, nil
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func simSigned(body []byte, pub ed25519.PublicKey) []byte {
	m := append([]byte(simDomain), body...)
	return append(m, pub...)
}

// SimulatedVerifier verifies simulated evidence signed by one of its
// pinned platform keys.
type SimulatedVerifier struct {
	keys []ed25519.PublicKey

	skipSignature bool // tests only, as in SEVSNPVerifier
}

// NewSimulatedVerifier returns a verifier accepting simulated reports
// signed by one of keys (with none, it refuses everything).
func NewSimulatedVerifier(keys ...ed25519.PublicKey) *SimulatedVerifier {
	return &SimulatedVerifier{keys: keys}
}

// Format is "simulated-insecure".
func (*SimulatedVerifier) Format() string { return FormatSimulated }

// Verify checks the platform key is pinned and the signature, then that the
// report data equals want.
func (v *SimulatedVerifier) Verify(ev *Evidence, want ReportData) (*Claims, error) {
	if ev == nil || ev.Format != FormatSimulated {
		return nil, fmt.Errorf("attest: simulated verifier given %q evidence", evFormat(ev))
	}
	if len(v.keys) == 0 {
		return nil, errors.New("attest: simulated evidence: no simulated platform key pinned (give the simulated platform's public key)")
	}
	if len(ev.Certs) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("attest: simulated evidence carries a %d-byte platform key, want %d", len(ev.Certs), ed25519.PublicKeySize)
	}
	pub := ed25519.PublicKey(ev.Certs)
	pinned := false
	for _, k := range v.keys {
		if k.Equal(pub) {
			pinned = true
			break
		}
	}
	if !pinned {
		return nil, fmt.Errorf("attest: simulated platform key %s is not pinned", short(pub))
	}
	r := ev.Raw
	if len(r) < len(simMagic)+1 || !bytes.Equal(r[:len(simMagic)], simMagic) {
		return nil, errors.New("attest: simulated report: bad magic")
	}
	mlen := int(r[len(simMagic)])
	bodyLen := len(simMagic) + 1 + mlen + 1 + 8 + 64
	if len(r) != bodyLen+ed25519.SignatureSize {
		return nil, fmt.Errorf("attest: simulated report of %d bytes, want %d", len(r), bodyLen+ed25519.SignatureSize)
	}
	body, sig := r[:bodyLen], r[bodyLen:]
	if !v.skipSignature && !ed25519.Verify(pub, simSigned(body, pub), sig) {
		return nil, errors.New("attest: simulated report signature invalid")
	}
	off := len(simMagic) + 1
	c := &Claims{
		Format:      FormatSimulated,
		Measurement: bytes.Clone(body[off : off+mlen]),
		PlatformID:  bytes.Clone(pub),
		Signer:      "simulated platform key (insecure)",
	}
	off += mlen
	switch body[off] {
	case 0:
	case 1:
		c.Debug = true
	default:
		return nil, fmt.Errorf("attest: simulated report debug byte %d", body[off])
	}
	off++
	c.TCB = binary.LittleEndian.Uint64(body[off:])
	c.TCBComponents = bytes.Clone(body[off : off+8])
	off += 8
	copy(c.ReportData[:], body[off:off+64])
	return checkReportData(c, want)
}

func evFormat(ev *Evidence) string {
	if ev == nil {
		return "no"
	}
	return ev.Format
}

var self struct {
	once sync.Once
	m    []byte
	err  error
}

// SelfMeasurement is the SHA-384 of the running executable, the measurement
// a simulated party claims.
func SelfMeasurement() ([]byte, error) {
	self.once.Do(func() {
		path, err := os.Executable()
		if err != nil {
			self.err = fmt.Errorf("attest: self measurement: %w", err)
			return
		}
		f, err := os.Open(path)
		if err != nil {
			self.err = fmt.Errorf("attest: self measurement: %w", err)
			return
		}
		defer f.Close()
		h := sha512.New384()
		if _, err := io.Copy(h, f); err != nil {
			self.err = fmt.Errorf("attest: self measurement: %w", err)
			return
		}
		self.m = h.Sum(nil)
	})
	return bytes.Clone(self.m), self.err
}

// LoadOrCreateSimulatedKey reads a simulated platform's private key (PKCS#8
// PEM) from path, or, if there is no such file, generates one and writes it
// (mode 0600, created exclusively). created says which. A key behind a
// symbolic link, or (on Unix) readable or writable by group or others, is
// refused (see internal/keyfile).
func LoadOrCreateSimulatedKey(path string) (key ed25519.PrivateKey, created bool, err error) {
	b, err := keyfile.ReadPrivate(path)
	if errors.Is(err, os.ErrNotExist) {
		_, key, err = ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, false, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, false, err
		}
		if err := keyfile.WritePrivate(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
			return nil, false, err
		}
		return key, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, false, fmt.Errorf("%s: not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, false, fmt.Errorf("%s: not an Ed25519 key", path)
	}
	return key, false, nil
}

// AttestKey asks a for evidence binding pubKey to this session and these
// nonces: report data Bind(pubKey, sessionID, nonces...), Evidence.PubKey
// pubKey.
func AttestKey(a Attester, pubKey, sessionID []byte, nonces ...[]byte) (*Evidence, error) {
	ev, err := a.Attest(Bind(pubKey, sessionID, nonces...))
	if err != nil {
		return nil, err
	}
	ev.PubKey = bytes.Clone(pubKey)
	return ev, nil
}

// hexOr returns hex of b, or "-" when empty.
func hexOr(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	return hex.EncodeToString(b)
}
