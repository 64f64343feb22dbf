//go:build amd64 && !purego

#include "textflag.h"

// The swap stages of a 64×64 bit transpose (see transpose64): distance
// j and the mask of the bits that move.
DATA stages<>+0(SB)/8, $32
DATA stages<>+8(SB)/8, $0x00000000ffffffff
DATA stages<>+16(SB)/8, $16
DATA stages<>+24(SB)/8, $0x0000ffff0000ffff
DATA stages<>+32(SB)/8, $8
DATA stages<>+40(SB)/8, $0x00ff00ff00ff00ff
DATA stages<>+48(SB)/8, $4
DATA stages<>+56(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA stages<>+64(SB)/8, $2
DATA stages<>+72(SB)/8, $0x3333333333333333
DATA stages<>+80(SB)/8, $1
DATA stages<>+88(SB)/8, $0x5555555555555555
GLOBL stages<>(SB), RODATA|NOPTR, $96

// GATHER loads the arguments and fills the scratch at 0(SP): its row r
// < 64 is the LOAD-wide input row r (at src + r·stride) in its low half
// and input row 64 + r above it (INSERT), STORE-d whole, 2^ROWLOG bytes.
#define GATHER(LOAD, INSERT, STORE, HALF, WHOLE, ROWLOG) \
	MOVQ   dst+0(FP), DI;         \
	MOVQ   src+8(FP), SI;         \
	MOVQ   stride+16(FP), DX;     \
	MOVQ   DX, R8;                \
	SHLQ   $6, R8;                \
	LEAQ   (SI)(R8*1), R9;        \
	LEAQ   0(SP), BX;             \
	MOVQ   $64, CX;               \
gather:                           \
	LOAD   (SI), HALF;            \
	INSERT $1, (R9), WHOLE, WHOLE; \
	STORE  WHOLE, (BX);           \
	ADDQ   DX, SI;                \
	ADDQ   DX, R9;                \
	ADDQ   $(1<<ROWLOG), BX;      \
	DECQ   CX;                    \
	JNZ    gather

// SWAPSTAGES runs the six swap stages of transpose64 on the scratch at
// 0(SP), END bytes of rows 2^ROWLOG bytes wide, with the moves and the
// logic of that width (MOV, XOR, AND) on registers A, B and T, the mask
// in M and the shift count in X14: at distance j, t = (a[k] >> j ⊕
// a[k|j]) ∧ mask; a[k|j] ⊕= t; a[k] ⊕= t << j. One definition for every
// register width.
#define SWAPSTAGES(MOV, XOR, AND, A, B, T, M, ROWLOG, END) \
	LEAQ         stages<>(SB), R11;     \
	MOVQ         $6, R12;               \
	LEAQ         END(SP), R13;          \
stage:                                  \
	MOVQ         0(R11), AX;            \
	MOVQ         AX, X14;               \
	VPBROADCASTQ 8(R11), M;             \
	MOVQ         AX, R10;               \
	SHLQ         $ROWLOG, R10;          \
	LEAQ         0(SP), BX;             \
outer:                                  \
	MOVQ         BX, CX;                \
	LEAQ         (BX)(R10*1), R14;      \
inner:                                  \
	MOV          (CX), A;               \
	MOV          (CX)(R10*1), B;        \
	VPSRLQ       X14, A, T;             \
	XOR          B, T, T;               \
	AND          M, T, T;               \
	XOR          T, B, B;               \
	VPSLLQ       X14, T, T;             \
	XOR          T, A, A;               \
	MOV          A, (CX);               \
	MOV          B, (CX)(R10*1);        \
	ADDQ         $(1<<ROWLOG), CX;      \
	CMPQ         CX, R14;               \
	JNE          inner;                 \
	LEAQ         (BX)(R10*2), BX;       \
	CMPQ         BX, R13;               \
	JNE          outer;                 \
	ADDQ         $16, R11;              \
	DECQ         R12;                   \
	JNZ          stage

// func transpose128AVX2(dst *[128]Block, src *uint64, stride uintptr)
//
// Row r < 64 of the scratch holds the quarters' rows r in its four
// lanes: (A[r], B[r], C[r], D[r]) with [[A B] [C D]] the input (row i is
// the 16 bytes at src + i·stride). The six swap stages of transpose64
// run on all four lanes at once; then dst[r] = (Aᵀ[r], Cᵀ[r]) and
// dst[64+r] = (Bᵀ[r], Dᵀ[r]).
TEXT ·transpose128AVX2(SB), 0, $2048-24
	GATHER(VMOVDQU, VINSERTI128, VMOVDQU, X0, Y0, 5)

	// Swap stages.
	SWAPSTAGES(VMOVDQU, VPXOR, VPAND, Y0, Y1, Y2, Y15, 5, 2048)

	// Scatter.
	LEAQ 0(SP), BX
	LEAQ 1024(DI), R9
	MOVQ $64, CX
scatter:
	VMOVDQU      (BX), Y0
	VPERMQ       $0xd8, Y0, Y0 // (Aᵀ, Cᵀ, Bᵀ, Dᵀ)
	VMOVDQU      X0, (DI)
	VEXTRACTI128 $1, Y0, (R9)
	ADDQ         $32, BX
	ADDQ         $16, DI
	ADDQ         $16, R9
	DECQ         CX
	JNZ          scatter

	VZEROUPPER
	RET

// The order of the quadwords of a scratch row after the stages of
// transpose256AVX512: (Aᵀ, Cᵀ) and (Bᵀ, Dᵀ) of the first block, then of
// the second.
DATA scatter2<>+0(SB)/8, $0
DATA scatter2<>+8(SB)/8, $4
DATA scatter2<>+16(SB)/8, $1
DATA scatter2<>+24(SB)/8, $5
DATA scatter2<>+32(SB)/8, $2
DATA scatter2<>+40(SB)/8, $6
DATA scatter2<>+48(SB)/8, $3
DATA scatter2<>+56(SB)/8, $7
GLOBL scatter2<>(SB), RODATA|NOPTR, $64

// func transpose256AVX512(dst *[256]Block, src *uint64, stride uintptr)
//
// transpose128AVX2 on two adjacent blocks at once (the second's rows
// the 16 bytes after the first's): row r < 64 of the scratch holds
// (A, B, A', B', C, D, C', D')[r] of the two blocks [[A B] [C D]] and
// [[A' B'] [C' D']], and the six swap stages run on all eight lanes.
TEXT ·transpose256AVX512(SB), 0, $4096-24
	GATHER(VMOVDQU, VINSERTI64X4, VMOVDQU64, Y0, Z0, 6)

	// Swap stages.
	SWAPSTAGES(VMOVDQU64, VPXORQ, VPANDQ, Z0, Z1, Z2, Z15, 6, 4096)

	// Scatter.
	VMOVDQU64 scatter2<>(SB), Z13
	LEAQ      0(SP), BX
	MOVQ      $64, CX
scatter2loop:
	VMOVDQU64     (BX), Z0
	VPERMQ        Z0, Z13, Z0
	VMOVDQU       X0, (DI)
	VEXTRACTI32X4 $1, Z0, 1024(DI)
	VEXTRACTI32X4 $2, Z0, 2048(DI)
	VEXTRACTI32X4 $3, Z0, 3072(DI)
	ADDQ          $64, BX
	ADDQ          $16, DI
	DECQ          CX
	JNZ           scatter2loop

	VZEROUPPER
	RET
