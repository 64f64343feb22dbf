//go:build amd64 && !purego

package ot

import "golang.org/x/sys/cpu"

var useAESNI = cpu.X86.HasAES && cpu.X86.HasSSE41

// encrypt8 sets dst[i] = AES(rk, src[i]) for len(src) a multiple of 8.
func encrypt8(rk *[176]byte, dst, src []Block) {
	_ = dst[len(src)-1]
	encrypt8Asm(rk, &dst[0], &src[0], len(src))
}

// encrypt8Asm encrypts n blocks (n a positive multiple of 8) from src to
// dst with the expanded AES-128 key rk, eight blocks through the rounds
// together.
//
//go:noescape
func encrypt8Asm(rk *[176]byte, dst, src *Block, n int)
