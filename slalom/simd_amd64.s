//go:build amd64 && !purego

#include "textflag.h"

// VPSHUFB mask turning 16+16 loaded bytes into eight 24-bit residues, one
// per dword: the low lane holds bytes 0-15 of the row (residues 0-3 at
// 0, 3, 6, 9), the high lane bytes 8-23 (residues 4-7 at 4, 7, 10, 13).
DATA decodeShuf<>+0(SB)/8, $0x8005040380020100
DATA decodeShuf<>+8(SB)/8, $0x800b0a0980080706
DATA decodeShuf<>+16(SB)/8, $0x8009080780060504
DATA decodeShuf<>+24(SB)/8, $0x800f0e0d800c0b0a
GLOBL decodeShuf<>(SB), RODATA|NOPTR, $32

// DECODE_SUMS: Y0 = eight residues from (SI); Y8 = lane-wise max;
// Y7 += v·r0 and Y6 += v·r1 (even and odd dwords into 64-bit lanes).
#define DECODE_SUMS \
	VMOVDQU (SI), X0; \
	VINSERTI128 $1, 8(SI), Y0, Y0; \
	VPSHUFB Y15, Y0, Y0; \
	VPMAXUD Y0, Y8, Y8; \
	VPSRLQ $32, Y0, Y3; \
	VMOVDQU (R8), Y1; \
	VPMULUDQ Y0, Y1, Y2; \
	VPADDQ Y2, Y7, Y7; \
	VPSRLQ $32, Y1, Y1; \
	VPMULUDQ Y3, Y1, Y2; \
	VPADDQ Y2, Y7, Y7; \
	VMOVDQU (R9), Y1; \
	VPMULUDQ Y0, Y1, Y2; \
	VPADDQ Y2, Y6, Y6; \
	VPSRLQ $32, Y1, Y1; \
	VPMULUDQ Y3, Y1, Y2; \
	VPADDQ Y2, Y6, Y6

// LIFT_POST_STORE: Y0 lifted to [−H, H], (+ half) >> k, clamped to
// [lo, hi], stored at (DI) as eight int64.
#define LIFT_POST_STORE \
	VPCMPGTD Y13, Y0, Y1; \
	VPAND Y14, Y1, Y1; \
	VPSUBD Y1, Y0, Y0; \
	VPADDD Y12, Y0, Y0; \
	VPSRAD X11, Y0, Y0; \
	VPMAXSD Y10, Y0, Y0; \
	VPMINSD Y9, Y0, Y0; \
	VPMOVSXDQ X0, Y1; \
	VMOVDQU Y1, (DI); \
	VEXTRACTI128 $1, Y0, X2; \
	VPMOVSXDQ X2, Y2; \
	VMOVDQU Y2, 32(DI)

// func decodeRowAVX2(z *int64, b *byte, r0, r1, u *uint32, n int, prm *decodeParams, acc *[12]uint64)
//
// For i < n (a multiple of 8): v = the residue at b[3i:3i+3];
// acc[0:4] += lanes of v·r0, acc[4:8] += lanes of v·r1 (64-bit lanes, two
// products each per step), acc[8:12] = lane-wise max of v (eight uint32);
// w = v − u[i] mod P (u ≠ nil); lift w to [−H, H]; z[i] =
// clamp((w + half) >> k, lo, hi).
//
// Y15 shuffle, Y14 P, Y13 H, Y12 half, X11 k, Y10 lo, Y9 hi,
// Y8 max, Y7 Σv·r0, Y6 Σv·r1.
TEXT ·decodeRowAVX2(SB), NOSPLIT, $0-64
	MOVQ z+0(FP), DI
	MOVQ b+8(FP), SI
	MOVQ r0+16(FP), R8
	MOVQ r1+24(FP), R9
	MOVQ u+32(FP), R10
	MOVQ n+40(FP), CX
	MOVQ prm+48(FP), AX
	MOVQ acc+56(FP), DX

	VMOVDQU decodeShuf<>(SB), Y15
	VPBROADCASTD 0(AX), Y14
	VPBROADCASTD 4(AX), Y13
	VPBROADCASTD 8(AX), Y12
	VMOVQ 16(AX), X11
	VPBROADCASTD 24(AX), Y10
	VPBROADCASTD 28(AX), Y9
	VMOVDQU 0(DX), Y7
	VMOVDQU 32(DX), Y6
	VMOVDQU 64(DX), Y8

	TESTQ R10, R10
	JZ plain

