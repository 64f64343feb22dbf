package attest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sevabi "github.com/google/go-sev-guest/abi"
	tdxabi "github.com/google/go-tdx-guest/abi"
)

// The fuzz targets of the attestation evidence. Their seeds (the recorded
// reports, the crafted inputs of the regression tests, and every input a
// fuzzing run found) are committed under testdata/fuzz/<target>/, so
// plain `go test` runs them all; `go test -run '^$' -fuzz '^FuzzX$'`
// explores further. -write-fuzz-seeds rewrites the seed files from the
// recorded reports.

var writeFuzzSeeds = flag.Bool("write-fuzz-seeds", false, "write the fuzz targets' seed corpora under testdata/fuzz")

// guardFailure reports whether err is a panic in a library that guard
// recovered: the validators should have refused the input first, so the
// fuzz targets count it as a failure.
func guardFailure(err error) bool {
	return err != nil && strings.Contains(err.Error(), "the parser failed on malformed input")
}

// fuzzSeeds are each target's seed inputs.
func fuzzSeeds(t testing.TB) map[string][][]any {
	sev, _ := realSEV(t)
	tdx, _ := realTDX(t)
	_, simEv := fuzzSimulated(t)
	crafted := craftedTDXQuote(t)
	wrapped := bytes.Clone(sev.Certs)
	binary.LittleEndian.PutUint32(wrapped[16:], 0xfffffff0)
	binary.LittleEndian.PutUint32(wrapped[20:], 0x20)
	enc := func(ev *Evidence) []byte {
		b, err := ev.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	full, err := fullPolicyJSON(t)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][][]any{
		"FuzzEvidenceUnmarshal": {{enc(sev)}, {enc(tdx)}, {enc(simEv)}, {enc(&Evidence{Format: FormatTDX, Raw: crafted})}, {[]byte("VEILEVID\x01")}},
		"FuzzParsePolicy": {
			{[]byte(`{}`)},
			{[]byte(`{"measurements":["b07a"],"allow_debug":true,"min_tcb":7,"insecure_allow_simulated":true,"simulated_platform_keys":["` + strings.Repeat("ab", 32) + `"]}`)},
			{[]byte(`{"formats":["sev-snp"],"measurements":["00"],"sev_snp":{"vmpl":1,"allow_migration_agent":true},"roles":{"server":{"platform_ids":["01"]},"client":{}}}`)},
			{full},
		},
		"FuzzTDXQuoteParse":   {{tdx.Raw}, {crafted}},
		"FuzzSEVReportParse":  {{sev.Raw, sev.Certs}, {sev.Raw, wrapped}},
		"FuzzVerifyTDX":       {{tdx.Raw}, {crafted}},
		"FuzzVerifySEVSNP":    {{sev.Raw, sev.Certs}, {sev.Raw, wrapped}},
		"FuzzVerifySimulated": {{simEv.Raw}},
	}
}

// fullPolicyJSON is a policy using every field, in JSON.
func fullPolicyJSON(t testing.TB) ([]byte, error) {
	p := Policy{
		Formats: []string{FormatTDX}, Measurements: [][]byte{mustHex(t, tdxMRTD)}, PlatformIDs: [][]byte{{1}},
		Roles:  map[string]RolePolicy{"server": {PlatformIDs: [][]byte{{2}}}},
		SEVSNP: SEVSNPPolicy{VMPL: 1},
		TDX: TDXPolicy{MRSeam: [][]byte{mustHex(t, tdxMRSeam)}, RTMRs: [4][][]byte{3: {other48(0)}},
			TDAttributes: &Masked{make([]byte, 8), make([]byte, 8)}, Collateral: tdxCollateral(t, true)},
	}
	return p.MarshalJSON()
}

