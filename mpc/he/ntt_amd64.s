//go:build amd64 && !purego

#include "textflag.h"

#include "arith_amd64.h"

// Lane permutations of the stages whose butterflies span t = 4, 2, 1
// coefficients of a block of 16 held as A (0–7) and B (8–15): for each
// t, the indices that gather the butterflies' first inputs (U), their
// second inputs (V), and those that put the outputs X, Y back into A
// and B.
DATA perm<>+0x000(SB)/8, $0
DATA perm<>+0x008(SB)/8, $1
DATA perm<>+0x010(SB)/8, $2
DATA perm<>+0x018(SB)/8, $3
DATA perm<>+0x020(SB)/8, $8
DATA perm<>+0x028(SB)/8, $9
DATA perm<>+0x030(SB)/8, $10
DATA perm<>+0x038(SB)/8, $11
DATA perm<>+0x040(SB)/8, $4
DATA perm<>+0x048(SB)/8, $5
DATA perm<>+0x050(SB)/8, $6
DATA perm<>+0x058(SB)/8, $7
DATA perm<>+0x060(SB)/8, $12
DATA perm<>+0x068(SB)/8, $13
DATA perm<>+0x070(SB)/8, $14
DATA perm<>+0x078(SB)/8, $15

DATA perm<>+0x080(SB)/8, $0
DATA perm<>+0x088(SB)/8, $1
DATA perm<>+0x090(SB)/8, $4
DATA perm<>+0x098(SB)/8, $5
DATA perm<>+0x0a0(SB)/8, $8
DATA perm<>+0x0a8(SB)/8, $9
DATA perm<>+0x0b0(SB)/8, $12
DATA perm<>+0x0b8(SB)/8, $13
DATA perm<>+0x0c0(SB)/8, $2
DATA perm<>+0x0c8(SB)/8, $3
DATA perm<>+0x0d0(SB)/8, $6
DATA perm<>+0x0d8(SB)/8, $7
DATA perm<>+0x0e0(SB)/8, $10
DATA perm<>+0x0e8(SB)/8, $11
DATA perm<>+0x0f0(SB)/8, $14
DATA perm<>+0x0f8(SB)/8, $15
DATA perm<>+0x100(SB)/8, $0
DATA perm<>+0x108(SB)/8, $1
DATA perm<>+0x110(SB)/8, $8
DATA perm<>+0x118(SB)/8, $9
DATA perm<>+0x120(SB)/8, $2
DATA perm<>+0x128(SB)/8, $3
DATA perm<>+0x130(SB)/8, $10
DATA perm<>+0x138(SB)/8, $11
DATA perm<>+0x140(SB)/8, $4
DATA perm<>+0x148(SB)/8, $5
DATA perm<>+0x150(SB)/8, $12
DATA perm<>+0x158(SB)/8, $13
DATA perm<>+0x160(SB)/8, $6
DATA perm<>+0x168(SB)/8, $7
DATA perm<>+0x170(SB)/8, $14
DATA perm<>+0x178(SB)/8, $15

