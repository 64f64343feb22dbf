package attest

import (
	"errors"
	"fmt"
	"os"

	sevabi "github.com/google/go-sev-guest/abi"
	sevclient "github.com/google/go-sev-guest/client"
	tdxclient "github.com/google/go-tdx-guest/client"
)

// Device paths and the configfs-tsm report directory whose presence
// Detect looks for.
const (
	sevGuestDevice = "/dev/sev-guest"
	tdxGuestDevice = "/dev/tdx_guest"
	tsmReportDir   = "/sys/kernel/config/tsm/report"
)

// ErrNoTEE is returned by Detect on a machine without a supported TEE.
var ErrNoTEE = errors.New("attest: no TEE found (no " + sevGuestDevice + ", " + tdxGuestDevice + " or " + tsmReportDir +
	"); on a machine without one only the insecure simulated attester is available")

// Detect returns the platform attester of the confidential VM it runs in:
// SEV-SNP or TDX, through the libraries' client packages (configfs-tsm
// first, then the guest device), or ErrNoTEE.
func Detect() (Attester, error) {
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	if !exists(sevGuestDevice) && !exists(tdxGuestDevice) && !exists(tsmReportDir) {
		return nil, ErrNoTEE
	}
	if qp, err := sevclient.GetQuoteProvider(); err == nil && qp.IsSupported() {
		return &sevSNPAttester{qp: qp}, nil
	}
	if exists(tdxGuestDevice) || exists(tsmReportDir) {
		if qp, err := tdxclient.GetQuoteProvider(); err == nil && qp.IsSupported() == nil {
			return &tdxAttester{qp: qp}, nil
		}
		if exists(tdxGuestDevice) {
			if d, err := tdxclient.OpenDevice(); err == nil {
				return &tdxAttester{qp: d}, nil
			}
		}
	}
	return nil, fmt.Errorf("%w (a TEE interface exists but neither SEV-SNP nor TDX answered)", ErrNoTEE)
}

// sevSNPAttester asks the AMD secure processor for an extended report.
type sevSNPAttester struct{ qp sevclient.QuoteProvider }

// Format is "sev-snp".
func (*sevSNPAttester) Format() string { return FormatSEVSNP }

// Attest returns the report carrying rd and the host-provided certificate
// table (which must include the VCEK or VLEK for offline verification).
func (a *sevSNPAttester) Attest(rd ReportData) (*Evidence, error) {
	raw, err := a.qp.GetRawQuote(rd)
	if err != nil {
		return nil, fmt.Errorf("attest: sev-snp report: %w", err)
	}
	if len(raw) < sevabi.ReportSize {
		return nil, fmt.Errorf("attest: sev-snp report of %d bytes", len(raw))
	}
	ev := &Evidence{Format: FormatSEVSNP, Raw: raw[:sevabi.ReportSize:sevabi.ReportSize]}
	if len(raw) > sevabi.ReportSize {
		ev.Certs = raw[sevabi.ReportSize:]
	}
	return ev, nil
}

// tdxAttester asks the TDX module (through the quoting enclave) for a quote.
type tdxAttester struct{ qp any }

// Format is "tdx".
func (*tdxAttester) Format() string { return FormatTDX }

// Attest returns a quote carrying rd; its PCK chain is inside.
func (a *tdxAttester) Attest(rd ReportData) (*Evidence, error) {
	raw, err := tdxclient.GetRawQuote(a.qp, rd)
	if err != nil {
		return nil, fmt.Errorf("attest: tdx quote: %w", err)
	}
	return &Evidence{Format: FormatTDX, Raw: raw}, nil
}
