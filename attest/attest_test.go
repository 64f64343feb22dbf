package attest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBind(t *testing.T) {
	base := Bind([]byte("key"), []byte("sid"), []byte("n1"), []byte("n2"))
	if base != Bind([]byte("key"), []byte("sid"), []byte("n1"), []byte("n2")) {
		t.Fatal("Bind is not deterministic")
	}
	// Every change of input, including moving a boundary, changes the
	// result.
	for _, tc := range []struct {
		name string
		rd   ReportData
	}{
		{"key", Bind([]byte("kez"), []byte("sid"), []byte("n1"), []byte("n2"))},
		{"session", Bind([]byte("key"), []byte("sie"), []byte("n1"), []byte("n2"))},
		{"nonce", Bind([]byte("key"), []byte("sid"), []byte("n1"), []byte("n3"))},
		{"nonce order", Bind([]byte("key"), []byte("sid"), []byte("n2"), []byte("n1"))},
		{"nonce dropped", Bind([]byte("key"), []byte("sid"), []byte("n1"))},
		{"key/session boundary", Bind([]byte("keys"), []byte("id"), []byte("n1"), []byte("n2"))},
		{"nonce boundary", Bind([]byte("key"), []byte("sid"), []byte("n1n"), []byte("2"))},
		{"nonces merged", Bind([]byte("key"), []byte("sid"), []byte("n1n2"))},
		{"session into nonce", Bind([]byte("key"), []byte("sidn1"), []byte("n2"))},
	} {
		if tc.rd == base {
			t.Errorf("%s: same report data", tc.name)
		}
	}
	if Bind(nil, nil) == Bind(nil, nil, nil) {
		t.Error("no nonce and one empty nonce bind the same")
	}
	// The construction, spelled out.
	h := sha512.New()
	h.Write([]byte("veil/attest/v1 report data\x00"))
	lp := func(b []byte) { h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(b)))); h.Write(b) }
	lp([]byte("key"))
	lp([]byte("sid"))
	h.Write(binary.BigEndian.AppendUint64(nil, 2)) // the nonce count
	lp([]byte("n1"))
	lp([]byte("n2"))
	if !bytes.Equal(h.Sum(nil), base[:]) {
		t.Error("Bind does not match its documented construction")
	}
}