DATA perm<>+0x180(SB)/8, $0
DATA perm<>+0x188(SB)/8, $2
DATA perm<>+0x190(SB)/8, $4
DATA perm<>+0x198(SB)/8, $6
DATA perm<>+0x1a0(SB)/8, $8
DATA perm<>+0x1a8(SB)/8, $10
DATA perm<>+0x1b0(SB)/8, $12
DATA perm<>+0x1b8(SB)/8, $14
DATA perm<>+0x1c0(SB)/8, $1
DATA perm<>+0x1c8(SB)/8, $3
DATA perm<>+0x1d0(SB)/8, $5
DATA perm<>+0x1d8(SB)/8, $7
DATA perm<>+0x1e0(SB)/8, $9
DATA perm<>+0x1e8(SB)/8, $11
DATA perm<>+0x1f0(SB)/8, $13
DATA perm<>+0x1f8(SB)/8, $15
DATA perm<>+0x200(SB)/8, $0
DATA perm<>+0x208(SB)/8, $8
DATA perm<>+0x210(SB)/8, $1
DATA perm<>+0x218(SB)/8, $9
DATA perm<>+0x220(SB)/8, $2
DATA perm<>+0x228(SB)/8, $10
DATA perm<>+0x230(SB)/8, $3
DATA perm<>+0x238(SB)/8, $11
DATA perm<>+0x240(SB)/8, $4
DATA perm<>+0x248(SB)/8, $12
DATA perm<>+0x250(SB)/8, $5
DATA perm<>+0x258(SB)/8, $13
DATA perm<>+0x260(SB)/8, $6
DATA perm<>+0x268(SB)/8, $14
DATA perm<>+0x270(SB)/8, $7
DATA perm<>+0x278(SB)/8, $15
DATA perm<>+0x280(SB)/8, $0
DATA perm<>+0x288(SB)/8, $0
DATA perm<>+0x290(SB)/8, $0
DATA perm<>+0x298(SB)/8, $0
DATA perm<>+0x2a0(SB)/8, $1
DATA perm<>+0x2a8(SB)/8, $1
DATA perm<>+0x2b0(SB)/8, $1
DATA perm<>+0x2b8(SB)/8, $1
DATA perm<>+0x2c0(SB)/8, $0
DATA perm<>+0x2c8(SB)/8, $0
DATA perm<>+0x2d0(SB)/8, $1
DATA perm<>+0x2d8(SB)/8, $1
DATA perm<>+0x2e0(SB)/8, $2
DATA perm<>+0x2e8(SB)/8, $2
DATA perm<>+0x2f0(SB)/8, $3
DATA perm<>+0x2f8(SB)/8, $3
GLOBL perm<>(SB), RODATA|NOPTR, $0x300

// Index registers: t = 4 uses Z8 (U and the A back), Z9 (V and the B
// back); t = 2: Z10, Z11 (gather), Z12, Z13 (back); t = 1: Z14, Z15,
// Z16, Z17.
#define LOADPERMS \
	VMOVDQU64 perm<>+0x000(SB), Z8;  \
	VMOVDQU64 perm<>+0x040(SB), Z9;  \
	VMOVDQU64 perm<>+0x080(SB), Z10; \
	VMOVDQU64 perm<>+0x0c0(SB), Z11; \
	VMOVDQU64 perm<>+0x100(SB), Z12; \
	VMOVDQU64 perm<>+0x140(SB), Z13; \
	VMOVDQU64 perm<>+0x180(SB), Z14; \
	VMOVDQU64 perm<>+0x1c0(SB), Z15; \
	VMOVDQU64 perm<>+0x200(SB), Z16; \
	VMOVDQU64 perm<>+0x240(SB), Z17; \
	VMOVDQU64 perm<>+0x280(SB), Z23; \
	VMOVDQU64 perm<>+0x2c0(SB), Z24

// GATHER sets Z2 (U) and Z3 (V) from the block in Z0 (A), Z1 (B).
#define GATHER(iu, iv) \
	VMOVDQA64 iu, Z2;         \
	VPERMI2Q  Z1, Z0, Z2;     \
	VMOVDQA64 iv, Z3;         \
	VPERMI2Q  Z1, Z0, Z3

// SCATTER sets Z0 (A) and Z1 (B) from the outputs x, y.
#define SCATTER(ia, ib, x, y) \
	VMOVDQA64 ia, Z0;         \
	VPERMI2Q  y, x, Z0;       \
	VMOVDQA64 ib, Z1;         \
	VPERMI2Q  y, x, Z1

// The roots of a stage's groups lie side by side (the root of group i
// of the stage with m groups is w[m+i]), so a block of 16 coefficients
// takes eight consecutive roots at span 1 (R8, R9), four at span 2
// (R10, R11), each for two lanes, and two at span 4 (R12, R13), each
// for four lanes: the indices of VPERMQ that spread them are in Z24
// (span 2) and Z23 (span 4). ROOTS1, ROOTS2 and ROOTS4 load a block's
// roots and quotients into Z20, Z21 (the high halves of the quotients
// into Z22) and advance the pointers to the next block's.
#define ROOTS1 \
	VMOVDQU64 (R8), Z20;      \
	VMOVDQU64 (R9), Z21;      \
	VPSRLQ    $32, Z21, Z22;  \
	ADDQ      $64, R8;        \
	ADDQ      $64, R9

#define ROOTS2 \
	VPERMQ (R10), Z24, Z20;   \
	VPERMQ (R11), Z24, Z21;   \
	VPSRLQ $32, Z21, Z22;     \
	ADDQ   $32, R10;          \
	ADDQ   $32, R11

