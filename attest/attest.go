package attest

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// Format names.
const (
	FormatSEVSNP    = "sev-snp"
	FormatTDX       = "tdx"
	FormatSimulated = "simulated-insecure"
)

// MaxEvidenceSize bounds an encoded Evidence (and so every field of it).
const MaxEvidenceSize = 1 << 20

// ReportData is the 64-byte field a platform binds into its evidence.
type ReportData [64]byte

// String is the hex form of rd.
func (rd ReportData) String() string { return hex.EncodeToString(rd[:]) }

// bindDomain separates veil's report data from any other use of SHA-512.
const bindDomain = "veil/attest/v1 report data\x00"

// Bind returns SHA-512(domain ‖ len-prefixed pubKey ‖ len-prefixed sessionID
// ‖ count of nonces ‖ len-prefixed nonces...), the report data a party's
// evidence must carry. Lengths and the count are 8-byte big-endian, so no
// two different argument lists give the same input. The nonces' order
// matters: callers must agree on it (e.g. the verifiers' party order).
func Bind(pubKey, sessionID []byte, nonces ...[]byte) ReportData {
	h := sha512.New()
	var n [8]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	h.Write([]byte(bindDomain))
	put(pubKey)
	put(sessionID)
	binary.BigEndian.PutUint64(n[:], uint64(len(nonces)))
	h.Write(n[:])
	for _, nc := range nonces {
		put(nc)
	}
	var rd ReportData
	h.Sum(rd[:0])
	return rd
}

// Evidence is what a party presents: Format names the platform
// ("sev-snp", "tdx", "simulated-insecure"), Raw is the platform's report,
// Certs any certificates or collateral needed to verify it (SEV-SNP: the
// GET_EXT_REPORT certificate table; TDX: empty, the PCK chain is inside the
// quote; simulated: the platform's Ed25519 public key), PubKey the key the
// report data binds.
type Evidence struct {
	Format string
	Raw    []byte
	Certs  []byte
	PubKey []byte
}

// evidenceMagic starts every encoded Evidence; the byte after it is the
// encoding version.
var evidenceMagic = []byte("VEILEVID")

const evidenceVersion = 1

// MarshalBinary encodes e: magic, version, then Format, Raw, Certs and
// PubKey, each with a 4-byte big-endian length.
func (e *Evidence) MarshalBinary() ([]byte, error) {
	if e == nil {
		return nil, errors.New("attest: nil evidence")
	}
	if len(e.Format) == 0 || len(e.Format) > 64 {
		return nil, fmt.Errorf("attest: evidence format name of %d bytes (want 1..64)", len(e.Format))
	}
	size := len(evidenceMagic) + 1 + 16 + len(e.Format) + len(e.Raw) + len(e.Certs) + len(e.PubKey)
	if size > MaxEvidenceSize {
		return nil, fmt.Errorf("attest: evidence of %d bytes exceeds the %d-byte limit", size, MaxEvidenceSize)
	}
	out := make([]byte, 0, size)
	out = append(out, evidenceMagic...)
	out = append(out, evidenceVersion)
	for _, f := range [][]byte{[]byte(e.Format), e.Raw, e.Certs, e.PubKey} {
		out = binary.BigEndian.AppendUint32(out, uint32(len(f)))
		out = append(out, f...)
	}
	return out, nil
}

// UnmarshalBinary decodes what MarshalBinary wrote, refusing other
// versions, inputs over MaxEvidenceSize, truncated or oversized fields and
// trailing bytes.
func (e *Evidence) UnmarshalBinary(b []byte) error {
	if len(b) > MaxEvidenceSize {
		return fmt.Errorf("attest: evidence of %d bytes exceeds the %d-byte limit", len(b), MaxEvidenceSize)
	}
	if len(b) < len(evidenceMagic)+1 || !bytes.Equal(b[:len(evidenceMagic)], evidenceMagic) {
		return errors.New("attest: not veil evidence (bad magic)")
	}
	if v := b[len(evidenceMagic)]; v != evidenceVersion {
		return fmt.Errorf("attest: evidence encoding version %d, want %d", v, evidenceVersion)
	}
	rest := b[len(evidenceMagic)+1:]
	var fields [4][]byte
	names := [4]string{"format", "raw", "certs", "pubkey"}
	for i := range fields {
		if len(rest) < 4 {
			return fmt.Errorf("attest: evidence truncated before the %s length", names[i])
		}
		n := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(len(rest)) {
			return fmt.Errorf("attest: evidence %s field of %d bytes, only %d left", names[i], n, len(rest))
		}
		fields[i] = bytes.Clone(rest[:n])
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return fmt.Errorf("attest: %d trailing bytes after the evidence", len(rest))
	}
	if len(fields[0]) == 0 || len(fields[0]) > 64 {
		return fmt.Errorf("attest: evidence format name of %d bytes (want 1..64)", len(fields[0]))
	}
	*e = Evidence{Format: string(fields[0]), Raw: fields[1], Certs: fields[2], PubKey: fields[3]}
	return nil
}

