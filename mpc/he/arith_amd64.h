// Modular arithmetic on eight 64-bit lanes with AVX-512 (F and DQ),
// shared by the transforms (ntt_amd64.s) and the products
// (mont_amd64.s). Register conventions: Z31 = q, Z30 = 2q,
// Z29 = 2^32 − 1 in every lane.

// CONSTS sets Z29–Z31 for the modulus in qreg (clobbers R11).
#define CONSTS(qreg) \
	VPBROADCASTQ qreg, Z31;        \
	VPADDQ       Z31, Z31, Z30;    \
	MOVQ         $0xffffffff, R11; \
	VPBROADCASTQ R11, Z29

// HI64 sets out to the high word of a·b, given ahi = a>>32 and bhi =
// b>>32 (VPMULUDQ reads the low halves of a and b), assembled from
// the four 32×32-bit products; ahi, t1 and t2 are clobbered. Exact for
// every a and b: each partial sum is at most (2^32−1)² + 2^32 − 1 < 2^64.
#define HI64(a, ahi, b, bhi, out, t1, t2) \
	VPMULUDQ b, a, t1;       \
	VPMULUDQ bhi, a, t2;     \
	VPMULUDQ bhi, ahi, out;  \
	VPMULUDQ b, ahi, ahi;    \
	VPSRLQ   $32, t1, t1;    \
	VPADDQ   t1, ahi, ahi;   \
	VPANDQ   Z29, ahi, t1;   \
	VPADDQ   t1, t2, t2;     \
	VPSRLQ   $32, ahi, ahi;  \
	VPSRLQ   $32, t2, t2;    \
	VPADDQ   ahi, out, out;  \
	VPADDQ   t2, out, out

// SHOUP sets out to v·w mod q in [0, 2q) for v < 2^63, given wql and
// wqh holding Shoup's quotient ⌊w·2^64/q⌋ and its high half:
// v·w − ⌊v·wq/2^64⌋·q (mod 2^64). v is not modified.
#define SHOUP(v, w, wql, wqh, out, t1, t2, t3) \
	VPSRLQ  $32, v, t1;                  \
	HI64(v, t1, wql, wqh, t2, t3, out);  \
	VPMULLQ w, v, out;                   \
	VPMULLQ Z31, t2, t2;                 \
	VPSUBQ  t2, out, out

// MONT sets out to Montgomery's lazy product k·x·2^-64 mod q in [0, 2q)
// for k, x < q, given khi = k>>32 and Z28 = q^-1 mod 2^64, Z27 = q>>32:
// with m = lo(k·x)·q^-1 mod 2^64, hi(k·x) − hi(m·q) + q. x and t1–t4
// are clobbered.
#define MONT(k, khi, x, out, t1, t2, t3, t4) \
	VPSRLQ  $32, x, t1;                  \
	HI64(x, t1, k, khi, t2, t3, t4);     \
	VPMULLQ k, x, t3;                    \
	VPMULLQ Z28, t3, t3;                 \
	VPSRLQ  $32, t3, t1;                 \
	HI64(t3, t1, Z31, Z27, out, t4, x);  \
	VPSUBQ  out, t2, out;                \
	VPADDQ  Z31, out, out

// REDUCE sets x to x − m where that is not negative (x < 2m).
#define REDUCE(x, m, tmp) \
	VPSUBQ  m, x, tmp; \
	VPMINUQ tmp, x, x
