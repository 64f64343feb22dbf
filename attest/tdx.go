package attest

import (
	"bytes"
	"crypto/x509"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/google/go-tdx-guest/pcs"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	"github.com/google/go-tdx-guest/verify"
)

// tdxDebugBit is TD attribute bit 0, DEBUG: set, the host VMM can read and
// write the TD's state.
const tdxDebugBit = 0

// TDXVerifier verifies Intel TDX quotes (version 4) offline with
// github.com/google/go-tdx-guest: the quote's ECDSA P-256 signature under
// the attestation key, the QE report's signature under the PCK certificate,
// the binding of the attestation key to the QE report, and the PCK chain
// (carried inside the quote) to Intel's SGX root CA embedded in the library
// (or TrustedRoots). Intel PCS collateral (TCB info, QE identity, CRLs) is
// checked only when given (Collateral); it is never fetched. Without it
// the platform TCB is checked only against Policy.MinTCB from the quote's
// TEE_TCB_SVN.
type TDXVerifier struct {
	// Now is the time certificates are checked at; zero means time.Now().
	Now time.Time
	// TrustedRoots replaces the embedded Intel root.
	TrustedRoots *x509.CertPool
	// Collateral, when set, is checked too (see TDXCollateral).
	Collateral *TDXCollateral

	skipSignature bool // tests only, as in SEVSNPVerifier
}

// intelRootPEM is Intel's SGX root CA, the root of every PCK chain (the
// copy go-tdx-guest embeds, verify/trusted_root.pem); giving it explicitly
// keeps the library from logging that it falls back to its own copy.
//
//go:embed intel_sgx_root_ca.pem
var intelRootPEM []byte

var intelRoots = sync.OnceValue(func() *x509.CertPool {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(intelRootPEM) {
		panic("attest: embedded Intel root does not parse")
	}
	return p
})

// Format is "tdx".
func (*TDXVerifier) Format() string { return FormatTDX }

// Verify checks a TDX quote and returns its claims. The quote's layout is
// validated before go-tdx-guest reads it, and every call into the library
// is guarded (a panic in it is an error).
func (v *TDXVerifier) Verify(ev *Evidence, want ReportData) (*Claims, error) {
	if ev == nil || ev.Format != FormatTDX {
		return nil, fmt.Errorf("attest: tdx verifier given %q evidence", evFormat(ev))
	}
	quote, err := parseTDXQuote(ev.Raw)
	if err != nil {
		return nil, err
	}
	if !v.skipSignature {
		if err := v.verifySignature(quote); err != nil {
			return nil, err
		}
	}
	qe := quote.GetSignedData().GetCertificationData().GetQeReportCertificationData().GetQeReport()
	if err := checkTDQE(qe); err != nil {
		return nil, err
	}
	body := quote.GetTdQuoteBody()
	attrs := body.GetTdAttributes()
	rtmrs := body.GetRtmrs()
	if len(attrs) != 8 || len(body.GetTeeTcbSvn()) != 16 || len(body.GetReportData()) != 64 || len(rtmrs) != 4 {
		return nil, errors.New("attest: tdx quote body has malformed fields")
	}
	svn := body.GetTeeTcbSvn()
	c := &Claims{
		Format:        FormatTDX,
		Measurement:   bytes.Clone(body.GetMrTd()),
		Debug:         attrs[0]&(1<<tdxDebugBit) != 0,
		TCB:           binary.LittleEndian.Uint64(svn[:8]),
		TCBComponents: bytes.Clone(svn),
		Signer:        "PCK",
		TDX: &TDXClaims{
			MRSeam:        bytes.Clone(body.GetMrSeam()),
			MRConfigID:    bytes.Clone(body.GetMrConfigId()),
			MROwner:       bytes.Clone(body.GetMrOwner()),
			MROwnerConfig: bytes.Clone(body.GetMrOwnerConfig()),
			TDAttributes:  bytes.Clone(attrs),
			XFAM:          bytes.Clone(body.GetXfam()),
			QESVN:         uint16(qe.GetIsvSvn()),
		},
		Extra: map[string]string{
			"version":         strconv.FormatUint(uint64(quote.GetHeader().GetVersion()), 10),
			"td_attributes":   hex.EncodeToString(attrs),
			"xfam":            hexOr(body.GetXfam()),
			"mr_seam":         hexOr(body.GetMrSeam()),
			"mr_config_id":    hexOr(body.GetMrConfigId()),
			"mr_owner":        hexOr(body.GetMrOwner()),
			"mr_owner_config": hexOr(body.GetMrOwnerConfig()),
			"tee_tcb_svn":     hex.EncodeToString(svn),
			"qe_svn":          hexOr(quote.GetHeader().GetQeSvn()),
			"pce_svn":         hexOr(quote.GetHeader().GetPceSvn()),
			"qe_isvsvn":       strconv.FormatUint(uint64(qe.GetIsvSvn()), 10),
			"collateral":      strconv.FormatBool(v.Collateral != nil && !v.skipSignature),
		},
	}
	// Bytes after the quote's signed data (the recorded test quote ends
	// with 39) are covered by no signature and carry no claim; their count
	// is reported, their content ignored.
	if n := len(quote.GetExtraBytes()); n != 0 {
		c.Extra["unsigned_trailing_bytes"] = strconv.Itoa(n)
	}
	for i, r := range rtmrs {
		c.TDX.RTMRs[i] = bytes.Clone(r)
		c.Extra["rtmr"+strconv.Itoa(i)] = hexOr(r)
	}
	if exts := pckExtensions(quote); exts != nil {
		c.Extra["fmspc"] = exts.FMSPC
		if id, err := hex.DecodeString(exts.PPID); err == nil {
			c.PlatformID = id
		}
	}
	copy(c.ReportData[:], body.GetReportData())
	return checkReportData(c, want)
}

