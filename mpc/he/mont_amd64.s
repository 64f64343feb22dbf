//go:build amd64 && !purego

#include "textflag.h"
#include "arith_amd64.h"

// func mulAddPairAVX512(k, x0, x1, acc0, acc1 *uint64, vecs int, q, qInv uint64)
TEXT ·mulAddPairAVX512(SB), NOSPLIT, $0-64
	MOVQ         q+48(FP), AX
	CONSTS(AX)
	VPBROADCASTQ qInv+56(FP), Z28
	VPSRLQ       $32, Z31, Z27
	MOVQ         k+0(FP), SI
	MOVQ         x0+8(FP), R8
	MOVQ         x1+16(FP), R9
	MOVQ         acc0+24(FP), R10
	MOVQ         acc1+32(FP), R11
	MOVQ         vecs+40(FP), CX

mulAddLoop:
	VMOVDQU64 (SI), Z0
	VPSRLQ    $32, Z0, Z1
	VMOVDQU64 (R8), Z2
	MONT(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	VPADDQ    (R10), Z3, Z3
	REDUCE(Z3, Z30, Z4)
	VMOVDQU64 Z3, (R10)
	VMOVDQU64 (R9), Z12
	MONT(Z0, Z1, Z12, Z13, Z14, Z15, Z16, Z17)
	VPADDQ    (R11), Z13, Z13
	REDUCE(Z13, Z30, Z14)
	VMOVDQU64 Z13, (R11)
	ADDQ      $64, SI
	ADDQ      $64, R8
	ADDQ      $64, R9
	ADDQ      $64, R10
	ADDQ      $64, R11
	DECQ      CX
	JNZ       mulAddLoop
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
