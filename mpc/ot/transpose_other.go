//go:build !amd64 || purego

package ot

const useAVX2 = false

func transposeBlock(dst *[128]Block, src []uint64, stride int) { transposeBlockGo(dst, src, stride) }
