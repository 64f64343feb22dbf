package attest

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

// Offsets of the fields the policy-field tests change.
const (
	sevVMPLOff   = 0x30 // u32
	sevChipIDOff = 0x1A0
	tdxBodyOff   = 48
)

// The recorded reports' values of the fields the new policy fields check.
const (
	sevChipID = "3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d"
	tdxMRSeam = "2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9a89b4869a9fab60fbe9d0c5a5363c656"
	tdxRTMR0  = "2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976823adf08f833c1e50b51779c6593f32a"
	tdxRTMR1  = "2c700b8ba9b85783f8be9fb9443647bdc0bb3c50747f06297cc6538c25a5f589c4b56d035c59107c6bc5800db2cacb61"
	tdxRTMR2  = "8652f0caaba7e215ea442dc36a4499d8fec3362f3a0b2ca151cbe4b3e6466fe59c7368b3c2287fc7c3bf5c924eb4424e"
	tdxZero48 = "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	tdxAttrs  = "0000004000000000" // PKS (bit 30)
	tdxXFAM   = "e71a060000000000"
)

// put32 returns a copy of ev whose Raw has the little-endian u32 v at off.
func put32(ev *Evidence, off int, v uint32) *Evidence {
	c := *ev
	c.Raw = bytes.Clone(ev.Raw)
	binary.LittleEndian.PutUint32(c.Raw[off:], v)
	return &c
}

// zeroAt returns a copy of ev whose Raw has n zero bytes at off.
func zeroAt(ev *Evidence, off, n int) *Evidence {
	c := *ev
	c.Raw = bytes.Clone(ev.Raw)
	clear(c.Raw[off : off+n])
	return &c
}

// policyCase is one check of a policy field: the evidence, verified by v
// under p, is refused with want (or accepted when want is "").
type policyCase struct {
	name string
	ev   *Evidence
	rd   ReportData
	v    Verifier
	p    Policy
	want string
}

