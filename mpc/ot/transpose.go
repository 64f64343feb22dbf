package ot

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
