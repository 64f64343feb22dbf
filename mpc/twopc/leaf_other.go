//go:build !amd64 || purego

package twopc

import "veil/mpc/ot"

func leafKeys(k0, k1 []ot.Block, widths []uint8, dst []ot.Block) {
	leafKeysGo(k0, k1, widths, dst)
}

func leafWords(pads []ot.Block, widths []uint8, words []uint32) {
	leafWordsGo(pads, widths, words)
}

func leafPadKeys(keys []ot.Block, widths []uint8, pads []ot.Block) {
	leafPadKeysGo(keys, widths, pads)
}
