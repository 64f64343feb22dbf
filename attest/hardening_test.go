package attest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	tdxabi "github.com/google/go-tdx-guest/abi"
)

// Offsets in the recorded TDX quote (see tdxquote.go for the layout).
const (
	tdxSignedSizeOff  = tdxHeaderSize + tdxBodySize             // u32
	tdxCertTypeOff    = tdxSignedStart + 128                    // u16, then the size u32
	tdxQEAuthLenOff   = tdxCertTypeOff + 6 + 384 + 64           // u16
	tdxRecordedQEAuth = 32                                      // its QE auth data length
	tdxPCKTypeOff     = tdxQEAuthLenOff + 2 + tdxRecordedQEAuth // u16, then the size u32
)

// craftedTDXQuote is the quote that made every verifier panic: the
// recorded quote with 6 more trailing bytes (4,980 in all) and a QE auth
// data length of 0xffff, pointing far past the buffer.
func craftedTDXQuote(t testing.TB) []byte {
	raw := append(mustRead(t, tdxQuoteFile), make([]byte, 6)...)
	if len(raw) != 4980 || binary.LittleEndian.Uint16(raw[tdxQEAuthLenOff:]) != tdxRecordedQEAuth {
		t.Fatalf("recorded quote has an unexpected layout")
	}
	binary.LittleEndian.PutUint16(raw[tdxQEAuthLenOff:], 0xffff)
	return raw
}

// TestCraftedTDXQuoteRefused: the crafted quote is refused with an error
// naming the bad length, by the verifier and through a policy. Before the
// layout check and guard, go-tdx-guest's parser panicked on it ("slice
// bounds out of range [:65537]") and the panic crashed this test (and
// any party verifying a peer's evidence).
func TestCraftedTDXQuoteRefused(t *testing.T) {
	ev := &Evidence{Format: FormatTDX, Raw: craftedTDXQuote(t)}
	_, rd := realTDX(t)
	const want = "QE auth data of 65535 bytes at offset 1220 points past the end of its structure"
	if _, err := (&TDXVerifier{Now: verifyAt}).Verify(ev, rd); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("verifier: error %v, want %q", err, want)
	}
	p := Policy{Measurements: [][]byte{mustHex(t, tdxMRTD)}, Now: verifyAt}
	if _, err := p.Check(ev, rd); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("policy: error %v, want %q", err, want)
	}
	// The signature-skipping test hook reaches the same parser.
	if _, err := (&TDXVerifier{skipSignature: true}).Verify(ev, rd); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("without signature: error %v, want %q", err, want)
	}
}

// TestGuardRecoversLibraryPanic: were the layout check to miss a case,
// the guard around the library call turns its panic into an error. The
// crafted quote goes to go-tdx-guest directly, under guard.
func TestGuardRecoversLibraryPanic(t *testing.T) {
	raw := craftedTDXQuote(t)
	err := guard("tdx quote", func() error { _, err := tdxabi.QuoteToProto(raw); return err })
	if err == nil {
		t.Fatal("the library accepted the crafted quote")
	}
	t.Logf("go-tdx-guest on the crafted quote, guarded: %v", err)
	if err := guard("x", func() error { panic("boom") }); err == nil || !strings.Contains(err.Error(), "attest: x: the parser failed on malformed input (boom)") {
		t.Fatalf("guard: %v", err)
	}
}

