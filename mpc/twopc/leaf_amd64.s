//go:build amd64 && !purego

#include "textflag.h"

// BUILD2 sets Z10 to the four keys K_0, K_0 ⊕ d_0, K_0 ⊕ d_1 and
// K_0 ⊕ d_0 ⊕ d_1 from K_0 in X0, d_0 in X4 and d_1 in X5 (K1 masks
// lanes 1 and 3, K2 lanes 2 and 3).
#define BUILD2 \
	VSHUFI64X2 $0, Z0, Z0, Z10; \
	VSHUFI64X2 $0, Z4, Z4, Z8;  \
	VPXORQ     Z8, Z10, K1, Z10; \
	VSHUFI64X2 $0, Z5, Z5, Z9;  \
	VPXORQ     Z9, Z10, K2, Z10

// func leafKeysAVX512(k0, k1 *ot.Block, widths *uint8, n int, dst *ot.Block)
//
// Per leaf of b bits: K_0 and d_j = k_j^0 ⊕ k_j^1 in X registers, then
// the 2^b keys four to a register, the registers for bit 2 and bit 3 by
// one broadcast XOR each.
TEXT ·leafKeysAVX512(SB), NOSPLIT, $0-40
	MOVQ  k0+0(FP), SI
	MOVQ  k1+8(FP), DX
	MOVQ  widths+16(FP), BX
	MOVQ  n+24(FP), CX
	MOVQ  dst+32(FP), DI
	MOVQ  $0xcc, AX
	KMOVW AX, K1
	MOVQ  $0xf0, AX
	KMOVW AX, K2

keysLoop:
	MOVBQZX (BX), R8
	VMOVDQU (SI), X0
	VPXOR   (DX), X0, X4
	CMPQ    R8, $2
	JB      keys1
	VMOVDQU 16(SI), X1
	VPXOR   X1, X0, X0
	VPXOR   16(DX), X1, X5
	JE      keys2
	VMOVDQU 32(SI), X2
	VPXOR   X2, X0, X0
	VPXOR   32(DX), X2, X6
	CMPQ    R8, $3
	JE      keys3
	VMOVDQU 48(SI), X3
	VPXOR   X3, X0, X0
	VPXOR   48(DX), X3, X7
	BUILD2
	VSHUFI64X2 $0, Z6, Z6, Z12
	VPXORQ     Z12, Z10, Z11
	VSHUFI64X2 $0, Z7, Z7, Z13
	VPXORQ     Z13, Z10, Z14
	VPXORQ     Z13, Z11, Z15
	VMOVDQU64  Z10, 0(DI)
	VMOVDQU64  Z11, 64(DI)
	VMOVDQU64  Z14, 128(DI)
	VMOVDQU64  Z15, 192(DI)
	ADDQ       $64, SI
	ADDQ       $64, DX
	ADDQ       $256, DI
	JMP        keysNext

keys3:
	BUILD2
	VSHUFI64X2 $0, Z6, Z6, Z12
	VPXORQ     Z12, Z10, Z11
	VMOVDQU64  Z10, 0(DI)
	VMOVDQU64  Z11, 64(DI)
	ADDQ       $48, SI
	ADDQ       $48, DX
	ADDQ       $128, DI
	JMP        keysNext

keys2:
	BUILD2
	VMOVDQU64 Z10, 0(DI)
	ADDQ      $32, SI
	ADDQ      $32, DX
	ADDQ      $64, DI
	JMP       keysNext

keys1:
	VSHUFI64X2 $0, Z0, Z0, Z10
	VSHUFI64X2 $0, Z4, Z4, Z8
	VPXORQ     Z8, Z10, K1, Z10
	VMOVDQU    Y10, 0(DI)
	ADDQ       $16, SI
	ADDQ       $16, DX
	ADDQ       $32, DI

keysNext:
	INCQ BX
	DECQ CX
	JNZ  keysLoop
	VZEROUPPER
	RET

