package aramis

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"veil/attest"
	"veil/mpc"
)

// Setting up a party from its Settings, and simulated settings for the
// parties of one machine. Simulated attestation proves nothing about the
// code the parties run (whoever reads a platform key signs any claim):
// it runs only on the user's explicit word (CheckSimulated,
// CheckLoopback), and every process that uses it says so
// (SimulatedWarning).

// SimulatedWarning is what every process that runs with simulated
// attestation prints (on its standard error).
const SimulatedWarning = "veil: WARNING: simulated attestation (--insecure-simulated-attestation): the parties' evidence is signed by a software key and proves nothing about the code they run; malicious security does not hold. For tests and demos only."

// UsesSimulated reports whether s runs with simulated attestation: this
// party's attester, or the evidence it accepts from its peers.
func (s *Settings) UsesSimulated() bool {
	return s.Attester == AttesterSimulated || s.Policy.InsecureAllowSimulated
}

// CheckSimulated refuses settings that use simulated attestation unless
// allowed says the user asked for it (--insecure-simulated-attestation):
// a parties file alone never turns simulated attestation on. source
// names the settings' file in the error.
func (s *Settings) CheckSimulated(allowed bool, source string) error {
	if !s.UsesSimulated() || allowed {
		return nil
	}
	return fmt.Errorf("aramis: %s: the attestation section uses the simulated attester or allows simulated evidence, which proves nothing about the code the parties run; pass --insecure-simulated-attestation to run it anyway (tests and demos only)", source)
}

// Config returns party me's Config under s: its attester (NewAttester),
// the policy, its input commitment and the peers' silence timeout.
func (s *Settings) Config(me mpc.Party, commitment []byte, timeout time.Duration) (Config, error) {
	a, err := s.NewAttester(me)
	if err != nil {
		return Config{}, err
	}
	return Config{Attester: a, Policy: s.Policy, Commitment: commitment, Timeout: timeout}, nil
}

// Secure makes nw maliciously secure for party me under s (see Config
// and the package function Secure).
func (s *Settings) Secure(nw mpc.Network, me mpc.Party, commitment []byte, timeout time.Duration) (*Network, error) {
	cfg, err := s.Config(me, commitment, timeout)
	if err != nil {
		return nil, err
	}
	return Secure(nw, cfg)
}

// CheckLoopback says whether the parties of one machine may run under
// Aramis with the simulated settings of WriteSimulated: only if insecure
// (the user's explicit word, --insecure-simulated-attestation). The
// refusal says what to do instead: on a machine without a TEE, pass that
// flag; on a TEE, write the parties file's attestation policy for the
// build and run each party on its own (veil party --malicious).
func CheckLoopback(insecure bool) error {
	if insecure {
		return nil
	}
	if _, err := attest.Detect(); err != nil {
		return fmt.Errorf("aramis: %w; pass --insecure-simulated-attestation to use the simulated attester (which proves nothing), or run veil party --malicious with a parties file that has an attestation policy", err)
	}
	return errors.New("aramis: on a TEE, write the parties file's attestation policy (the allowed measurements of your build) and run veil party --malicious; the loopback commands only support --insecure-simulated-attestation")
}

// WriteSimulated writes a simulated platform key for each of n parties
// into dir (ROLE.platform.pem, created if missing; see
// attest.OpenSimulated) and returns the attestation section (see
// Settings) for parties of this executable on this machine: the
// simulated attester, and a policy accepting exactly those keys, this
// executable's measurement and only simulated evidence, with
// insecure_allow_simulated set. The section's key paths are relative to
// dir.
func WriteSimulated(dir string, n int) (json.RawMessage, error) {
	if n < 2 || n > mpc.MaxParties {
		return nil, fmt.Errorf("aramis: simulated settings for %d parties (want 2 to %d)", n, mpc.MaxParties)
	}
	m, err := attest.SelfMeasurement()
	if err != nil {
		return nil, err
	}
	var keys []ed25519.PublicKey
	files := map[string]string{}
	for _, p := range mpc.PartiesOf(n) {
		name := p.Role() + ".platform.pem"
		s, _, err := attest.OpenSimulated(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		keys = append(keys, s.PlatformKey())
		files[p.Role()] = name
	}
	polJSON, err := attest.SimulatedPolicy(m, keys...).MarshalJSON()
	if err != nil {
		return nil, err
	}
	return json.Marshal(fileSettings{Attester: AttesterSimulated, Policy: polJSON, SimulKeys: files})
}

// AddSection writes section as the "attestation" section of the parties
// file at path (mpc/transport's configuration), replacing any there.
func AddSection(path string, section json.RawMessage) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("aramis: %s: %w", path, err)
	}
	m["attestation"] = section
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}

// AttestedPeers describes what each peer's evidence established, by
// role: its format and the start of its measurement.
func (n *Network) AttestedPeers() map[string]string {
	out := map[string]string{}
	for _, p := range mpc.PartiesOf(n.Parties()) {
		if c := n.Claims(p); c != nil {
			m := hex.EncodeToString(c.Measurement)
			if len(m) > 16 {
				m = m[:16] + "…"
			}
			out[p.Role()] = fmt.Sprintf("%s measurement %s", c.Format, m)
		}
	}
	return out
}
