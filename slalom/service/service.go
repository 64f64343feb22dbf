// Package service runs Slalom's trusted executor T (package slalom) as
// an attested service for clients: a client (say, a hospital with an
// X-ray) attests T before it hands over its input, T runs the inference
// with D and returns the result to that client only. [Server] is T's
// side, [DialService] and [NewClient] the client's; a [Statement] says
// what T runs, [Requirements] what a client demands of it.
//
// # Wire format (version 1)
//
// Every message is a frame:
//
//	BE32(n) ‖ version (1 byte, = 1) ‖ type (1 byte) ‖ body (n − 2 bytes)
//
// with 2 ≤ n ≤ 16 MiB; a frame of another version, length or type
// stops the connection. The handshake, per connection:
//
//  1. client → T, type 1 (hello): a fresh 32-byte nonce ‖ the client's
//     fresh X25519 public key (32 bytes).
//  2. T → client, type 2 (attest): BE32 length ‖ statement ‖ BE32 length ‖
//     evidence (attest.Evidence.MarshalBinary). T generates a fresh X25519
//     key for this connection inside its process; the evidence's PubKey is
//     that key and its report data is
//     attest.Bind(key, session id, nonce) with session id =
//     SHA-256("veil/slalom/session/v1" ‖ BE32 length ‖ statement).
//     The statement (Statement.MarshalBinary) says what T runs: the model
//     hash M, the mode, p, k, l_x, l_w, the output scale and length, the
//     input shape and layout.
//  3. The client checks the evidence with its attest.Policy against the
//     report data it recomputes from the key, the statement it received
//     and its own nonce, then the statement against its Requirements.
//     On a failure before keys exist, T may send type 4 (abort: a UTF-8
//     message), which is unauthenticated and only shown as such.
//
// Both sides then derive, from the X25519 shared secret, with
// HKDF-SHA256, salt = SHA-256("veil/slalom/service/v1 transcript" ‖
// BE32 length ‖ hello body ‖ BE32 length ‖ attest body), one AES-256-GCM
// key per direction (info "veil/slalom/service/v1 client to T" and
// "veil/slalom/service/v1 T to client"). Every later frame is type 3
// (sealed):
//
//	BE64(seq) ‖ AES-256-GCM(nonce = 0^32 ‖ BE64(seq),
//	                        AAD = "veil/slalom/service/v1" ‖ version ‖ 3 ‖ direction ‖ BE64(seq),
//	                        plaintext = kind ‖ message)
//
// where seq counts the frames of one direction from 0 and direction is
// 'C' (client to T) or 'S' (T to client). A receiver accepts only the
// next seq of its direction, so a replayed, reordered, dropped or
// reflected frame, or any changed bit, is refused and the connection
// closed. Messages: kind 1 (client → T) an input: BE32(count) ‖ count
// float32 values, little-endian; kind 2 (T → client) an output:
// BE32(scale) ‖ BE32(count) ‖ count int64 logits, little-endian, at
// 2^-scale; kind 3 (T → client) an error message, UTF-8 (T refused this
// input: e.g. a failed Freivalds check naming the layer; no output is
// released); kind 4 (T → client) a heartbeat, empty, sent every
// Server.HeartbeatInterval while T works on an input or waits for its
// turn, so that a client can tell a busy T from a dead one. T answers
// inputs in order; a client may send several before reading the answers.
//
// # Resources
//
// Before the handshake T reads only a hello's worth of bytes (a longer
// first frame is refused unread), and every frame's buffer grows as its
// bytes arrive, never to the announced length at once. At most
// MaxPending connections (DefaultMaxPendingPerHost from one address) may
// be in the handshake at a time, each for HandshakeTimeout; at most
// MaxClients connections are open at a time. More are closed at once.
//
// # Files
//
// service.go holds the protocol's constants; wire.go the frames and the
// messages' encodings; statement.go the statement and the session id;
// records.go the sealed records; server.go T's side and client.go the
// client's. The key exchange is
// veil's attested key exchange (internal/attestkex) and the sealed
// records its record layer (internal/record), the same as Aramis'.
package service

import (
	"time"

	"veil/internal/attestkex"
	"veil/internal/record"
)

// version is the version byte of every frame.
const version = 1

// maxFrame bounds a frame of the client protocol (the length field's
// value: version, type and body).
const maxFrame = 16 << 20

// nonceSize is the size of the client's fresh nonce.
const nonceSize = attestkex.NonceSize

// Frame types.
const (
	msgHello  byte = 1
	msgAttest byte = 2
	msgSealed byte = 3
	msgAbort  byte = 4
)

// Kinds of sealed messages.
const (
	recInput     byte = 1
	recOutput    byte = 2
	recError     byte = 3
	recHeartbeat byte = 4
)

// Defaults of the Server's and the Client's zero settings.
const (
	DefaultHandshakeTimeout  = 30 * time.Second
	DefaultIdleTimeout       = 10 * time.Minute
	DefaultHeartbeatInterval = 5 * time.Second
	// DefaultClientTimeout is how long a client waits for T to send
	// anything (an answer or a heartbeat): six heartbeats.
	DefaultClientTimeout     = 30 * time.Second
	DefaultMaxPending        = 64
	DefaultMaxPendingPerHost = 8
	DefaultMaxClients        = 256
	// clientHandshakeTimeout bounds the client's side of the handshake
	// (T may wait for its attester).
	clientHandshakeTimeout = 2 * time.Minute
)

// helloFrame is the length field of the hello frame: version, type,
// nonce and key.
const helloFrame = 2 + nonceSize + attestkex.KeySize

// Directions, in the AAD.
const (
	dirToT      byte = 'C'
	dirToClient byte = 'S'
)

const (
	serviceDomain    = "veil/slalom/service/v1"
	sessionDomain    = "veil/slalom/session/v1"
	transcriptDomain = "veil/slalom/service/v1 transcript"
	maxMessageText   = 4096
	maxNameLen       = 1024
	maxDims          = 8
	// sealedOverhead is what a sealed frame adds to its message: the
	// length field's version and type, the sequence number, the tag and
	// the kind.
	sealedOverhead = 2 + 8 + record.TagSize + 1
	// maxInLen and maxOutLen are the most values an input (BE32 count,
	// float32s) and an output (BE32 scale, BE32 count, int64s) message
	// can carry in one frame.
	maxInLen  = (maxFrame - sealedOverhead - 4) / 4
	maxOutLen = (maxFrame - sealedOverhead - 8) / 8
)
