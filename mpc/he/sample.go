package he

import (
	cryptorand "crypto/rand"
	"fmt"
	"math/bits"

	"github.com/tuneinsight/lattigo/v6/ring"

	"veil/mpc/prg"
)

// seedLen is the length of a seed: the secret of an AES stream
// (mpc/prg), of secret randomness or of a uniform polynomial.
const seedLen = 32

// newSeed returns a fresh seed from crypto/rand.
func newSeed() ([seedLen]byte, error) {
	var s [seedLen]byte
	if _, err := cryptorand.Read(s[:]); err != nil {
		return s, fmt.Errorf("he: randomness: %w", err)
	}
	return s, nil
}

// newPRNG returns an AES-CTR stream (mpc/prg) keyed from crypto/rand:
// every secret this package samples (keys, errors, masks, floods) comes
// from one.
func newPRNG() (*prg.Stream, error) {
	s, err := newSeed()
	if err != nil {
		return nil, err
	}
	return prg.New(s[:], "he secrets")
}

// expandUniform sets the rows 0…level of pol to the uniform polynomial
// that seed names, in the NTT domain: for each modulus q_i in order, the
// next N words of the AES-CTR stream of seed (mpc/prg, label "he
// uniform"), each masked to the bit length of q_i; any that is ≥ q_i
// (probability below 2^−21 a word for the default moduli) is redrawn
// from the words after the row, in order. The client and the server
// expand the seeded half of a ciphertext with it.
func (p *Params) expandUniform(seed [seedLen]byte, level int, pol ring.Poly) {
	st := prg.MustNew(seed[:], "he uniform")
	for i := 0; i <= level; i++ {
		q := p.lit.Q[i]
		mask := uint64(1)<<p.bits[i] - 1
		row := pol.Coeffs[i]
		st.Uint64s(row)
		for j, v := range row {
			v &= mask
			for v >= q {
				v = st.Uint64() & mask
			}
			row[j] = v
		}
	}
}

// setSigned sets the rows 0…level of pol to the small signed
// coefficients v.
func (p *Params) setSigned(v []int64, level int, pol ring.Poly) {
	for i := 0; i <= level; i++ {
		q := p.lit.Q[i]
		row := pol.Coeffs[i]
		for j, x := range v {
			row[j] = liftSmall(x, q)
		}
	}
}

// setKernelTernary sets the rows 0…level of pol to the coefficients
// v ∈ {−1, 0, 1} in the kernels' Montgomery form (kernelForm), without
// a branch on v (a secret): one of the two precomputed forms of ±1 or
// zero, selected by masks.
func (p *Params) setKernelTernary(v []int64, level int, pol ring.Poly) {
	for i := 0; i <= level; i++ {
		plus := p.kernelForm(i, 1)
		minus := p.kernelForm(i, p.lit.Q[i]-1)
		row := pol.Coeffs[i]
		for j, x := range v {
			neg := uint64(x) >> 63          // 1 for −1
			pos := uint64(x) & 1 &^ neg     // 1 for 1
			row[j] = plus&-pos | minus&-neg // the form of x
		}
	}
}

// addSigned adds the small signed coefficients v to rows 0…level of pol.
func (p *Params) addSigned(v []int64, level int, pol ring.Poly) {
	for i := 0; i <= level; i++ {
		q := p.lit.Q[i]
		row := pol.Coeffs[i]
		for j, x := range v {
			row[j] = addMod(row[j], liftSmall(x, q), q)
		}
	}
}

// liftSmall returns x mod q for |x| < q, without a branch on the sign
// of x (a secret error): q is added, modulo 2^64, where x is negative.
func liftSmall(x int64, q uint64) uint64 {
	return uint64(x) + q&uint64(x>>63)
}

// addMod returns a + b mod q for a, b < q < 2^62, without a branch: s − q
// wraps around to more than s exactly when s < q.
func addMod(a, b, q uint64) uint64 {
	s := a + b
	return min(s, s-q)
}

// ternary fills v with coefficients uniform in {−1, 0, 1}.
func ternary(prng *prg.Stream, v []int64) {
	var w uint64
	n := 0
	for j := range v {
		for {
			if n == 0 {
				w, n = prng.Uint64(), 32
			}
			x := w & 3
			w >>= 2
			n--
			if x != 3 {
				v[j] = int64(x) - 1
				break
			}
		}
	}
}

// sampleErrors fills v with errors from the centered binomial distribution
// of standard deviation sigma (see errorFrom), |v[j]| ≤ errBound.
func sampleErrors(prng *prg.Stream, v []int64) {
	var buf [256]uint64
	for lo := 0; lo < len(v); lo += len(buf) {
		b := buf[:min(len(buf), len(v)-lo)]
		prng.Uint64s(b)
		for j, u := range b {
			v[lo+j] = errorFrom(u)
		}
	}
}

// errorFrom maps a uniform u to an error: the number of ones among its
// low errBound bits minus that among the next errBound, the centered
// binomial distribution of variance errBound/2 (σ ≈ 3.24 for 21, at
// least the HE standard's 3.2; Microsoft SEAL samples its errors so),
// in constant time: a population count each, no branch, no table.
func errorFrom(u uint64) int64 {
	const half = 1<<errBound - 1
	return int64(bits.OnesCount64(u&half)) - int64(bits.OnesCount64(u>>errBound&half))
}

// maxFloodWords bounds the words of a flood sample: floodBits + 1 is at
// most the bits of Q, 16 moduli of 61 bits.
const maxFloodWords = 16

// floodWords is the number of 64-bit words of a flood sample.
func floodWords(floodBits int) int { return (floodBits + 1 + 63) / 64 }

// addFlood adds to coefficient j of rows 0…lv.level of pol a value
// uniform in [−2^lv.floodBits, 2^lv.floodBits).
func (p *Params) addFlood(prng *prg.Stream, pol ring.Poly, lv *queryLevel, j int) {
	var w [maxFloodWords]uint64
	nw := floodWords(lv.floodBits)
	for k := 0; k < nw; k++ {
		w[k] = prng.Uint64()
	}
	if r := (lv.floodBits + 1) % 64; r != 0 {
		w[nw-1] &= 1<<r - 1
	}
	// x = Σ w_k·2^(64k) ∈ [0, 2^(floodBits+1)); the flood is x − 2^floodBits.
	for i := 0; i <= lv.level; i++ {
		q := p.lit.Q[i]
		var r uint64
		for k := nw - 1; k >= 0; k-- { // Horner in base 2^64
			hi, lo := bits.Mul64(r, p.pow64[i])
			hi, lo = add128(hi, lo, 0, w[k]%q)
			r = bits.Rem64(hi, lo, q)
		}
		r = addMod(r, q-lv.floodOff[i], q)
		pol.Coeffs[i][j] = addMod(pol.Coeffs[i][j], r, q)
	}
}

func add128(ah, al, bh, bl uint64) (uint64, uint64) {
	lo, c := bits.Add64(al, bl, 0)
	hi, _ := bits.Add64(ah, bh, c)
	return hi, lo
}