// fuzzSimulated is a simulated attester with a fixed key and its evidence
// for a fixed report data.
func fuzzSimulated(t testing.TB) (*Simulated, *Evidence) {
	s, err := NewSimulated(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	s.Measurement = other48(0x42) // not this executable's hash: the seed must not change per build
	ev, err := s.Attest(Bind([]byte("key"), []byte("session")))
	if err != nil {
		t.Fatal(err)
	}
	return s, ev
}

// addSeeds adds name's seeds to f (the committed files are read by the
// fuzzing engine itself).
func addSeeds(f *testing.F, name string) {
	for _, args := range fuzzSeeds(f)[name] {
		f.Add(args...)
	}
}

// TestWriteFuzzSeeds writes the seed corpora (only with -write-fuzz-seeds).
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeFuzzSeeds {
		t.Skip("run with -write-fuzz-seeds to rewrite testdata/fuzz")
	}
	for name, seeds := range fuzzSeeds(t) {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, args := range seeds {
			var b strings.Builder
			b.WriteString("go test fuzz v1\n")
			for _, a := range args {
				fmt.Fprintf(&b, "[]byte(%q)\n", a)
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// FuzzEvidenceUnmarshal: decoding never panics, and what decodes encodes
// back to exactly the input (the encoding is canonical: one byte string
// per evidence).
func FuzzEvidenceUnmarshal(f *testing.F) {
	addSeeds(f, "FuzzEvidenceUnmarshal")
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Evidence
		if err := e.UnmarshalBinary(b); err != nil {
			return
		}
		re, err := e.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded evidence does not encode: %v", err)
		}
		if !bytes.Equal(re, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", b, re)
		}
	})
}

// FuzzParsePolicy: parsing never panics, and a parsed policy's JSON form
// parses to a policy with the same JSON form.
func FuzzParsePolicy(f *testing.F) {
	addSeeds(f, "FuzzParsePolicy")
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePolicy(b)
		if err != nil {
			return
		}
		j1, err := p.MarshalJSON()
		if err != nil {
			t.Fatalf("parsed policy does not marshal: %v", err)
		}
		q, err := ParsePolicy(j1)
		if err != nil {
			t.Fatalf("marshalled policy does not parse: %v\n%s", err, j1)
		}
		j2, err := q.MarshalJSON()
		if err != nil || !bytes.Equal(j1, j2) {
			t.Fatalf("JSON form not stable:\n%s\n%s", j1, j2)
		}
	})
}

// FuzzTDXQuoteParse: whatever the layout check admits, go-tdx-guest
// parses without panicking (it runs here unguarded, so a panic is a
// crash the fuzzer reports); a parsed quote re-encodes to the input,
// byte for byte, unless parseTDXQuote refuses it as non-canonical.
func FuzzTDXQuoteParse(f *testing.F) {
	addSeeds(f, "FuzzTDXQuoteParse")
	f.Fuzz(func(t *testing.T, raw []byte) {
		layoutErr := checkTDXQuoteLayout(raw)
		quote, err := parseTDXQuote(raw)
		if guardFailure(err) {
			t.Fatalf("the library panicked on a quote the layout check admitted: %v", err)
		}
		if layoutErr != nil {
			if err == nil {
				t.Fatal("parseTDXQuote accepted a quote the layout check refused")
			}
			return
		}
		q, libErr := tdxabi.QuoteToProto(raw) // unguarded
		if (libErr == nil) != (err == nil) && !strings.Contains(fmt.Sprint(err), "canonical") {
			t.Fatalf("parseTDXQuote %v, library %v", err, libErr)
		}
		if err != nil {
			return
		}
		if re, err := tdxabi.QuoteToAbiBytes(q); err != nil || !bytes.Equal(re, raw) {
			t.Fatalf("accepted quote does not re-encode to itself: %v", err)
		}
		body := quote.GetTdQuoteBody()
		if !bytes.Equal(body.GetMrTd(), raw[tdxMRTDOff:tdxMRTDOff+48]) || !bytes.Equal(body.GetReportData(), raw[tdxReportDataOff:tdxReportDataOff+64]) {
			t.Fatal("parsed fields disagree with their ABI offsets")
		}
	})
}

