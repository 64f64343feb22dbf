package attest

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	"github.com/google/go-sev-guest/verify"
	"github.com/google/go-sev-guest/verify/trust"
)

// Bits of the SEV-SNP guest policy (AMD SEV-SNP ABI, table 9).
const (
	// snpMigrateMABit, MIGRATE_MA: set, the guest may be associated with
	// a migration agent, which can export its memory and state to another
	// machine.
	snpMigrateMABit = 18
	// snpDebugBit, DEBUG: set, the hypervisor may read and write the
	// guest's memory through the firmware's debug API.
	snpDebugBit = 19
)

// SEVSNPVerifier verifies AMD SEV-SNP attestation reports offline with
// github.com/google/go-sev-guest: the report's ECDSA P-384 signature under
// the VCEK (or VLEK) certificate carried in Evidence.Certs, that
// certificate's chain to AMD's ARK/ASK roots embedded in the library (or
// TrustedRoots), and that the certificate's TCB equals the report's
// REPORTED_TCB. It never fetches anything: the platform's certificate
// table (GET_EXT_REPORT, configfs-tsm auxblob) must travel in the
// evidence.
type SEVSNPVerifier struct {
	// Now is the time certificates are checked at; zero means time.Now().
	Now time.Time
	// TrustedRoots replaces the embedded AMD roots (map from product line,
	// e.g. "Milan", to accepted roots).
	TrustedRoots map[string][]*trust.AMDRootCerts
	// Product, if set, is the product the report must come from.
	Product *spb.SevProduct

	// skipSignature is for tests only: it skips the signature and chain
	// check to show what the later checks do with a tampered field, were
	// it signed.
	skipSignature bool
}

// Format is "sev-snp".
func (*SEVSNPVerifier) Format() string { return FormatSEVSNP }

// offlineGetter refuses every fetch: verification must use only the
// evidence and the embedded roots.
type offlineGetter struct{}

func (offlineGetter) Get(url string) ([]byte, error) {
	return nil, fmt.Errorf("attest: offline verification refuses to fetch %s", url)
}

// Verify checks an SEV-SNP report and returns its claims. Every length in
// the evidence is validated before go-sev-guest reads it, and every call
// into the library is guarded (a panic in it is an error).
func (v *SEVSNPVerifier) Verify(ev *Evidence, want ReportData) (*Claims, error) {
	if ev == nil || ev.Format != FormatSEVSNP {
		return nil, fmt.Errorf("attest: sev-snp verifier given %q evidence", evFormat(ev))
	}
	report, err := parseSEVReport(ev.Raw)
	if err != nil {
		return nil, err
	}
	chain, err := parseSEVCertTable(ev.Certs)
	if err != nil {
		return nil, err
	}
	att := &spb.Attestation{Report: report, CertificateChain: chain}
	info, err := abi.ParseSignerInfo(report.GetSignerInfo())
	if err != nil {
		return nil, fmt.Errorf("attest: sev-snp signer info: %v", err)
	}
	if !v.skipSignature {
		now := v.Now
		if now.IsZero() {
			now = time.Now()
		}
		opts := &verify.Options{
			DisableCertFetching: true,
			CheckRevocations:    false,
			Getter:              offlineGetter{},
			Now:                 now,
			TrustedRoots:        v.TrustedRoots,
			Product:             v.Product,
		}
		err := guard("sev-snp signature check", func() error { return verify.SnpAttestation(att, opts) })
		if err != nil {
			return nil, fmt.Errorf("attest: sev-snp signature or certificate chain invalid: %v", err)
		}
	}
	if err := snpCertMatches(att, info.SigningKey); err != nil {
		return nil, err
	}
	pol := report.GetPolicy()
	if _, err := abi.ParseSnpPolicy(pol); err != nil {
		return nil, fmt.Errorf("attest: sev-snp guest policy: %v", err)
	}
	c := &Claims{
		Format:        FormatSEVSNP,
		Measurement:   bytes.Clone(report.GetMeasurement()),
		Debug:         pol&(1<<snpDebugBit) != 0,
		TCB:           report.GetReportedTcb(),
		TCBComponents: le64(report.GetReportedTcb()),
		PlatformID:    bytes.Clone(report.GetChipId()),
		Signer:        info.SigningKey.String(),
		SEVSNP: &SEVSNPClaims{
			VMPL:           report.GetVmpl(),
			GuestPolicy:    pol,
			MigrationAgent: pol&(1<<snpMigrateMABit) != 0,
			HostData:       bytes.Clone(report.GetHostData()),
		},
		Extra: map[string]string{
			"version":         strconv.FormatUint(uint64(report.GetVersion()), 10),
			"policy":          fmt.Sprintf("%#x", pol),
			"vmpl":            strconv.FormatUint(uint64(report.GetVmpl()), 10),
			"migration_agent": strconv.FormatBool(pol&(1<<snpMigrateMABit) != 0),
			"guest_svn":       strconv.FormatUint(uint64(report.GetGuestSvn()), 10),
			"host_data":       hexOr(report.GetHostData()),
			"id_key_digest":   hexOr(report.GetIdKeyDigest()),
			"current_tcb":     fmt.Sprintf("%#016x", report.GetCurrentTcb()),
			"committed_tcb":   fmt.Sprintf("%#016x", report.GetCommittedTcb()),
			"launch_tcb":      fmt.Sprintf("%#016x", report.GetLaunchTcb()),
		},
	}
	copy(c.ReportData[:], report.GetReportData())
	return checkReportData(c, want)
}

