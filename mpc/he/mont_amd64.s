//go:build amd64 && !purego

#include "textflag.h"
#include "arith_amd64.h"

// MULADDARGS loads the pointers and the count of mulAddPair's
// arguments: k, x0, x1, acc0, acc1 into SI, R8–R11, vecs into CX.
#define MULADDARGS \
	MOVQ k+0(FP), SI;     \
	MOVQ x0+8(FP), R8;    \
	MOVQ x1+16(FP), R9;   \
	MOVQ acc0+24(FP), R10; \
	MOVQ acc1+32(FP), R11; \
	MOVQ vecs+40(FP), CX

// MULADDNEXT moves the pointers on by one vector of eight words and
// counts it.
#define MULADDNEXT \
	ADDQ $64, SI;  \
	ADDQ $64, R8;  \
	ADDQ $64, R9;  \
	ADDQ $64, R10; \
	ADDQ $64, R11; \
	DECQ CX

// ACCUMULATE adds the products in v to the accumulators at ptr, keeping
// them in [0, 2q) (Z30 = 2q); tmp is clobbered.
#define ACCUMULATE(ptr, v, tmp) \
	VPADDQ    ptr, v, v;     \
	REDUCE(v, Z30, tmp);     \
	VMOVDQU64 v, ptr

// func mulAddPairAVX512(k, x0, x1, acc0, acc1 *uint64, vecs int, q, qInv uint64)
TEXT ·mulAddPairAVX512(SB), NOSPLIT, $0-64
	MOVQ         q+48(FP), AX
	CONSTS(AX)
	VPBROADCASTQ qInv+56(FP), Z28
	VPSRLQ       $32, Z31, Z27
	MULADDARGS

mulAddLoop:
	VMOVDQU64 (SI), Z0
	VPSRLQ    $32, Z0, Z1
	VMOVDQU64 (R8), Z2
	MONT(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	ACCUMULATE((R10), Z3, Z4)
	VMOVDQU64 (R9), Z12
	MONT(Z0, Z1, Z12, Z13, Z14, Z15, Z16, Z17)
	ACCUMULATE((R11), Z13, Z14)
	MULADDNEXT
	JNZ       mulAddLoop
	VZEROUPPER
	RET

// MONT52 sets out to Montgomery's lazy product k·x·2^-52 mod q in
// [0, 2q) for k, x < q < 2^52 with AVX-512 IFMA, given Z28 = q^-1 mod
// 2^52, Z31 = q and Z26 = 0: with t = k·x and m = lo52(t)·q^-1 mod 2^52,
// m·q agrees with t on the low 52 bits, so (t − m·q)/2^52 = hi52(t) −
// hi52(m·q) exactly, in (−q, q); q is added. t1 and t2 are clobbered.
#define MONT52(k, x, out, t1, t2) \
	VMOVDQA64   Z31, out;    \
	VPMADD52HUQ x, k, out;   \
	VMOVDQA64   Z26, t1;     \
	VPMADD52LUQ x, k, t1;    \
	VMOVDQA64   Z26, t2;     \
	VPMADD52LUQ Z28, t1, t2; \
	VMOVDQA64   Z26, t1;     \
	VPMADD52HUQ Z31, t2, t1; \
	VPSUBQ      t1, out, out

// func mulAddPairIFMA(k, x0, x1, acc0, acc1 *uint64, vecs int, q, qInv uint64)
TEXT ·mulAddPairIFMA(SB), NOSPLIT, $0-64
	MOVQ         q+48(FP), AX
	CONSTS(AX)
	VPBROADCASTQ qInv+56(FP), Z28
	VPXORQ       Z26, Z26, Z26
	MULADDARGS

mulAdd52Loop:
	VMOVDQU64 (SI), Z0
	VMOVDQU64 (R8), Z2
	VMOVDQU64 (R9), Z12
	MONT52(Z0, Z2, Z3, Z4, Z5)
	MONT52(Z0, Z12, Z13, Z14, Z15)
	ACCUMULATE((R10), Z3, Z4)
	ACCUMULATE((R11), Z13, Z14)
	MULADDNEXT
	JNZ       mulAdd52Loop
	VZEROUPPER
	RET

// func reduceAVX512(p *uint64, vecs int, q uint64)
TEXT ·reduceAVX512(SB), NOSPLIT, $0-24
	MOVQ         p+0(FP), DI
	MOVQ         vecs+8(FP), CX
	VPBROADCASTQ q+16(FP), Z31

reduceLoop:
	VMOVDQU64 (DI), Z0
	REDUCE(Z0, Z31, Z1)
	VMOVDQU64 Z0, (DI)
	ADDQ      $64, DI
	DECQ      CX
	JNZ       reduceLoop
	VZEROUPPER
	RET