// The low two bits of each block's low half, and the shifts that put
// pad w's bits at 2w: pads 0–3, 4–7, 8–11 and 12–15 of a leaf.
DATA leafConst<>+0x00(SB)/8, $3
DATA leafConst<>+0x08(SB)/8, $0
DATA leafConst<>+0x10(SB)/8, $3
DATA leafConst<>+0x18(SB)/8, $0
DATA leafConst<>+0x20(SB)/8, $3
DATA leafConst<>+0x28(SB)/8, $0
DATA leafConst<>+0x30(SB)/8, $3
DATA leafConst<>+0x38(SB)/8, $0
DATA leafConst<>+0x40(SB)/8, $0
DATA leafConst<>+0x48(SB)/8, $0
DATA leafConst<>+0x50(SB)/8, $2
DATA leafConst<>+0x58(SB)/8, $0
DATA leafConst<>+0x60(SB)/8, $4
DATA leafConst<>+0x68(SB)/8, $0
DATA leafConst<>+0x70(SB)/8, $6
DATA leafConst<>+0x78(SB)/8, $0
DATA leafConst<>+0x80(SB)/8, $8
DATA leafConst<>+0x88(SB)/8, $0
DATA leafConst<>+0x90(SB)/8, $10
DATA leafConst<>+0x98(SB)/8, $0
DATA leafConst<>+0xa0(SB)/8, $12
DATA leafConst<>+0xa8(SB)/8, $0
DATA leafConst<>+0xb0(SB)/8, $14
DATA leafConst<>+0xb8(SB)/8, $0
DATA leafConst<>+0xc0(SB)/8, $16
DATA leafConst<>+0xc8(SB)/8, $0
DATA leafConst<>+0xd0(SB)/8, $18
DATA leafConst<>+0xd8(SB)/8, $0
DATA leafConst<>+0xe0(SB)/8, $20
DATA leafConst<>+0xe8(SB)/8, $0
DATA leafConst<>+0xf0(SB)/8, $22
DATA leafConst<>+0xf8(SB)/8, $0
DATA leafConst<>+0x100(SB)/8, $24
DATA leafConst<>+0x108(SB)/8, $0
DATA leafConst<>+0x110(SB)/8, $26
DATA leafConst<>+0x118(SB)/8, $0
DATA leafConst<>+0x120(SB)/8, $28
DATA leafConst<>+0x128(SB)/8, $0
DATA leafConst<>+0x130(SB)/8, $30
DATA leafConst<>+0x138(SB)/8, $0
GLOBL leafConst<>(SB), RODATA|NOPTR, $0x140

// PICK masks the two low bits of each block's low half in r and moves
// them to their place (shifts s).
#define PICK(s, r) \
	VPANDQ  Z20, r, r; \
	VPSLLVQ s, r, r

// func leafWordsAVX512(pads *ot.Block, widths *uint8, n int, words *uint32)
TEXT ·leafWordsAVX512(SB), NOSPLIT, $0-32
	MOVQ      pads+0(FP), SI
	MOVQ      widths+8(FP), BX
	MOVQ      n+16(FP), CX
	MOVQ      words+24(FP), DI
	VMOVDQU64 leafConst<>+0x00(SB), Z20
	VMOVDQU64 leafConst<>+0x40(SB), Z21
	VMOVDQU64 leafConst<>+0x80(SB), Z22
	VMOVDQU64 leafConst<>+0xc0(SB), Z23
	VMOVDQU64 leafConst<>+0x100(SB), Z24

wordsLoop:
	MOVBQZX (BX), R8
	CMPQ    R8, $2
	JB      words1
	JE      words2
	CMPQ    R8, $3
	JE      words3
	VMOVDQU64 0(SI), Z0
	VMOVDQU64 64(SI), Z1
	VMOVDQU64 128(SI), Z2
	VMOVDQU64 192(SI), Z3
	PICK(Z21, Z0)
	PICK(Z22, Z1)
	PICK(Z23, Z2)
	PICK(Z24, Z3)
	VPORQ     Z1, Z0, Z0
	VPORQ     Z3, Z2, Z2
	VPORQ     Z2, Z0, Z0
	ADDQ      $256, SI
	JMP       wordsReduce

words3:
	VMOVDQU64 0(SI), Z0
	VMOVDQU64 64(SI), Z1
	PICK(Z21, Z0)
	PICK(Z22, Z1)
	VPORQ     Z1, Z0, Z0
	ADDQ      $128, SI
	JMP       wordsReduce

words2:
	VMOVDQU64 0(SI), Z0
	PICK(Z21, Z0)
	ADDQ      $64, SI
	JMP       wordsReduce

words1:
	VMOVDQU (SI), Y0
	PICK(Z21, Z0)
	ADDQ    $32, SI

wordsReduce:
	VEXTRACTI64X4 $1, Z0, Y1
	VPOR          Y1, Y0, Y0
	VEXTRACTI128  $1, Y0, X1
	VPOR          X1, X0, X0
	MOVQ          X0, AX
	MOVL          AX, (DI)
	ADDQ          $4, DI
	INCQ          BX
	DECQ          CX
	JNZ           wordsLoop
	VZEROUPPER
	RET

// func leafPadKeysAsm(keys *ot.Block, widths *uint8, n int, pads *ot.Block)
TEXT ·leafPadKeysAsm(SB), NOSPLIT, $0-32
	MOVQ keys+0(FP), SI
	MOVQ widths+8(FP), BX
	MOVQ n+16(FP), CX
	MOVQ pads+24(FP), DI

padLoop:
	MOVBQZX (BX), R8
	VMOVDQU (SI), X0
	CMPQ    R8, $2
	JB      padStore
	VPXOR   16(SI), X0, X0
	JE      padStore
	VPXOR   32(SI), X0, X0
	CMPQ    R8, $3
	JE      padStore
	VPXOR   48(SI), X0, X0

padStore:
	VMOVDQU X0, (DI)
	SHLQ    $4, R8
	ADDQ    R8, SI
	ADDQ    $16, DI
	INCQ    BX
	DECQ    CX
	JNZ     padLoop
	VZEROUPPER
	RET
