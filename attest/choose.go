package attest

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
)

// KindTEE names the platform's attester for [Choose]: SEV-SNP or TDX,
// whichever [Detect] finds. [FormatSimulated] names the insecure
// simulated one.
const KindTEE = "tee"

// Choose returns the attester of kind: for [KindTEE] the platform's
// ([Detect]), for [FormatSimulated] the simulated attester of the key in
// keyFile ([OpenSimulated]; created says whether the file was created).
//
// Simulated evidence proves nothing about the code that runs (whoever
// reads the key can sign any claim): choose it only on the explicit
// word of the user, for tests and demos. Verifiers refuse it unless
// their policy allows it.
func Choose(kind, keyFile string) (a Attester, created bool, err error) {
	switch kind {
	case KindTEE:
		a, err := Detect()
		return a, false, err
	case FormatSimulated:
		return OpenSimulated(keyFile)
	}
	return nil, false, fmt.Errorf("attest: attester %q (want %s or %s)", kind, KindTEE, FormatSimulated)
}

// OpenSimulated returns the simulated attester (see [NewSimulated])
// whose platform key is in keyFile, or, if there is no such file, of a
// fresh key written there (mode 0600, created exclusively; see
// [LoadOrCreateSimulatedKey]); created says which. With keyFile "" the
// key is fresh and written nowhere. Its measurement is
// [SelfMeasurement], the running executable's.
func OpenSimulated(keyFile string) (s *Simulated, created bool, err error) {
	var key ed25519.PrivateKey
	if keyFile != "" {
		k, made, err := LoadOrCreateSimulatedKey(keyFile)
		if err != nil {
			return nil, false, fmt.Errorf("attest: simulated platform key: %w", err)
		}
		key, created = k, made
	}
	s, err = NewSimulated(key)
	if err != nil {
		return nil, false, err
	}
	return s, created, nil
}

// SimulatedPolicy returns the policy that accepts exactly the simulated
// platforms of keys running measurement: only simulated evidence
// (insecure_allow_simulated, formats ["simulated-insecure"]), so that no
// TDX or SEV-SNP parser ever sees a peer's bytes. Such a policy proves
// nothing either: for tests and demos.
func SimulatedPolicy(measurement []byte, keys ...ed25519.PublicKey) Policy {
	p := Policy{Measurements: [][]byte{bytes.Clone(measurement)}, InsecureAllowSimulated: true, Formats: []string{FormatSimulated}}
	for _, k := range keys {
		p.SimulatedPlatformKeys = append(p.SimulatedPlatformKeys, bytes.Clone(k))
	}
	return p
}
