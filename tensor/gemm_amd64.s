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
