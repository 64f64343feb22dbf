package he

import "github.com/tuneinsight/lattigo/v6/ring"

// The server's products of weights and queries in the NTT domain: the
// kernels are in Montgomery form (r·R mod q), so Montgomery's product
// k·x·R^-1 mod q is the plain product of the values they stand for. R
// is 2^64, or 2^52 on the limbs below 2^52 where the CPU has AVX-512
// IFMA (Params.mont52): its 52-bit multiply-adds make a product four
// instructions (mont_amd64.s) instead of Montgomery's eight 32-bit
// products and their carries. The accumulators' words stay in [0, 2q) after every
// product (a conditional subtraction of 2q), so no periodic reduction
// is needed however many channel blocks a layer sums; reduceAcc brings
// them to [0, q) at the end. With AVX-512 (mont_amd64.s) eight words
// are multiplied at once; the loops below are the portable path and the
// reference the assembly is tested against.

// mulAddPair adds k·x0 to acc0 and k·x1 to acc1 on rows 0…level, k in
// the Montgomery form of kernelForm.
func (p *Params) mulAddPair(level int, k, x0, x1, acc0, acc1 ring.Poly) {
	for i := 0; i <= level; i++ {
		if p.mont52[i] && mulAddPair52Asm(k.Coeffs[i], x0.Coeffs[i], x1.Coeffs[i], acc0.Coeffs[i], acc1.Coeffs[i], p.lit.Q[i], p.qInv52[i]) {
			continue
		}
		mulAddPairRow(p.ringQ.SubRings[i], k.Coeffs[i], x0.Coeffs[i], x1.Coeffs[i], acc0.Coeffs[i], acc1.Coeffs[i])
	}
}

// kernelForm returns the Montgomery form of v < q_i on row i that
// mulAddPair takes: v·2^52 mod q_i on the rows of the IFMA products,
// else v·2^64 mod q_i.
func (p *Params) kernelForm(i int, v uint64) uint64 {
	s := p.ringQ.SubRings[i]
	if p.mont52[i] {
		return ring.BRed(v, p.r52[i], s.Modulus, s.BRedConstant)
	}
	return ring.MForm(v, s.Modulus, s.BRedConstant)
}

// reduceAcc reduces rows 0…level of acc from [0, 2q) to [0, q).
func (p *Params) reduceAcc(level int, acc ring.Poly) {
	for i := 0; i <= level; i++ {
		reduceRow(acc.Coeffs[i], p.lit.Q[i])
	}
}

func mulAddPairRow(s *ring.SubRing, k, x0, x1, acc0, acc1 []uint64) {
	if mulAddPairAsm(k, x0, x1, acc0, acc1, s.Modulus, s.MRedConstant) {
		return
	}
	mulAddPairGo(s, k, x0, x1, acc0, acc1)
}

func reduceRow(acc []uint64, q uint64) {
	if reduceAsm(acc, q) {
		return
	}
	reduceGo(acc, q)
}

// mulAddPairGo is the portable mulAddPairRow: Lattigo's lazy
// Montgomery products (each in [0, 2q) for k, x < q) added, then a
// conditional subtraction of 2q.
func mulAddPairGo(s *ring.SubRing, k, x0, x1, acc0, acc1 []uint64) {
	s.MulCoeffsMontgomeryLazyThenAddLazy(k, x0, acc0)
	s.MulCoeffsMontgomeryLazyThenAddLazy(k, x1, acc1)
	reduceGo(acc0, 2*s.Modulus)
	reduceGo(acc1, 2*s.Modulus)
}

// reduceGo subtracts m from the words of acc that are at least m,
// branch-free: for a < 2m < 2^63, a − m wraps around to more than a
// exactly when a < m.
func reduceGo(acc []uint64, q uint64) {
	for j, v := range acc {
		acc[j] = min(v, v-q)
	}
}