blinded:
	CMPQ CX, $0
	JLE done
	DECODE_SUMS
	VMOVDQU (R10), Y1
	VPSUBD Y1, Y0, Y0
	VPSRAD $31, Y0, Y1
	VPAND Y14, Y1, Y1
	VPADDD Y1, Y0, Y0
	LIFT_POST_STORE
	ADDQ $24, SI
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $32, R10
	ADDQ $64, DI
	SUBQ $8, CX
	JMP blinded

plain:
	CMPQ CX, $0
	JLE done
	DECODE_SUMS
	LIFT_POST_STORE
	ADDQ $24, SI
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $64, DI
	SUBQ $8, CX
	JMP plain

done:
	VMOVDQU Y7, 0(DX)
	VMOVDQU Y6, 32(DX)
	VMOVDQU Y8, 64(DX)
	VZEROUPPER
	RET

// CLAMP_CONSTANTS: Y15 = 0, Y14 = P in every 64-bit lane.
#define CLAMP_CONSTANTS \
	VPXOR Y15, Y15, Y15; \
	MOVQ $16777213, BX; \
	VMOVQ BX, X14; \
	VPBROADCASTQ X14, Y14

// LOAD_CLAMP_RESIDUE: Y0 = four int64 from (SI), clamped to [Y12, Y13]
// (−c, c), negative values plus P.
#define LOAD_CLAMP_RESIDUE \
	VMOVDQU (SI), Y0; \
	VPCMPGTQ Y13, Y0, Y1; \
	VPBLENDVB Y1, Y13, Y0, Y0; \
	VPCMPGTQ Y0, Y12, Y1; \
	VPBLENDVB Y1, Y12, Y0, Y0; \
	VPCMPGTQ Y0, Y15, Y1; \
	VPAND Y14, Y1, Y1; \
	VPADDQ Y1, Y0, Y0

