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

// voleSums4 is voleSums for k = 4: with AVX-512 eight words at a time
// (voleSums4AVX512), the rest through voleSums4Go.
func voleSums4(g [][]uint64, u []uint64, v [][]uint64) {
	n := len(u)
	if m := n &^ 7; useAVX512 && m > 0 {
		var a voleArgs
		for y := range a.g {
			a.g[y] = &g[y][:n][0]
		}
		for j := range a.v {
			a.v[j] = &v[j][:n][0]
		}
		a.u, a.n = &u[0], m
		voleSums4AVX512(&a)
		if m == n {
			return
		}
		var gt [16][]uint64
		var vt [4][]uint64
		for y := range gt {
			gt[y] = g[y][m:n]
		}
		for j := range vt {
			vt[j] = v[j][m:n]
		}
		g, u, v = gt[:], u[m:], vt[:]
	}
	voleSums4Go(g, u, v)
}

// voleArgs are voleSums4AVX512's operands: the 16 expansions' words, the
// four v[j], u, and the number of words (a positive multiple of 8). The
// assembly reads them at fixed offsets: g at 0, v at 128, u at 160, n at
// 168.
type voleArgs struct {
	g [16]*uint64
	v [4]*uint64
	u *uint64
	n int
}

// voleSums4Go is voleSums for k = 4, unrolled: a tree of 15 XORs gives u
// and the pair, quad and octet sums, from which the v[j] take 15 more.
func voleSums4Go(g [][]uint64, u []uint64, v [][]uint64) {
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
