//go:build amd64 && !purego

#include "textflag.h"

// Even qwords: the low halves of the four blocks of a ZMM register,
// where the tweaks go; the counters of four consecutive blocks, and
// their step; the spreads of eight listed tweaks over two registers.
DATA vaesConst<>+0x00(SB)/8, $-1
DATA vaesConst<>+0x08(SB)/8, $0
DATA vaesConst<>+0x10(SB)/8, $-1
DATA vaesConst<>+0x18(SB)/8, $0
DATA vaesConst<>+0x20(SB)/8, $-1
DATA vaesConst<>+0x28(SB)/8, $0
DATA vaesConst<>+0x30(SB)/8, $-1
DATA vaesConst<>+0x38(SB)/8, $0
DATA vaesConst<>+0x40(SB)/8, $0
DATA vaesConst<>+0x48(SB)/8, $0
DATA vaesConst<>+0x50(SB)/8, $1
DATA vaesConst<>+0x58(SB)/8, $0
DATA vaesConst<>+0x60(SB)/8, $2
DATA vaesConst<>+0x68(SB)/8, $0
DATA vaesConst<>+0x70(SB)/8, $3
DATA vaesConst<>+0x78(SB)/8, $0
DATA vaesConst<>+0x80(SB)/8, $4
DATA vaesConst<>+0x88(SB)/8, $0
DATA vaesConst<>+0x90(SB)/8, $4
DATA vaesConst<>+0x98(SB)/8, $0
DATA vaesConst<>+0xa0(SB)/8, $4
DATA vaesConst<>+0xa8(SB)/8, $0
DATA vaesConst<>+0xb0(SB)/8, $4
DATA vaesConst<>+0xb8(SB)/8, $0
DATA vaesConst<>+0xc0(SB)/8, $0
DATA vaesConst<>+0xc8(SB)/8, $0
DATA vaesConst<>+0xd0(SB)/8, $1
DATA vaesConst<>+0xd8(SB)/8, $1
DATA vaesConst<>+0xe0(SB)/8, $2
DATA vaesConst<>+0xe8(SB)/8, $2
DATA vaesConst<>+0xf0(SB)/8, $3
DATA vaesConst<>+0xf8(SB)/8, $3
DATA vaesConst<>+0x100(SB)/8, $4
DATA vaesConst<>+0x108(SB)/8, $4
DATA vaesConst<>+0x110(SB)/8, $5
DATA vaesConst<>+0x118(SB)/8, $5
DATA vaesConst<>+0x120(SB)/8, $6
DATA vaesConst<>+0x128(SB)/8, $6
DATA vaesConst<>+0x130(SB)/8, $7
DATA vaesConst<>+0x138(SB)/8, $7
GLOBL vaesConst<>(SB), RODATA|NOPTR, $0x140

// ROUNDKEYS broadcasts the eleven round keys at AX into Z16–Z26.
#define ROUNDKEYS \
	VBROADCASTI32X4 0(AX), Z16;   \
	VBROADCASTI32X4 16(AX), Z17;  \
	VBROADCASTI32X4 32(AX), Z18;  \
	VBROADCASTI32X4 48(AX), Z19;  \
	VBROADCASTI32X4 64(AX), Z20;  \
	VBROADCASTI32X4 80(AX), Z21;  \
	VBROADCASTI32X4 96(AX), Z22;  \
	VBROADCASTI32X4 112(AX), Z23; \
	VBROADCASTI32X4 128(AX), Z24; \
	VBROADCASTI32X4 144(AX), Z25; \
	VBROADCASTI32X4 160(AX), Z26

// ROUND applies one AES round with key k to the eight registers a…h.
#define ROUND(k, a, b, c, d, e, f, g, h) \
	VAESENC k, a, a; \
	VAESENC k, b, b; \
	VAESENC k, c, c; \
	VAESENC k, d, d; \
	VAESENC k, e, e; \
	VAESENC k, f, f; \
	VAESENC k, g, g; \
	VAESENC k, h, h

// ENC32 encrypts the 32 blocks in a…h under the round keys Z16–Z26.
#define ENC32(a, b, c, d, e, f, g, h) \
	VPXORQ Z16, a, a;                    \
	VPXORQ Z16, b, b;                    \
	VPXORQ Z16, c, c;                    \
	VPXORQ Z16, d, d;                    \
	VPXORQ Z16, e, e;                    \
	VPXORQ Z16, f, f;                    \
	VPXORQ Z16, g, g;                    \
	VPXORQ Z16, h, h;                    \
	ROUND(Z17, a, b, c, d, e, f, g, h);  \
	ROUND(Z18, a, b, c, d, e, f, g, h);  \
	ROUND(Z19, a, b, c, d, e, f, g, h);  \
	ROUND(Z20, a, b, c, d, e, f, g, h);  \
	ROUND(Z21, a, b, c, d, e, f, g, h);  \
	ROUND(Z22, a, b, c, d, e, f, g, h);  \
	ROUND(Z23, a, b, c, d, e, f, g, h);  \
	ROUND(Z24, a, b, c, d, e, f, g, h);  \
	ROUND(Z25, a, b, c, d, e, f, g, h);  \
	VAESENCLAST Z26, a, a;               \
	VAESENCLAST Z26, b, b;               \
	VAESENCLAST Z26, c, c;               \
	VAESENCLAST Z26, d, d;               \
	VAESENCLAST Z26, e, e;               \
	VAESENCLAST Z26, f, f;               \
	VAESENCLAST Z26, g, g;               \
	VAESENCLAST Z26, h, h

