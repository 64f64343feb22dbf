package ot

// voleSums computes, word by word, the sums of the 2^k seed expansions
// g[y] of one group (k = log₂ len(g)) that SoftSpoken needs:
// u = ⊕_y g[y] and v[j] = ⊕_{y: bit j of y set} g[y]. The receiver
// sends u (masked by its choices) and keeps the v[j]; the sender, with
// g[y] its expansion of seed y ⊕ d (zero for y = 0, the seed it lacks),
// gets w_j = v[j] and ignores u. All slices have len(u) words; v[j] is
// overwritten.
func voleSums(g [][]uint64, u []uint64, v [][]uint64) {
	if len(g) == 16 {
		voleSums4(g, u, v)
		return
	}
	var s [256]uint64
	for i := range u {
		for y := range g {
			s[y] = g[y][i]
		}
		n := len(g)
		for j := range v {
			n /= 2
			var acc uint64
			for z := range n {
				acc ^= s[2*z+1]
				s[z] = s[2*z] ^ s[2*z+1]
			}
			v[j][i] = acc
		}
		u[i] = s[0]
	}
}

// voleSums4 is voleSums for k = 4, unrolled: a tree of 15 XORs gives u
// and the pair, quad and octet sums, from which the v[j] take 15 more.
func voleSums4(g [][]uint64, u []uint64, v [][]uint64) {
	n := len(u)
	g0, g1, g2, g3 := g[0][:n], g[1][:n], g[2][:n], g[3][:n]
	g4, g5, g6, g7 := g[4][:n], g[5][:n], g[6][:n], g[7][:n]
	g8, g9, g10, g11 := g[8][:n], g[9][:n], g[10][:n], g[11][:n]
	g12, g13, g14, g15 := g[12][:n], g[13][:n], g[14][:n], g[15][:n]
	v0, v1, v2, v3 := v[0][:n], v[1][:n], v[2][:n], v[3][:n]
	for i := range u {
		a1, a3, a5, a7 := g1[i], g3[i], g5[i], g7[i]
		a9, a11, a13, a15 := g9[i], g11[i], g13[i], g15[i]
		p0, p1, p2, p3 := g0[i]^a1, g2[i]^a3, g4[i]^a5, g6[i]^a7
		p4, p5, p6, p7 := g8[i]^a9, g10[i]^a11, g12[i]^a13, g14[i]^a15
		v0[i] = a1 ^ a3 ^ a5 ^ a7 ^ a9 ^ a11 ^ a13 ^ a15
		v1[i] = p1 ^ p3 ^ p5 ^ p7
		q0, q1, q2, q3 := p0^p1, p2^p3, p4^p5, p6^p7
		v2[i] = q1 ^ q3
		o1 := q2 ^ q3
		v3[i] = o1
		u[i] = q0 ^ q1 ^ o1
	}
}
