package twopc

import "veil/mpc/ot"

// The sender's arithmetic of the leaf OTs, in two steps around the hash
// (ot.HashBlocks): the keys of every message of a run of leaves, then
// the low two bits of each message's pad. Each has an AVX-512 path
// (leaf_amd64.s) beside the portable one here, tested equal.

// leafKeysGo writes, for each leaf l of widths[l] = b bits (1 ≤ b ≤ 4),
// the 2^b keys K_w = ⊕_j k_j^{w_j} of its messages to dst, leaf after
// leaf, where k_j^0 and k_j^1 are the leaf's b random OTs, consecutive
// in k0 and k1 from leaf to leaf. K_w = K_0 ⊕ ⊕_{j ∈ w} (k_j^0 ⊕ k_j^1):
// the keys below 2^j, then the same with bit j set.
func leafKeysGo(k0, k1 []ot.Block, widths []uint8, dst []ot.Block) {
	r, np := 0, 0
	for _, w := range widths {
		b := int(w)
		k := dst[np : np+1<<b]
		k[0] = ot.Block{}
		for j := range b {
			k[0] = k[0].Xor(k0[r+j])
		}
		for j := range b {
			h, dj := 1<<j, k0[r+j].Xor(k1[r+j])
			lo, hi := k[:h], k[h:2*h]
			for i, kw := range lo {
				hi[i] = kw.Xor(dj)
			}
		}
		r, np = r+b, np+1<<b
	}
}

// leafWordsGo sets words[l] to the low two bits of leaf l's 2^b pads
// (in pads leaf after leaf, as leafKeys wrote the keys): bits 2w and
// 2w+1 from pad w.
func leafWordsGo(pads []ot.Block, widths []uint8, words []uint32) {
	np := 0
	for l, w := range widths {
		var word uint32
		for i := range 1 << w {
			word |= uint32(pads[np+i][0]&3) << (2 * i)
		}
		words[l] = word
		np += 1 << w
	}
}

// leafPadKeysGo sets pads[l] to the receiver's key of leaf l, the XOR
// of its widths[l] chosen random-OT messages, consecutive in keys from
// leaf to leaf.
func leafPadKeysGo(keys []ot.Block, widths []uint8, pads []ot.Block) {
	r := 0
	for l, w := range widths {
		var pad ot.Block
		for _, k := range keys[r : r+int(w)] {
			pad = pad.Xor(k)
		}
		pads[l] = pad
		r += int(w)
	}
}
