// Package transport is the network between the three parties of a
// secure computation: an mpc.Network over mutually authenticated TLS 1.3
// connections, one per pair of parties, plus the identities (keys and
// certificates) and the configuration file that describe a deployment.
//
// # Identities and trust
//
// Each party has an Ed25519 key and a self-signed certificate
// (GenerateIdentity, LoadIdentity). There is no certificate authority:
// the configuration file (Config, and CONFIG.md beside this file) pins
// each role's certificate, and a peer is accepted only if its TLS
// certificate carries exactly the pinned public key of the role it claims.
// Go's chain verification is therefore switched off (InsecureSkipVerify on
// the dialling side, RequireAnyClientCert on the listening side) and
// replaced by that pin check in tls.Config.VerifyConnection; the TLS 1.3
// handshake proves that the peer holds the matching private key. Host
// names are not checked: the pinned key is the identity, whatever the
// address. The identities, key files and TLS configurations are veil's
// one pinned-key TLS set-up, internal/pinned, which Slalom's link to its
// device uses too.
//
// # Connections
//
// The lower-numbered party of each pair dials the higher-numbered one (see
// Connect). After the TLS handshake the dialler sends a hello frame naming
// its role; the listener checks it against the certificate and answers
// with its own hello, or with a reject frame saying why it refuses. A
// connection from a stranger, with a wrong key or with a malformed first
// frame is refused without disturbing the wait for the real peer.
//
// A listening party survives whoever can reach its port: an Accept error
// that is temporary (out of file descriptors, an aborted connection) is
// retried after a pause doubling from 5 ms to 1 s; at most 32 connections
// that have not finished the handshake are held at a time, at most 8 from
// one address, and any beyond are closed at once; each must finish its
// handshake (TLS and hello) within the configured timeout or is closed
// (internal/netutil, shared with the Slalom service).
//
// Each pair's PairKey is 32 bytes of TLS keying material exported from
// that pair's session (RFC 8446 section 7.5, label "veil pairwise prf
// key"): both ends compute the same key, and the third party, who does not
// hold the session's secrets, cannot. No key is shared by all three.
//
// # Services
//
// A long-running service (package service) accepts its sessions one
// connection at a time instead of from a parties file: it runs the
// pinned TLS 1.3 handshake itself and hands the connection to Pair,
// which makes the same network of one link (frames, heartbeats,
// timeouts, pairwise key); Join puts two such links together into the
// network of a three-party session, sharing them, so that a server can
// keep its link to the client for the next session after its link to
// the helper closes.
//
// # Frames
//
// Everything after the TLS handshake is a sequence of frames, each a 4-byte
// big-endian header followed by a payload:
//
//	0LLLLLLL LLLLLLLL LLLLLLLL LLLLLLLL   data frame: 31-bit payload length L
//	1TTTTTTT LLLLLLLL LLLLLLLL LLLLLLLL   control frame: type T, length L
//
// A data frame carries one message, so a message of n bytes costs n+4
// bytes on the wire (before TLS's own overhead), the same as mpc.NewLocal
// counts. Data frames longer than the configured max_message (at most
// 2³¹-1 bytes) make the receiver drop the connection with the error
// "message of N bytes exceeds the limit of M bytes". A message's buffer
// grows as its bytes arrive, not to the announced length: a peer that
// announces L bytes and sends k of them costs at most 2k + 1 MiB until it
// sends the rest. Control frames carry at most 1024 bytes and are of four
// types:
//
//	1 hello      "veil-transport/1 <role>": the first frame each way
//	2 heartbeat  empty: sent about once a second (see below)
//	3 goodbye    empty: the last frame of a party that closes cleanly
//	4 reject     a reason: sent by a listener instead of its hello
//
// Any other control frame (type 0 included) is an error. Control frames are not messages:
// Stats does not count them.
//
// # Liveness
//
// Send never blocks: it appends to the peer's queue, which a writer
// goroutine drains through a bufio.Writer, flushing whenever the queue is
// empty. While idle, the writer sends a heartbeat every second, or every
// fifth of the timeout if that is shorter. A reader goroutine reads frames
// as they come and queues the messages for Recv.
//
// The reader fails the connection when nothing at all (not one byte of any
// frame) has arrived for the configured timeout: the peer is then stalled
// or cut off, for heartbeats keep coming from a peer that is merely busy
// computing. Recv from it returns a *mpc.PeerError wrapping mpc.ErrTimeout.
// Recv itself waits without limit while the peer is alive, however long it
// takes to answer. A peer that dies (connection closed or reset) fails
// Recv at once; a peer that closes cleanly sends a goodbye, and Recv from
// it fails with ErrPeerClosed. In every case the messages that arrived
// before are delivered first, and after them Recv keeps returning the
// same error, as does Send.
package transport
