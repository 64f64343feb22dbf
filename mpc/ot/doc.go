// Package ot implements the oblivious transfers of veil's two-party
// backend: Chou–Orlandi base OTs over ristretto255 and the extension of
// 128 of them into any number of correlated OTs — SoftSpoken OT with
// parameter k (DefaultK = 4; k = 1 is IKNP) — from which random OTs,
// correlated OTs over Z_2^64 and chosen-message OTs follow.
//
// An extension has two ends. The COTSender holds a secret global offset
// Δ ∈ {0,1}^128 (IKNP's base-OT receiver, Δ its choice bits); the
// COTReceiver chooses a bit r_j per OT. The j-th correlated OT gives the
// sender q_j and the receiver t_j = q_j ⊕ r_j·Δ: neither learns the
// other's secret (Δ, the r_j) and the receiver learns nothing about
// q_j ⊕ (1−r_j)·Δ. Hashing with a tweakable correlation-robust hash
// (fixed-key AES, see Hash) breaks the correlation:
//
//   - random OT: the sender gets (H(j, q_j), H(j, q_j ⊕ Δ)), the receiver
//     H(j, t_j), the one it chose;
//   - correlated OT over Z_2^64 for a correlation c_j: the sender gets a
//     random a_j, the receiver a_j + r_j·c_j (shares of r_j·c_j), for one
//     64-bit message from the sender;
//   - chosen-message OT: the receiver gets m_{r_j} of the sender's pair.
//
// Security is semi-honest (veil's malicious security wraps the whole
// protocol in attested, authenticated channels: mpc/aramis). Costs: the
// base OTs send 32 + 32·128 bytes once per extension and the GGM trees
// 32·128 bytes more; each correlated OT then costs 128/k bits from the
// receiver (32 at k = 4, see CorrectionBytes), plus 64 bits from the
// sender for a correlated or 128 for a chosen-message 64-bit pair. The
// hot loops — the seed expansions (AES-CTR, with VAES where the CPU has
// it), the 128×128 bit transposes (AVX2), the VOLE sums (AVX-512) and the
// hash (VAES, else AES-NI, both passes without leaving the registers) —
// have portable Go paths beside them (build tag purego), tested equal.
package ot