func runPolicyCases(t *testing.T, cases []policyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			p.Verifiers = map[string]Verifier{tc.v.Format(): tc.v}
			_, err := p.Check(tc.ev, tc.rd)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestSEVSNPPolicyFields: VMPL and MIGRATE_MA. The recorded report is
// from VMPL 0 without a migration agent; a report from another VMPL or
// with MIGRATE_MA is shown with the signature check skipped (what the
// policy would do with such a report, were it signed), and, with the
// signature checked, the changed bytes are refused as tampered.
func TestSEVSNPPolicyFields(t *testing.T) {
	sev, rd := realSEV(t)
	ok := Policy{Measurements: [][]byte{mustHex(t, sevMeasurement)}, AllowDebug: true}
	with := func(edit func(*Policy)) Policy { p := ok; edit(&p); return p }
	v := &SEVSNPVerifier{Now: verifyAt}
	noSig := &SEVSNPVerifier{Now: verifyAt, skipSignature: true}
	vmpl2 := put32(sev, sevVMPLOff, 2)
	ma := flip(sev, sevPolicyOff+2, 1<<(snpMigrateMABit-16))
	runPolicyCases(t, []policyCase{
		{"recorded report", sev, rd, v, ok, ""},
		{"vmpl 0 but policy requires 1", sev, rd, v, with(func(p *Policy) { p.SEVSNP.VMPL = 1 }), "attest: sev-snp vmpl 0, the policy requires 1"},
		{"vmpl 2 unsigned, default policy", vmpl2, rd, noSig, ok, "attest: sev-snp vmpl 2, the policy requires 0"},
		{"vmpl 2 unsigned, policy requires 2", vmpl2, rd, noSig, with(func(p *Policy) { p.SEVSNP.VMPL = 2 }), ""},
		{"vmpl 2 signed", vmpl2, rd, v, with(func(p *Policy) { p.SEVSNP.VMPL = 2 }), "sev-snp signature or certificate chain invalid"},
		{"migration agent unsigned", ma, rd, noSig, ok, "attest: sev-snp guest policy allows a migration agent (MIGRATE_MA), which the policy refuses"},
		{"migration agent allowed", ma, rd, noSig, with(func(p *Policy) { p.SEVSNP.AllowMigrationAgent = true }), ""},
		{"migration agent signed", ma, rd, v, with(func(p *Policy) { p.SEVSNP.AllowMigrationAgent = true }), "sev-snp signature or certificate chain invalid"},
	})
}

// TestPlatformPins: Policy.PlatformIDs against each format's identity
// (SEV-SNP CHIP_ID, TDX PPID, simulated platform key).
func TestPlatformPins(t *testing.T) {
	sev, sevRD := realSEV(t)
	tdx, tdxRD := realTDX(t)
	c, err := (&TDXVerifier{Now: verifyAt}).Verify(tdx, tdxRD)
	if err != nil {
		t.Fatal(err)
	}
	ppid := c.PlatformID
	if len(ppid) != 16 {
		t.Fatalf("TDX platform id %x, want the 16-byte PPID", ppid)
	}
	s, simPol := simSetup(t)
	simEv, err := s.Attest(Bind(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	sevOK := Policy{Measurements: [][]byte{mustHex(t, sevMeasurement)}, AllowDebug: true}
	tdxOK := Policy{Measurements: [][]byte{mustHex(t, tdxMRTD)}}
	pin := func(p Policy, ids ...[]byte) Policy { p.PlatformIDs = ids; return p }
	other := bytes.Repeat([]byte{0x5a}, 64)
	sevV, tdxV := &SEVSNPVerifier{Now: verifyAt}, &TDXVerifier{Now: verifyAt}
	simV := NewSimulatedVerifier(s.PlatformKey())
	runPolicyCases(t, []policyCase{
		{"sev chip pinned", sev, sevRD, sevV, pin(sevOK, other, mustHex(t, sevChipID)), ""},
		{"sev other chip", sev, sevRD, sevV, pin(sevOK, other), "attest: platform 3ac3fe21e13fb099… not pinned by the policy"},
		{"sev chip id masked", zeroAt(sev, sevChipIDOff, 64), sevRD, &SEVSNPVerifier{Now: verifyAt, skipSignature: true}, pin(sevOK, mustHex(t, sevChipID)),
			"attest: platform identity pinned by the policy, but the evidence masks it"},
		{"tdx PPID pinned", tdx, tdxRD, tdxV, pin(tdxOK, ppid), ""},
		{"tdx other platform", tdx, tdxRD, tdxV, pin(tdxOK, other[:16]), "not pinned by the policy"},
		{"simulated key pinned", simEv, Bind(nil, nil), simV, pin(simPol, s.PlatformKey()), ""},
		{"simulated other key", simEv, Bind(nil, nil), simV, pin(simPol, other[:32]), "not pinned by the policy"},
	})
}

// TestRolePins: Policy.Roles pins platforms per role, through ForRole.
func TestRolePins(t *testing.T) {
	sev, rd := realSEV(t)
	chip := mustHex(t, sevChipID)
	base := Policy{Measurements: [][]byte{mustHex(t, sevMeasurement)}, AllowDebug: true, Now: verifyAt,
		Roles: map[string]RolePolicy{"server": {PlatformIDs: [][]byte{chip}}, "client": {}, "helper": {PlatformIDs: [][]byte{bytes.Repeat([]byte{1}, 64)}}}}
	if _, err := base.Check(sev, rd); err == nil || !strings.Contains(err.Error(), "attest: policy pins platforms per role, but no role was chosen") {
		t.Fatalf("no role: %v", err)
	}
	for _, tc := range []struct {
		role, want string
	}{
		{"server", ""},
		{"client", ""},
		{"helper", "attest: platform 3ac3fe21e13fb099… not pinned by the role helper"},
	} {
		p, err := base.ForRole(tc.role)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Check(sev, rd)
		if (tc.want == "" && err != nil) || (tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want))) {
			t.Errorf("%s: error %v, want %q", tc.role, err, tc.want)
		}
	}
	if _, err := base.ForRole("sever"); err == nil || !strings.Contains(err.Error(), `attest: policy pins roles client, helper, server but not "sever"`) {
		t.Fatalf("unknown role: %v", err)
	}
	// Role pins add to the policy's own.
	both := base
	both.PlatformIDs = [][]byte{bytes.Repeat([]byte{2}, 64)}
	p, err := both.ForRole("server")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Check(sev, rd); err == nil || !strings.Contains(err.Error(), "not pinned by the policy") {
		t.Fatalf("policy pin under a role: %v", err)
	}
	// Without Roles, ForRole changes nothing.
	plain := base
	plain.Roles = nil
	if p, err := plain.ForRole("anyone"); err != nil {
		t.Fatal(err)
	} else if _, err := p.Check(sev, rd); err != nil {
		t.Fatal(err)
	}
}

// TestTDXPolicyFields pins each TD register in turn, to the recorded
// quote's value (accepted) and to another (refused naming the register),
// on the genuine, signature-checked quote; then TD attributes and XFAM
// under masks.
func TestTDXPolicyFields(t *testing.T) {
	tdx, rd := realTDX(t)
	v := &TDXVerifier{Now: verifyAt}
	ok := Policy{Measurements: [][]byte{mustHex(t, tdxMRTD)}}
	other := bytes.Repeat([]byte{0x77}, 48)
	var cases []policyCase
	for _, f := range []struct {
		name, value string
		set         func(*TDXPolicy, [][]byte)
	}{
		{"mr_seam", tdxMRSeam, func(p *TDXPolicy, s [][]byte) { p.MRSeam = s }},
		{"mr_config_id", tdxZero48, func(p *TDXPolicy, s [][]byte) { p.MRConfigID = s }},
		{"mr_owner", tdxZero48, func(p *TDXPolicy, s [][]byte) { p.MROwner = s }},
		{"mr_owner_config", tdxZero48, func(p *TDXPolicy, s [][]byte) { p.MROwnerConfig = s }},
		{"rtmr0", tdxRTMR0, func(p *TDXPolicy, s [][]byte) { p.RTMRs[0] = s }},
		{"rtmr1", tdxRTMR1, func(p *TDXPolicy, s [][]byte) { p.RTMRs[1] = s }},
		{"rtmr2", tdxRTMR2, func(p *TDXPolicy, s [][]byte) { p.RTMRs[2] = s }},
		{"rtmr3", tdxZero48, func(p *TDXPolicy, s [][]byte) { p.RTMRs[3] = s }},
	} {
		own, bad := ok, ok
		f.set(&own.TDX, [][]byte{other, mustHex(t, f.value)})
		f.set(&bad.TDX, [][]byte{other})
		cases = append(cases,
			policyCase{f.name + " pinned", tdx, rd, v, own, ""},
			policyCase{f.name + " not allowed", tdx, rd, v, bad, "attest: tdx " + f.name + " " + f.value[:16] + "… not in the allowed set"})
	}
	masked := func(edit func(*TDXPolicy)) Policy { p := ok; edit(&p.TDX); return p }
	ff := mustHex(t, "ffffffffffffffff")
	septVE := &Masked{Value: mustHex(t, "0000001000000000"), Mask: mustHex(t, "0000001000000000")} // SEPT_VE_DISABLE (bit 28) set
	cases = append(cases,
		policyCase{"td_attributes exact", tdx, rd, v, masked(func(p *TDXPolicy) { p.TDAttributes = &Masked{mustHex(t, tdxAttrs), ff} }), ""},
		policyCase{"td_attributes require SEPT_VE_DISABLE", tdx, rd, v, masked(func(p *TDXPolicy) { p.TDAttributes = septVE }),
			"attest: tdx td_attributes " + tdxAttrs + " do not match 0000001000000000 under mask 0000001000000000"},
		policyCase{"td_attributes refuse PKS", tdx, rd, v, masked(func(p *TDXPolicy) {
			p.TDAttributes = &Masked{make([]byte, 8), mustHex(t, "0000004000000000")}
		}), "td_attributes " + tdxAttrs + " do not match"},
		policyCase{"xfam exact", tdx, rd, v, masked(func(p *TDXPolicy) { p.XFAM = &Masked{mustHex(t, tdxXFAM), ff} }), ""},
		policyCase{"xfam other", tdx, rd, v, masked(func(p *TDXPolicy) { p.XFAM = &Masked{make([]byte, 8), ff} }),
			"attest: tdx xfam " + tdxXFAM + " does not match 0000000000000000 under mask ffffffffffffffff"},
		policyCase{"xfam mask ignores the rest", tdx, rd, v, masked(func(p *TDXPolicy) { p.XFAM = &Masked{make([]byte, 8), mustHex(t, "0000f9ffffffffff")} }), ""},
	)
	runPolicyCases(t, cases)
}

// TestTDXQuotingEnclave: the QE report must be from Intel's TD quoting
// enclave (checked offline against Intel's QE identity values), and its
// ISVSVN at least Policy.TDX.MinQESVN. A report from another enclave is
// shown with the signature check skipped; with it on, the change breaks
// the PCK's signature over the QE report.
func TestTDXQuotingEnclave(t *testing.T) {
	tdx, rd := realTDX(t)
	const qe = tdxSignedStart + 128 + 6 // the QE report
	ok := Policy{Measurements: [][]byte{mustHex(t, tdxMRTD)}}
	v := &TDXVerifier{Now: verifyAt}
	noSig := &TDXVerifier{Now: verifyAt, skipSignature: true}
	minSVN := func(n uint16) Policy { p := ok; p.TDX.MinQESVN = n; return p }
	const notQE = "attest: tdx QE report is not from Intel's TD quoting enclave"
	runPolicyCases(t, []policyCase{
		{"recorded", tdx, rd, v, minSVN(4), ""},
		{"QE ISVSVN below the minimum", tdx, rd, v, minSVN(5), "attest: tdx quoting enclave ISVSVN 4 below the minimum 5"},
		{"other signer unsigned", flip(tdx, qe+0x80, 1), rd, noSig, ok, notQE + " (MRSIGNER dd9e2a7c6f948f17…, ISVPRODID 2"},
		{"other signer", flip(tdx, qe+0x80, 1), rd, v, ok, "tdx signature or certificate chain invalid"},
		{"other product unsigned", flip(tdx, qe+0x100, 1), rd, noSig, ok, notQE},
		{"debug QE unsigned", flip(tdx, qe+0x30, 0x02), rd, noSig, ok, notQE},
		{"MISCSELECT unsigned", flip(tdx, qe+0x10, 0x01), rd, noSig, ok, notQE},
		{"masked attribute bit unsigned", flip(tdx, qe+0x30, 0x04), rd, noSig, ok, ""}, // bit 2 is outside the mask
	})
}

// tdxCollateral returns the sample Intel PCS collateral recorded in
// testdata (see its README), with or without the CRLs.
func tdxCollateral(t testing.TB, crls bool) *TDXCollateral {
	d := "testdata/tdx-collateral/"
	c := &TDXCollateral{TCBInfo: mustRead(t, d+"tcb-info.json"), TCBSigningChain: mustRead(t, d+"tcb-signing-chain.pem"), QEIdentity: mustRead(t, d+"qe-identity.json")}
	if crls {
		c.PCKCRL, c.PCKCRLIssuerChain, c.RootCRL = mustRead(t, d+"pck-crl.der"), mustRead(t, d+"pck-crl-issuer-chain.pem"), mustRead(t, d+"root-crl.der")
	}
	return c
}

// TestTDXCollateral: supplied collateral is checked. The recorded
// collateral (Intel's, issued 2023-06-18, valid to 2023-07-18) is for the
// recorded quote's FMSPC but lists no TCB level the quote's SVNs reach, so
// at a time it is valid the quote is refused by the TCB status check
// (and accepted without collateral); later it is refused as expired; a
// byte changed in it breaks Intel's signature; CRLs that do not verify
// are refused. No recorded collateral accepts the recorded quote, so the
// accepting path (and the QE identity comparison behind the TCB check)
// is exercised only by go-tdx-guest's own tests.
func TestTDXCollateral(t *testing.T) {
	tdx, rd := realTDX(t)
	in := time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC)
	ok := Policy{Measurements: [][]byte{mustHex(t, tdxMRTD)}}
	tampered := func(edit func(*TDXCollateral)) *TDXCollateral { c := tdxCollateral(t, true); edit(c); return c }
	tcbInfo := tdxCollateral(t, false).TCBInfo
	runPolicyCases(t, []policyCase{
		{"no collateral", tdx, rd, &TDXVerifier{Now: in}, ok, ""},
		{"TCB level", tdx, rd, &TDXVerifier{Now: in, Collateral: tdxCollateral(t, false)}, ok,
			"attest: tdx signature, certificate chain or collateral invalid: TDX TCB info reported by Intel PCS failed TCB status check: no matching TCB level found"},
		{"TCB level with CRLs", tdx, rd, &TDXVerifier{Now: in, Collateral: tdxCollateral(t, true)}, ok, "no matching TCB level found"},
		{"expired", tdx, rd, &TDXVerifier{Now: verifyAt, Collateral: tdxCollateral(t, true)}, ok, "tcbInfo has expired"},
		{"TCB info tampered", tdx, rd, &TDXVerifier{Now: in, Collateral: tampered(func(c *TDXCollateral) {
			c.TCBInfo = bytes.Replace(c.TCBInfo, []byte(`"tcbEvaluationDataNumber":15`), []byte(`"tcbEvaluationDataNumber":16`), 1)
		})}, ok, "tcbInfo response verification failed"},
		{"QE identity tampered", tdx, rd, &TDXVerifier{Now: in, Collateral: tampered(func(c *TDXCollateral) {
			c.QEIdentity = bytes.Replace(c.QEIdentity, []byte(`"isvprodid":2`), []byte(`"isvprodid":3`), 1)
		})}, ok, "QeIdentity response verification failed"},
		{"PCK CRL tampered", tdx, rd, &TDXVerifier{Now: in, Collateral: tampered(func(c *TDXCollateral) {
			c.PCKCRL = bytes.Clone(c.PCKCRL)
			c.PCKCRL[len(c.PCKCRL)-5] ^= 1 // in the signature
		})}, ok, "PCK CRL verification failed"},
		{"root CRL not a CRL", tdx, rd, &TDXVerifier{Now: in, Collateral: tampered(func(c *TDXCollateral) { c.RootCRL = []byte("junk") })}, ok,
			"unable to receive Root CA CRL"},
		{"incomplete", tdx, rd, &TDXVerifier{Now: in, Collateral: &TDXCollateral{TCBInfo: tcbInfo}}, ok, "attest: tdx collateral lacks tcb_signing_chain"},
		{"CRLs partly", tdx, rd, &TDXVerifier{Now: in, Collateral: tampered(func(c *TDXCollateral) { c.RootCRL = nil })}, ok,
			"give pck_crl, pck_crl_issuer_chain and root_crl together"},
	})
	// Policy.TDX.Collateral reaches the default verifier.
	p := ok
	p.Now, p.TDX.Collateral = in, tdxCollateral(t, false)
	if _, err := p.Check(tdx, rd); err == nil || !strings.Contains(err.Error(), "no matching TCB level found") {
		t.Fatalf("policy collateral: %v", err)
	}
}

