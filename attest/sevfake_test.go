//go:build !windows

package attest

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	test "github.com/google/go-sev-guest/testing"
	"github.com/google/go-sev-guest/verify/trust"
)

// TestSEVSNPAttesterRoundTrip runs the SEV-SNP attester against
// go-sev-guest's mock quote provider (a configfs-tsm stand-in that signs
// reports with a test-only AMD key hierarchy): a fresh report carrying
// Bind(key, session, nonces) goes through Evidence encoding and
// Policy.CheckBinding, trusting the test roots instead of AMD's. This is the
// path a real SEV-SNP guest takes, which this machine cannot exercise.
// (Not on Windows, where go-sev-guest's testing package does not build.)
func TestSEVSNPAttesterRoundTrip(t *testing.T) {
	pub, sid := []byte("party key"), []byte("session 1")
	nonces := [][]byte{[]byte("nonce P1"), []byte("nonce P2")}
	rd := Bind(pub, sid, nonces...)

	// Start from the recorded report's layout, with this report data, a
	// TCB of 0 (the test VCEK's), the chip id masked and debug off.
	raw := mustRead(t, sevReportFile)
	var out [4000]byte
	copy(out[:], raw)
	copy(out[sevReportDataOff:], rd[:])
	binary.LittleEndian.PutUint64(out[sevReportedTCBOff:], 0)
	clear(out[sevChipIDOff : sevChipIDOff+64]) // the test VCEK's HWID is zeros
	pol := binary.LittleEndian.Uint64(out[sevPolicyOff:]) &^ (1 << snpDebugBit)
	binary.LittleEndian.PutUint64(out[sevPolicyOff:], pol)
	signer, err := test.DefaultTestOnlyCertChain(kds.ProductName(abi.DefaultSevProduct()), verifyAt.AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	var tc test.TestCase
	tc.Input = rd
	copy(tc.Output[:], out[:])
	qp, err := test.TcQuoteProvider([]test.TestCase{tc}, &test.DeviceOptions{Now: verifyAt, Signer: signer, Product: abi.DefaultSevProduct()})
	if err != nil {
		t.Fatal(err)
	}
	a := &sevSNPAttester{qp: qp}
	ev, err := AttestKey(a, pub, sid, nonces...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ev.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Evidence
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}

	root := trust.AMDRootCertsProduct("Milan")
	root.ProductCerts = &trust.ProductCerts{Ark: signer.Ark, Ask: signer.Ask}
	testRoots := &SEVSNPVerifier{Now: verifyAt, TrustedRoots: map[string][]*trust.AMDRootCerts{"Milan": {root}}}
	policy := Policy{Measurements: [][]byte{mustHex(t, sevMeasurement)}, Verifiers: map[string]Verifier{FormatSEVSNP: testRoots}}
	c, err := policy.CheckBinding(&got, sid, nonces...)
	if err != nil {
		t.Fatal(err)
	}
	if c.Debug || c.TCB != 0 || c.ReportData != rd || c.Signer != "VCEK" {
		t.Fatalf("claims %+v", c)
	}
	for _, tc := range []struct {
		name string
		p    Policy
		sid  []byte
		want string
	}{
		// AMD's real roots do not accept the test hierarchy.
		{"AMD roots", Policy{Measurements: policy.Measurements, Now: verifyAt}, sid, "sev-snp signature or certificate chain invalid"},
		{"other session", policy, []byte("session 2"), "report data does not bind this key/session"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.p.CheckBinding(&got, tc.sid, nonces...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