func TestEvidenceEncoding(t *testing.T) {
	ev := &Evidence{Format: FormatTDX, Raw: []byte{1, 2, 3}, Certs: nil, PubKey: []byte("pk")}
	b, err := ev.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Evidence
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got.Format != ev.Format || !bytes.Equal(got.Raw, ev.Raw) || len(got.Certs) != 0 || !bytes.Equal(got.PubKey, ev.PubKey) {
		t.Fatalf("round trip %+v, want %+v", got, ev)
	}
	b[len(b)-1] ^= 1 // fields are copied, not aliased
	if got.PubKey[1] != 'k' {
		t.Fatal("decoded evidence aliases its input")
	}
	b[len(b)-1] ^= 1

	big := make([]byte, MaxEvidenceSize)
	copy(big, b[:9])
	bump := func(i int) []byte { c := bytes.Clone(b); c[i]++; return c }
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "bad magic"},
		{"magic", append([]byte("VEILEVIX"), b[8:]...), "bad magic"},
		{"version", bump(8), "encoding version 2"},
		{"truncated", b[:len(b)-1], "pubkey field of 2 bytes, only 1 left"},
		{"truncated length", b[:18], "before the raw length"},
		{"trailing", append(bytes.Clone(b), 0), "1 trailing bytes"},
		{"oversized field", bump(16), "raw field of 16777219 bytes"},
		{"too big", append(big, 0), "exceeds the 1048576-byte limit"},
		{"no format", append(append([]byte("VEILEVID"), 1), make([]byte, 16)...), "format name of 0 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e Evidence
			if err := e.UnmarshalBinary(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := (&Evidence{Format: "x", Raw: make([]byte, MaxEvidenceSize)}).MarshalBinary(); err == nil {
		t.Error("marshalled evidence over the limit")
	}
	if _, err := (&Evidence{}).MarshalBinary(); err == nil {
		t.Error("marshalled evidence without a format")
	}
}

// simSetup returns a simulated attester with a fixed platform key and a
// policy accepting its evidence.
func simSetup(t *testing.T) (*Simulated, Policy) {
	t.Helper()
	s, err := NewSimulated(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	s.TCB = 0x0102
	return s, Policy{
		Measurements:           [][]byte{s.Measurement},
		MinTCB:                 0x0102,
		InsecureAllowSimulated: true,
		SimulatedPlatformKeys:  [][]byte{s.PlatformKey()},
	}
}

func TestSimulatedAccepted(t *testing.T) {
	s, pol := simSetup(t)
	self, err := SelfMeasurement()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Measurement, self) || len(self) != 48 {
		t.Fatalf("simulated measurement %x is not SelfMeasurement %x", s.Measurement, self)
	}
	pub := []byte("party public key")
	ev, err := AttestKey(s, pub, []byte("session"), []byte("nonce A"), []byte("nonce B"))
	if err != nil {
		t.Fatal(err)
	}
	// Through the wire encoding.
	b, err := ev.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Evidence
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	c, err := pol.CheckBinding(&got, []byte("session"), []byte("nonce A"), []byte("nonce B"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Format != FormatSimulated || !bytes.Equal(c.Measurement, self) || c.Debug || c.TCB != 0x0102 ||
		!bytes.Equal(c.PlatformID, s.PlatformKey()) || c.ReportData != Bind(pub, []byte("session"), []byte("nonce A"), []byte("nonce B")) {
		t.Fatalf("claims %+v", c)
	}
}

// TestSimulatedRefused: each check on simulated evidence, through the same
// Policy.Check path as the real formats.
func TestSimulatedRefused(t *testing.T) {
	s, pol := simSetup(t)
	sid, pub := []byte("session"), []byte("party key")
	rd := Bind(pub, sid, []byte("n"))
	good, err := AttestKey(s, pub, sid, []byte("n"))
	if err != nil {
		t.Fatal(err)
	}
	attest := func(edit func(*Simulated)) *Evidence {
		s2 := *s
		edit(&s2)
		ev, err := AttestKey(&s2, pub, sid, []byte("n"))
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	other, _ := NewSimulated(nil)
	otherEv, err := AttestKey(other, pub, sid, []byte("n"))
	if err != nil {
		t.Fatal(err)
	}
	swapKey := *otherEv
	swapKey.Certs = s.PlatformKey() // signed by other, claims s's key
	mlen := len(s.Measurement)
	for _, tc := range []struct {
		name string
		ev   *Evidence
		edit func(*Policy)
		rd   ReportData
		want string
	}{
		{"not allowed by default", good, func(p *Policy) { p.InsecureAllowSimulated = false }, rd,
			"attest: simulated evidence refused (set insecure-allow-simulated to accept)"},
		{"zero policy", good, func(p *Policy) { *p = Policy{} }, rd, "simulated evidence refused"},
		{"no platform key pinned", good, func(p *Policy) { p.SimulatedPlatformKeys = nil }, rd, "no simulated platform key pinned"},
		{"other platform key", otherEv, nil, rd, "is not pinned"},
		{"key swapped", &swapKey, nil, rd, "attest: simulated report signature invalid"},
		{"tampered measurement", flip(good, 9, 1), nil, rd, "attest: simulated report signature invalid"},
		{"tampered debug", flip(good, 9+mlen, 1), nil, rd, "attest: simulated report signature invalid"},
		{"tampered TCB", flip(good, 10+mlen, 1), nil, rd, "attest: simulated report signature invalid"},
		{"tampered report data", flip(good, 18+mlen, 1), nil, flipRD(rd), "attest: simulated report signature invalid"},
		{"tampered signature", flip(good, len(good.Raw)-1, 1), nil, rd, "attest: simulated report signature invalid"},
		{"truncated", &Evidence{Format: FormatSimulated, Raw: good.Raw[:40], Certs: good.Certs}, nil, rd, "simulated report of 40 bytes"},
		{"bad magic", flip(good, 0, 1), nil, rd, "bad magic"},
		{"other measurement", attest(func(s *Simulated) { s.Measurement = bytes.Repeat([]byte{0x3f}, 48) }), nil, rd,
			"attest: measurement 3f3f3f3f3f3f3f3f… not in the allowed set"},
		{"empty allowed set", good, func(p *Policy) { p.Measurements = nil }, rd, "attest: policy allows no measurement (empty allowed set refuses everything)"},
		{"debug", attest(func(s *Simulated) { s.Debug = true }), nil, rd, "attest: debug enabled"},
		{"TCB", attest(func(s *Simulated) { s.TCB = 0x0201 }), nil, rd, "attest: TCB 0x0000000000000201 below the minimum 0x0000000000000102 (component 0: 1 < 2)"},
		{"other session", good, nil, Bind(pub, []byte("other"), []byte("n")), "attest: report data does not bind this key/session"},
		{"other key", good, nil, Bind([]byte("mallory"), sid, []byte("n")), "attest: report data does not bind this key/session"},
		{"other nonce", good, nil, Bind(pub, sid, []byte("m")), "attest: report data does not bind this key/session"},
		{"unknown format", &Evidence{Format: "sgx"}, nil, rd, `unknown evidence format "sgx"`},
		{"nil evidence", nil, nil, rd, "no evidence"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pol
			if tc.edit != nil {
				tc.edit(&p)
			}
			_, err := p.Check(tc.ev, tc.rd)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	// Debug and lower TCB pass when the policy allows them.
	p := pol
	p.AllowDebug, p.MinTCB = true, 0x0101
	if _, err := p.Check(attest(func(s *Simulated) { s.Debug, s.TCB = true, 0x0101 }), rd); err != nil {
		t.Fatal(err)
	}
	// A verifier used directly (not through Policy) still checks report data.
	if _, err := NewSimulatedVerifier(s.PlatformKey()).Verify(good, Bind(pub, sid)); err == nil {
		t.Fatal("simulated verifier ignored the report data")
	}
}

func TestTCBComponentWise(t *testing.T) {
	for _, tc := range []struct {
		got, min uint64
		ok       bool
	}{
		{0, 0, true},
		{0x0203, 0x0203, true},
		{0x0304, 0x0203, true},
		{0x0100, 0x00ff, false}, // numerically larger, but component 0 is lower
		{0x00ff, 0x0100, false},
		{0xff00000000000000, 0x0100000000000001, false},
	} {
		if err := tcbAtLeast(tc.got, tc.min); (err == nil) != tc.ok {
			t.Errorf("tcbAtLeast(%#x, %#x) = %v, want ok=%v", tc.got, tc.min, err, tc.ok)
		}
	}
}

func TestPolicyJSON(t *testing.T) {
	in := `{"measurements":["b07a","0102"],"allow_debug":true,"min_tcb":7,"insecure_allow_simulated":true,
	"simulated_platform_keys":["` + strings.Repeat("ab", 32) + `"]}`
	p, err := ParsePolicy([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Measurements) != 2 || !bytes.Equal(p.Measurements[0], []byte{0xb0, 0x7a}) || !p.AllowDebug || p.MinTCB != 7 ||
		!p.InsecureAllowSimulated || len(p.SimulatedPlatformKeys) != 1 {
		t.Fatalf("parsed %+v", p)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q Policy
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(q.Measurements[1], p.Measurements[1]) || q.MinTCB != 7 || !bytes.Equal(q.SimulatedPlatformKeys[0], p.SimulatedPlatformKeys[0]) {
		t.Fatalf("round trip %s → %+v", b, q)
	}
	zero, err := ParsePolicy([]byte(`{}`))
	if err != nil || zero.InsecureAllowSimulated || zero.AllowDebug || len(zero.Measurements) != 0 {
		t.Fatalf("empty policy %+v, %v", zero, err)
	}
	for _, bad := range []string{
		`{"measurement":["00"]}`,  // misspelt
		`{"measurements":["zz"]}`, // not hex
		`{"measurements":[""]}`,   // empty
		`{"simulated_platform_keys":["00"]}`,
		`{"min_tcb":-1}`,
		`{} {}`,
	} {
		if _, err := ParsePolicy([]byte(bad)); err == nil {
			t.Errorf("ParsePolicy(%s) accepted", bad)
		}
	}
	path := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := LoadPolicy(path); err != nil || p.MinTCB != 7 {
		t.Fatalf("LoadPolicy: %+v, %v", p, err)
	}
}

func TestSimulatedKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "platform.key")
	k1, created, err := LoadOrCreateSimulatedKey(path)
	if err != nil || !created {
		t.Fatalf("create: %v, created %v", err, created)
	}
	k2, created, err := LoadOrCreateSimulatedKey(path)
	if err != nil || created || !k1.Equal(k2) {
		t.Fatalf("reload: %v, created %v, same %v", err, created, k1.Equal(k2))
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", fi.Mode(), err)
	}
}

func TestDetect(t *testing.T) {
	a, err := Detect()
	present := false
	for _, p := range []string{sevGuestDevice, tdxGuestDevice, tsmReportDir} {
		if _, err := os.Stat(p); err == nil {
			present = true
		}
	}
	if !present {
		if !errors.Is(err, ErrNoTEE) || a != nil {
			t.Fatalf("Detect() = %v, %v on a machine without a TEE", a, err)
		}
		if !strings.Contains(err.Error(), "no TEE found") {
			t.Fatalf("error %q", err)
		}
		return
	}
	// On a confidential VM: its evidence must verify at least up to the
	// report data (the measurement is unknown to the test).
	if err != nil {
		t.Logf("TEE interface present but Detect: %v", err)
		return
	}
	rd := Bind([]byte("k"), []byte("s"))
	ev, err := a.Attest(rd)
	if err != nil {
		t.Fatal(err)
	}
	p := Policy{Measurements: [][]byte{{0}}}
	if _, err := p.Check(ev, rd); err == nil || !strings.Contains(err.Error(), "not in the allowed set") {
		t.Fatalf("own evidence: %v", err)
	}
}

// lyingVerifier claims to verify one format but returns claims of another.
type lyingVerifier struct{ format, claims string }

func (v lyingVerifier) Format() string { return v.format }
func (v lyingVerifier) Verify(ev *Evidence, want ReportData) (*Claims, error) {
	return &Claims{Format: v.claims, Measurement: []byte{1}, ReportData: want, TDX: &TDXClaims{}}, nil
}

func TestPolicyVerifierMismatch(t *testing.T) {
	ev := &Evidence{Format: FormatTDX}
	for _, tc := range []struct {
		name string
		v    Verifier
		want string
	}{
		{"verifier of another format", NewSimulatedVerifier(), `verifier for "tdx" handles "simulated-insecure"`},
		{"claims of another format", lyingVerifier{FormatTDX, FormatSimulated}, `"tdx" verifier returned claims of format "simulated-insecure"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Policy{Measurements: [][]byte{{1}}, Verifiers: map[string]Verifier{FormatTDX: tc.v}}
			if _, err := p.Check(ev, ReportData{}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	p := Policy{Measurements: [][]byte{{1}}, Verifiers: map[string]Verifier{FormatTDX: lyingVerifier{FormatTDX, FormatTDX}}}
	if _, err := p.Check(ev, ReportData{}); err != nil {
		t.Fatal(err)
	}
}
