// Package service runs secure inference as a service: a long-running
// server, the model's owner, that answers many clients at once, each in
// a session of its own, two-party (2pc) or three-party (3pc, with a
// long-running helper run by another organisation), and the client that
// dials it.
//
// # Connections
//
// The server side is Server (veil serve) and, for three-party sessions,
// Helper (veil helper); the client side is Dial, Client.Infer and
// Client.Close (veil infer). Example below runs both in one process.
//
// A client dials the server over TCP and the two run a TLS 1.3
// handshake with self-signed certificates, each end pinning the other's
// key (internal/pinned): the client pins the server's key; the server
// admits the keys its admission file lists (Admission), or any key when
// it admits anyone. Over the authenticated connection the two speak
// mpc/transport's frames (transport.Pair), with its heartbeats and
// timeouts.
//
// # Requests
//
// Each session starts with the client's request, one JSON message:
//
//	{"model": "lenet", "program": "<hex>"}
//
// naming a model the server serves and, optionally, the program the
// client expects (the hex SHA-256 of the program's public part,
// fixed.Program.PublicDigest): a server serving anything else is
// refused. The server answers with one JSON message:
//
//	{"program": "<hex>"}                 accepted: the session follows
//	{"error": "...", "busy": true}       refused: too many sessions
//	{"error": "..."}                     refused: unknown model, other program
//
// An accepted request is followed by a session of mpc/session between
// the client (P0) and the server (P1), and in 3pc the helper (P2): the
// backend's settings, the public program (checked against the pin), the
// count, the inferences. A 3pc answer also names the helper and a
// one-time session token; the client dials the helper, pinning its key
// itself, and presents the token (see Helper).
// After it, the client may send another request on the same connection
// or close it.
//
// # Isolation
//
// Every connection has its own TLS keys, its own backend session and
// its own randomness, and runs in goroutines of its own: a client that
// dies, stalls or cheats ends its own session with an error and
// nothing else. The server bounds the sessions it runs at once
// (Server.MaxSessions), refusing the rest as busy, and the
// unauthenticated connections (internal/netutil).
package service
