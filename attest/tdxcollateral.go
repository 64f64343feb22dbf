package attest

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/go-tdx-guest/pcs"
)

// TDXCollateral is Intel PCS collateral for TDX quotes, fetched beforehand
// by the relying party (from api.trustedservices.intel.com; it is signed
// by Intel, so where it came from does not matter) and given to the
// verifier, which stays offline. With it, go-tdx-guest also checks:
// the TCB info and QE identity signatures chain to Intel's SGX root; the
// PCK certificate's FMSPC and PCE id match the TCB info; MR_SIGNER_SEAM
// and the SEAM attributes match its TDX module entry; the TCB level that
// the PCK certificate's CPU SVNs and the quote's TEE_TCB_SVN reach has
// status UpToDate (and the TDX module's, too); the QE report matches the
// QE identity (MRSIGNER, ISVPRODID, MISCSELECT and ATTRIBUTES under their
// masks) and its ISVSVN's level is UpToDate; and no collateral is past its
// nextUpdate at the verification time. With the CRLs as well, the PCK
// and intermediate certificates must not be revoked.
//
// Each field holds a response body exactly as served (Intel signs the
// bytes) or, for the issuer chains, the URL-decoded PEM of the response
// header named.
type TDXCollateral struct {
	// TCBInfo is the body of GET /tdx/certification/v4/tcb?fmspc=<FMSPC>
	// (JSON {"tcbInfo":...,"signature":...}), for the platform's FMSPC
	// (Claims.Extra["fmspc"]).
	TCBInfo []byte
	// TCBSigningChain is the header TCB-Info-Issuer-Chain (the same
	// chain as SGX-Enclave-Identity-Issuer-Chain): Intel SGX TCB Signing,
	// then Intel SGX Root CA.
	TCBSigningChain []byte
	// QEIdentity is the body of GET /tdx/certification/v4/qe/identity.
	QEIdentity []byte
	// PCKCRL (DER, GET /sgx/certification/v4/pckcrl?ca=platform|processor
	// &encoding=der, as the PCK certificate's issuer says), its header
	// SGX-PCK-CRL-Issuer-Chain, and RootCRL (DER, the Intel SGX Root CA's
	// CRL from its distribution point) turn on revocation checking:
	// all three or none.
	PCKCRL            []byte
	PCKCRLIssuerChain []byte
	RootCRL           []byte
}

// check says whether c is complete.
func (c *TDXCollateral) check() error {
	for _, f := range []struct {
		name string
		b    []byte
	}{{"tcb_info", c.TCBInfo}, {"tcb_signing_chain", c.TCBSigningChain}, {"qe_identity", c.QEIdentity}} {
		if len(f.b) == 0 {
			return fmt.Errorf("attest: tdx collateral lacks %s", f.name)
		}
	}
	if n := nonEmpty(c.PCKCRL, c.PCKCRLIssuerChain, c.RootCRL); n != 0 && n != 3 {
		return errors.New("attest: tdx collateral: give pck_crl, pck_crl_issuer_chain and root_crl together (or none)")
	}
	return nil
}

func nonEmpty(bs ...[]byte) int {
	n := 0
	for _, b := range bs {
		if len(b) != 0 {
			n++
		}
	}
	return n
}

// revocation says whether c carries the CRLs.
func (c *TDXCollateral) revocation() bool { return len(c.RootCRL) != 0 }

// collateralGetter answers go-tdx-guest's PCS requests from a
// TDXCollateral and refuses every other fetch.
type collateralGetter struct{ c *TDXCollateral }

// PCS request URLs, as go-tdx-guest forms them.
var (
	pcsTCBInfoPrefix = pcs.TcbInfoURL("")
	pcsQEIdentityURL = pcs.QeIdentityURL()
	pcsPCKCRLPrefix  = strings.SplitAfter(pcs.PckCrlURL(""), "?")[0]
)

func issuerHeader(name string, pem []byte) map[string][]string {
	return map[string][]string{name: {url.QueryEscape(string(pem))}}
}

func (g collateralGetter) Get(u string) (map[string][]string, []byte, error) {
	c := g.c
	switch {
	case strings.HasPrefix(u, pcsTCBInfoPrefix):
		return issuerHeader("Tcb-Info-Issuer-Chain", c.TCBSigningChain), c.TCBInfo, nil
	case u == pcsQEIdentityURL:
		return issuerHeader("Sgx-Enclave-Identity-Issuer-Chain", c.TCBSigningChain), c.QEIdentity, nil
	case c.revocation() && strings.HasPrefix(u, pcsPCKCRLPrefix):
		return issuerHeader("Sgx-Pck-Crl-Issuer-Chain", c.PCKCRLIssuerChain), c.PCKCRL, nil
	case c.revocation():
		// The root CA's CRL, at the distribution point its certificate
		// names; the library checks the CRL's signature by that root.
		return nil, c.RootCRL, nil
	}
	return nil, nil, fmt.Errorf("attest: offline verification refuses to fetch %s (no such collateral given)", u)
}
