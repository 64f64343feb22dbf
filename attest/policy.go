package attest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// Policy is what a relying party accepts.
type Policy struct {
	// Measurements is the allowed set; empty refuses everything.
	Measurements [][]byte
	AllowDebug   bool
	// MinTCB is compared component-wise: every byte of the evidence's TCB
	// must be at least the same byte of MinTCB.
	MinTCB uint64
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
		return &TDXVerifier{Now: p.Now}, nil
	case FormatSimulated:
		keys := make([]ed25519.PublicKey, 0, len(p.SimulatedPlatformKeys))
		for _, k := range p.SimulatedPlatformKeys {
			keys = append(keys, ed25519.PublicKey(k))
		}
		return NewSimulatedVerifier(keys...), nil
	}
	return nil, fmt.Errorf("attest: unknown evidence format %q (want %s, %s or %s)", format, FormatSEVSNP, FormatTDX, FormatSimulated)
}

// Check verifies ev with the verifier for its format, checks that its
// report data equals want, and applies p. Errors name the failed field.
// Any error means refusal; the claims may come with it when the evidence
// was authentic but not acceptable (report data or policy), for display.
func (p Policy) Check(ev *Evidence, want ReportData) (*Claims, error) {
	if ev == nil {
		return nil, errors.New("attest: no evidence")
	}
	if ev.Format == FormatSimulated && !p.InsecureAllowSimulated {
		return nil, errors.New("attest: simulated evidence refused (set insecure-allow-simulated to accept)")
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

// apply checks claims c, established by a verifier, against p: the same
// code for every format.
func (p Policy) apply(c *Claims) error {
	allowed := false
	for _, m := range p.Measurements {
		if len(m) > 0 && bytes.Equal(m, c.Measurement) {
			allowed = true
			break
		}
	}
	if !allowed {
		return fmt.Errorf("attest: measurement %s not in the allowed set", short(c.Measurement))
	}
	if c.Debug && !p.AllowDebug {
		return errors.New("attest: debug enabled")
	}
	if err := tcbAtLeast(c.TCB, p.MinTCB); err != nil {
		return err
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

// policyJSON is Policy's JSON form.
type policyJSON struct {
	Measurements           []string `json:"measurements"`
	AllowDebug             bool     `json:"allow_debug"`
	MinTCB                 uint64   `json:"min_tcb"`
	InsecureAllowSimulated bool     `json:"insecure_allow_simulated"`
	SimulatedPlatformKeys  []string `json:"simulated_platform_keys,omitempty"`
}

// MarshalJSON writes p's JSON form (hex strings for byte fields).
func (p Policy) MarshalJSON() ([]byte, error) {
	j := policyJSON{AllowDebug: p.AllowDebug, MinTCB: p.MinTCB, InsecureAllowSimulated: p.InsecureAllowSimulated,
		Measurements: []string{}}
	for _, m := range p.Measurements {
		j.Measurements = append(j.Measurements, hex.EncodeToString(m))
	}
	for _, k := range p.SimulatedPlatformKeys {
		j.SimulatedPlatformKeys = append(j.SimulatedPlatformKeys, hex.EncodeToString(k))
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

// ParsePolicy reads a policy's JSON form:
//
//	{"measurements":["hex",...],"allow_debug":false,"min_tcb":0,
//	 "insecure_allow_simulated":false,"simulated_platform_keys":["hex",...]}
func ParsePolicy(b []byte) (Policy, error) {
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
	for i, s := range j.Measurements {
		m, err := hex.DecodeString(s)
		if err != nil || len(m) == 0 {
			return Policy{}, fmt.Errorf("attest: policy: measurements[%d] %q is not a non-empty hex string", i, s)
		}
		p.Measurements = append(p.Measurements, m)
	}
	for i, s := range j.SimulatedPlatformKeys {
		k, err := hex.DecodeString(s)
		if err != nil || len(k) != ed25519.PublicKeySize {
			return Policy{}, fmt.Errorf("attest: policy: simulated_platform_keys[%d] is not a %d-byte hex Ed25519 key", i, ed25519.PublicKeySize)
		}
		p.SimulatedPlatformKeys = append(p.SimulatedPlatformKeys, k)
	}
	return p, nil
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
