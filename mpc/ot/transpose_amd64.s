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

// func transpose128AVX2(dst *[128]Block, src *uint64, stride uintptr)
//
// Row r < 64 of the scratch holds the quarters' rows r in its four
// lanes: (A[r], B[r], C[r], D[r]) with [[A B] [C D]] the input (row i is
// the 16 bytes at src + i·stride). The six swap stages of transpose64
// run on all four lanes at once; then dst[r] = (Aᵀ[r], Cᵀ[r]) and
// dst[64+r] = (Bᵀ[r], Dᵀ[r]).
TEXT ·transpose128AVX2(SB), 0, $2048-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ stride+16(FP), DX

	// Gather.
	MOVQ DX, R8
	SHLQ $6, R8
	LEAQ (SI)(R8*1), R9 // row 64
	LEAQ 0(SP), BX
	MOVQ $64, CX
gather:
	VMOVDQU     (SI), X0
	VINSERTI128 $1, (R9), Y0, Y0
	VMOVDQU     Y0, (BX)
	ADDQ        DX, SI
	ADDQ        DX, R9
	ADDQ        $32, BX
	DECQ        CX
	JNZ         gather

	// Swap stages.
	LEAQ stages<>(SB), R11
	MOVQ $6, R12
	LEAQ 2048(SP), R13
stage:
	MOVQ         0(R11), AX
	MOVQ         AX, X14
	VPBROADCASTQ 8(R11), Y15
	MOVQ         AX, R10
	SHLQ         $5, R10 // j rows in bytes
	LEAQ         0(SP), BX
outer:
	MOVQ BX, CX
	LEAQ (BX)(R10*1), R14
inner:
	VMOVDQU (CX), Y0         // a[k]
	VMOVDQU (CX)(R10*1), Y1  // a[k|j]
	VPSRLQ  X14, Y0, Y2
	VPXOR   Y1, Y2, Y2
	VPAND   Y15, Y2, Y2      // t
	VPXOR   Y2, Y1, Y1
	VPSLLQ  X14, Y2, Y2
	VPXOR   Y2, Y0, Y0
	VMOVDQU Y0, (CX)
	VMOVDQU Y1, (CX)(R10*1)
	ADDQ    $32, CX
	CMPQ    CX, R14
	JNE     inner
	LEAQ    (BX)(R10*2), BX
	CMPQ    BX, R13
	JNE     outer
	ADDQ    $16, R11
	DECQ    R12
	JNZ     stage

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
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ stride+16(FP), DX

	// Gather.
	MOVQ DX, R8
	SHLQ $6, R8
	LEAQ (SI)(R8*1), R9 // row 64
	LEAQ 0(SP), BX
	MOVQ $64, CX
gather2:
	VMOVDQU      (SI), Y0
	VINSERTI64X4 $1, (R9), Z0, Z0
	VMOVDQU64    Z0, (BX)
	ADDQ         DX, SI
	ADDQ         DX, R9
	ADDQ         $64, BX
	DECQ         CX
	JNZ          gather2

	// Swap stages.
	LEAQ stages<>(SB), R11
	MOVQ $6, R12
	LEAQ 4096(SP), R13
stage2:
	MOVQ         0(R11), AX
	VPBROADCASTQ AX, Z14
	VPBROADCASTQ 8(R11), Z15
	MOVQ         AX, R10
	SHLQ         $6, R10 // j rows in bytes
	LEAQ         0(SP), BX
outer2:
	MOVQ BX, CX
	LEAQ (BX)(R10*1), R14
inner2:
	VMOVDQU64 (CX), Z0        // a[k]
	VMOVDQU64 (CX)(R10*1), Z1 // a[k|j]
	VPSRLVQ   Z14, Z0, Z2
	VPXORQ    Z1, Z2, Z2
	VPANDQ    Z15, Z2, Z2     // t
	VPXORQ    Z2, Z1, Z1
	VPSLLVQ   Z14, Z2, Z2
	VPXORQ    Z2, Z0, Z0
	VMOVDQU64 Z0, (CX)
	VMOVDQU64 Z1, (CX)(R10*1)
	ADDQ      $64, CX
	CMPQ      CX, R14
	JNE       inner2
	LEAQ      (BX)(R10*2), BX
	CMPQ      BX, R13
	JNE       outer2
	ADDQ      $16, R11
	DECQ      R12
	JNZ       stage2

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