// Intel's TD quoting enclave, as Intel PCS's QE identity for TDX
// ("id":"TD_QE") describes it: the enclave signer (MRSIGNER, the hash of
// Intel's enclave signing key), the product id, and MISCSELECT and
// ATTRIBUTES under their masks (INIT, MODE64BIT and PROVISIONKEY set,
// DEBUG clear). The PCK signs reports of any enclave that may use the
// provisioning key, so without this check an enclave other than Intel's
// QE, run by whoever controls the platform, could certify an attestation
// key and sign quotes with any content.
var (
	tdQESigner, _     = hex.DecodeString("dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5")
	tdQEAttributes, _ = hex.DecodeString("11000000000000000000000000000000")
	tdQEAttrMask, _   = hex.DecodeString("fbffffffffffffff0000000000000000")
)

const (
	tdQEProductID = 2
	tdQEMiscMask  = 0xffffffff
	tdQEMisc      = 0
)

// checkTDQE checks the QE report names Intel's TD quoting enclave
// (offline: the values are those of Intel's QE identity; its TCB levels,
// i.e. whether the QE's ISVSVN is current, need the collateral or
// Policy.TDX.MinQESVN).
func checkTDQE(qe *pb.EnclaveReport) error {
	attrs := qe.GetAttributes()
	ok := bytes.Equal(qe.GetMrSigner(), tdQESigner) && qe.GetIsvProdId() == tdQEProductID &&
		qe.GetMiscSelect()&tdQEMiscMask == tdQEMisc && len(attrs) == len(tdQEAttrMask)
	for i := 0; ok && i < len(attrs); i++ {
		ok = attrs[i]&tdQEAttrMask[i] == tdQEAttributes[i]
	}
	if !ok {
		return fmt.Errorf("attest: tdx QE report is not from Intel's TD quoting enclave (MRSIGNER %s, ISVPRODID %d, MISCSELECT %#x, ATTRIBUTES %x)",
			short(qe.GetMrSigner()), qe.GetIsvProdId(), qe.GetMiscSelect(), attrs)
	}
	return nil
}

// verifySignature runs go-tdx-guest's verification of quote (guarded),
// with the collateral if there is any.
func (v *TDXVerifier) verifySignature(quote *pb.QuoteV4) error {
	now := v.Now
	if now.IsZero() {
		now = time.Now()
	}
	roots := v.TrustedRoots
	if roots == nil {
		roots = intelRoots()
	}
	opts := &verify.Options{CheckRevocations: false, GetCollateral: false, Getter: collateralGetter{&TDXCollateral{}}, Now: now, TrustedRoots: roots}
	what := "signature or certificate chain"
	if c := v.Collateral; c != nil {
		if err := c.check(); err != nil {
			return err
		}
		opts.GetCollateral, opts.CheckRevocations, opts.Getter = true, c.revocation(), collateralGetter{c}
		what = "signature, certificate chain or collateral"
	}
	if err := guard("tdx signature check", func() error { return verify.TdxQuote(quote, opts) }); err != nil {
		return fmt.Errorf("attest: tdx %s invalid: %v", what, err)
	}
	return nil
}

// pckExtensions returns the SGX extensions of the PCK leaf certificate
// carried in the quote, or nil.
func pckExtensions(q *pb.QuoteV4) *pcs.PckExtensions {
	cert := pckCert(q)
	if cert == nil {
		return nil
	}
	var exts *pcs.PckExtensions
	if guard("tdx PCK certificate extensions", func() (err error) {
		exts, err = pcs.PckCertificateExtensions(cert)
		return err
	}) != nil {
		return nil
	}
	return exts
}

// pckCert returns the PCK leaf certificate carried in the quote, or nil.
func pckCert(q *pb.QuoteV4) *x509.Certificate {
	chain := q.GetSignedData().GetCertificationData().GetQeReportCertificationData().GetPckCertificateChainData().GetPckCertChain()
	blk, _ := pem.Decode(chain)
	if blk == nil {
		return nil
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil
	}
	return c
}
