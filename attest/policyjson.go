package attest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
)

// policyJSON is Policy's JSON form.
type policyJSON struct {
	Formats                []string            `json:"formats,omitempty"`
	Measurements           []string            `json:"measurements"`
	AllowDebug             bool                `json:"allow_debug"`
	MinTCB                 uint64              `json:"min_tcb"`
	PlatformIDs            []string            `json:"platform_ids,omitempty"`
	Roles                  map[string]roleJSON `json:"roles,omitempty"`
	SEVSNP                 *sevSNPJSON         `json:"sev_snp,omitempty"`
	TDX                    *tdxJSON            `json:"tdx,omitempty"`
	InsecureAllowSimulated bool                `json:"insecure_allow_simulated"`
	SimulatedPlatformKeys  []string            `json:"simulated_platform_keys,omitempty"`
}

type roleJSON struct {
	PlatformIDs []string `json:"platform_ids"`
}

type sevSNPJSON struct {
	VMPL                uint32 `json:"vmpl"`
	AllowMigrationAgent bool   `json:"allow_migration_agent"`
}

type tdxJSON struct {
	MRSeam        []string        `json:"mr_seam,omitempty"`
	MRConfigID    []string        `json:"mr_config_id,omitempty"`
	MROwner       []string        `json:"mr_owner,omitempty"`
	MROwnerConfig []string        `json:"mr_owner_config,omitempty"`
	RTMR0         []string        `json:"rtmr0,omitempty"`
	RTMR1         []string        `json:"rtmr1,omitempty"`
	RTMR2         []string        `json:"rtmr2,omitempty"`
	RTMR3         []string        `json:"rtmr3,omitempty"`
	TDAttributes  *maskedJSON     `json:"td_attributes,omitempty"`
	XFAM          *maskedJSON     `json:"xfam,omitempty"`
	MinQESVN      uint16          `json:"min_qe_svn,omitempty"`
	Collateral    *collateralJSON `json:"collateral,omitempty"`
}

type maskedJSON struct {
	Value string `json:"value"`
	Mask  string `json:"mask"`
}

// collateralJSON carries the PCS responses as strings (the JSON bodies
// exactly as served, the issuer chains as PEM) and the CRLs as hex DER.
type collateralJSON struct {
	TCBInfo           string `json:"tcb_info"`
	TCBSigningChain   string `json:"tcb_signing_chain"`
	QEIdentity        string `json:"qe_identity"`
	PCKCRL            string `json:"pck_crl,omitempty"`
	PCKCRLIssuerChain string `json:"pck_crl_issuer_chain,omitempty"`
	RootCRL           string `json:"root_crl,omitempty"`
}

func hexAll(bs [][]byte) []string {
	var out []string
	for _, b := range bs {
		out = append(out, hex.EncodeToString(b))
	}
	return out
}