// TestTDXLayoutRefused changes one length or type field of the recorded
// quote at a time; each is refused by the layout walk with the field's
// name, before the library reads the quote. Several of these (the QE auth
// data length, the certification data shorter than a QE report, a signed
// data size under 128) made go-tdx-guest slice out of range.
func TestTDXLayoutRefused(t *testing.T) {
	base := mustRead(t, tdxQuoteFile)
	if err := checkTDXQuoteLayout(base); err != nil {
		t.Fatalf("recorded quote: %v", err)
	}
	put16 := func(off int, v uint16) []byte {
		r := bytes.Clone(base)
		binary.LittleEndian.PutUint16(r[off:], v)
		return r
	}
	put32 := func(off int, v uint32) []byte {
		r := bytes.Clone(base)
		binary.LittleEndian.PutUint32(r[off:], v)
		return r
	}
	signed := binary.LittleEndian.Uint32(base[tdxSignedSizeOff:])
	for _, tc := range []struct {
		name string
		raw  []byte
		want string
	}{
		{"empty", nil, "version of 2 bytes at offset 0 points past"},
		{"header only", base[:60], "TD quote body of 584 bytes at offset 48 points past"},
		{"version", put16(0, 5), "tdx quote version 5, want 4"},
		{"key type", put16(2, 3), "attestation key type 3"},
		{"TEE type", put32(4, 0), "TEE type 0, want 0x81"},
		{"signed data past the end", put32(tdxSignedSizeOff, 0xffffffff), "signed data of 4294967295 bytes at offset 636 points past"},
		{"signed data too short for the signature", put32(tdxSignedSizeOff, 100), "quote signature and attestation key of 128 bytes"},
		{"signed data without certification data", put32(tdxSignedSizeOff, 128), "certification data type of 2 bytes"},
		{"signed data shorter than a QE report", put32(tdxSignedSizeOff, 300), "certification data size 4165, but the signed data holds 166 more bytes"},
		{"certification type", put16(tdxCertTypeOff, 5), "certification data type 5, want 6"},
		{"certification size", put32(tdxCertTypeOff+2, 4164), "certification data size 4164, but the signed data holds 4165"},
		{"certification size huge", put32(tdxCertTypeOff+2, 0xfffffff0), "certification data size 4294967280"},
		{"QE auth data length", put16(tdxQEAuthLenOff, 0xffff), "QE auth data of 65535 bytes"},
		{"QE auth data swallows the chain", put16(tdxQEAuthLenOff, uint16(signed-128-6-384-64-2)), "PCK certificate chain type of 2 bytes"},
		{"PCK chain type", put16(tdxPCKTypeOff, 6), "PCK certificate chain type 6, want 5"},
		{"PCK chain size", put32(tdxPCKTypeOff+2, 0xffffffff), "PCK certificate chain size 4294967295"},
		{"over the limit", append(bytes.Clone(base), make([]byte, tdxMaxQuote)...), "exceeds the 65536-byte limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkTDXQuoteLayout(tc.raw)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			// The whole verifier refuses it without panicking.
			if _, err := (&TDXVerifier{Now: verifyAt}).Verify(&Evidence{Format: FormatTDX, Raw: tc.raw}, ReportData{}); err == nil {
				t.Fatal("verifier accepted it")
			}
		})
	}
}

