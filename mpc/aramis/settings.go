package aramis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"veil/attest"
	"veil/mpc"
)

// Attester kinds of Settings.
const (
	// AttesterTEE asks the platform: SEV-SNP or TDX (attest.Detect).
	AttesterTEE = "tee"
	// AttesterSimulated is the insecure software attester
	// (attest.NewSimulated), for machines without a TEE; its peers accept
	// it only if their policy sets insecure_allow_simulated.
	AttesterSimulated = attest.FormatSimulated
)

// Settings is the "attestation" section of a parties file:
//
//	"attestation": {
//	  "attester": "tee",
//	  "policy": {"measurements": ["<hex SHA-384>"], "allow_debug": false, "min_tcb": 0},
//	  "simulated_platform_key_files": {"client": "client.platform.pem", ...}
//	}
//
// "attester" is "tee" (the default: SEV-SNP or TDX evidence from the
// platform) or "simulated-insecure" (a software key signs the evidence:
// it proves nothing, and peers refuse it unless their policy says
// "insecure_allow_simulated": true). "policy" is attest.ParsePolicy's
// form. "simulated_platform_key_files" names, per role, the simulated
// platform's private key (each party reads only its own); relative paths
// resolve against the file's directory.
type Settings struct {
	Attester string
	Policy   attest.Policy
	// SimulatedKeyFiles are the simulated platforms' private keys by
	// party, resolved.
	SimulatedKeyFiles [mpc.MaxParties]string
}

type fileSettings struct {
	Attester  string            `json:"attester"`
	Policy    json.RawMessage   `json:"policy"`
	SimulKeys map[string]string `json:"simulated_platform_key_files"`
}

// ParseSettings reads an "attestation" section; dir resolves relative
// paths.
func ParseSettings(raw []byte, dir string) (*Settings, error) {
	if len(raw) == 0 {
		return nil, errors.New("aramis: no \"attestation\" section in the parties file (malicious security needs an attestation policy; see veil keygen --loopback --malicious)")
	}
	var fs fileSettings
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fs); err != nil {
		return nil, fmt.Errorf("aramis: attestation settings: %w", err)
	}
	s := &Settings{Attester: fs.Attester}
	switch s.Attester {
	case "":
		s.Attester = AttesterTEE
	case AttesterTEE, AttesterSimulated:
	default:
		return nil, fmt.Errorf("aramis: attestation settings: attester %q (want %q or %q)", fs.Attester, AttesterTEE, AttesterSimulated)
	}
	if len(fs.Policy) == 0 {
		return nil, errors.New("aramis: attestation settings: no policy")
	}
	pol, err := attest.ParsePolicy(fs.Policy)
	if err != nil {
		return nil, fmt.Errorf("aramis: attestation settings: %w", err)
	}
	s.Policy = pol
	for role, path := range fs.SimulKeys {
		p, err := mpc.ParseRole(role)
		if err != nil {
			return nil, fmt.Errorf("aramis: attestation settings: simulated_platform_key_files: %w", err)
		}
		if path != "" && !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		s.SimulatedKeyFiles[p] = path
	}
	return s, nil
}

// NewAttester returns party me's attester as the settings say.
func (s *Settings) NewAttester(me mpc.Party) (attest.Attester, error) {
	if s.Attester == AttesterTEE {
		a, err := attest.Detect()
		if err != nil {
			return nil, fmt.Errorf("aramis: %s: %w (a parties file for machines without one sets \"attester\": %q; see veil keygen --insecure-simulated-attestation)", me, err, AttesterSimulated)
		}
		return a, nil
	}
	path := s.SimulatedKeyFiles[me]
	if path == "" {
		return nil, fmt.Errorf("aramis: %s: the simulated attester needs simulated_platform_key_files.%s", me, me.Role())
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("aramis: %s: simulated platform key: %w", me, err)
	}
	key, _, err := attest.LoadOrCreateSimulatedKey(path)
	if err != nil {
		return nil, fmt.Errorf("aramis: %s: %w", me, err)
	}
	return attest.NewSimulated(key)
}