// FuzzSEVReportParse: the same for SEV-SNP: the report (size-checked)
// and the certificate table (walked by checkSEVCertTable) go to
// go-sev-guest unguarded when admitted, and a parsed report re-encodes
// to the input.
func FuzzSEVReportParse(f *testing.F) {
	addSeeds(f, "FuzzSEVReportParse")
	f.Fuzz(func(t *testing.T, raw, certs []byte) {
		report, err := parseSEVReport(raw)
		if guardFailure(err) {
			t.Fatalf("the library panicked on a report of the right size: %v", err)
		}
		if len(raw) == sevabi.ReportSize {
			r, libErr := sevabi.ReportToProto(raw) // unguarded
			if libErr == nil && err == nil {
				if re, err := sevabi.ReportToAbiBytes(r); err != nil || !bytes.Equal(re, raw) {
					t.Fatalf("accepted report does not re-encode to itself: %v", err)
				}
				if !bytes.Equal(report.GetMeasurement(), raw[sevMeasurementOff:sevMeasurementOff+48]) || report.GetVmpl() != binary.LittleEndian.Uint32(raw[sevVMPLOff:]) {
					t.Fatal("parsed fields disagree with their ABI offsets")
				}
			}
		}
		_, err = parseSEVCertTable(certs)
		if guardFailure(err) {
			t.Fatalf("the library panicked on a table the walk admitted: %v", err)
		}
		if len(certs) != 0 && checkSEVCertTable(certs) == nil {
			table := new(sevabi.CertTable) // unguarded
			if err := table.Unmarshal(certs); err != nil {
				t.Fatalf("walk admitted a table the library refuses: %v", err)
			}
			table.Proto()
		}
	})
}

// checkFuzzVerify checks what every verification fuzz target asserts of
// one outcome: no library panic reached the guard, and accepted claims
// agree with the bytes at their ABI offsets (an independent reading).
func checkFuzzVerify(t *testing.T, err error, fields map[string][2][]byte) {
	t.Helper()
	if guardFailure(err) {
		t.Fatalf("a library panicked on input the validators admitted: %v", err)
	}
	if err != nil {
		return
	}
	for name, f := range fields {
		if !bytes.Equal(f[0], f[1]) {
			t.Fatalf("claims %s %x, the report carries %x", name, f[0], f[1])
		}
	}
}

// FuzzVerifyTDX runs Policy.Check on mutated quotes: with the signature
// check skipped (so the fuzzer reaches the claims and policy code), the
// claims must be those at the quote's offsets; with it on, a quote is
// accepted only if its header and TD quote body (all the claims come
// from) are the recorded quote's.
func FuzzVerifyTDX(f *testing.F) {
	addSeeds(f, "FuzzVerifyTDX")
	recorded := mustRead(f, tdxQuoteFile)
	pol := Policy{Measurements: [][]byte{mustHex(f, tdxMRTD)}, AllowDebug: true, Now: verifyAt}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev := &Evidence{Format: FormatTDX, Raw: raw}
		var rd ReportData
		if len(raw) >= tdxReportDataOff+64 {
			copy(rd[:], raw[tdxReportDataOff:])
		}
		p := pol
		p.Verifiers = map[string]Verifier{FormatTDX: &TDXVerifier{Now: verifyAt, skipSignature: true}}
		c, err := p.Check(ev, rd)
		if err == nil {
			checkFuzzVerify(t, err, map[string][2][]byte{
				"MRTD":        {c.Measurement, raw[tdxMRTDOff : tdxMRTDOff+48]},
				"TEE_TCB_SVN": {c.TCBComponents, raw[tdxTCBSvnOff : tdxTCBSvnOff+16]},
				"RTMR3":       {c.TDX.RTMRs[3], raw[tdxBodyOff+472 : tdxBodyOff+520]},
			})
		} else {
			checkFuzzVerify(t, err, nil)
		}
		c, err = pol.Check(ev, rd)
		checkFuzzVerify(t, err, nil)
		if err == nil && !bytes.Equal(raw[:tdxHeaderSize+tdxBodySize], recorded[:tdxHeaderSize+tdxBodySize]) {
			t.Fatal("a quote with a changed header or body verified")
		}
	})
}