// TestPolicyJSONFields: every new field survives the JSON form, and
// malformed values are refused with the field's name.
func TestPolicyJSONFields(t *testing.T) {
	c := tdxCollateral(t, true)
	id := strings.Repeat("ab", 64)
	p := Policy{
		Formats:      []string{FormatTDX, FormatSEVSNP},
		Measurements: [][]byte{{1}},
		PlatformIDs:  [][]byte{mustHex(t, id)},
		Roles:        map[string]RolePolicy{"server": {PlatformIDs: [][]byte{{2}}}, "client": {}},
		SEVSNP:       SEVSNPPolicy{VMPL: 2, AllowMigrationAgent: true},
		TDX: TDXPolicy{
			MRSeam: [][]byte{mustHex(t, tdxMRSeam)}, MRConfigID: [][]byte{other48(1)}, MROwner: [][]byte{other48(2)}, MROwnerConfig: [][]byte{other48(3)},
			RTMRs:        [4][][]byte{{other48(4)}, {other48(5)}, {other48(6)}, {other48(7), other48(8)}},
			TDAttributes: &Masked{mustHex(t, tdxAttrs), mustHex(t, "ffffffffffffffff")},
			XFAM:         &Masked{mustHex(t, tdxXFAM), mustHex(t, "00000000ffffffff")},
			MinQESVN:     4,
			Collateral:   c,
		},
	}
	b, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParsePolicy(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	b2, err := q.MarshalJSON()
	if err != nil || !bytes.Equal(b, b2) {
		t.Fatalf("round trip changed the policy:\n%s\n%s", b, b2)
	}
	if q.SEVSNP != p.SEVSNP || !bytes.Equal(q.TDX.RTMRs[3][1], other48(8)) || !bytes.Equal(q.TDX.Collateral.TCBInfo, c.TCBInfo) ||
		!bytes.Equal(q.TDX.Collateral.RootCRL, c.RootCRL) || len(q.Roles["client"].PlatformIDs) != 0 || !bytes.Equal(q.Roles["server"].PlatformIDs[0], []byte{2}) ||
		!bytes.Equal(q.TDX.XFAM.Mask, p.TDX.XFAM.Mask) || len(q.Formats) != 2 || q.TDX.MinQESVN != 4 {
		t.Fatalf("parsed %+v", q)
	}
	for _, bad := range []struct{ in, want string }{
		{`{"formats":["sgx"]}`, `formats[0] "sgx" is not`},
		{`{"formats":["tdx","tdx"]}`, `formats lists "tdx" twice`},
		{`{"formats":[]}`, "empty formats"},
		{`{"platform_ids":["00000000"]}`, "platform_ids[0] is all zero"},
		{`{"platform_ids":["zz"]}`, "platform_ids[0]"},
		{`{"roles":{"server":{"platform_ids":["0"]}}}`, "roles.server.platform_ids[0]"},
		{`{"roles":{"":{}}}`, "empty role name"},
		{`{"roles":{"server":{"platform_id":[]}}}`, "unknown field"},
		{`{"sev_snp":{"vmpl":4}}`, "sev_snp.vmpl 4 (want 0..3)"},
		{`{"sev_snp":{"migration_agent":true}}`, "unknown field"},
		{`{"tdx":{"mr_seam":["00"]}}`, "tdx.mr_seam[0] is 1 bytes, want 48"},
		{`{"tdx":{"rtmr4":[]}}`, "unknown field"},
		{`{"tdx":{"min_qe_svn":65536}}`, "min_qe_svn"},
		{`{"tdx":{"xfam":{"value":"00","mask":"00"}}}`, "tdx.xfam wants an 8-byte hex value and mask"},
		{`{"tdx":{"td_attributes":{"value":"0000000000000000"}}}`, "tdx.td_attributes wants"},
		{`{"tdx":{"collateral":{"tcb_info":"{}"}}}`, "tdx collateral lacks tcb_signing_chain"},
		{`{"tdx":{"collateral":{"tcb_info":"a","tcb_signing_chain":"b","qe_identity":"c","root_crl":"00"}}}`, "together"},
		{`{"tdx":{"collateral":{"tcb_info":"a","tcb_signing_chain":"b","qe_identity":"c","root_crl":"zz"}}}`, "hex DER"},
		{`{"simulated_platform_keys":["00"]}`, "simulated_platform_keys[0] is 1 bytes, want 32"},
	} {
		if _, err := ParsePolicy([]byte(bad.in)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParsePolicy(%s): error %v, want %q", bad.in, err, bad.want)
		}
	}
	if _, err := ParsePolicy(make([]byte, maxPolicySize+1)); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("oversized policy: %v", err)
	}
}

func other48(b byte) []byte { return bytes.Repeat([]byte{b}, 48) }
