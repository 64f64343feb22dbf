package attest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-sev-guest/abi"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
)

// The SEV-SNP evidence is an ATTESTATION_REPORT of exactly abi.ReportSize
// (1184) bytes, whose fields sit at fixed offsets, and the host's
// certificate table (GHCB extended guest request format): 24-byte entries
// (GUID, offset u32, length u32, little-endian) ended by an all-zero
// entry, then the certificates the entries point at. go-sev-guest's
// table parser adds offset and length in 32 bits, so an entry whose sum
// wraps passes its bound check and makes it slice out of range (or
// allocate up to 4 GiB). checkSEVCertTable walks the table first.
const (
	sevCertEntrySize = abi.CertTableEntrySize
	// sevMaxCertTable bounds the table: a VCEK, ASK and ARK take about
	// 4.5 KB; hosts pad the table to whole pages. 64 KiB is generous.
	sevMaxCertTable = 64 << 10
	// sevMaxCertEntries bounds the entries (VCEK or VLEK, ASK, ARK, CRL
	// and a few vendor extras in practice).
	sevMaxCertEntries = 16
)

// checkSEVCertTable validates every entry of a certificate table: at most
// sevMaxCertEntries of them, each pointing inside the table and after its
// header (computed in 64 bits), no GUID twice.
func checkSEVCertTable(certs []byte) error {
	if len(certs) > sevMaxCertTable {
		return fmt.Errorf("attest: sev-snp certificate table of %d bytes exceeds the %d-byte limit", len(certs), sevMaxCertTable)
	}
	type entry struct {
		guid        [16]byte
		offset, end uint64
	}
	var entries []entry
	for i := 0; ; i++ {
		at := i * sevCertEntrySize
		if at+sevCertEntrySize > len(certs) {
			return fmt.Errorf("attest: sev-snp certificate table ends inside entry %d (no all-zero terminator)", i)
		}
		var e entry
		copy(e.guid[:], certs[at:at+16])
		e.offset = uint64(binary.LittleEndian.Uint32(certs[at+16:]))
		e.end = e.offset + uint64(binary.LittleEndian.Uint32(certs[at+20:]))
		if e.guid == ([16]byte{}) && e.end == 0 {
			break // the all-zero terminator
		}
		if i == sevMaxCertEntries {
			return fmt.Errorf("attest: sev-snp certificate table has more than %d entries", sevMaxCertEntries)
		}
		entries = append(entries, e)
	}
	header := uint64(len(entries)+1) * sevCertEntrySize
	for i, e := range entries {
		if e.offset < header || e.end > uint64(len(certs)) {
			return fmt.Errorf("attest: sev-snp certificate table entry %d covers bytes %d..%d, outside the certificates (%d..%d)",
				i, e.offset, e.end, header, len(certs))
		}
		for _, f := range entries[:i] {
			if f.guid == e.guid {
				return fmt.Errorf("attest: sev-snp certificate table lists GUID %x twice", e.guid)
			}
		}
	}
	return nil
}

// parseSEVReport checks raw's size and parses it with go-sev-guest
// (guarded), insisting that re-encoding gives back exactly raw: the
// library verifies the signature over the re-encoded report, so no byte
// escapes the signature.
func parseSEVReport(raw []byte) (*spb.Report, error) {
	if len(raw) != abi.ReportSize {
		return nil, fmt.Errorf("attest: sev-snp report of %d bytes, want %d", len(raw), abi.ReportSize)
	}
	var report *spb.Report
	err := guard("sev-snp report", func() error {
		r, err := abi.ReportToProto(raw)
		if err != nil {
			return fmt.Errorf("attest: sev-snp report: %v", err)
		}
		if re, err := abi.ReportToAbiBytes(r); err != nil || !bytes.Equal(re, raw) {
			return errors.New("attest: sev-snp report is not in canonical form")
		}
		report = r
		return nil
	})
	return report, err
}

// parseSEVCertTable validates and parses a certificate table (guarded).
func parseSEVCertTable(certs []byte) (*spb.CertificateChain, error) {
	if len(certs) == 0 {
		return nil, errors.New("attest: sev-snp evidence carries no certificate table (the VCEK/VLEK is needed to verify offline)")
	}
	if err := checkSEVCertTable(certs); err != nil {
		return nil, err
	}
	var chain *spb.CertificateChain
	err := guard("sev-snp certificate table", func() error {
		table := new(abi.CertTable)
		if err := table.Unmarshal(certs); err != nil {
			return fmt.Errorf("attest: sev-snp certificate table: %v", err)
		}
		chain = table.Proto()
		return nil
	})
	return chain, err
}