// snpCertMatches checks that the endorsement key's certificate names the
// TCB the report claims (the key is derived for one TCB, so a mismatch
// means the host replays an older key's certificate or misreports the
// TCB) and, for a VCEK, the chip (its HWID must be the report's CHIP_ID,
// unless the guest masked that to zeros), so that a pinned CHIP_ID is
// backed by AMD's certificate as well as by the signature.
func snpCertMatches(att *spb.Attestation, key abi.ReportSigner) error {
	reported := att.GetReport().GetReportedTcb()
	ek := att.GetCertificateChain().GetVcekCert()
	if key == abi.VlekReportSigner {
		ek = att.GetCertificateChain().GetVlekCert()
	}
	cert, err := x509.ParseCertificate(ek)
	if err != nil {
		return fmt.Errorf("attest: sev-snp %v certificate: %v", key, err)
	}
	var exts *kds.Extensions
	err = guard("sev-snp certificate extensions", func() (err error) {
		if key == abi.VlekReportSigner {
			exts, err = kds.VlekCertificateExtensions(cert)
		} else {
			exts, err = kds.VcekCertificateExtensions(cert)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("attest: sev-snp %v certificate extensions: %v", key, err)
	}
	if uint64(exts.TCBVersion) != reported {
		return fmt.Errorf("attest: sev-snp %v certificate is for TCB %#016x, report claims %#016x", key, uint64(exts.TCBVersion), reported)
	}
	if chip := att.GetReport().GetChipId(); key == abi.VcekReportSigner && !allZero(chip) && !bytes.Equal(exts.HWID, chip) {
		return fmt.Errorf("attest: sev-snp VCEK certificate is for chip %s, report claims %s", short(exts.HWID), short(chip))
	}
	return nil
}

func le64(x uint64) []byte {
	b := make([]byte, 8)
	for i := range b {
		b[i] = byte(x >> (8 * i))
	}
	return b
}

// SEVSNPCertTable builds the certificate table SEV-SNP evidence carries
// (the GET_EXT_REPORT format) from DER certificates: the VCEK, and
// optionally ASK and ARK. Used to package a recorded report whose VCEK was
// fetched separately.
func SEVSNPCertTable(vcek, ask, ark []byte) ([]byte, error) {
	if len(vcek) == 0 {
		return nil, errors.New("attest: sev-snp certificate table needs the VCEK")
	}
	chain := &spb.CertificateChain{VcekCert: vcek, AskCert: ask, ArkCert: ark}
	return abi.CertsFromProto(chain).Marshal(), nil
}
