//go:build amd64 && !purego

#include "textflag.h"

// LOADG loads word block SI of expansion i (its pointer at i·8(DI)).
#define LOADG(i, z) \
	MOVQ      (i*8)(DI), AX; \
	VMOVDQU64 (AX)(SI*1), z

// STOREAT stores z at word block SI of the pointer at off(DI).
#define STOREAT(off, z) \
	MOVQ      off(DI), AX; \
	VMOVDQU64 z, (AX)(SI*1)

// func voleSums4AVX512(a *voleArgs)
//
// voleSums4 on eight words at a time: the 16 expansions' words in Z0–Z15
// (odd y in odd registers), the pair sums p into the even registers, the
// XORs of three by VPTERNLOGQ (0x96).
TEXT ·voleSums4AVX512(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), DI
	MOVQ 168(DI), CX
	XORQ SI, SI

voleLoop:
	LOADG(0, Z0)
	LOADG(1, Z1)
	LOADG(2, Z2)
	LOADG(3, Z3)
	LOADG(4, Z4)
	LOADG(5, Z5)
	LOADG(6, Z6)
	LOADG(7, Z7)
	LOADG(8, Z8)
	LOADG(9, Z9)
	LOADG(10, Z10)
	LOADG(11, Z11)
	LOADG(12, Z12)
	LOADG(13, Z13)
	LOADG(14, Z14)
	LOADG(15, Z15)
	// p_i = g_2i ⊕ g_2i+1 into Z0, Z2, …, Z14.
	VPXORQ Z1, Z0, Z0
	VPXORQ Z3, Z2, Z2
	VPXORQ Z5, Z4, Z4
	VPXORQ Z7, Z6, Z6
	VPXORQ Z9, Z8, Z8
	VPXORQ Z11, Z10, Z10
	VPXORQ Z13, Z12, Z12
	VPXORQ Z15, Z14, Z14
	// v0: the odd expansions.
	VPTERNLOGQ $0x96, Z5, Z3, Z1
	VPTERNLOGQ $0x96, Z9, Z7, Z1
	VPTERNLOGQ $0x96, Z13, Z11, Z1
	VPXORQ     Z15, Z1, Z1
	// v1 = p1 ⊕ p3 ⊕ p5 ⊕ p7.
	VMOVDQA64  Z2, Z16
	VPTERNLOGQ $0x96, Z10, Z6, Z16
	VPXORQ     Z14, Z16, Z16
	// q0…q3 = p0⊕p1, p2⊕p3, p4⊕p5, p6⊕p7; v2 = q1 ⊕ q3; v3 = q2 ⊕ q3;
	// u = q0 ⊕ q1 ⊕ v3.
	VPXORQ     Z2, Z0, Z17
	VPXORQ     Z6, Z4, Z18
	VPXORQ     Z10, Z8, Z19
	VPXORQ     Z14, Z12, Z20
	VPXORQ     Z20, Z18, Z21
	VPXORQ     Z20, Z19, Z22
	VPTERNLOGQ $0x96, Z22, Z18, Z17
	STOREAT(128, Z1)
	STOREAT(136, Z16)
	STOREAT(144, Z21)
	STOREAT(152, Z22)
	STOREAT(160, Z17)
	ADDQ $64, SI
	SUBQ $8, CX
	JNZ  voleLoop
	VZEROUPPER
	RET
