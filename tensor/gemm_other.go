//go:build !amd64 || purego

package tensor

const hasSIMD = false

var simdKernel = goKernel

// axpyU64 sets dst[i] += w·x[i] for i < len(dst).
func axpyU64(dst, x []uint64, w uint64) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += w * x[i]
	}
}
