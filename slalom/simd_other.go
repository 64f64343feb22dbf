//go:build !amd64 || purego

package slalom

const hasSIMD = false

const cpuSIMD = false

func decodeRowSIMD(z []int64, b []byte, r0, r1, u []uint32, half int64, k uint, lo, hi int64) (a0, a1, maxv uint64, done int) {
	return 0, 0, 0, 0
}

func dotClampSIMD(x []int64, s0, s1 []uint32, c int64) (a0, a1 uint64, done int) {
	return 0, 0, 0
}

func unpack24SIMD(dst []uint32, src []byte) (maxv uint32, done int) { return 0, 0 }

func encodeSIMD(out []byte, x []int64, r, s0, s1 []uint32, c int64) (a0, a1 uint64, done int) {
	return 0, 0, 0
}
