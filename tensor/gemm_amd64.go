//go:build amd64 && !purego

package tensor

import "golang.org/x/sys/cpu"

var hasSIMD = cpu.X86.HasAVX2

// simdKernel is the AVX2 micro-kernel: a 6×4 tile of C.
var simdKernel = microKernel{mr: 6, nr: 4, bw: 8, swap: true, run: kernelAVX2x6x4}

func kernelAVX2x6x4(k int, a, b, c []uint64, ldc int) {
	_ = a[6*k-1]
	_ = b[8*k-1]
	_ = c[5*ldc+3]
	gemm6x4AVX2(k, &a[0], &b[0], &c[0], ldc)
}

// gemm6x4AVX2 adds to the 6×4 tile at c (row stride ldc) the product of
// the packed panels a (6 values a step) and b (4 values then the same 4
// with 32-bit halves swapped, a step) over k ≥ 1 steps.
//
//go:noescape
func gemm6x4AVX2(k int, a, b, c *uint64, ldc int)

// axpyU64 sets dst[i] += w·x[i] for i < len(dst).
func axpyU64(dst, x []uint64, w uint64) {
	x = x[:len(dst)]
	n := len(dst) &^ 3
	if useSIMD && hasSIMD && n > 0 {
		axpyAVX2(&dst[0], &x[0], n, w)
		dst, x = dst[n:], x[n:]
	}
	for i := range dst {
		dst[i] += w * x[i]
	}
}

// axpyAVX2 sets dst[i] += w·x[i] for i < n, n a multiple of 4.
//
//go:noescape
func axpyAVX2(dst, x *uint64, n int, w uint64)
