package attest

import (
	"bytes"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-sev-guest/abi"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	tdxabi "github.com/google/go-tdx-guest/abi"
)

// The recorded reports (see testdata/README.md for their origin).
const (
	sevReportFile = "testdata/sev-snp-report.bin"
	sevVCEKFile   = "testdata/sev-snp-vcek.der"
	tdxQuoteFile  = "testdata/tdx-quote.dat"

	// What the recorded reports carry, read from them independently of
	// this package's parser (offsets from the AMD and Intel ABIs).
	sevMeasurement = "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01"
	sevTCB         = 0x4405000000000002
	tdxMRTD        = "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb"
	tdxTCB         = 0x0000000000040003
)

// Byte offsets of the fields the tamper tests change.
const (
	// SEV-SNP ATTESTATION_REPORT (AMD SEV-SNP ABI, table 22).
	sevPolicyOff      = 0x08 // guest policy, 8 bytes LE; DEBUG is bit 19
	sevReportDataOff  = 0x50
	sevMeasurementOff = 0x90
	sevReportedTCBOff = 0x180
	sevSignatureOff   = 0x2A0
	// TDX quote v4: 48-byte header, then the TD quote body.
	tdxTCBSvnOff      = 48
	tdxTDAttrsOff     = 48 + 120 // DEBUG is bit 0
	tdxMRTDOff        = 48 + 136
	tdxReportDataOff  = 48 + 520
	tdxSignatureOff   = 48 + 584 + 4
	tdxAttestKeyOff   = tdxSignatureOff + 64
	tdxPCKChainMarker = "-----BEGIN CERTIFICATE-----"
)

// verifyAt is inside every recorded certificate's validity (VCEK
// 2022-09-24..2029-09-24, PCK 2022-09-20..2029-09-20), so the tests do not
// depend on the day they run.
var verifyAt = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// realSEV returns the recorded SEV-SNP evidence and its report data.
func realSEV(t testing.TB) (*Evidence, ReportData) {
	raw := mustRead(t, sevReportFile)
	certs, err := SEVSNPCertTable(mustRead(t, sevVCEKFile), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var rd ReportData
	copy(rd[:], raw[sevReportDataOff:])
	return &Evidence{Format: FormatSEVSNP, Raw: raw, Certs: certs, PubKey: []byte("not bound: recorded report")}, rd
}

// realTDX returns the recorded TDX evidence and its report data.
func realTDX(t testing.TB) (*Evidence, ReportData) {
	raw := mustRead(t, tdxQuoteFile)
	var rd ReportData
	copy(rd[:], raw[tdxReportDataOff:])
	return &Evidence{Format: FormatTDX, Raw: raw}, rd
}

// flip returns a copy of ev whose Raw has byte off XORed with mask.
func flip(ev *Evidence, off int, mask byte) *Evidence {
	c := *ev
	c.Raw = bytes.Clone(ev.Raw)
	c.Raw[off] ^= mask
	return &c
}

func TestRealReportsVerify(t *testing.T) {
	sev, sevRD := realSEV(t)
	tdx, tdxRD := realTDX(t)
	for _, tc := range []struct {
		name        string
		ev          *Evidence
		rd          ReportData
		pol         Policy
		measurement string
		debug       bool
		tcb         uint64
		signer      string
	}{
		// The recorded SEV-SNP VM was launched with DEBUG allowed (guest
		// policy 0xb0000), so only a policy allowing debug accepts it.
		{"sev-snp", sev, sevRD, Policy{Measurements: [][]byte{mustHex(t, sevMeasurement)}, AllowDebug: true, MinTCB: sevTCB,
			Verifiers: map[string]Verifier{FormatSEVSNP: &SEVSNPVerifier{Now: verifyAt}}}, sevMeasurement, true, sevTCB, "VCEK"},
		{"tdx", tdx, tdxRD, Policy{Measurements: [][]byte{mustHex(t, tdxMRTD)}, MinTCB: tdxTCB,
			Verifiers: map[string]Verifier{FormatTDX: &TDXVerifier{Now: verifyAt}}}, tdxMRTD, false, tdxTCB, "PCK"},
		// Policy.Now reaches the default verifiers.
		{"tdx default verifier", tdx, tdxRD, Policy{Measurements: [][]byte{mustHex(t, tdxMRTD)}, Now: verifyAt}, tdxMRTD, false, tdxTCB, "PCK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.pol.Check(tc.ev, tc.rd)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(c.Measurement); got != tc.measurement {
				t.Errorf("measurement %s, want %s", got, tc.measurement)
			}
			if c.Debug != tc.debug || c.TCB != tc.tcb || c.Signer != tc.signer || c.Format != tc.ev.Format || c.ReportData != tc.rd {
				t.Errorf("claims %+v: want debug %v, TCB %#x, signer %s", c, tc.debug, tc.tcb, tc.signer)
			}
			if len(c.PlatformID) == 0 {
				t.Error("no platform id")
			}
		})
	}
}