// FuzzVerifySEVSNP is FuzzVerifyTDX for SEV-SNP (report and certificate
// table both fuzzed): with the signature check on, a report is accepted
// only if everything the signature covers is the recorded report's.
func FuzzVerifySEVSNP(f *testing.F) {
	addSeeds(f, "FuzzVerifySEVSNP")
	recorded := mustRead(f, sevReportFile)
	pol := Policy{Measurements: [][]byte{mustHex(f, sevMeasurement)}, AllowDebug: true, Now: verifyAt}
	f.Fuzz(func(t *testing.T, raw, certs []byte) {
		ev := &Evidence{Format: FormatSEVSNP, Raw: raw, Certs: certs}
		var rd ReportData
		if len(raw) >= sevReportDataOff+64 {
			copy(rd[:], raw[sevReportDataOff:])
		}
		p := pol
		p.Verifiers = map[string]Verifier{FormatSEVSNP: &SEVSNPVerifier{Now: verifyAt, skipSignature: true}}
		c, err := p.Check(ev, rd)
		if err == nil {
			checkFuzzVerify(t, err, map[string][2][]byte{
				"MEASUREMENT":  {c.Measurement, raw[sevMeasurementOff : sevMeasurementOff+48]},
				"REPORTED_TCB": {c.TCBComponents, raw[sevReportedTCBOff : sevReportedTCBOff+8]},
				"CHIP_ID":      {c.PlatformID, raw[sevChipIDOff : sevChipIDOff+64]},
			})
		} else {
			checkFuzzVerify(t, err, nil)
		}
		c, err = pol.Check(ev, rd)
		checkFuzzVerify(t, err, nil)
		if err == nil && !bytes.Equal(raw[:sevSignatureOff], recorded[:sevSignatureOff]) {
			t.Fatal("a report with a changed signed field verified")
		}
	})
}

// FuzzVerifySimulated is the same for simulated evidence; Ed25519 as Go
// verifies it admits one signature per message, so with the signature
// check on only the original report verifies.
func FuzzVerifySimulated(f *testing.F) {
	addSeeds(f, "FuzzVerifySimulated")
	s, orig := fuzzSimulated(f)
	pol := Policy{Measurements: [][]byte{s.Measurement}, AllowDebug: true, InsecureAllowSimulated: true, SimulatedPlatformKeys: [][]byte{s.PlatformKey()}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev := &Evidence{Format: FormatSimulated, Raw: raw, Certs: orig.Certs}
		var rd ReportData
		if n := len(raw) - 64 - 64; n >= 0 {
			copy(rd[:], raw[n:])
		}
		p := pol
		p.Verifiers = map[string]Verifier{FormatSimulated: &SimulatedVerifier{keys: []ed25519.PublicKey{s.PlatformKey()}, skipSignature: true}}
		c, err := p.Check(ev, rd)
		if err == nil {
			m := len(s.Measurement)
			checkFuzzVerify(t, err, map[string][2][]byte{
				"measurement": {c.Measurement, raw[len(simMagic)+1 : len(simMagic)+1+m]},
				"TCB":         {c.TCBComponents, raw[len(simMagic)+2+m : len(simMagic)+10+m]},
			})
		}
		c, err = pol.Check(ev, rd)
		checkFuzzVerify(t, err, nil)
		if err == nil && !bytes.Equal(raw, orig.Raw) {
			t.Fatal("a changed simulated report verified")
		}
		if err != nil && bytes.Equal(raw, orig.Raw) {
			t.Fatalf("the original report was refused: %v", err)
		}
	})
}