// MarshalJSON writes p's JSON form (hex strings for byte fields). The
// role ForRole chose is not part of it.
func (p Policy) MarshalJSON() ([]byte, error) {
	j := policyJSON{
		Formats:      p.Formats,
		Measurements: []string{}, AllowDebug: p.AllowDebug, MinTCB: p.MinTCB,
		PlatformIDs:            hexAll(p.PlatformIDs),
		InsecureAllowSimulated: p.InsecureAllowSimulated,
		SimulatedPlatformKeys:  hexAll(p.SimulatedPlatformKeys),
	}
	j.Measurements = append(j.Measurements, hexAll(p.Measurements)...)
	if len(p.Roles) != 0 {
		j.Roles = map[string]roleJSON{}
		for name, r := range p.Roles {
			j.Roles[name] = roleJSON{PlatformIDs: append([]string{}, hexAll(r.PlatformIDs)...)}
		}
	}
	if p.SEVSNP != (SEVSNPPolicy{}) {
		j.SEVSNP = &sevSNPJSON{VMPL: p.SEVSNP.VMPL, AllowMigrationAgent: p.SEVSNP.AllowMigrationAgent}
	}
	t := p.TDX
	tj := tdxJSON{
		MRSeam: hexAll(t.MRSeam), MRConfigID: hexAll(t.MRConfigID), MROwner: hexAll(t.MROwner), MROwnerConfig: hexAll(t.MROwnerConfig),
		RTMR0: hexAll(t.RTMRs[0]), RTMR1: hexAll(t.RTMRs[1]), RTMR2: hexAll(t.RTMRs[2]), RTMR3: hexAll(t.RTMRs[3]),
		MinQESVN: t.MinQESVN,
	}
	for _, m := range []struct {
		from *Masked
		to   **maskedJSON
	}{{t.TDAttributes, &tj.TDAttributes}, {t.XFAM, &tj.XFAM}} {
		if m.from != nil {
			*m.to = &maskedJSON{Value: hex.EncodeToString(m.from.Value), Mask: hex.EncodeToString(m.from.Mask)}
		}
	}
	if c := t.Collateral; c != nil {
		tj.Collateral = &collateralJSON{
			TCBInfo: string(c.TCBInfo), TCBSigningChain: string(c.TCBSigningChain), QEIdentity: string(c.QEIdentity),
			PCKCRL: hex.EncodeToString(c.PCKCRL), PCKCRLIssuerChain: string(c.PCKCRLIssuerChain), RootCRL: hex.EncodeToString(c.RootCRL),
		}
	}
	if !reflect.DeepEqual(tj, tdxJSON{}) {
		j.TDX = &tj
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the form MarshalJSON writes; unknown fields are
// errors, so a misspelt setting is not silently ignored.
func (p *Policy) UnmarshalJSON(b []byte) error {
	q, err := ParsePolicy(b)
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// maxPolicySize bounds a policy's JSON form (collateral included).
const maxPolicySize = 1 << 20

// ParsePolicy reads a policy's JSON form; every field is optional except
// that an empty "measurements" refuses everything:
//
//	{"formats":["sev-snp","tdx"],                 // default: both (+ simulated if allowed)
//	 "measurements":["hex",...],"allow_debug":false,"min_tcb":0,
//	 "platform_ids":["hex",...],                  // SEV-SNP CHIP_ID, TDX PPID, simulated key
//	 "roles":{"server":{"platform_ids":["hex"]},"client":{"platform_ids":[]},...},
//	 "sev_snp":{"vmpl":0,"allow_migration_agent":false},
//	 "tdx":{"mr_seam":["hex"],"mr_config_id":[...],"mr_owner":[...],"mr_owner_config":[...],
//	        "rtmr0":[...],"rtmr1":[...],"rtmr2":[...],"rtmr3":[...],
//	        "td_attributes":{"value":"hex8","mask":"hex8"},"xfam":{"value":"hex8","mask":"hex8"},"min_qe_svn":0,
//	        "collateral":{"tcb_info":"<PCS body>","tcb_signing_chain":"<PEM>","qe_identity":"<PCS body>",
//	                      "pck_crl":"hex DER","pck_crl_issuer_chain":"<PEM>","root_crl":"hex DER"}},
//	 "insecure_allow_simulated":false,"simulated_platform_keys":["hex",...]}
func ParsePolicy(b []byte) (Policy, error) {
	if len(b) > maxPolicySize {
		return Policy{}, fmt.Errorf("attest: policy of %d bytes exceeds the %d-byte limit", len(b), maxPolicySize)
	}
	var j policyJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return Policy{}, fmt.Errorf("attest: policy: %w", err)
	}
	if dec.More() {
		return Policy{}, errors.New("attest: policy: trailing data after the JSON object")
	}
	p := Policy{AllowDebug: j.AllowDebug, MinTCB: j.MinTCB, InsecureAllowSimulated: j.InsecureAllowSimulated}
	var err error
	for i, f := range j.Formats {
		if !slices.Contains(knownFormats, f) {
			return Policy{}, fmt.Errorf("attest: policy: formats[%d] %q is not %s, %s or %s", i, f, FormatSEVSNP, FormatTDX, FormatSimulated)
		}
		if slices.Contains(j.Formats[:i], f) {
			return Policy{}, fmt.Errorf("attest: policy: formats lists %q twice", f)
		}
	}
	if j.Formats != nil && len(j.Formats) == 0 {
		return Policy{}, errors.New("attest: policy: empty formats (omit it for the default)")
	}
	p.Formats = j.Formats
	if p.Measurements, err = hexSet("measurements", j.Measurements, 0); err != nil {
		return Policy{}, err
	}
	if p.PlatformIDs, err = platformSet("platform_ids", j.PlatformIDs); err != nil {
		return Policy{}, err
	}
	for name, r := range j.Roles {
		if name == "" {
			return Policy{}, errors.New("attest: policy: roles has an empty role name")
		}
		ids, err := platformSet("roles."+name+".platform_ids", r.PlatformIDs)
		if err != nil {
			return Policy{}, err
		}
		if p.Roles == nil {
			p.Roles = map[string]RolePolicy{}
		}
		p.Roles[name] = RolePolicy{PlatformIDs: ids}
	}
	if s := j.SEVSNP; s != nil {
		if s.VMPL > 3 {
			return Policy{}, fmt.Errorf("attest: policy: sev_snp.vmpl %d (want 0..3)", s.VMPL)
		}
		p.SEVSNP = SEVSNPPolicy{VMPL: s.VMPL, AllowMigrationAgent: s.AllowMigrationAgent}
	}
	if j.TDX != nil {
		if p.TDX, err = parseTDXPolicy(j.TDX); err != nil {
			return Policy{}, err
		}
	}
	if p.SimulatedPlatformKeys, err = hexSet("simulated_platform_keys", j.SimulatedPlatformKeys, ed25519.PublicKeySize); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// hexSet decodes a list of non-empty hex strings (of size bytes each,
// unless size is 0).
func hexSet(name string, ss []string, size int) ([][]byte, error) {
	var out [][]byte
	for i, s := range ss {
		b, err := hex.DecodeString(s)
		switch {
		case err != nil || len(b) == 0:
			return nil, fmt.Errorf("attest: policy: %s[%d] %q is not a non-empty hex string", name, i, clipString(s))
		case size != 0 && len(b) != size:
			return nil, fmt.Errorf("attest: policy: %s[%d] is %d bytes, want %d", name, i, len(b), size)
		}
		out = append(out, b)
	}
	return out, nil
}

// platformSet is hexSet for platform identities, which may not be all
// zero (a masked CHIP_ID reads as zeros).
func platformSet(name string, ss []string) ([][]byte, error) {
	set, err := hexSet(name, ss, 0)
	for i, b := range set {
		if allZero(b) {
			return nil, fmt.Errorf("attest: policy: %s[%d] is all zero (a masked identity pins nothing)", name, i)
		}
	}
	return set, err
}

func parseTDXPolicy(j *tdxJSON) (TDXPolicy, error) {
	t := TDXPolicy{MinQESVN: j.MinQESVN}
	sets := []struct {
		name string
		in   []string
		out  *[][]byte
	}{
		{"mr_seam", j.MRSeam, &t.MRSeam}, {"mr_config_id", j.MRConfigID, &t.MRConfigID},
		{"mr_owner", j.MROwner, &t.MROwner}, {"mr_owner_config", j.MROwnerConfig, &t.MROwnerConfig},
		{"rtmr0", j.RTMR0, &t.RTMRs[0]}, {"rtmr1", j.RTMR1, &t.RTMRs[1]}, {"rtmr2", j.RTMR2, &t.RTMRs[2]}, {"rtmr3", j.RTMR3, &t.RTMRs[3]},
	}
	for _, s := range sets {
		set, err := hexSet("tdx."+s.name, s.in, 48)
		if err != nil {
			return TDXPolicy{}, err
		}
		*s.out = set
	}
	for _, m := range []struct {
		name string
		in   *maskedJSON
		out  **Masked
	}{{"td_attributes", j.TDAttributes, &t.TDAttributes}, {"xfam", j.XFAM, &t.XFAM}} {
		if m.in == nil {
			continue
		}
		v, err1 := hex.DecodeString(m.in.Value)
		k, err2 := hex.DecodeString(m.in.Mask)
		if err1 != nil || err2 != nil || len(v) != 8 || len(k) != 8 {
			return TDXPolicy{}, fmt.Errorf("attest: policy: tdx.%s wants an 8-byte hex value and mask", m.name)
		}
		*m.out = &Masked{Value: v, Mask: k}
	}
	if c := j.Collateral; c != nil {
		crl, err1 := hex.DecodeString(c.PCKCRL)
		root, err2 := hex.DecodeString(c.RootCRL)
		if err1 != nil || err2 != nil {
			return TDXPolicy{}, errors.New("attest: policy: tdx.collateral pck_crl and root_crl are hex DER")
		}
		t.Collateral = &TDXCollateral{
			TCBInfo: []byte(c.TCBInfo), TCBSigningChain: []byte(c.TCBSigningChain), QEIdentity: []byte(c.QEIdentity),
			PCKCRL: crl, PCKCRLIssuerChain: []byte(c.PCKCRLIssuerChain), RootCRL: root,
		}
		if err := t.Collateral.check(); err != nil {
			return TDXPolicy{}, fmt.Errorf("attest: policy: %w", err)
		}
	}
	return t, nil
}

// clipString shortens s for an error message.
func clipString(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// LoadPolicy reads a policy file (ParsePolicy's JSON form).
func LoadPolicy(path string) (Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Policy{}, err
	}
	p, err := ParsePolicy(b)
	if err != nil {
		return Policy{}, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
