// Package attest produces and verifies remote-attestation evidence: what
// Aramis (CrypTFlow, Section V) needs to turn veil's semi-honest protocols
// into maliciously secure ones with hardware that guarantees only
// integrity.
//
// # Trust model
//
// A party runs the whole veil party process in a TEE (an AMD SEV-SNP or
// Intel TDX confidential VM). We assume only integrity of that hardware:
// once launched, the code whose hash is the platform's measurement cannot
// be changed, and only the platform can sign reports about it. We do not
// assume confidentiality: the host may read everything inside, including
// keys; secrecy still comes from the MPC protocol, which is why side
// channels do not break it. What attestation adds is that each message a
// peer receives was computed by the attested code, so a corrupt party can
// no longer deviate from the semi-honest protocol.
//
// # Evidence and report data
//
// The platform signs a report with a 64-byte report-data field chosen by
// the guest. A party generates a session key inside the TEE and asks for
// evidence whose report data is Bind(public key, session id, verifiers'
// nonces): SHA-512 over a domain string and the length-prefixed inputs.
// Binding the key lets peers authenticate every later message under it
// (the transcript layer above this package); binding the session id stops
// evidence from one session being replayed into another; binding nonces
// chosen freshly by the verifiers stops a report recorded earlier (say,
// from a since-patched TCB, or for a key that later leaked) from being
// replayed at all. A verifier recomputes Bind from the key the evidence
// names and its own session id and nonces and demands equality.
//
// # Verification
//
// A Verifier authenticates one format and extracts Claims; Policy.Check
// then applies the same checks to every format: the format is one the
// policy allows (checked before any of the evidence's format-specific
// bytes are parsed), the measurement is in the allowed set (an empty set
// refuses everything), debug is off unless allowed (a debuggable guest's
// memory is open to the host's writes, so integrity is gone), the TCB is
// at least MinTCB component by component (old firmware with known flaws
// may sign anything), the platform is pinned when the policy pins
// platforms (per role through Policy.ForRole), and the report data binds
// this key and session; then the format's own checks (SEVSNPPolicy,
// TDXPolicy).
//
//   - SEV-SNP (github.com/google/go-sev-guest): the report's ECDSA P-384
//     signature under the VCEK/VLEK, whose certificate travels in the
//     evidence (the GET_EXT_REPORT certificate table) and must chain to
//     AMD's ARK/ASK embedded in the library, and name the report's TCB and
//     chip; the VMPL, and no migration agent unless allowed.
//   - TDX (github.com/google/go-tdx-guest): the quote's signature under the
//     attestation key, the QE report binding that key, signed by the PCK,
//     whose chain inside the quote must reach Intel's SGX root CA; the QE
//     is Intel's TD quoting enclave; optionally pinned TD registers,
//     attributes and XFAM, and Intel PCS collateral supplied offline.
//
// Both verify offline: nothing is fetched. Without supplied collateral,
// revocation lists and Intel's TCB-info and QE-identity TCB levels are not
// consulted (the TCB is instead compared with MinTCB), and the
// verification time can be fixed (Policy.Now) to check recorded evidence.
// attest/README.md lists exactly what is and is not verified.
//
// Evidence reaches the verifiers before anything authenticated it, so
// every length in it is validated before the libraries parse it
// (tdxquote.go, sevreport.go), and every library call is guarded: a panic
// inside one becomes an error, that is, a refusal.
//
// # Simulated evidence
//
// Machines without a TEE can run the protocol with NewSimulated: a
// software Ed25519 "platform key" signs a report in the same shape
// (measurement = SelfMeasurement, the SHA-384 of the running executable,
// debug, TCB, report data), and its verifier goes through the same policy
// checks. It proves nothing: whoever can read the key file can sign any
// measurement, so any party could claim to run honest code while running
// something else. Policy therefore refuses it unless InsecureAllowSimulated
// is set (JSON insecure_allow_simulated, CLI --insecure-allow-simulated),
// and even then only under a pinned platform key. It exists for tests and
// demos.
package attest