// XORPI adds π(x), in Z0–Z7, to Z8–Z15: the tweaks before the second
// pass, its outputs after.
#define XORPI \
	VPXORQ Z0, Z8, Z8;   \
	VPXORQ Z1, Z9, Z9;   \
	VPXORQ Z2, Z10, Z10; \
	VPXORQ Z3, Z11, Z11; \
	VPXORQ Z4, Z12, Z12; \
	VPXORQ Z5, Z13, Z13; \
	VPXORQ Z6, Z14, Z14; \
	VPXORQ Z7, Z15, Z15

// LISTED sets x and y to the listed tweaks of 8 blocks at off(R10),
// spread into the blocks' low halves (Z30, Z31 spread, Z27 masks).
#define LISTED(off, x, y) \
	VMOVDQU64 off(R10), Z28;  \
	VPERMQ    Z28, Z30, x;    \
	VPERMQ    Z28, Z31, y;    \
	VPANDQ    Z27, x, x;      \
	VPANDQ    Z27, y, y

// func tmmo32VAES(rk *[176]byte, dst, src *Block, n int, first uint64, tweaks *uint64)
//
// tmmo8Asm (aes_amd64.s) with VAES on 32 blocks at a time (n a positive
// multiple of 32): π(x) stays in Z0–Z7 between the passes.
TEXT ·tmmo32VAES(SB), NOSPLIT, $0-48
	MOVQ rk+0(FP), AX
	MOVQ dst+8(FP), DI
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), CX
	MOVQ tweaks+40(FP), R10
	ROUNDKEYS
	VMOVDQU64 vaesConst<>+0x00(SB), Z27
	VMOVDQU64 vaesConst<>+0xc0(SB), Z30
	VMOVDQU64 vaesConst<>+0x100(SB), Z31
	// Counter tweaks: Z28 = first + (0, 1, 2, 3) in the low halves, Z29
	// the step of four.
	VPBROADCASTQ first+32(FP), Z28
	VPANDQ       Z27, Z28, Z28
	VPADDQ       vaesConst<>+0x40(SB), Z28, Z28
	VMOVDQU64    vaesConst<>+0x80(SB), Z29