// TestRealReportsTampered changes one field of a recorded report at a time
// (or the verification setting) and checks the precise error: a tampered
// signed field must fail the signature, and every policy check must fire on
// an untampered report that violates it (or, where no such recorded report
// exists, on a tampered one with the signature check skipped: what the
// policy would do if the platform signed such a report).
func TestRealReportsTampered(t *testing.T) {
	sev, sevRD := realSEV(t)
	tdx, tdxRD := realTDX(t)
	sevOK := Policy{Measurements: [][]byte{mustHex(t, sevMeasurement)}, AllowDebug: true, MinTCB: sevTCB}
	tdxOK := Policy{Measurements: [][]byte{mustHex(t, tdxMRTD)}, MinTCB: tdxTCB}
	sevV := &SEVSNPVerifier{Now: verifyAt}
	sevNoSig := &SEVSNPVerifier{Now: verifyAt, skipSignature: true}
	tdxV := &TDXVerifier{Now: verifyAt}
	tdxNoSig := &TDXVerifier{Now: verifyAt, skipSignature: true}
	with := func(p Policy, v Verifier, edit func(*Policy)) Policy {
		p.Verifiers = map[string]Verifier{v.Format(): v}
		if edit != nil {
			edit(&p)
		}
		return p
	}
	otherRD := Bind([]byte("another key"), []byte("session"))
	noCerts := *sev
	noCerts.Certs = nil
	pckTampered := *tdx
	pckTampered.Raw = bytes.Clone(tdx.Raw)
	if i := bytes.Index(pckTampered.Raw, []byte(tdxPCKChainMarker)); i < 0 {
		t.Fatal("no PCK chain in the quote")
	} else {
		pckTampered.Raw[i+len(tdxPCKChainMarker)+300] ^= 0x01 // inside the PCK leaf's base64
	}
	for _, tc := range []struct {
		name string
		ev   *Evidence
		rd   ReportData
		pol  Policy
		want string
	}{
		// SEV-SNP: signed fields.
		{"sev measurement", flip(sev, sevMeasurementOff, 0x01), sevRD, with(sevOK, sevV, nil), "sev-snp signature or certificate chain invalid"},
		{"sev debug bit", flip(sev, sevPolicyOff+2, 0x08), sevRD, with(sevOK, sevV, nil), "sev-snp signature or certificate chain invalid"},
		{"sev reported TCB", flip(sev, sevReportedTCBOff+6, 0x01), sevRD, with(sevOK, sevV, nil), "sev-snp signature or certificate chain invalid"},
		{"sev report data", flip(sev, sevReportDataOff, 0x01), flipRD(sevRD), with(sevOK, sevV, nil), "sev-snp signature or certificate chain invalid"},
		{"sev signature", flip(sev, sevSignatureOff, 0x01), sevRD, with(sevOK, sevV, nil), "sev-snp signature or certificate chain invalid"},
		{"sev no VCEK", &noCerts, sevRD, with(sevOK, sevV, nil), "carries no certificate table"},
		{"sev certificate expired", sev, sevRD, with(sevOK, &SEVSNPVerifier{Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}, nil), "expired"},
		{"sev certificate not yet valid", sev, sevRD, with(sevOK, &SEVSNPVerifier{Now: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)}, nil), "certificate chain invalid"},
		{"sev wrong product", sev, sevRD, with(sevOK, &SEVSNPVerifier{Now: verifyAt, Product: &spb.SevProduct{Name: spb.SevProduct_SEV_PRODUCT_GENOA}}, nil), "certificate chain invalid"},
		// SEV-SNP: policy on the genuine report.
		{"sev measurement not allowed", sev, sevRD, with(sevOK, sevV, func(p *Policy) { p.Measurements = [][]byte{mustHex(t, tdxMRTD)} }), "attest: measurement b07af9620f3b839b… not in the allowed set"},
		{"sev debug refused", sev, sevRD, with(sevOK, sevV, func(p *Policy) { p.AllowDebug = false }), "attest: debug enabled"},
		{"sev TCB below minimum", sev, sevRD, with(sevOK, sevV, func(p *Policy) { p.MinTCB = sevTCB + 1 }), "attest: TCB 0x4405000000000002 below the minimum 0x4405000000000003"},
		{"sev microcode below minimum", sev, sevRD, with(sevOK, sevV, func(p *Policy) { p.MinTCB = 0x4500000000000000 }), "component 7: 68 < 69"},
		{"sev report data", sev, otherRD, with(sevOK, sevV, nil), "attest: report data does not bind this key/session"},
		{"sev empty allowed set", sev, sevRD, with(sevOK, sevV, func(p *Policy) { p.Measurements = nil }), "empty allowed set refuses everything"},
		// SEV-SNP: what the policy does with tampered fields were they signed.
		{"sev measurement unsigned", flip(sev, sevMeasurementOff, 0x01), sevRD, with(sevOK, sevNoSig, nil), "not in the allowed set"},
		// A host claiming another TCB than its VCEK's is caught even so.
		{"sev TCB unsigned", flip(sev, sevReportedTCBOff+7, 0x04), sevRD, with(sevOK, sevNoSig, nil), "VCEK certificate is for TCB 0x4405000000000002, report claims 0x4005000000000002"},
		{"sev report data unsigned", flip(sev, sevReportDataOff, 0x01), sevRD, with(sevOK, sevNoSig, nil), "does not bind"},

		// TDX: signed fields and the chain.
		{"tdx MRTD", flip(tdx, tdxMRTDOff, 0x01), tdxRD, with(tdxOK, tdxV, nil), "tdx signature or certificate chain invalid"},
		{"tdx debug attribute", flip(tdx, tdxTDAttrsOff, 1<<tdxDebugBit), tdxRD, with(tdxOK, tdxV, nil), "tdx signature or certificate chain invalid"},
		{"tdx TEE TCB SVN", flip(tdx, tdxTCBSvnOff, 0x01), tdxRD, with(tdxOK, tdxV, nil), "tdx signature or certificate chain invalid"},
		{"tdx report data", flip(tdx, tdxReportDataOff, 0x01), flipRD(tdxRD), with(tdxOK, tdxV, nil), "tdx signature or certificate chain invalid"},
		{"tdx signature", flip(tdx, tdxSignatureOff, 0x01), tdxRD, with(tdxOK, tdxV, nil), "tdx signature or certificate chain invalid"},
		{"tdx attestation key", flip(tdx, tdxAttestKeyOff, 0x01), tdxRD, with(tdxOK, tdxV, nil), "tdx signature or certificate chain invalid"},
		{"tdx PCK certificate", &pckTampered, tdxRD, with(tdxOK, tdxV, nil), "tdx"},
		{"tdx certificate expired", tdx, tdxRD, with(tdxOK, &TDXVerifier{Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}, nil), "expired"},
		// TDX: policy on the genuine quote.
		{"tdx measurement not allowed", tdx, tdxRD, with(tdxOK, tdxV, func(p *Policy) { p.Measurements = [][]byte{mustHex(t, sevMeasurement)} }), "attest: measurement 6363b8043668a3ad… not in the allowed set"},
		{"tdx TCB below minimum", tdx, tdxRD, with(tdxOK, tdxV, func(p *Policy) { p.MinTCB = 0x0000000000050003 }), "component 2: 4 < 5"},
		{"tdx report data", tdx, otherRD, with(tdxOK, tdxV, nil), "attest: report data does not bind this key/session"},
		// TDX: the policy on tampered fields were they signed (the recorded
		// TD has debug off, so debug is shown this way).
		{"tdx debug unsigned", flip(tdx, tdxTDAttrsOff, 1<<tdxDebugBit), tdxRD, with(tdxOK, tdxNoSig, nil), "attest: debug enabled"},
		{"tdx MRTD unsigned", flip(tdx, tdxMRTDOff, 0x01), tdxRD, with(tdxOK, tdxNoSig, nil), "not in the allowed set"},
		{"tdx TCB unsigned", flip(tdx, tdxTCBSvnOff, 0x01), tdxRD, with(tdxOK, tdxNoSig, nil), "below the minimum"},
		{"tdx report data unsigned", flip(tdx, tdxReportDataOff, 0x01), tdxRD, with(tdxOK, tdxNoSig, nil), "does not bind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.pol.Check(tc.ev, tc.rd)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func flipRD(rd ReportData) ReportData {
	rd[0] ^= 0x01
	return rd
}

// TestSEVCertMatches checks the VCEK names the report's TCB and chip.
func TestSEVCertMatches(t *testing.T) {
	sev, _ := realSEV(t)
	table := new(abi.CertTable)
	if err := table.Unmarshal(sev.Certs); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*spb.Report)
		want string
	}{
		{"recorded", func(*spb.Report) {}, ""},
		{"other TCB", func(r *spb.Report) { r.ReportedTcb++ }, "certificate is for TCB 0x4405000000000002, report claims 0x4405000000000003"},
		{"other chip", func(r *spb.Report) { r.ChipId[0] ^= 1 }, "attest: sev-snp VCEK certificate is for chip 3ac3fe21e13fb099…, report claims 3bc3fe21e13fb099…"},
		{"chip masked", func(r *spb.Report) { clear(r.ChipId) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			report, err := abi.ReportToProto(sev.Raw)
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(report)
			err = snpCertMatches(&spb.Attestation{Report: report, CertificateChain: table.Proto()}, abi.VcekReportSigner)
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestRealReportsNonCanonical: bytes the parser would drop are refused.
func TestRealReportsNonCanonical(t *testing.T) {
	sev, sevRD := realSEV(t)
	tdx, tdxRD := realTDX(t)
	sevLong := *sev
	sevLong.Raw = append(bytes.Clone(sev.Raw), 0)
	tdxLong := *tdx
	tdxLong.Raw = append(bytes.Clone(tdx.Raw), 0, 0)
	for _, tc := range []struct {
		name string
		v    Verifier
		ev   *Evidence
		rd   ReportData
		want string
	}{
		{"sev trailing byte", &SEVSNPVerifier{Now: verifyAt}, &sevLong, sevRD, "sev-snp report of 1185 bytes"},
		{"sev truncated", &SEVSNPVerifier{Now: verifyAt}, &Evidence{Format: FormatSEVSNP, Raw: sev.Raw[:100], Certs: sev.Certs}, sevRD, "sev-snp report of 100 bytes"},
		{"tdx truncated", &TDXVerifier{Now: verifyAt}, &Evidence{Format: FormatTDX, Raw: tdx.Raw[:700]}, tdxRD, "tdx quote"},
		{"wrong format", &TDXVerifier{Now: verifyAt}, sev, sevRD, `tdx verifier given "sev-snp" evidence`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.v.Verify(tc.ev, tc.rd)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	// Bytes after a TDX quote's signed data are kept (the recorded quote has
	// 39), counted, and claim nothing.
	c, err := (&TDXVerifier{Now: verifyAt}).Verify(&tdxLong, tdxRD)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Extra["unsigned_trailing_bytes"]; got != "41" {
		t.Errorf("unsigned_trailing_bytes %q, want 41", got)
	}
}

// TestParsersCanonical: the libraries verify signatures over the report
// re-encoded from its parsed form; for that to cover the bytes we were
// given, parsing and re-encoding must give back exactly those bytes, for
// the recorded reports with any one byte changed. (The verifiers also
// check this on every report, as defense in depth; this test shows no
// single-byte change reaches that check.)
func TestParsersCanonical(t *testing.T) {
	for _, tc := range []struct {
		name      string
		raw       []byte
		roundTrip func([]byte) ([]byte, error)
	}{
		{"sev-snp", mustRead(t, sevReportFile), func(b []byte) ([]byte, error) {
			p, err := abi.ReportToProto(b)
			if err != nil {
				return nil, err
			}
			return abi.ReportToAbiBytes(p)
		}},
		{"tdx", mustRead(t, tdxQuoteFile), func(b []byte) ([]byte, error) {
			p, err := tdxabi.QuoteToProto(b)
			if err != nil {
				return nil, err
			}
			return tdxabi.QuoteToAbiBytes(p)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parsed := 0
			for i := range tc.raw {
				r := bytes.Clone(tc.raw)
				r[i] ^= 0x01
				re, err := tc.roundTrip(r)
				if err != nil {
					continue // refused by the parser
				}
				parsed++
				if !bytes.Equal(re, r) {
					t.Fatalf("byte %d changed: parse and re-encode is not the identity", i)
				}
			}
			if parsed == 0 {
				t.Fatal("no modified report parsed")
			}
		})
	}
}
