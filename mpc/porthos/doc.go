// Package porthos implements Porthos, the semi-honest three-party protocol
// of CrypTFlow (built on SecureNN), and an executor that runs a compiled
// fixed-point program (package fixed) through it.
//
// # Parties and threat model
//
// P0 (the client) holds the input and is the only party to learn the
// output; P1 (the server) holds the model's weights; P2 (the helper) has
// no input, gets no output and supplies correlated randomness. Security
// holds against one semi-honest (honest-but-curious) corrupted party, with
// no collusion: each party's view is simulatable from its own input and
// output. Every value between instructions is additively shared over
// Z_2^64 between P0 and P1 (x = x0 + x1 mod 2^64); P2 never holds a share
// of a secret value.
//
// # Randomness
//
// Each pair of parties derives its streams from the secret of its own
// authenticated key exchange (mpc.Network.PairKey), a per-session salt
// that both holders contribute to (so that reusing a network never
// replays a stream), and a label naming the purpose, so that the two
// holders draw identical values in identical order (package prg).
// P2 never learns the P0–P1 key. Values P2 deals are halved (the paper's
// trick, see Deal): one share of each comes from a stream P2 shares with
// the receiver of the other, so only one share is ever sent.
//
// # Protocols
//
// The functions are batched over vectors, follow the step-by-step
// specification in the repository's shared PORTHOS.md (prime p = 67, bits
// as 0/1 with no truncation, the r = 0 ShareConvert fix), and each
// documents its cost and security argument:
//
//	Share, Reveal, RevealBoth                input sharing, output opening
//	Add, Sub, AddPublic, MulPublic,
//	SumPool, ReduceSum                       local linear maps
//	MulElem, Mul, MatMul, Conv               Beaver products of a bilinear map
//	ScaleDown                                local truncation
//	PrivateCompare                           P2 learns β ⊕ (x > r)
//	ShareConvert, ComputeMSB, DReLU          Z_L → Z_{L-1}, MSB, sign bit
//	ReLU, SelectShare                        a product with a shared bit
//	MaxGroups, MaxPool, ArgMax               comparison trees
//
// Their communication and rounds equal PORTHOS.md section 10 exactly
// (the tests measure both); Cost reports them per operation.
//
// All three parties run the same code; functions branch on the party and
// take the vector length explicitly, since P2 holds no shares (its share
// arguments are nil and its results nil).
//
// # Execution
//
// Run executes a fixed.Program: P0 supplies the encoded input, P1 the
// weights (P0 and P2 run from fixed.Program.Public and never read weight
// data), and the outputs are revealed to P0 alone. Every instruction is
// exact on its shared operands except ScaleDown, which may add one unit
// (see ScaleDown), so the outputs differ from the cleartext executor's
// only by those truncation errors carried through the later layers. A
// peer failure aborts the run with an error naming the instruction and
// the peer, and no output is released.
package porthos