// TestCraftedSEVCertTableRefused: go-sev-guest's certificate table parser
// adds an entry's offset and length in 32 bits; an entry whose sum wraps
// passed its bound check and made it slice out of range ("slice bounds
// out of range [4294967280:16]"), crashing every verifier before any
// signature was checked. The table walk refuses it and its relatives.
func TestCraftedSEVCertTableRefused(t *testing.T) {
	ev, rd := realSEV(t)
	if err := checkSEVCertTable(ev.Certs); err != nil {
		t.Fatalf("recorded table: %v", err)
	}
	entry := func(certs []byte, i int, guid byte, off, n uint32) []byte {
		c := bytes.Clone(certs)
		e := c[i*24:]
		if guid != 0 {
			for j := range 16 {
				e[j] = guid
			}
		}
		binary.LittleEndian.PutUint32(e[16:], off)
		binary.LittleEndian.PutUint32(e[20:], n)
		return c
	}
	// A table of 20 entries, each pointing at the same bytes.
	var many []byte
	for i := range 20 {
		e := make([]byte, 24)
		e[0] = byte(i + 1)
		binary.LittleEndian.PutUint32(e[16:], 21*24)
		binary.LittleEndian.PutUint32(e[20:], 1)
		many = append(many, e...)
	}
	many = append(many, make([]byte, 25)...)
	// The recorded table's first entry, twice.
	twice := append(bytes.Clone(ev.Certs[:24]), ev.Certs...)
	binary.LittleEndian.PutUint32(twice[16:], binary.LittleEndian.Uint32(twice[16:])+24)
	binary.LittleEndian.PutUint32(twice[40:], binary.LittleEndian.Uint32(twice[40:])+24)
	for _, tc := range []struct {
		name  string
		certs []byte
		want  string
	}{
		{"offset+length wraps", entry(ev.Certs, 0, 0, 0xfffffff0, 0x20), "entry 0 covers bytes 4294967280..4294967312, outside the certificates"},
		{"length past the end", entry(ev.Certs, 0, 0, 48, 0xffffffff), "entry 0 covers bytes 48..4294967343"},
		{"offset inside the header", entry(ev.Certs, 0, 0, 8, 16), "entry 0 covers bytes 8..24"},
		{"no terminator", ev.Certs[:30], "ends inside entry 1 (no all-zero terminator)"},
		{"too many entries", many, "more than 16 entries"},
		{"GUID twice", twice, "lists GUID"},
		{"over the limit", append(bytes.Clone(ev.Certs), make([]byte, sevMaxCertTable)...), "exceeds the 65536-byte limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := *ev
			bad.Certs = tc.certs
			_, err := (&SEVSNPVerifier{Now: verifyAt}).Verify(&bad, rd)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// spyVerifier records whether it was asked to verify anything.
type spyVerifier struct {
	format string
	called *bool
}

func (v spyVerifier) Format() string { return v.format }
func (v spyVerifier) Verify(*Evidence, ReportData) (*Claims, error) {
	*v.called = true
	return nil, errors.New("spy")
}

// TestFormatRefusedBeforeParsing: a policy that does not allow a format
// refuses its evidence with "format not allowed" before any verifier
// (parser) runs: an SEV-SNP-only deployment never parses TDX, nor a
// simulated one either real format.
func TestFormatRefusedBeforeParsing(t *testing.T) {
	m := [][]byte{mustHex(t, tdxMRTD), mustHex(t, sevMeasurement)}
	garbage := &Evidence{Format: FormatTDX, Raw: []byte("not a quote at all")}
	crafted := &Evidence{Format: FormatTDX, Raw: craftedTDXQuote(t)}
	sev, _ := realSEV(t)
	for _, tc := range []struct {
		name string
		p    Policy
		ev   *Evidence
		want string
	}{
		{"sev-snp only, garbage tdx", Policy{Formats: []string{FormatSEVSNP}, Measurements: m}, garbage,
			`attest: format not allowed: "tdx" evidence (the policy accepts sev-snp)`},
		{"sev-snp only, crafted tdx", Policy{Formats: []string{FormatSEVSNP}, Measurements: m}, crafted, `format not allowed: "tdx"`},
		{"tdx only, sev-snp", Policy{Formats: []string{FormatTDX}, Measurements: m}, sev, `format not allowed: "sev-snp"`},
		{"simulated only, tdx", Policy{Formats: []string{FormatSimulated}, InsecureAllowSimulated: true, Measurements: m}, garbage,
			`format not allowed: "tdx" evidence (the policy accepts simulated-insecure)`},
		{"empty measurements still refuse by format first", Policy{Formats: []string{FormatSEVSNP}}, garbage, `format not allowed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			called := false
			tc.p.Verifiers = map[string]Verifier{
				FormatTDX:    spyVerifier{FormatTDX, &called},
				FormatSEVSNP: spyVerifier{FormatSEVSNP, &called},
			}
			_, err := tc.p.Check(tc.ev, ReportData{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if called {
				t.Fatal("a verifier ran on evidence of a format the policy does not allow")
			}
			// And through CheckBinding, with the default verifiers.
			tc.p.Verifiers = nil
			if _, err := tc.p.CheckBinding(tc.ev, []byte("sid")); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckBinding: error %v, want %q", err, tc.want)
			}
		})
	}
	// The default allows both real formats: the garbage then reaches the
	// TDX parser, which refuses it.
	if _, err := (Policy{Measurements: m}).Check(garbage, ReportData{}); err == nil || !strings.Contains(err.Error(), "tdx quote") {
		t.Fatalf("default formats: %v", err)
	}
}