// Claims is what verification established.
type Claims struct {
	Format string
	// Measurement is the launch measurement: SEV-SNP MEASUREMENT, TDX MRTD,
	// the simulated platform's claimed executable hash (all SHA-384, 48 bytes).
	Measurement []byte
	// Debug is true when the platform lets the host debug (read and write)
	// the guest: SEV-SNP guest policy bit 19, TDX TD attribute DEBUG.
	Debug bool
	// TCB is the platform's trusted computing base version, one byte per
	// component, little-endian (SEV-SNP REPORTED_TCB: boot loader, TEE, 4
	// reserved, SNP, microcode; TDX: TEE_TCB_SVN bytes 0..7). Policy
	// compares it component-wise with MinTCB.
	TCB uint64
	// TCBComponents is the full TCB SVN vector where the platform has more
	// than 8 components (TDX TEE_TCB_SVN, 16 bytes); else TCB's 8 bytes.
	TCBComponents []byte
	ReportData    ReportData
	// PlatformID identifies the machine or signing key: SEV-SNP CHIP_ID,
	// TDX PCK certificate's serial number, simulated platform public key.
	PlatformID []byte
	// Signer names what signed the report (e.g. "VCEK", "PCK", "simulated
	// platform key").
	Signer string
	// SEVSNP and TDX hold the format's own fields that Policy checks
	// (nil for other formats).
	SEVSNP *SEVSNPClaims
	TDX    *TDXClaims
	// Extra holds other fields, hex-encoded (e.g. SEV-SNP "host_data",
	// "vmpl", "policy"; TDX "mr_seam", "rtmr0".."rtmr3", "td_attributes"),
	// for display.
	Extra map[string]string
}

// SEVSNPClaims are the SEV-SNP report fields Policy.SEVSNP checks.
type SEVSNPClaims struct {
	// VMPL is the VM privilege level that requested the report (0 is the
	// most privileged; a guest at level n can only ask for reports of
	// levels n and above).
	VMPL uint32
	// GuestPolicy is the guest policy the VM was launched with.
	GuestPolicy uint64
	// MigrationAgent is guest policy bit MIGRATE_MA.
	MigrationAgent bool
	// HostData is the 32 bytes the host supplied at launch (unmeasured).
	HostData []byte
}

// TDXClaims are the TD quote body fields Policy.TDX checks, as the quote
// carries them (byte strings in quote order).
type TDXClaims struct {
	MRSeam        []byte    // SHA-384 of the TDX module
	MRConfigID    []byte    // software-defined configuration id, set by the host at launch
	MROwner       []byte    // software-defined owner id, set by the host at launch
	MROwnerConfig []byte    // software-defined owner configuration, set by the host at launch
	RTMRs         [4][]byte // runtime measurement registers, extended by the TD itself
	TDAttributes  []byte    // 8 bytes; bit 0 DEBUG, bit 28 SEPT_VE_DISABLE, bit 30 PKS, ...
	XFAM          []byte    // 8 bytes: the extended CPU features (XSAVE) the TD may use
	QESVN         uint16    // the quoting enclave's ISVSVN (its security version)
}

// Attester produces evidence on the platform it runs on.
type Attester interface {
	Format() string
	Attest(rd ReportData) (*Evidence, error)
}

// Verifier checks evidence of one format and returns its claims, checking
// that the evidence's report data equals want. When the evidence is
// authentic but its report data differs, Verify returns the claims and an
// error (so a tool can show what the evidence does bind); any error means
// refusal.
type Verifier interface {
	Format() string
	Verify(ev *Evidence, want ReportData) (*Claims, error)
}

// checkReportData is the one report-data comparison every verifier ends
// with, after it authenticated the report the claims came from. On a
// mismatch it returns the (authenticated) claims with the error, for
// display; callers must not accept them.
func checkReportData(c *Claims, want ReportData) (*Claims, error) {
	if subtle.ConstantTimeCompare(c.ReportData[:], want[:]) != 1 {
		return c, fmt.Errorf("attest: report data does not bind this key/session (evidence carries %s…, want %s…)",
			hex.EncodeToString(c.ReportData[:8]), hex.EncodeToString(want[:8]))
	}
	return c, nil
}

// PublicKeyBytes is the encoding of a public key that Bind expects for
// Evidence.PubKey: the 32 raw bytes of an Ed25519 key, the PKIX DER of any
// other.
func PublicKeyBytes(pub crypto.PublicKey) ([]byte, error) {
	if k, ok := pub.(ed25519.PublicKey); ok {
		return bytes.Clone(k), nil
	}
	return x509.MarshalPKIXPublicKey(pub)
}

// short abbreviates a hex string for error messages.
func short(b []byte) string {
	s := hex.EncodeToString(b)
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}