// func dotClampAVX2(x *int64, s0, s1 *uint32, n int, c int64, acc *[8]uint64)
//
// For i < n (a multiple of 4): a = clamp(x[i], −c, c) mod P (c < P);
// acc[0:4] += lanes of a·s0[i], acc[4:8] += lanes of a·s1[i].
//
// Y15 zero, Y14 P, Y13 c, Y12 −c, Y7 Σa·s0, Y6 Σa·s1.
TEXT ·dotClampAVX2(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ s0+8(FP), R8
	MOVQ s1+16(FP), R9
	MOVQ n+24(FP), CX
	MOVQ c+32(FP), AX
	MOVQ acc+40(FP), DX

	CLAMP_CONSTANTS
	VMOVQ AX, X13
	VPBROADCASTQ X13, Y13
	VPSUBQ Y13, Y15, Y12
	VMOVDQU 0(DX), Y7
	VMOVDQU 32(DX), Y6

dotloop:
	CMPQ CX, $0
	JLE dotdone
	LOAD_CLAMP_RESIDUE
	VPMOVZXDQ (R8), Y2
	VPMULUDQ Y0, Y2, Y2
	VPADDQ Y2, Y7, Y7
	VPMOVZXDQ (R9), Y3
	VPMULUDQ Y0, Y3, Y3
	VPADDQ Y3, Y6, Y6
	ADDQ $32, SI
	ADDQ $16, R8
	ADDQ $16, R9
	SUBQ $4, CX
	JMP dotloop

dotdone:
	VMOVDQU Y7, 0(DX)
	VMOVDQU Y6, 32(DX)
	VZEROUPPER
	RET

// func unpack24AVX2(dst *uint32, src *byte, n int) uint32
//
// dst[i] = the 24-bit little-endian value at src[3i:3i+3] for i < n (a
// multiple of 8); returns the largest.
TEXT ·unpack24AVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VMOVDQU decodeShuf<>(SB), Y15
	VPXOR Y8, Y8, Y8

unpackloop:
	CMPQ CX, $0
	JLE unpackdone
	VMOVDQU (SI), X0
	VINSERTI128 $1, 8(SI), Y0, Y0
	VPSHUFB Y15, Y0, Y0
	VPMAXUD Y0, Y8, Y8
	VMOVDQU Y0, (DI)
	ADDQ $24, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP unpackloop

unpackdone:
	VEXTRACTI128 $1, Y8, X1
	VPMAXUD X1, X8, X8
	VPSHUFD $0x4E, X8, X1
	VPMAXUD X1, X8, X8
	VPSHUFD $0xB1, X8, X1
	VPMAXUD X1, X8, X8
	VMOVD X8, AX
	MOVL AX, ret+24(FP)
	VZEROUPPER
	RET

// VPSHUFB mask packing four dwords (each < 2^24) into 12 bytes.
DATA pack24<>+0(SB)/8, $0x0908060504020100
DATA pack24<>+8(SB)/8, $0x808080800e0d0c0a
GLOBL pack24<>(SB), RODATA|NOPTR, $16

// func encodeAVX2(out *byte, x *int64, r, s0, s1 *uint32, n int, c int64, acc *[8]uint64)
//
// For i < n (a multiple of 4): a = clamp(x[i], −c, c) mod P, plus r[i]
// mod P if r ≠ nil; out[3i:3i+3] = a (little endian); if s0 ≠ nil,
// acc[0:4] += lanes of a·s0[i] and acc[4:8] += lanes of a·s1[i].
//
// Y15 zero, Y14 P, Y13 c, Y12 −c, Y11 P−1, X10 pack mask,
// Y7 Σa·s0, Y6 Σa·s1.
TEXT ·encodeAVX2(SB), NOSPLIT, $0-64
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ r+16(FP), R8
	MOVQ s0+24(FP), R9
	MOVQ s1+32(FP), R10
	MOVQ n+40(FP), CX
	MOVQ c+48(FP), AX
	MOVQ acc+56(FP), DX

	CLAMP_CONSTANTS
	MOVQ $16777212, BX
	VMOVQ BX, X11
	VPBROADCASTQ X11, Y11
	VMOVQ AX, X13
	VPBROADCASTQ X13, Y13
	VPSUBQ Y13, Y15, Y12
	VMOVDQU pack24<>(SB), X10
	VMOVDQU 0(DX), Y7
	VMOVDQU 32(DX), Y6

encloop:
	CMPQ CX, $0
	JLE encdone
	LOAD_CLAMP_RESIDUE
	TESTQ R8, R8
	JZ encnor
	VPMOVZXDQ (R8), Y1
	VPADDQ Y1, Y0, Y0
	VPCMPGTQ Y11, Y0, Y1
	VPAND Y14, Y1, Y1
	VPSUBQ Y1, Y0, Y0
	ADDQ $16, R8

encnor:
	TESTQ R9, R9
	JZ encnos
	VPMOVZXDQ (R9), Y2
	VPMULUDQ Y0, Y2, Y2
	VPADDQ Y2, Y7, Y7
	VPMOVZXDQ (R10), Y3
	VPMULUDQ Y0, Y3, Y3
	VPADDQ Y3, Y6, Y6
	ADDQ $16, R9
	ADDQ $16, R10

encnos:
	VPSHUFD $0x08, Y0, Y0
	VPERMQ $0x08, Y0, Y0
	VPSHUFB X10, X0, X0
	VMOVQ X0, (DI)
	VPEXTRD $2, X0, 8(DI)
	ADDQ $32, SI
	ADDQ $12, DI
	SUBQ $4, CX
	JMP encloop

encdone:
	VMOVDQU Y7, 0(DX)
	VMOVDQU Y6, 32(DX)
	VZEROUPPER
	RET
