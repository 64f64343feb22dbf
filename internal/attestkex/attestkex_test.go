package attestkex

import (
	"bytes"
	"crypto/ecdh"
	"errors"
	"strings"
	"testing"

	"veil/attest"
	"veil/internal/record"
)

var measurement = bytes.Repeat([]byte{0x5a}, 48)

// platform returns a simulated attester and the policy that accepts it.
func platform(t *testing.T) (*attest.Simulated, attest.Policy) {
	t.Helper()
	s, err := attest.NewSimulated(nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Measurement = measurement
	return s, attest.Policy{Measurements: [][]byte{measurement}, InsecureAllowSimulated: true,
		SimulatedPlatformKeys: [][]byte{s.PlatformKey()}}
}

func mustKey(t *testing.T) *ecdh.PrivateKey {
	t.Helper()
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustNonce(t *testing.T) []byte {
	t.Helper()
	n, err := NewNonce()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestExchange: a verifier accepts fresh evidence for the attested key,
// and both ends then derive the same keys, different per label and per
// salt; records sealed by one end open at the other.
func TestExchange(t *testing.T) {
	sim, pol := platform(t)
	nonce := mustNonce(t)
	if len(nonce) != NonceSize || bytes.Equal(nonce, mustNonce(t)) {
		t.Fatal("nonces not fresh")
	}
	sid := []byte("session id")
	tKey, cKey := mustKey(t), mustKey(t)
	ev, err := Attest(sim, tKey, sid, nonce)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ev.PubKey, tKey.PublicKey().Bytes()) {
		t.Fatal("the evidence names another key")
	}
	claims, err := Verify(pol, ev, sid, nonce)
	if err != nil {
		t.Fatal(err)
	}
	if claims.ReportData != attest.Bind(ev.PubKey, sid, nonce) || !bytes.Equal(claims.Measurement, measurement) {
		t.Fatalf("claims %+v", claims)
	}

	salt := Transcript("test transcript", []byte("hello"), []byte("attest"))
	tSec, err := Agree(tKey, cKey.PublicKey().Bytes(), salt[:])
	if err != nil {
		t.Fatal(err)
	}
	cSec, err := Agree(cKey, ev.PubKey, salt[:])
	if err != nil {
		t.Fatal(err)
	}
	k1, _ := tSec.Key("label", 32)
	k2, _ := cSec.Key("label", 32)
	k3, _ := cSec.Key("other label", 32)
	other := Transcript("test transcript", []byte("hello"), []byte("attesT"))
	k4, _ := NewSecret(mustShared(t, cKey, tKey), other[:]).Key("label", 32)
	if !bytes.Equal(k1, k2) || bytes.Equal(k1, k3) || bytes.Equal(k1, k4) {
		t.Fatal("keys: the ends disagree, or labels or salts do not separate them")
	}

	tEnd, err := tSec.Pair("T to client", "client to T", 32)
	if err != nil {
		t.Fatal(err)
	}
	cEnd, err := cSec.Pair("client to T", "T to client", 32)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := cEnd.Out.Seal(nil, []byte("input"), nil)
	if pt, err := tEnd.In.Open(nil, r, nil); err != nil || string(pt) != "input" {
		t.Fatalf("client to T: %q, %v", pt, err)
	}
	if _, err := cEnd.In.Open(nil, r, nil); !errors.Is(err, record.ErrAuth) {
		t.Fatalf("a reflected record: %v", err)
	}
	if _, err := tSec.Pair("same", "same", 32); err == nil {
		t.Fatal("one label for both directions accepted")
	}
}

func mustShared(t *testing.T, a, b *ecdh.PrivateKey) []byte {
	t.Helper()
	s, err := a.ECDH(b.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVerifyRefuses: evidence for another nonce, session, key, order of
// nonces or from a platform the policy does not pin is refused, and so
// is evidence that names no X25519 key.
func TestVerifyRefuses(t *testing.T) {
	sim, pol := platform(t)
	stranger, _ := platform(t)
	key := mustKey(t)
	n1, n2, sid := mustNonce(t), mustNonce(t), []byte("sid")
	good := func() *attest.Evidence {
		ev, err := Attest(sim, key, sid, n1, n2)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	cases := []struct {
		name   string
		ev     func() *attest.Evidence
		sid    []byte
		nonces [][]byte
		pol    attest.Policy
		want   string
	}{
		{"other nonce (stale evidence)", good, sid, [][]byte{mustNonce(t), n2}, pol, "report data"},
		{"nonces swapped", good, sid, [][]byte{n2, n1}, pol, "report data"},
		{"a nonce missing", good, sid, [][]byte{n1}, pol, "report data"},
		{"other session id", good, []byte("other"), [][]byte{n1, n2}, pol, "report data"},
		{"other key named", func() *attest.Evidence {
			ev := good()
			ev.PubKey = mustKey(t).PublicKey().Bytes()
			return ev
		}, sid, [][]byte{n1, n2}, pol, "report data"},
		{"no X25519 key", func() *attest.Evidence {
			ev := good()
			ev.PubKey = ev.PubKey[:31]
			return ev
		}, sid, [][]byte{n1, n2}, pol, "no usable key"},
		{"unpinned platform", func() *attest.Evidence {
			ev, _ := Attest(stranger, key, sid, n1, n2)
			return ev
		}, sid, [][]byte{n1, n2}, pol, "platform"},
		{"other measurement required", good, sid, [][]byte{n1, n2},
			attest.Policy{Measurements: [][]byte{bytes.Repeat([]byte{1}, 48)}, InsecureAllowSimulated: true, SimulatedPlatformKeys: pol.SimulatedPlatformKeys}, "measurement"},
		{"simulated not allowed", good, sid, [][]byte{n1, n2}, attest.Policy{Measurements: [][]byte{measurement}}, "simulated"},
		{"no evidence", func() *attest.Evidence { return nil }, sid, [][]byte{n1, n2}, pol, "no evidence"},
	}
	if _, err := Verify(pol, good(), sid, n1, n2); err != nil {
		t.Fatalf("the genuine evidence: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Verify(c.pol, c.ev(), c.sid, c.nonces...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	if _, err := Attest(nil, key, sid); err == nil {
		t.Fatal("attested without an attester")
	}
}

// TestAgreeRefuses: a peer key that is not a usable X25519 key.
func TestAgreeRefuses(t *testing.T) {
	key := mustKey(t)
	for name, pub := range map[string][]byte{
		"short":     make([]byte, 31),
		"long":      make([]byte, 33),
		"low order": make([]byte, 32), // the all-zero point: a zero secret
	} {
		if _, err := Agree(key, pub, nil); err == nil {
			t.Errorf("%s key accepted", name)
		}
	}
}

// TestTranscript: parts are length-prefixed, so moving a byte from one
// part to the next changes the hash.
func TestTranscript(t *testing.T) {
	a := Transcript("d", []byte("ab"), []byte("c"))
	if a == Transcript("d", []byte("a"), []byte("bc")) || a == Transcript("e", []byte("ab"), []byte("c")) || a != Transcript("d", []byte("ab"), []byte("c")) {
		t.Fatal("transcript hashes collide or differ")
	}
}
