//go:build amd64 && !purego

#include "textflag.h"

// func gemm6x4AVX2(k int, a, b, c *uint64, ldc int)
//
// AVX2 has no 64-bit low multiply. Per 64-bit lane,
//   a·b mod 2^64 = lo(a)·lo(b) + ((lo(a)·hi(b) + hi(a)·lo(b)) mod 2^32) << 32.
// VPMULUDQ of the broadcast a with b gives lo(a)·lo(b); VPMULLD of the
// broadcast a with b's halves swapped (packed that way) gives both cross
// products mod 2^32, one per 32-bit half. The cross halves are summed with
// 32-bit adds into their own accumulator and folded in once at the end.
//
// Y0-Y5: lo·lo accumulators of rows 0-5; Y6-Y11: cross accumulators;
// Y12: b; Y13: b swapped; Y14: broadcast a; Y15: product.
TEXT ·gemm6x4AVX2(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $3, DX

	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	VPXOR Y10, Y10, Y10
	VPXOR Y11, Y11, Y11

loop:
	VMOVDQU (BX), Y12
	VMOVDQU 32(BX), Y13

	VPBROADCASTQ (AX), Y14
	VPMULUDQ Y12, Y14, Y15
	VPADDQ   Y15, Y0, Y0
	VPMULLD  Y13, Y14, Y15
	VPADDD   Y15, Y6, Y6

	VPBROADCASTQ 8(AX), Y14
	VPMULUDQ Y12, Y14, Y15
	VPADDQ   Y15, Y1, Y1
	VPMULLD  Y13, Y14, Y15
	VPADDD   Y15, Y7, Y7

	VPBROADCASTQ 16(AX), Y14
	VPMULUDQ Y12, Y14, Y15
	VPADDQ   Y15, Y2, Y2
	VPMULLD  Y13, Y14, Y15
	VPADDD   Y15, Y8, Y8

	VPBROADCASTQ 24(AX), Y14
	VPMULUDQ Y12, Y14, Y15
	VPADDQ   Y15, Y3, Y3
	VPMULLD  Y13, Y14, Y15
	VPADDD   Y15, Y9, Y9

	VPBROADCASTQ 32(AX), Y14
	VPMULUDQ Y12, Y14, Y15
	VPADDQ   Y15, Y4, Y4
	VPMULLD  Y13, Y14, Y15
	VPADDD   Y15, Y10, Y10

	VPBROADCASTQ 40(AX), Y14
	VPMULUDQ Y12, Y14, Y15
	VPADDQ   Y15, Y5, Y5
	VPMULLD  Y13, Y14, Y15
	VPADDD   Y15, Y11, Y11

	ADDQ $48, AX
	ADDQ $64, BX
	DECQ CX
	JNZ  loop

#define FOLD(lo, x) \
	VPSRLQ $32, x, Y15; \
	VPADDQ x, Y15, Y15; \
	VPSLLQ $32, Y15, Y15; \
	VPADDQ Y15, lo, lo; \
	VPADDQ (DI), lo, lo; \
	VMOVDQU lo, (DI); \
	ADDQ DX, DI

	FOLD(Y0, Y6)
	FOLD(Y1, Y7)
	FOLD(Y2, Y8)
	FOLD(Y3, Y9)
	FOLD(Y4, Y10)
	FOLD(Y5, Y11)

	VZEROUPPER
	RET

// func axpyAVX2(dst, x *uint64, n int, w uint64)
//
// dst[i] += w·x[i] for i < n, n a multiple of 4. The cross products come
// from one VPMULLD of x with w's halves swapped: low half lo(x)·hi(w),
// high half hi(x)·lo(w), both mod 2^32, each moved to the high half.
TEXT ·axpyAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ w+24(FP), AX
	VPBROADCASTQ w+24(FP), Y0
	RORQ $32, AX
	VMOVQ AX, X1
	VPBROADCASTQ X1, Y1
	MOVQ $0xffffffff00000000, AX
	VMOVQ AX, X2
	VPBROADCASTQ X2, Y2
	SHRQ $2, CX
	JZ   done

axpyloop:
	VMOVDQU  (SI), Y3
	VPMULUDQ Y3, Y0, Y4
	VPMULLD  Y3, Y1, Y5
	VPSLLQ   $32, Y5, Y6
	VPAND    Y2, Y5, Y5
	VPADDQ   Y5, Y6, Y5
	VPADDQ   Y4, Y5, Y5
	VPADDQ   (DI), Y5, Y5
	VMOVDQU  Y5, (DI)
	ADDQ     $32, SI
	ADDQ     $32, DI
	DECQ     CX
	JNZ      axpyloop

done:
	VZEROUPPER
	RET
