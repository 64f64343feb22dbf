// Package aramis makes veil's semi-honest protocols secure against a party
// that deviates arbitrarily, with hardware that guarantees only integrity:
// CrypTFlow's Aramis (Section V), as a layer under any protocol.
//
// # The idea
//
// A semi-honest protocol stays secure against a malicious party if every
// message that party sends is computed by the honest code from its
// committed input, the transcript so far and randomness it did not choose.
// The whole party process runs in a TEE whose measurement its peers check
// (package attest); what remains is to make sure that what a peer receives
// is exactly what that attested code sent, in the order it sent it, and
// nothing else. Secrecy still comes from the MPC protocol: the hardware
// need not hide anything.
//
// # The handshake (Secure)
//
// The three parties exchange fresh nonces; the session id is their hash.
// Each party draws an X25519 key pair inside its process and presents
// evidence whose report data binds the public key, the session id, its
// role and all three nonces (attest.Bind), so that evidence cannot be
// replayed from another session, made before the nonces existed, or
// presented for another role. Each party verifies
// both peers' evidence against its policy (platform signature, measurement
// in the allowed set, debug off, TCB, report data) before it sends a
// protocol message. Pairwise X25519 secrets, through HKDF salted with the
// session id, give one AES-128-GCM key per directed link and the pairwise
// PRF keys the protocol derives its correlated randomness from: every key
// is born inside the attested code, none is read from outside. The first
// frame on each link carries the sender's input commitment.
//
// # Frames
//
// Every message becomes a frame: a 32-byte header (version, type, sender,
// receiver, sequence number, payload length, the first 16 bytes of the
// link's chain value), the payload, and a 16-byte AES-GCM tag over header
// and payload (authenticated, not encrypted: the transport below already
// encrypts), with the sequence number as the nonce. Per directed link the
// sender keeps the sequence number (from 0) and the chain value
// c' = SHA-256(c ‖ header ‖ tag), starting from SHA-256 of the session id
// and the two parties; the tag covers the payload, so the chain commits to
// every frame. The receiver checks, in order: the header's shape, that it
// names this link (ErrIdentity), the tag (ErrTag), that the sequence number
// is exactly the next one (ErrSequence), and the chain value (ErrChain).
// So:
//
//   - an altered payload or header byte fails the tag;
//   - a replayed, reordered or dropped frame is authentic but out of
//     sequence (a dropped last frame is found at the next checkpoint or
//     end frame);
//   - a frame injected under another identity names the wrong link, or
//     fails the tag under this link's key;
//   - nothing outside the attested code can compute a tag, since the keys
//     exist only inside it.
//
// # Checkpoints, aborts, the end
//
// Before a party releases an output (mpc.Checkpointer, called by the
// protocol at all three parties), each party sends each peer how many
// messages it has sent and verified on that link and the chain values
// after the last of them, and compares the peer's figures with its own:
// every link has then verified to that point in both directions. On any
// failure a party sends an authenticated abort naming the culprit (the
// peer whose frame failed) to both peers and stops; an honest party acts
// on a verified abort at once, whichever peer it was waiting for, so all
// honest parties stop promptly with an error naming the culprit, and no
// output is released. Close sends an authenticated end frame, so that an
// orderly end is told apart from a connection cut in the middle.
//
// # Trust
//
// The attested code is the whole veil party binary; its measurement is
// what the policy allows. The keys live in that process's memory: on
// SEV-SNP and TDX, memory is encrypted, and the paper's model (integrity
// only, the host reads everything) assumes the same of its enclave's
// signing key, which the hardware must keep out of the host's hands. The
// simulated attester (attest.NewSimulated) proves nothing and is refused
// unless the policy sets InsecureAllowSimulated.
//
// # Cost
//
// 48 bytes per message (Overhead) and one round per checkpoint; AES-GCM
// over every byte sent and received (several GB/s with AES-NI) and a
// SHA-256 of 64 bytes per frame. The paper measured about 3× over
// semi-honest, mostly SGX paging; here the protocol's own messages are
// unchanged.
package aramis
