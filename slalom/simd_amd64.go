//go:build amd64 && !purego

package slalom

import "golang.org/x/sys/cpu"

const hasSIMD = true

var cpuSIMD = cpu.X86.HasAVX2

// decodeParams is decodeRowAVX2's constants, laid out for the assembly.
type decodeParams struct {
	p, h   uint32 // 0, 4
	half   int32  // 8
	_      uint32
	k      uint64 // 16: shift count
	lo, hi int32  // 24, 28
}

//go:noescape
func decodeRowAVX2(z *int64, b *byte, r0, r1, u *uint32, n int, prm *decodeParams, acc *[12]uint64)

//go:noescape
func dotClampAVX2(x *int64, s0, s1 *uint32, n int, c int64, acc *[8]uint64)

// decodeRowSIMD is decodeRow's AVX2 path for the first n &^ 7 values; it
// returns how many it did (0 when it cannot run).
func decodeRowSIMD(z []int64, b []byte, r0, r1, u []uint32, half int64, k uint, lo, hi int64) (a0, a1, maxv uint64, done int) {
	m := len(z) &^ 7
	// The kernel computes in 32-bit lanes: every lifted value is in
	// [−H, H], so clamping to [lo, hi] equals clamping to their int32
	// saturations as long as the bounds are not beyond the value range.
	if !useSIMD || m == 0 || k > 31 || half >= 1<<30 || lo > H || hi < -H {
		return 0, 0, 0, 0
	}
	_, _, _ = b[rb*m-1], r0[m-1], r1[m-1]
	var up *uint32
	if u != nil {
		up = &u[:m][0]
	}
	prm := decodeParams{p: P, h: H, half: int32(half), k: uint64(k), lo: sat32(lo), hi: sat32(hi)}
	var acc [12]uint64
	decodeRowAVX2(&z[0], &b[0], &r0[0], &r1[0], up, m, &prm, &acc)
	a0 = acc[0] + acc[1] + acc[2] + acc[3]
	a1 = acc[4] + acc[5] + acc[6] + acc[7]
	for _, w := range acc[8:] {
		maxv = max(maxv, w&0xFFFFFFFF, w>>32)
	}
	return a0, a1, maxv, m
}

// dotClampSIMD is dotClamp's AVX2 path for the first len(x) &^ 3 values.
func dotClampSIMD(x []int64, s0, s1 []uint32, c int64) (a0, a1 uint64, done int) {
	m := len(x) &^ 3
	if !useSIMD || m == 0 || c < 0 || c >= P {
		return 0, 0, 0
	}
	_, _ = s0[m-1], s1[m-1]
	var acc [8]uint64
	dotClampAVX2(&x[0], &s0[0], &s1[0], m, c, &acc)
	return acc[0] + acc[1] + acc[2] + acc[3], acc[4] + acc[5] + acc[6] + acc[7], m
}

func sat32(v int64) int32 { return int32(min(max(v, -1<<31), 1<<31-1)) }

//go:noescape
func unpack24AVX2(dst *uint32, src *byte, n int) uint32

//go:noescape
func encodeAVX2(out *byte, x *int64, r, s0, s1 *uint32, n int, c int64, acc *[8]uint64)

// unpack24SIMD is unpack24's AVX2 path for the first len(dst) &^ 7 values.
func unpack24SIMD(dst []uint32, src []byte) (maxv uint32, done int) {
	m := len(dst) &^ 7
	if !useSIMD || m == 0 {
		return 0, 0
	}
	_ = src[rb*m-1]
	return unpack24AVX2(&dst[0], &src[0], m), m
}

// encodeSIMD is encode's AVX2 path for the first len(x) &^ 3 values.
func encodeSIMD(out []byte, x []int64, r, s0, s1 []uint32, c int64) (a0, a1 uint64, done int) {
	m := len(x) &^ 3
	if !useSIMD || m == 0 || c < 0 || c >= P {
		return 0, 0, 0
	}
	_ = out[rb*m-1]
	var rp, p0, p1 *uint32
	if r != nil {
		rp = &r[:m][0]
	}
	if s0 != nil {
		p0, p1 = &s0[:m][0], &s1[:m][0]
	}
	var acc [8]uint64
	encodeAVX2(&out[0], &x[0], rp, p0, p1, m, c, &acc)
	return acc[0] + acc[1] + acc[2] + acc[3], acc[4] + acc[5] + acc[6] + acc[7], m
}
