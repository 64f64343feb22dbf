//go:build amd64 && !purego

package twopc

import (
	"golang.org/x/sys/cpu"

	"veil/mpc/ot"
)

var useAVX512 = cpu.X86.HasAVX512F

// leafTotals returns the random OTs and the keys of the leaves of
// widths, which the assembly takes on trust: it panics on a width
// outside 1…leafBits, as an index out of range would.
func leafTotals(widths []uint8) (rots, keys int) {
	for _, w := range widths {
		if w < 1 || w > leafBits {
			panic("twopc: leaf width out of range")
		}
		rots, keys = rots+int(w), keys+1<<w
	}
	return rots, keys
}

// leafKeys is leafKeysGo, with AVX-512 four keys to a register.
func leafKeys(k0, k1 []ot.Block, widths []uint8, dst []ot.Block) {
	if !useAVX512 || len(widths) == 0 {
		leafKeysGo(k0, k1, widths, dst)
		return
	}
	rots, keys := leafTotals(widths)
	_, _, _ = k0[rots-1], k1[rots-1], dst[keys-1]
	leafKeysAVX512(&k0[0], &k1[0], &widths[0], len(widths), &dst[0])
}

// leafWords is leafWordsGo, with AVX-512 four pads to a register.
func leafWords(pads []ot.Block, widths []uint8, words []uint32) {
	if !useAVX512 || len(widths) == 0 {
		leafWordsGo(pads, widths, words)
		return
	}
	_, keys := leafTotals(widths)
	_, _ = pads[keys-1], words[len(widths)-1]
	leafWordsAVX512(&pads[0], &widths[0], len(widths), &words[0])
}

// leafPadKeys is leafPadKeysGo in assembly.
func leafPadKeys(keys []ot.Block, widths []uint8, pads []ot.Block) {
	if !useAVX512 || len(widths) == 0 {
		leafPadKeysGo(keys, widths, pads)
		return
	}
	rots, _ := leafTotals(widths)
	_, _ = keys[rots-1], pads[len(widths)-1]
	leafPadKeysAsm(&keys[0], &widths[0], len(widths), &pads[0])
}

// leafPadKeysAsm is leafPadKeysGo for n leaves (n ≥ 1, widths 1…4).
//
//go:noescape
func leafPadKeysAsm(keys *ot.Block, widths *uint8, n int, pads *ot.Block)

// leafKeysAVX512 is leafKeysGo for n leaves (n ≥ 1, widths 1…4).
//
//go:noescape
func leafKeysAVX512(k0, k1 *ot.Block, widths *uint8, n int, dst *ot.Block)

// leafWordsAVX512 is leafWordsGo for n leaves (n ≥ 1, widths 1…4).
//
//go:noescape
func leafWordsAVX512(pads *ot.Block, widths *uint8, n int, words *uint32)
