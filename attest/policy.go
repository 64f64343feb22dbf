package attest

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Policy is what a relying party accepts.
type Policy struct {
	// Formats are the evidence formats accepted; empty means the real
	// ones ("sev-snp", "tdx") and, when InsecureAllowSimulated, also
	// "simulated-insecure". Evidence of any other format is refused
	// before any of its bytes are parsed, so a deployment that only uses
	// SEV-SNP never runs the TDX parser on a peer's bytes.
	Formats []string
	// Measurements is the allowed set; empty refuses everything.
	Measurements [][]byte
	AllowDebug   bool
	// MinTCB is compared component-wise: every byte of the evidence's TCB
	// must be at least the same byte of MinTCB.
	MinTCB uint64
	// PlatformIDs, when not empty, pins the machines: the evidence's
	// Claims.PlatformID (SEV-SNP CHIP_ID, TDX PPID from the PCK
	// certificate, simulated platform key) must be one of them.
	PlatformIDs [][]byte
	// Roles pins platforms per role (keys are the caller's role names,
	// e.g. Aramis's "client", "server", "helper"). A policy with Roles
	// checks evidence only through ForRole, which requires an entry for
	// the presenter's role: Check refuses everything until a role is
	// chosen, so a caller that does not know about roles cannot skip the
	// pins.
	Roles map[string]RolePolicy
	// SEVSNP and TDX are the format-specific checks.
	SEVSNP SEVSNPPolicy
	TDX    TDXPolicy
	// InsecureAllowSimulated: only then is "simulated-insecure" evidence
	// accepted.
	InsecureAllowSimulated bool
	// SimulatedPlatformKeys are the simulated platforms' Ed25519 public
	// keys whose signatures are accepted (simulated evidence signed by any
	// other key is refused).
	SimulatedPlatformKeys [][]byte

	// Verifiers overrides the verifier per format (nil: the defaults, which
	// verify offline against the vendors' embedded roots at the current
	// time). Not part of the JSON form.
	Verifiers map[string]Verifier
	// Now, when set, is the time certificates are checked at (for recorded
	// evidence); used only by the default verifiers.
	Now time.Time

	// role is the role ForRole chose ("" before), rolePins its pins.
	role     string
	rolePins [][]byte
}

// RolePolicy is what Policy.Roles adds for one role.
type RolePolicy struct {
	// PlatformIDs, when not empty, pins the machines this role may run
	// on (on top of Policy.PlatformIDs).
	PlatformIDs [][]byte
}

// SEVSNPPolicy holds the checks on SEV-SNP reports beyond the common ones.
type SEVSNPPolicy struct {
	// VMPL is the VM privilege level the report must have been requested
	// from (default 0, the most privileged). A report of a lower level
	// (larger number) may come from code the launch measurement does not
	// describe as running the party, e.g. beside an SVSM or paravisor.
	VMPL uint32
	// AllowMigrationAgent accepts guests launched with MIGRATE_MA, which
	// lets a migration agent move their memory to another machine;
	// refused by default.
	AllowMigrationAgent bool
}

// TDXPolicy holds the checks on TDX quotes beyond the common ones (MRTD
// is Policy.Measurements). Each set, when not empty, pins the register to
// one of its values; empty sets are not checked.
type TDXPolicy struct {
	MRSeam        [][]byte    // the TDX module
	MRConfigID    [][]byte    // host-chosen at launch
	MROwner       [][]byte    // host-chosen at launch
	MROwnerConfig [][]byte    // host-chosen at launch
	RTMRs         [4][][]byte // runtime measurements (firmware, kernel, command line, ...)
	// TDAttributes and XFAM, when set, pin the bits of their Mask to
	// their Value (8 bytes each, in quote order).
	TDAttributes *Masked
	XFAM         *Masked
	// MinQESVN is the lowest quoting enclave ISVSVN accepted (the QE
	// identity's TCB levels say which are current; offline, this is
	// the relying party's to set).
	MinQESVN uint16
	// Collateral, when set, is Intel PCS collateral checked by the
	// default TDX verifier (see TDXCollateral).
	Collateral *TDXCollateral
}

// Masked is a bit pattern: a field matches when field&Mask == Value&Mask.
type Masked struct {
	Value, Mask []byte
}

// matches reports whether b has the pattern (lengths must agree).
func (m *Masked) matches(b []byte) bool {
	if len(b) != len(m.Value) || len(b) != len(m.Mask) {
		return false
	}
	for i := range b {
		if b[i]&m.Mask[i] != m.Value[i]&m.Mask[i] {
			return false
		}
	}
	return true
}

