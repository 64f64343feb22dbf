// Package he is the RLWE engine of veil's two-party backend for linear
// layers: the client holds a secret key and its additive share x_C of a
// layer's input, the server holds the layer's weights W and its share
// x_S, and one round trip leaves them with additive shares of W·x over
// Z_2^ℓ, with no rotations and no Galois keys (the "coefficient
// encoding" of Cheetah, Huang et al., USENIX Security 2022). It computes
// no network traffic itself: it returns the bytes to send.
//
//	client                                   server
//	c, _ := NewClient(Default())
//	pk, _ := c.PublicKey()              ──▶  s, _ := NewServer(Default(), pk)     (once)
//	l, _ := NewConv(Default(), cp, b)        l, _ := NewConv(Default(), cp, b)    (per layer)
//	q, _ := c.EncryptInput(l, xC)       ──▶  resp, yS, _ := s.Eval(l, w, xS, q)
//	yC, _ := c.DecryptOutput(l, resp)   ◀──
//	                   yC + yS = W·(xC + xS) mod 2^ℓ
//
// [Conv] covers every convolution of tensor.Conv2D (NCHW; NHWC by
// transposing, grouped, depthwise, strided, asymmetric padding, 1×1,
// kernels larger than the input) and [MatMul] a product X·W (Gemm).
// The server adds a bias to its share yS.
//
// # Parameters
//
// [Default]: ring degree N = 8192, plaintext ring Z_2^64 (ℓ ≤ 64 may be
// chosen), ciphertext modulus Q = q_0·q_1·q_2·q_3 of four NTT-friendly
// primes of 48, 48, 48 and 60 bits (log2 Q ≈ 204, within the 218 bits the
// HE standard allows at N = 8192 for 128-bit security with a uniform
// ternary secret and errors of σ = 3.2: veil's are centered binomial,
// σ ≈ 3.24, |e| ≤ 21, as Microsoft SEAL samples them); responses
// are switched down to Q' = q_0·q_1 (96 bits). [NewParams] refuses sets
// beyond the standard's table.
//
// Each layer is built for a public bound b on the server's weights
// (|w| ≤ 2^(b−1); ℓ bits allow any weights, and the server refuses
// weights beyond the bound). The noise a product leaves grows with the
// weights, so a layer of small weights fits the budget of fewer moduli:
// its queries use the level q_0⋯q_j (j ≥ ResponseModuli) that costs
// least among those whose flood hides its noise, and every product,
// transform and query byte shrinks with the moduli left out. With 16-bit
// weights every layer of the zoo runs on q_0·q_1·q_2 (144 bits): about
// 30 % less query and server work than on all four, and every modulus
// of it below 2^50, where the transforms and products take AVX-512
// IFMA's 52-bit multiply-adds. Sizes
// ([Params.CiphertextBytes], [Params.ResponseBytes], [Layer.QueryBytes],
// [Layer.ResponseBytes]):
//
//	public key           1 + 32 + N·Σbits(q_i)/8       = 208,929 bytes, once
//	query ciphertext     32 + N·Σ_{i≤j} bits(q_i)/8     = 208,928 bytes (147,488 on three moduli)
//	response ciphertext  N·96/8 + 2·⌈48·k/8⌉           = 98,304 + 12·k bytes for k outputs
//
// plus a 13-byte header per message (kind, the layer's tag, count).
//
// # Encryption
//
// Symmetric RLWE with a ternary secret s: a fresh ciphertext is
// (b, a) = (−a·s + round(Q·m/t) + e, a) with a uniform, sent as the
// 32-byte seed it is expanded from by AES-CTR (mpc/prg), halving the
// query. Q is odd and t = 2^ℓ, so no integer Δ = Q/t exists; encoding
// round(Q·m/t) keeps products exact (see encode.go), where ⌊Q/t⌋·m
// would not be. The public key is one such encryption of zero; the
// server uses it only to re-randomise responses.
//
// # Encoding
//
// A convolution is cut into tiles of the output; a polynomial holds, for
// one image and tile, c_w input channels of g_w groups, each channel
// row-major at its own offset, and a kernel polynomial holds the
// reversed filters of o_w output channels of those groups, placed so
// that one negacyclic product puts the output of every (group, output
// channel) at known coefficients of its own slot, the other coefficients
// holding partial sums that are never revealed. The server accumulates
// kernel × input over the channel blocks in the NTT domain and leaves it
// only once per output ciphertext. Depthwise and grouped convolutions
// pack several groups per polynomial (g_w > 1); a strided convolution is
// run as the stride-1 convolution of its polyphase components (stride s:
// the s² phase images become input channels with ⌈K/s⌉-tap kernels), so
// that no output coefficient is wasted; padding is written as zeros. A
// matrix product X·W is the convolution of a K-channel M×1 image with N
// 1×1 filters (m_w·c_w·n_w ≤ N). Among all packings whose noise is within
// the flood's reach, each layer takes the one that minimises the bytes
// sent plus the server's modelled work (Literal.BytesPerOp sets the
// exchange rate); both parties derive it from the shape alone.
// Weights are transformed per layer and dropped ([Server.Eval]), or
// transformed once and kept by a server that can spare the memory
// ([Server.NewKernels], [Server.KernelBytes]; the two-party backend keeps
// up to 256 MiB of them per session and streams the rest). The
// transforms and the server's products run in AVX-512 assembly where the
// CPU has it (ntt.go, mont.go; the products on limbs below 2^52 with
// IFMA's 52-bit multiply-adds, 3.3× the 64-bit Montgomery products),
// Lattigo's own loops elsewhere and under the build tag purego, the two
// tested equal.
//
// # Costs
//
// Per layer: one round trip; the client encrypts and the server
// transforms each query ciphertext once (the server holds them, 2·L·N
// words or 512 KiB each, for the duration of [Server.Eval]); the server
// transforms each kernel polynomial once and reuses it for every tile
// and image, and makes one product per query ciphertext and output block.
// The packing of every convolution and product of veil's zoo is tested;
// ResNet-50's linear layers send about 2.0 GB (1.07 GB query, 0.97 GB
// response) at the default BytesPerOp, for about 9.4·10^4 kernel
// transforms and 3.3·10^5 products on the server.
//
// # Response, noise and flooding
//
// For each output ciphertext the server adds u·pk + (e₁, e₂) (u ternary,
// e centered binomial) so that its second component is a fresh RLWE sample and
// reveals no combination of the weights; adds round(Q·(W·x_S − r)/t) at
// the outputs for a fresh uniform mask r, its share; adds to every
// output coefficient a flood uniform in [−2^F, 2^F) (F = 137 at the top
// level, 77 on three moduli); switches down to Q' by rounding; and sends
// c₁ whole and c₀ only at the outputs. The client computes c₀ + c₁·s
// and rounds t·φ/Q'.
//
// The worst-case noise (noise.go) of an output whose weight polynomials
// have nnz nonzero coefficients, weights of magnitude at most 2^(b−1), is
// nnz·2^(b−1)·(21 + 1) for the products plus (2N + 1)·21 + 1 for the
// re-randomisation and rounding. The flood is the same for every layer on
// a level and at least 2^40 (StatBits) times the data noise of any
// packing a layer may use there (at the top level nnz ≤ [Params.MaxNNZ],
// about 2^29.5 for any ℓ = 64-bit weights; on three moduli about 2^17.5
// for 16-bit weights), so each
// revealed coefficient's noise is within statistical distance 2^−40 of
// the flood alone, independent of the weights. Flood plus data noise stays
// below Δ/4 at Q and, scaled by Q'/Q plus the switch's rounding (less
// than N/2 + 2), below Δ'/4 at Q': decryption is exact with certainty.
//
// # Security
//
// Semi-honest: the query is RLWE-encrypted under the client's key; the
// response reveals to the client W·x − r (uniform) and, by the flooding
// and re-randomisation arguments above, nothing else about W beyond the
// layer's shape and its weight bound, which are public. The statistical distance adds up over
// the revealed coefficients (2^−40 each); raise StatBits if that matters.
//
// Not covered: malicious parties. A client whose key is not ternary or
// whose ciphertexts carry more noise than the error distribution defeats
// the flooding argument, and the server cannot check either; a server
// can return anything. Wrap the protocol in Aramis for that. Arithmetic
// is not constant-time.
package he