#define ROOTS4 \
	VPERMQ (R12), Z23, Z20;   \
	VPERMQ (R13), Z23, Z21;   \
	VPSRLQ $32, Z21, Z22;     \
	ADDQ   $16, R12;          \
	ADDQ   $16, R13

#define TAILARGS \
	MOVQ p+0(FP), DI;         \
	MOVQ blocks+8(FP), CX;    \
	MOVQ q+32(FP), AX;        \
	CONSTS(AX);               \
	LOADPERMS;                \
	MOVQ w+16(FP), R8;        \
	MOVQ wq+24(FP), R9;       \
	MOVQ CX, AX;              \
	SHLQ $5, AX;              \
	LEAQ (R8)(AX*1), R10;     \
	LEAQ (R9)(AX*1), R11;     \
	SHRQ $1, AX;              \
	LEAQ (R8)(AX*1), R12;     \
	LEAQ (R9)(AX*1), R13;     \
	SHLQ $2, AX;              \
	ADDQ AX, R8;              \
	ADDQ AX, R9

// FWD sets x = u + w·v and y = u − w·v + 2q for u = Z2 (reduced to
// [0, 2q) first), v = Z3 and the roots in Z20–Z22.
#define FWD(x, y) \
	REDUCE(Z2, Z30, Z4);                       \
	SHOUP(Z3, Z20, Z21, Z22, Z4, Z5, Z6, Z7);  \
	VPADDQ Z4, Z2, x;                          \
	VPSUBQ Z4, Z2, y;                          \
	VPADDQ Z30, y, y

// INV sets x = u + v reduced to [0, 2q) and y = w·(u − v + 2q) for
// u = Z2, v = Z3 and the roots in Z20–Z22.
#define INV(x, y) \
	VPADDQ Z3, Z2, x;                          \
	REDUCE(x, Z30, Z4);                        \
	VPSUBQ Z3, Z2, Z6;                         \
	VPADDQ Z30, Z6, Z6;                        \
	SHOUP(Z6, Z20, Z21, Z22, y, Z4, Z5, Z7)

// The stages with one root per group: STAGEARGS loads the arguments
// (DI = p, CX = groups, DX = h in bytes, R8 and R9 the roots and
// quotients), GROUPROOTS broadcasts the group's root and sets BX to its
// first pair and R10 to the bytes left, NEXTGROUP moves to the next
// group and counts it down.
#define STAGEARGS \
	MOVQ p+0(FP), DI;      \
	MOVQ groups+8(FP), CX; \
	MOVQ h+16(FP), DX;     \
	MOVQ w+24(FP), R8;     \
	MOVQ wq+32(FP), R9;    \
	MOVQ q+40(FP), AX;     \
	CONSTS(AX);            \
	SHLQ $3, DX

#define GROUPROOTS \
	VPBROADCASTQ (R8), Z20;     \
	VPBROADCASTQ (R9), Z21;     \
	VPSRLQ       $32, Z21, Z22; \
	MOVQ         DI, BX;        \
	MOVQ         DX, R10

#define NEXTGROUP \
	LEAQ (DI)(DX*2), DI; \
	ADDQ $8, R8;         \
	ADDQ $8, R9;         \
	DECQ CX

// The routines, written once for both multiplications: BF is the
// butterfly (FWD, INV or their IFMA forms), MUL the scaling product, and
// EXTRA the constants the IFMA forms need beyond CONSTS (NOCONSTS for
// none).
#define NOCONSTS

#define FWDSTAGE(BF, EXTRA) \
	STAGEARGS;                     \
	EXTRA;                         \
fwdGroup:                          \
	GROUPROOTS;                    \
fwdLoop:                           \
	VMOVDQU64 (BX), Z2;            \
	VMOVDQU64 (BX)(DX*1), Z3;      \
	BF(Z0, Z1);                    \
	VMOVDQU64 Z0, (BX);            \
	VMOVDQU64 Z1, (BX)(DX*1);      \
	ADDQ      $64, BX;             \
	SUBQ      $64, R10;            \
	JNZ       fwdLoop;             \
	NEXTGROUP;                     \
	JNZ       fwdGroup;            \
	VZEROUPPER;                    \
	RET

