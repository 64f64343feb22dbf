// Package twopc is veil's two-party backend ("2pc"): secure inference
// between the client (P0, the input's owner, who gets the outputs) and
// the server (P1, the weights' owner), with no helper, semi-honest (and
// maliciously secure under mpc/aramis, like every backend).
//
// Values are additive shares over Z_2^64. Each instruction of a compiled
// program (fixed.Program) maps to one protocol:
//
//   - the local ops (fixed.Local) on each share, ScaleDown by local
//     truncation (mpc.TruncateShare);
//   - Conv and MatMul by the server's weights by RLWE (mpc/he), offline
//     (masks.go): the client encrypts a random mask r, the server
//     evaluates its weights on it and answers with the client's share
//     of W·r; online the client sends its share minus r and the server
//     multiplies in the clear. A product of two secrets runs a query in
//     each direction online;
//   - DReLU by the millionaires' protocol (compare.go) on the bits of the
//     program's traced comparison bound (fixed.Program.CompareBits),
//     giving XOR-shared bits that a Mux takes as they are and other
//     readers get converted (B2A); ReLU fused; products of secrets by
//     Gilboa's correlated-OT multiplication; all on mpc/ot's extensions,
//     one per direction;
//   - the composites by the compiler's lowerings.
//
// Every correlated OT a run takes is counted from the program and
// extended before the run (offline.go), ahead of the input, with the
// linear layers' masks: the online phase pays one bit per OT and 8 bytes
// per input element of a linear layer. When the session announces several
// runs of a program small enough (Plan), the first run's offline phase
// makes them for up to 16 runs at once, its linear layers batched over
// the runs (ahead.go). The engine's costs are reported per op, the
// offline phase apart (mpc.OpCost.Offline).
package twopc
