//go:build amd64 && !purego

package ot

import "golang.org/x/sys/cpu"

var (
	useAVX2   = cpu.X86.HasAVX2
	useAVX512 = cpu.X86.HasAVX512F
)

// voleSums4AVX512 is voleSums4 with AVX-512 on a.n words.
//
//go:noescape
func voleSums4AVX512(a *voleArgs)

// transposeBlock sets dst[j] to column j of the 128×128 bit matrix whose
// row i is src[i·stride], src[i·stride+1]: with AVX2, the four 64×64
// quarters transposed together, one per 64-bit lane.
func transposeBlock(dst *[128]Block, src []uint64, stride int) {
	if !useAVX2 {
		transposeBlockGo(dst, src, stride)
		return
	}
	_ = src[127*stride+1]
	transpose128AVX2(dst, &src[0], uintptr(stride)*8)
}

// transpose128AVX2 is transposeBlock with the row stride in bytes.
//
//go:noescape
func transpose128AVX2(dst *[128]Block, src *uint64, stride uintptr)

// transposeBlocks2 transposes two adjacent blocks at once (see
// transposeColumns) with AVX-512 and reports whether it did.
func transposeBlocks2(dst *[256]Block, src []uint64, stride int) bool {
	if !useAVX512 {
		return false
	}
	_ = src[127*stride+3]
	transpose256AVX512(dst, &src[0], uintptr(stride)*8)
	return true
}

// transpose256AVX512 is transpose128AVX2 on two adjacent blocks, the row
// stride in bytes.
//
//go:noescape
func transpose256AVX512(dst *[256]Block, src *uint64, stride uintptr)