#define FWDTAIL(BF, EXTRA) \
	TAILARGS;                      \
	EXTRA;                         \
fwdTailLoop:                       \
	VMOVDQU64 (DI), Z0;            \
	VMOVDQU64 64(DI), Z1;          \
	GATHER(Z8, Z9);                \
	ROOTS4;                        \
	BF(Z18, Z19);                  \
	SCATTER(Z8, Z9, Z18, Z19);     \
	GATHER(Z10, Z11);              \
	ROOTS2;                        \
	BF(Z18, Z19);                  \
	SCATTER(Z12, Z13, Z18, Z19);   \
	GATHER(Z14, Z15);              \
	ROOTS1;                        \
	BF(Z18, Z19);                  \
	SCATTER(Z16, Z17, Z18, Z19);   \
	REDUCE(Z0, Z30, Z4);           \
	REDUCE(Z0, Z31, Z4);           \
	REDUCE(Z1, Z30, Z4);           \
	REDUCE(Z1, Z31, Z4);           \
	VMOVDQU64 Z0, (DI);            \
	VMOVDQU64 Z1, 64(DI);          \
	ADDQ      $128, DI;            \
	DECQ      CX;                  \
	JNZ       fwdTailLoop;         \
	VZEROUPPER;                    \
	RET

#define INVHEAD(BF, EXTRA) \
	TAILARGS;                      \
	EXTRA;                         \
invHeadLoop:                       \
	VMOVDQU64 (DI), Z0;            \
	VMOVDQU64 64(DI), Z1;          \
	GATHER(Z14, Z15);              \
	ROOTS1;                        \
	BF(Z18, Z19);                  \
	SCATTER(Z16, Z17, Z18, Z19);   \
	GATHER(Z10, Z11);              \
	ROOTS2;                        \
	BF(Z18, Z19);                  \
	SCATTER(Z12, Z13, Z18, Z19);   \
	GATHER(Z8, Z9);                \
	ROOTS4;                        \
	BF(Z18, Z19);                  \
	SCATTER(Z8, Z9, Z18, Z19);     \
	VMOVDQU64 Z0, (DI);            \
	VMOVDQU64 Z1, 64(DI);          \
	ADDQ      $128, DI;            \
	DECQ      CX;                  \
	JNZ       invHeadLoop;         \
	VZEROUPPER;                    \
	RET

#define INVSTAGE(BF, EXTRA) \
	STAGEARGS;                     \
	EXTRA;                         \
invGroup:                          \
	GROUPROOTS;                    \
invLoop:                           \
	VMOVDQU64 (BX), Z2;            \
	VMOVDQU64 (BX)(DX*1), Z3;      \
	BF(Z0, Z1);                    \
	VMOVDQU64 Z0, (BX);            \
	VMOVDQU64 Z1, (BX)(DX*1);      \
	ADDQ      $64, BX;             \
	SUBQ      $64, R10;            \
	JNZ       invLoop;             \
	NEXTGROUP;                     \
	JNZ       invGroup;            \
	VZEROUPPER;                    \
	RET

// INVSCALE multiplies by c (quotient cq) with MUL, which sets Z0 to
// the product of Z2 and the constant in Z20–Z22.
#define INVSCALE(MUL, EXTRA) \
	MOVQ         p+0(FP), DI;      \
	MOVQ         vecs+8(FP), CX;   \
	MOVQ         q+32(FP), AX;     \
	CONSTS(AX);                    \
	EXTRA;                         \
	VPBROADCASTQ c+16(FP), Z20;    \
	VPBROADCASTQ cq+24(FP), Z21;   \
	VPSRLQ       $32, Z21, Z22;    \
scaleLoop:                         \
	VMOVDQU64 (DI), Z2;            \
	MUL;                           \
	REDUCE(Z0, Z31, Z4);           \
	VMOVDQU64 Z0, (DI);            \
	ADDQ      $64, DI;             \
	DECQ      CX;                  \
	JNZ       scaleLoop;           \
	VZEROUPPER;                    \
	RET

#define SCALE64 SHOUP(Z2, Z20, Z21, Z22, Z0, Z4, Z5, Z6)
#define SCALE52 SHOUP52(Z2, Z20, Z21, Z0, Z4)

