// Package pinned holds veil's pinned-key TLS 1.3 identities, written
// once for every connection between veil's processes: the MPC parties'
// mesh (mpc/transport) and Slalom's link between the trusted executor
// and its device (slalom).
//
// # Identities
//
// An identity is an Ed25519 key with a self-signed certificate
// ([Generate]). There is no certificate authority: each end pins the
// public key it expects of its peer ([Pin]) and accepts a peer only if
// the certificate it presents carries exactly that key. The TLS 1.3
// handshake proves that the peer holds the matching private key, so the
// certificate's other fields (names, dates, its self-signature) carry no
// weight.
//
// # Key files
//
// One format for every key veil makes ([Save], [Load], [LoadKey],
// [ReadPublic]):
//
//   - the private key: PEM "PRIVATE KEY" (PKCS#8), mode 0600, created
//     exclusively and read only if it is not a symbolic link nor, on
//     Unix, readable or writable by group or others (internal/keyfile);
//   - its public half, which the peers pin: PEM, mode 0644, either the
//     self-signed certificate ("CERTIFICATE", as the MPC parties' .crt
//     files) or the bare key ("PUBLIC KEY", PKIX, as Slalom's .pub
//     files). [ReadPublic] accepts both.
//
// # Connections
//
// [Config] is the tls.Config of either end of a pinned connection: TLS
// 1.3 only, a certificate demanded of both ends, no CA chains, no
// session tickets, and a [Verify] function that decides, once the
// handshake is done, whether the peer's key is a pinned one ([Only], or
// a caller's own for several pins). [ExportKey] derives keys from a
// finished session (RFC 8446 §7.5), the same at both ends and bound to
// that handshake.
package pinned
