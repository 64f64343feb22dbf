//go:build !amd64 || purego

package ot

const (
	useAVX2   = false
	useAVX512 = false
)

func voleSums4AVX512(a *voleArgs) { panic("ot: no AVX-512") }

func transposeBlock(dst *[128]Block, src []uint64, stride int) { transposeBlockGo(dst, src, stride) }

func transposeBlocks2(dst *[256]Block, src []uint64, stride int) bool { return false }