// knownFormats are the formats with a default verifier.
var knownFormats = []string{FormatSEVSNP, FormatTDX, FormatSimulated}

// allowedFormats is the set Formats stands for.
func (p Policy) allowedFormats() []string {
	if len(p.Formats) != 0 {
		return p.Formats
	}
	if p.InsecureAllowSimulated {
		return knownFormats
	}
	return knownFormats[:2]
}

// checkFormat refuses ev's format unless p allows it: it runs before
// anything format-specific reads the evidence.
func (p Policy) checkFormat(format string) error {
	if _, custom := p.Verifiers[format]; !custom && !slices.Contains(knownFormats, format) {
		return fmt.Errorf("attest: unknown evidence format %q (want %s, %s or %s)", format, FormatSEVSNP, FormatTDX, FormatSimulated)
	}
	if format == FormatSimulated && !p.InsecureAllowSimulated {
		return errors.New("attest: simulated evidence refused (set insecure-allow-simulated to accept)")
	}
	if allowed := p.allowedFormats(); !slices.Contains(allowed, format) {
		return fmt.Errorf("attest: format not allowed: %q evidence (the policy accepts %s)", format, strings.Join(allowed, ", "))
	}
	return nil
}

// verifier returns the verifier for format.
func (p Policy) verifier(format string) (Verifier, error) {
	if v, ok := p.Verifiers[format]; ok && v != nil {
		return v, nil
	}
	switch format {
	case FormatSEVSNP:
		return &SEVSNPVerifier{Now: p.Now}, nil
	case FormatTDX:
		return &TDXVerifier{Now: p.Now, Collateral: p.TDX.Collateral}, nil
	case FormatSimulated:
		keys := make([]ed25519.PublicKey, 0, len(p.SimulatedPlatformKeys))
		for _, k := range p.SimulatedPlatformKeys {
			keys = append(keys, ed25519.PublicKey(k))
		}
		return NewSimulatedVerifier(keys...), nil
	}
	return nil, fmt.Errorf("attest: no verifier for evidence format %q", format)
}

// ForRole returns p for evidence presented by role: p with that role's
// pins added. It is an error when p has Roles but none for role (list
// every role, with an empty entry for one not pinned, so that a misspelt
// name cannot leave a role unpinned).
func (p Policy) ForRole(role string) (Policy, error) {
	if p.role != "" {
		return Policy{}, fmt.Errorf("attest: policy already chosen for role %q", p.role)
	}
	if role == "" {
		return Policy{}, errors.New("attest: empty role name")
	}
	q := p
	q.role = role
	if len(p.Roles) == 0 {
		return q, nil
	}
	r, ok := p.Roles[role]
	if !ok {
		names := make([]string, 0, len(p.Roles))
		for n := range p.Roles {
			names = append(names, n)
		}
		sort.Strings(names)
		return Policy{}, fmt.Errorf("attest: policy pins roles %s but not %q", strings.Join(names, ", "), role)
	}
	q.rolePins = r.PlatformIDs
	return q, nil
}

// Check verifies ev with the verifier for its format, checks that its
// report data equals want, and applies p. Errors name the failed field.
// Any error means refusal; the claims may come with it when the evidence
// was authentic but not acceptable (report data or policy), for display.
// A format p does not allow is refused before its bytes are parsed.
func (p Policy) Check(ev *Evidence, want ReportData) (*Claims, error) {
	if ev == nil {
		return nil, errors.New("attest: no evidence")
	}
	if err := p.checkFormat(ev.Format); err != nil {
		return nil, err
	}
	if len(p.Roles) != 0 && p.role == "" {
		return nil, errors.New("attest: policy pins platforms per role, but no role was chosen (the caller must use Policy.ForRole)")
	}
	if len(p.Measurements) == 0 {
		return nil, errors.New("attest: policy allows no measurement (empty allowed set refuses everything)")
	}
	v, err := p.verifier(ev.Format)
	if err != nil {
		return nil, err
	}
	if v.Format() != ev.Format {
		return nil, fmt.Errorf("attest: verifier for %q handles %q", ev.Format, v.Format())
	}
	c, err := v.Verify(ev, want)
	if err != nil {
		return c, err
	}
	if c.Format != ev.Format {
		return nil, fmt.Errorf("attest: %q verifier returned claims of format %q", ev.Format, c.Format)
	}
	if err := p.apply(c); err != nil {
		return c, err
	}
	return c, nil
}

// CheckBinding is Check with want = Bind(ev.PubKey, sessionID, nonces...):
// it establishes that ev's platform vouches for ev.PubKey in this session.
func (p Policy) CheckBinding(ev *Evidence, sessionID []byte, nonces ...[]byte) (*Claims, error) {
	if ev == nil {
		return nil, errors.New("attest: no evidence")
	}
	return p.Check(ev, Bind(ev.PubKey, sessionID, nonces...))
}

