package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"veil/attest"
	"veil/mpc"
	"veil/mpc/aramis"
)

// maliciousFlags select Aramis's malicious security for the commands that
// run all three parties themselves (demo, eval, bench).
type maliciousFlags struct {
	on          bool
	insecureSim bool
}

func (f *maliciousFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.on, "malicious", false, "malicious security (Aramis): every party's evidence is attested and every message authenticated, numbered and chained; a party that deviates makes the others stop")
	fs.BoolVar(&f.insecureSim, "insecure-simulated-attestation", false, "with --malicious on a machine without SEV-SNP or TDX: let a software key sign the parties' evidence. INSECURE: it proves nothing about the code the parties run; for tests and demos only")
}

// simulatedWarning is printed by every process that runs with simulated
// attestation.
const simulatedWarning = "veil: WARNING: simulated attestation (--insecure-simulated-attestation): the parties' evidence is signed by a software key and proves nothing about the code they run; malicious security does not hold. For tests and demos only."

// usesSimulated reports whether settings would run with simulated
// attestation: this party's attester or its peers' evidence.
func usesSimulated(s *aramis.Settings) bool {
	return s.Attester == aramis.AttesterSimulated || s.Policy.InsecureAllowSimulated
}

// checkSimulated refuses settings that use simulated attestation unless
// the insecure flag was given, and prints the warning when it was: a
// parties file alone never turns simulated attestation on.
func checkSimulated(w io.Writer, s *aramis.Settings, insecureSim bool, cfgPath string) error {
	if !usesSimulated(s) {
		return nil
	}
	if !insecureSim {
		return fmt.Errorf("%s: the attestation section uses the simulated attester or allows simulated evidence, which proves nothing about the code the parties run; pass --insecure-simulated-attestation to run it anyway (tests and demos only)", cfgPath)
	}
	fmt.Fprintln(w, simulatedWarning)
	return nil
}

// loopbackSettings returns the attestation section for three parties of
// this binary on this machine, with their simulated platform keys
// written to dir, and prints the simulated-attestation warning to w.
func (f *maliciousFlags) loopbackSettings(w io.Writer, dir string, parties int) (json.RawMessage, error) {
	if !f.insecureSim {
		if _, err := attest.Detect(); err != nil {
			return nil, fmt.Errorf("--malicious: %w; pass --insecure-simulated-attestation to use the simulated attester (which proves nothing), or run veil party --malicious with a parties file that has an attestation policy", err)
		}
		return nil, errors.New("--malicious: on a TEE, write the parties file's attestation policy (the allowed measurements of your build) and run veil party --malicious; the loopback commands only support --insecure-simulated-attestation")
	}
	fmt.Fprintln(w, simulatedWarning)
	return simulatedSettings(dir, parties)
}

// simulatedSettings writes a simulated platform key per party into dir
// and returns an attestation section that accepts exactly those keys
// and this executable's measurement, with insecure_allow_simulated set.
func simulatedSettings(dir string, parties int) (json.RawMessage, error) {
	m, err := attest.SelfMeasurement()
	if err != nil {
		return nil, err
	}
	// Only simulated evidence is expected: no TDX or SEV-SNP parser ever
	// sees a peer's bytes.
	pol := attest.Policy{Measurements: [][]byte{m}, InsecureAllowSimulated: true, Formats: []string{attest.FormatSimulated}}
	files := map[string]string{}
	for _, p := range mpc.PartiesOf(parties) {
		name := p.Role() + ".platform.pem"
		key, _, err := attest.LoadOrCreateSimulatedKey(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		pol.SimulatedPlatformKeys = append(pol.SimulatedPlatformKeys, []byte(key.Public().(ed25519.PublicKey)))
		files[p.Role()] = name
	}
	polJSON, err := pol.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		Attester string            `json:"attester"`
		Policy   json.RawMessage   `json:"policy"`
		Files    map[string]string `json:"simulated_platform_key_files"`
	}{aramis.AttesterSimulated, polJSON, files})
}

// addAttestation writes section into the parties file at path.
func addAttestation(path string, section json.RawMessage) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	m["attestation"] = section
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}

func secureWith(nw mpc.Network, s *aramis.Settings, me mpc.Party, commitment []byte, timeout time.Duration) (*aramis.Network, error) {
	a, err := s.NewAttester(me)
	if err != nil {
		return nil, err
	}
	return aramis.Secure(nw, aramis.Config{Attester: a, Policy: s.Policy, Commitment: commitment, Timeout: timeout})
}

// loopbackWrap returns the network wrapper of an in-process loopback run
// with malicious security (nil without it): the simulated attestation
// settings live in a temporary directory.
func (f *maliciousFlags) loopbackWrap(w io.Writer, commitments [][]byte, timeout time.Duration) (func(mpc.Party, mpc.Network) (mpc.Network, error), func(), error) {
	if !f.on {
		return nil, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "veil-aramis-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	raw, err := f.loopbackSettings(w, dir, len(commitments))
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	s, err := aramis.ParseSettings(raw, dir)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	wrap := func(p mpc.Party, nw mpc.Network) (mpc.Network, error) {
		return secureWith(nw, s, p, commitments[p], timeout)
	}
	return wrap, cleanup, nil
}

// commitFloats is the commitment to a client's inputs: SHA-256 of their
// float32 values.
func commitFloats(xs [][]float32) []byte {
	h := sha256.New()
	var b [4]byte
	for _, x := range xs {
		for _, v := range x {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			h.Write(b[:])
		}
	}
	return h.Sum(nil)
}

// commitFile is the commitment to a file's contents: SHA-256.
func commitFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h.Sum(nil), nil
}

// attestedPeers describes what the peers' evidence established, for
// JSON output.
func attestedPeers(n *aramis.Network) map[string]string {
	out := map[string]string{}
	for _, p := range mpc.PartiesOf(n.Parties()) {
		if c := n.Claims(p); c != nil {
			out[p.Role()] = fmt.Sprintf("%s measurement %s…", c.Format, hex.EncodeToString(c.Measurement)[:16])
		}
	}
	return out
}
