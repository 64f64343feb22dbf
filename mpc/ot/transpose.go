package ot

import "veil/internal/parallel"

// transposeColumns sets rows[j] to bit j of every column (column i's bit
// j is bit i of row j), 128 rows at a time, on every core. Column i
// holds its words at cols[i·stride:], two per block of 128 rows.
func transposeColumns(rows []Block, cols []uint64, stride int) {
	blocks := (len(rows) + 127) / 128
	parallel.Ranges(blocks, 64, func(from, to int) {
		var tail [128]Block
		for b := from; b < to; b++ {
			if b+1 < to && len(rows)-b*128 >= 256 && transposeBlocks2((*[256]Block)(rows[b*128:]), cols[2*b:], stride) {
				b++ // two at once
				continue
			}
			dst := &tail
			if len(rows)-b*128 >= 128 {
				dst = (*[128]Block)(rows[b*128:])
			}
			transposeBlock(dst, cols[2*b:], stride)
			if dst == &tail {
				copy(rows[b*128:], tail[:len(rows)-b*128])
			}
		}
	})
}

// transposeBlockGo is the portable transposeBlock: row i of the 128×128
// bit matrix is src[i·stride], src[i·stride+1]; dst[j] gets its column j.
func transposeBlockGo(dst *[128]Block, src []uint64, stride int) {
	_ = src[127*stride+1]
	for i := range kappa {
		dst[i] = Block{src[i*stride], src[i*stride+1]}
	}
	transpose128(dst)
}

// transpose128 transposes the 128×128 bit matrix m in place: bit c of
// row r (m[r].Bit(c)) becomes bit r of row c. It is four 64×64
// transposes: [[A B] [C D]] ↦ [[Aᵀ Cᵀ] [Bᵀ Dᵀ]].
func transpose128(m *[128]Block) {
	var a, b, c, d [64]uint64
	for r := range 64 {
		a[r], b[r] = m[r][0], m[r][1]
		c[r], d[r] = m[64+r][0], m[64+r][1]
	}
	transpose64(&a)
	transpose64(&b)
	transpose64(&c)
	transpose64(&d)
	for r := range 64 {
		m[r] = Block{a[r], c[r]}
		m[64+r] = Block{b[r], d[r]}
	}
}

// transpose64 transposes the 64×64 bit matrix a in place (bit c of a[r]
// becomes bit r of a[c]) by swapping ever smaller off-diagonal blocks:
// at distance j, the bits c|j of row k trade places with the bits c of
// row k|j (for k and c whose bit j is clear).
func transpose64(a *[64]uint64) {
	m := uint64(0x00000000ffffffff)
	for j := 32; j != 0; {
		for k := 0; k < 64; k = ((k | j) + 1) &^ j {
			t := (a[k]>>j ^ a[k|j]) & m
			a[k|j] ^= t
			a[k] ^= t << j
		}
		j >>= 1
		m ^= m << j
	}
}