// apply checks claims c, established by a verifier, against p: the common
// checks for every format, then the format's own.
func (p Policy) apply(c *Claims) error {
	if !inSet(p.Measurements, c.Measurement) {
		return fmt.Errorf("attest: measurement %s not in the allowed set", short(c.Measurement))
	}
	if c.Debug && !p.AllowDebug {
		return errors.New("attest: debug enabled")
	}
	if err := tcbAtLeast(c.TCB, p.MinTCB); err != nil {
		return err
	}
	if err := checkPlatform(c.PlatformID, p.PlatformIDs, "policy"); err != nil {
		return err
	}
	if err := checkPlatform(c.PlatformID, p.rolePins, "role "+p.role); err != nil {
		return err
	}
	switch c.Format {
	case FormatSEVSNP:
		return p.SEVSNP.apply(c.SEVSNP)
	case FormatTDX:
		return p.TDX.apply(c.TDX)
	}
	return nil
}

// inSet reports whether b is one of set (empty elements match nothing).
func inSet(set [][]byte, b []byte) bool {
	for _, m := range set {
		if len(m) > 0 && bytes.Equal(m, b) {
			return true
		}
	}
	return false
}

// checkPlatform checks id against pins (none: anything goes).
func checkPlatform(id []byte, pins [][]byte, by string) error {
	if len(pins) == 0 {
		return nil
	}
	if allZero(id) {
		return fmt.Errorf("attest: platform identity pinned by the %s, but the evidence masks it", by)
	}
	if !inSet(pins, id) {
		return fmt.Errorf("attest: platform %s not pinned by the %s", short(id), by)
	}
	return nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func (sp SEVSNPPolicy) apply(c *SEVSNPClaims) error {
	if c == nil {
		return errors.New("attest: sev-snp verifier returned no sev-snp claims")
	}
	if c.VMPL != sp.VMPL {
		return fmt.Errorf("attest: sev-snp vmpl %d, the policy requires %d", c.VMPL, sp.VMPL)
	}
	if c.MigrationAgent && !sp.AllowMigrationAgent {
		return errors.New("attest: sev-snp guest policy allows a migration agent (MIGRATE_MA), which the policy refuses")
	}
	return nil
}

func (tp TDXPolicy) apply(c *TDXClaims) error {
	if c == nil {
		return errors.New("attest: tdx verifier returned no tdx claims")
	}
	for _, f := range []struct {
		name    string
		allowed [][]byte
		got     []byte
	}{
		{"mr_seam", tp.MRSeam, c.MRSeam},
		{"mr_config_id", tp.MRConfigID, c.MRConfigID},
		{"mr_owner", tp.MROwner, c.MROwner},
		{"mr_owner_config", tp.MROwnerConfig, c.MROwnerConfig},
		{"rtmr0", tp.RTMRs[0], c.RTMRs[0]},
		{"rtmr1", tp.RTMRs[1], c.RTMRs[1]},
		{"rtmr2", tp.RTMRs[2], c.RTMRs[2]},
		{"rtmr3", tp.RTMRs[3], c.RTMRs[3]},
	} {
		if len(f.allowed) != 0 && !inSet(f.allowed, f.got) {
			return fmt.Errorf("attest: tdx %s %s not in the allowed set", f.name, short(f.got))
		}
	}
	if tp.TDAttributes != nil && !tp.TDAttributes.matches(c.TDAttributes) {
		return fmt.Errorf("attest: tdx td_attributes %x do not match %x under mask %x", c.TDAttributes, tp.TDAttributes.Value, tp.TDAttributes.Mask)
	}
	if tp.XFAM != nil && !tp.XFAM.matches(c.XFAM) {
		return fmt.Errorf("attest: tdx xfam %x does not match %x under mask %x", c.XFAM, tp.XFAM.Value, tp.XFAM.Mask)
	}
	if c.QESVN < tp.MinQESVN {
		return fmt.Errorf("attest: tdx quoting enclave ISVSVN %d below the minimum %d", c.QESVN, tp.MinQESVN)
	}
	return nil
}

// tcbAtLeast compares two TCB versions component-wise (one byte each).
func tcbAtLeast(got, min uint64) error {
	for i := 0; i < 8; i++ {
		g, m := byte(got>>(8*i)), byte(min>>(8*i))
		if g < m {
			return fmt.Errorf("attest: TCB %#016x below the minimum %#016x (component %d: %d < %d)", got, min, i, g, m)
		}
	}
	return nil
}
