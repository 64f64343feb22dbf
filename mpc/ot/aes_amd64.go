//go:build amd64 && !purego

package ot

import "golang.org/x/sys/cpu"

var (
	useAESNI = cpu.X86.HasAES && cpu.X86.HasSSE41
	useVAES  = useAESNI && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VAES
)

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

// tmmo8 sets dst[i] = H(t_i, src[i]) (see hash.go) for len(src) a
// multiple of 8, t_i = tweaks[i], or first + i when tweaks is nil.
// With AVX-512 VAES the first multiple of 32 goes four blocks to a
// register, 32 at a time.
func tmmo8(rk *[176]byte, dst, src []Block, first uint64, tweaks []uint64) {
	_ = dst[len(src)-1]
	var tw *uint64
	if tweaks != nil {
		_ = tweaks[len(src)-1]
		tw = &tweaks[0]
	}
	if n := len(src) &^ 31; useVAES && n > 0 {
		tmmo32VAES(rk, &dst[0], &src[0], n, first, tw)
		if n == len(src) {
			return
		}
		dst, src, first = dst[n:], src[n:], first+uint64(n)
		if tw != nil {
			tw = &tweaks[n]
		}
	}
	tmmo8Asm(rk, &dst[0], &src[0], len(src), first, tw)
}

// tmmo8Asm is tmmo8 on n blocks (n a positive multiple of 8); tweaks may
// be nil.
//
//go:noescape
func tmmo8Asm(rk *[176]byte, dst, src *Block, n int, first uint64, tweaks *uint64)

// tmmo32VAES is tmmo8Asm with VAES, 32 blocks at a time (n a positive
// multiple of 32).
//
//go:noescape
func tmmo32VAES(rk *[176]byte, dst, src *Block, n int, first uint64, tweaks *uint64)

// ctrVAES sets dst[i] to the AES-CTR block of counter first + i (the
// 128-bit big-endian counter) under rk, for n a positive multiple of 4.
//
//go:noescape
func ctrVAES(rk *[176]byte, dst *Block, n int, first uint64)
