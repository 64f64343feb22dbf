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
// The three parties exchange fresh nonces. Each party draws an X25519 key
// pair inside its process and presents its view (the three nonces as it
// saw them) with evidence whose report data binds the public key, its
// role and the view (attest.Bind), so that evidence cannot be replayed
// from another session, made before the nonces existed, or presented for
// another role. Each party verifies both peers' evidence against its
// policy (platform signature, measurement in the allowed set, debug off,
// TCB, report data), and that the peer's view holds the nonce this party
// sent it and the nonce the peer sent this party (so a nonce altered on
// the way is caught, on its link, by the party it was sent to or from),
// before it sends a protocol message. Pairwise X25519 secrets, through
// HKDF salted with the pair's two nonces, give one AES-128-GCM key per
// directed link and the pairwise PRF keys the protocol derives its
// correlated randomness from: every key is born inside the attested
// code, none is read from outside. The first frame on each link is the
// sender's verdict on the receiver's evidence (accepted, or refused and
// why), authenticated like every frame: keys are agreed with the key a
// peer's evidence carries even when the evidence is refused, so that the
// refusal can be verified by the party refused. The second is a hello
// carrying the session id (SHA-256 of the three nonces: key confirmation
// that all three saw the same) and the sender's input commitment.
//
// # Frames
//
// Every message becomes a frame: a 32-byte header (version, type, sender,
// receiver, sequence number, payload length, the first 16 bytes of the
// link's chain value), the payload, and a 16-byte AES-GCM tag over header
// and payload (authenticated, not encrypted: the transport below already
// encrypts), with the sequence number as the nonce. Per directed link the
// sender keeps the sequence number (from 0) and the chain value
// c' = SHA-256(c ‖ header ‖ tag), starting from SHA-256 of the pair's
// nonces and the two parties; the tag covers the payload, so the chain commits to
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
// failure a party sends an authenticated abort carrying its account of
// what happened (below) to both peers and stops; a party that receives
// one acts on it at once, whichever peer it was waiting for, and relays
// the account to its other peer, so all honest parties stop promptly and
// no output is released. Close sends an authenticated end frame, so that
// an orderly end is told apart from a connection cut in the middle.
//
// # Attribution: who is named
//
// The attested code at each end of a link is honest, but the host of
// either end, or the network between them, can alter, drop, reorder,
// forge or cut what passes between the two processes, and nothing that
// arrives says where it happened: a byte flipped by the sender's host
// after its code sealed the frame, and one flipped by the receiver's host
// before its code reads it, look the same. So:
//
//   - A failure on a link (a frame that fails a check, a connection cut,
//     a peer silent past the timeout, a nonce, evidence or verdict that
//     does not verify, a checkpoint that disagrees) names the link: the
//     error is an [mpc.PeerError] with Link set. Evidence refused by the
//     policy is reported so too, since it crossed the link; a party whose
//     evidence both peers refuse is named by both.
//   - A party never names itself. Its conclusion is read by its own
//     operator, for whom its own host is honest; so at an end of the link
//     the error names the other end or the network ("P1 (server) or the
//     network, on link P0→P1"), Peer being the other end. This holds for
//     the sender too: told by the receiver that its frame arrived altered,
//     it names the receiver or the network, not itself.
//   - The third party, told of a failure on the link between its peers,
//     cannot tell which end (if either) cheated, and names both ("P0
//     (client) or P1 (server), on link P0→P1"), with Either set.
//   - Only an authenticated frame that the honest code never sends (a
//     second hello, an unknown type, a malformed checkpoint or abort)
//     names one party alone: only that party's attested code holds the
//     key, so its code is not the code the policy was meant to admit.
//   - What is not authenticated proves nothing and names nobody: a verdict
//     that does not verify under the link's key (a forged refusal) is a
//     failure of the link it came on, never a reason for a party to blame
//     itself. A party whose key could not be agreed on (its evidence
//     arrived unparseable) gets an unauthenticated refusal, which reads
//     the same way.
//   - Aborts carry accounts, not verdicts: "link P0→P1 failed, as P1
//     saw: frame 12 failed its tag", or "P2's code sent a second hello",
//     or "P0 stopped: its caller gave up". An account is authenticated by
//     the party that sends it and relayed unchanged by the party that
//     receives it, so a corrupt host that suppresses its own party's
//     abort, or closes its connections first, cannot hide what happened
//     from the third party, which would otherwise blame whoever closed
//     first. Each party draws its own conclusion from an account, by the
//     rules above.
//
// With at most one corrupt host, every honest party's error names the
// corrupt one among its suspects (or the network, which only a link's
// name covers), and no honest party names itself.
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
//
// # Files
//
// handshake.go runs [Secure] (its messages in handshake_messages.go),
// built on veil's attested key exchange (internal/attestkex); frame.go
// seals and opens frames on veil's record layer (internal/record);
// message.go is the per-message path (sending, the reader, receiving,
// heartbeats); checkpoint.go and abort.go are the checkpoints and the
// aborts, account.go the accounts an abort carries; network.go holds the
// [Network]'s state.
package aramis