vaesLoop:
	VMOVDQU64 0(SI), Z0
	VMOVDQU64 64(SI), Z1
	VMOVDQU64 128(SI), Z2
	VMOVDQU64 192(SI), Z3
	VMOVDQU64 256(SI), Z4
	VMOVDQU64 320(SI), Z5
	VMOVDQU64 384(SI), Z6
	VMOVDQU64 448(SI), Z7
	ENC32(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	TESTQ R10, R10
	JZ    vaesCounter
	LISTED(0, Z8, Z9)
	LISTED(64, Z10, Z11)
	LISTED(128, Z12, Z13)
	LISTED(192, Z14, Z15)
	ADDQ  $256, R10
	JMP   vaesSecond

vaesCounter:
	VMOVDQA64 Z28, Z8
	VPADDQ    Z29, Z8, Z9
	VPADDQ    Z29, Z9, Z10
	VPADDQ    Z29, Z10, Z11
	VPADDQ    Z29, Z11, Z12
	VPADDQ    Z29, Z12, Z13
	VPADDQ    Z29, Z13, Z14
	VPADDQ    Z29, Z14, Z15
	VPADDQ    Z29, Z15, Z28

vaesSecond:
	XORPI
	ENC32(Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)
	XORPI
	VMOVDQU64 Z8, 0(DI)
	VMOVDQU64 Z9, 64(DI)
	VMOVDQU64 Z10, 128(DI)
	VMOVDQU64 Z11, 192(DI)
	VMOVDQU64 Z12, 256(DI)
	VMOVDQU64 Z13, 320(DI)
	VMOVDQU64 Z14, 384(DI)
	VMOVDQU64 Z15, 448(DI)
	ADDQ      $512, SI
	ADDQ      $512, DI
	SUBQ      $32, CX
	JNZ       vaesLoop
	VZEROUPPER
	RET

// Byte reversal within each 64-bit half of a block (VPSHUFB), and the
// counter step of four blocks in the high halves.
DATA ctrConst<>+0x00(SB)/8, $0x0001020304050607
DATA ctrConst<>+0x08(SB)/8, $0x08090a0b0c0d0e0f
DATA ctrConst<>+0x10(SB)/8, $0x0001020304050607
DATA ctrConst<>+0x18(SB)/8, $0x08090a0b0c0d0e0f
DATA ctrConst<>+0x20(SB)/8, $0x0001020304050607
DATA ctrConst<>+0x28(SB)/8, $0x08090a0b0c0d0e0f
DATA ctrConst<>+0x30(SB)/8, $0x0001020304050607
DATA ctrConst<>+0x38(SB)/8, $0x08090a0b0c0d0e0f
DATA ctrConst<>+0x40(SB)/8, $0
DATA ctrConst<>+0x48(SB)/8, $0
DATA ctrConst<>+0x50(SB)/8, $0
DATA ctrConst<>+0x58(SB)/8, $1
DATA ctrConst<>+0x60(SB)/8, $0
DATA ctrConst<>+0x68(SB)/8, $2
DATA ctrConst<>+0x70(SB)/8, $0
DATA ctrConst<>+0x78(SB)/8, $3
DATA ctrConst<>+0x80(SB)/8, $0
DATA ctrConst<>+0x88(SB)/8, $4
DATA ctrConst<>+0x90(SB)/8, $0
DATA ctrConst<>+0x98(SB)/8, $4
DATA ctrConst<>+0xa0(SB)/8, $0
DATA ctrConst<>+0xa8(SB)/8, $4
DATA ctrConst<>+0xb0(SB)/8, $0
DATA ctrConst<>+0xb8(SB)/8, $4
GLOBL ctrConst<>(SB), RODATA|NOPTR, $0xc0

// NEXTCTR sets x to the four big-endian counter blocks of Z28 (their
// numbers in the high halves, little-endian) and steps Z28 by four.
#define NEXTCTR(x) \
	VPSHUFB Z27, Z28, x; \
	VPADDQ  Z29, Z28, Z28

// func ctrVAES(rk *[176]byte, dst *Block, n int, first uint64)
//
// dst[i] = AES(rk, counter block first + i), the 128-bit big-endian
// counter of AES-CTR, for n a positive multiple of 4: 32 blocks at a
// time, then 4.
TEXT ·ctrVAES(SB), NOSPLIT, $0-32
	MOVQ rk+0(FP), AX
	MOVQ dst+8(FP), DI
	MOVQ n+16(FP), CX
	ROUNDKEYS
	VMOVDQU64       ctrConst<>+0x00(SB), Z27
	VMOVDQU64       ctrConst<>+0x80(SB), Z29
	// Z28: the counters first + (0, 1, 2, 3) in the high halves.
	VPBROADCASTQ    first+24(FP), Z28
	VPANDQ          ctrEven<>+0x00(SB), Z28, Z28
	VPADDQ          ctrConst<>+0x40(SB), Z28, Z28
	CMPQ            CX, $32
	JLT             ctrFour

ctrLoop:
	NEXTCTR(Z0)
	NEXTCTR(Z1)
	NEXTCTR(Z2)
	NEXTCTR(Z3)
	NEXTCTR(Z4)
	NEXTCTR(Z5)
	NEXTCTR(Z6)
	NEXTCTR(Z7)
	ENC32(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	VMOVDQU64 Z0, 0(DI)
	VMOVDQU64 Z1, 64(DI)
	VMOVDQU64 Z2, 128(DI)
	VMOVDQU64 Z3, 192(DI)
	VMOVDQU64 Z4, 256(DI)
	VMOVDQU64 Z5, 320(DI)
	VMOVDQU64 Z6, 384(DI)
	VMOVDQU64 Z7, 448(DI)
	ADDQ      $512, DI
	SUBQ      $32, CX
	CMPQ      CX, $32
	JGE       ctrLoop

ctrFour:
	TESTQ CX, CX
	JZ    ctrDone
	NEXTCTR(Z0)
	VPXORQ      Z16, Z0, Z0
	VAESENC     Z17, Z0, Z0
	VAESENC     Z18, Z0, Z0
	VAESENC     Z19, Z0, Z0
	VAESENC     Z20, Z0, Z0
	VAESENC     Z21, Z0, Z0
	VAESENC     Z22, Z0, Z0
	VAESENC     Z23, Z0, Z0
	VAESENC     Z24, Z0, Z0
	VAESENC     Z25, Z0, Z0
	VAESENCLAST Z26, Z0, Z0
	VMOVDQU64   Z0, 0(DI)
	ADDQ        $64, DI
	SUBQ        $4, CX
	JMP         ctrFour

ctrDone:
	VZEROUPPER
	RET

// The high halves of the four blocks of a register.
DATA ctrEven<>+0x00(SB)/8, $0
DATA ctrEven<>+0x08(SB)/8, $-1
DATA ctrEven<>+0x10(SB)/8, $0
DATA ctrEven<>+0x18(SB)/8, $-1
DATA ctrEven<>+0x20(SB)/8, $0
DATA ctrEven<>+0x28(SB)/8, $-1
DATA ctrEven<>+0x30(SB)/8, $0
DATA ctrEven<>+0x38(SB)/8, $-1
GLOBL ctrEven<>(SB), RODATA|NOPTR, $0x40