// func fwdStageAVX512(p *uint64, groups, h int, w, wq *uint64, q uint64)
TEXT ·fwdStageAVX512(SB), NOSPLIT, $0-48
	FWDSTAGE(FWD, NOCONSTS)

// func fwdTailAVX512(p *uint64, blocks int, w, wq *uint64, q uint64)
TEXT ·fwdTailAVX512(SB), NOSPLIT, $0-40
	FWDTAIL(FWD, NOCONSTS)

// func invHeadAVX512(p *uint64, blocks int, w, wq *uint64, q uint64)
TEXT ·invHeadAVX512(SB), NOSPLIT, $0-40
	INVHEAD(INV, NOCONSTS)

// func invStageAVX512(p *uint64, groups, h int, w, wq *uint64, q uint64)
TEXT ·invStageAVX512(SB), NOSPLIT, $0-48
	INVSTAGE(INV, NOCONSTS)

// func invScaleAVX512(p *uint64, vecs int, c, cq, q uint64)
TEXT ·invScaleAVX512(SB), NOSPLIT, $0-40
	INVSCALE(SCALE64, NOCONSTS)

// The same transforms for moduli below 2^50 with AVX-512 IFMA: Shoup's
// multiplication by a root w with the quotient w' = ⌊w·2^52/q⌋, for
// values v < 4q < 2^52, is
//
//	w·v mod q ∈ [0, 2q) = lo52(w·v) + lo52(⌊v·w'/2^52⌋·(2^52 − q)) mod 2^52,
//
// three 52-bit multiply-adds in place of the 64-bit product assembled
// from four 32-bit ones. CONSTS52 sets Z25 = 2^52 − q and Z26 = 2^52 − 1
// (after CONSTS: Z31 = q).
#define CONSTS52 \
	MOVQ         $0x10000000000000, AX; \
	VPBROADCASTQ AX, Z25;               \
	VPSUBQ       Z31, Z25, Z25;         \
	MOVQ         $0xfffffffffffff, AX;  \
	VPBROADCASTQ AX, Z26

// SHOUP52 sets out to w·v mod q in [0, 2q) for v < 2^52, w < q and wq
// its 52-bit quotient; t1 is clobbered.
#define SHOUP52(v, w, wq, out, t1) \
	VPXORQ      t1, t1, t1;     \
	VPMADD52HUQ wq, v, t1;      \
	VPXORQ      out, out, out;  \
	VPMADD52LUQ w, v, out;      \
	VPMADD52LUQ Z25, t1, out;   \
	VPANDQ      Z26, out, out

#define FWD52(x, y) \
	REDUCE(Z2, Z30, Z4);              \
	SHOUP52(Z3, Z20, Z21, Z4, Z5);    \
	VPADDQ Z4, Z2, x;                 \
	VPSUBQ Z4, Z2, y;                 \
	VPADDQ Z30, y, y

#define INV52(x, y) \
	VPADDQ Z3, Z2, x;                 \
	REDUCE(x, Z30, Z4);               \
	VPSUBQ Z3, Z2, Z6;                \
	VPADDQ Z30, Z6, Z6;               \
	SHOUP52(Z6, Z20, Z21, y, Z5)

// func fwdStageIFMA(p *uint64, groups, h int, w, wq *uint64, q uint64)
TEXT ·fwdStageIFMA(SB), NOSPLIT, $0-48
	FWDSTAGE(FWD52, CONSTS52)

// func fwdTailIFMA(p *uint64, blocks int, w, wq *uint64, q uint64)
TEXT ·fwdTailIFMA(SB), NOSPLIT, $0-40
	FWDTAIL(FWD52, CONSTS52)

// func invHeadIFMA(p *uint64, blocks int, w, wq *uint64, q uint64)
TEXT ·invHeadIFMA(SB), NOSPLIT, $0-40
	INVHEAD(INV52, CONSTS52)

// func invStageIFMA(p *uint64, groups, h int, w, wq *uint64, q uint64)
TEXT ·invStageIFMA(SB), NOSPLIT, $0-48
	INVSTAGE(INV52, CONSTS52)

// func invScaleIFMA(p *uint64, vecs int, c, cq, q uint64)
TEXT ·invScaleIFMA(SB), NOSPLIT, $0-40
	INVSCALE(SCALE52, CONSTS52)
