package he

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"slices"
	"sync"

	"github.com/tuneinsight/lattigo/v6/ring"
)

// Literal is a parameter set in plain numbers, as [NewParams] takes it.
type Literal struct {
	LogN int // ring degree N = 2^LogN
	LogT int // plaintext ring Z_2^LogT, 1 ≤ LogT ≤ 64

	// Q holds the ciphertext moduli q_0 … q_{L−1}: distinct NTT-friendly
	// primes (q ≡ 1 mod 2N) of at most 61 bits. Fresh ciphertexts use the
	// first ResponseModuli+1 of them or more (a layer's level: the fewest
	// whose noise budget holds the layer), the public key all of them;
	// responses are switched down to the first ResponseModuli.
	Q              []uint64
	ResponseModuli int

	// StatBits is the statistical security of noise flooding: the flood
	// is at least 2^StatBits times the worst-case noise it hides.
	StatBits int

	// BytesPerOp is what the packing of a layer trades one coefficient
	// operation of the server for (a modular product or an NTT
	// butterfly, about 1.3 ns on one core), in bytes sent: each layer
	// takes the packing that minimises bytes + BytesPerOp·operations.
	// Zero means 1/16, about a two-core server on a 1 Gbit/s link; lower
	// it for slower links (ResNet-50: 1.2 GB at 0, 1.6 GB at 0.03,
	// 2.2 GB at 1/16, with about 135, 92 and 74 s of modelled server work on one
	// core).
	BytesPerOp float64
}

// defaultBytesPerOp is the packing's exchange rate when none is given.
const defaultBytesPerOp = 1.0 / 16

// DefaultLiteral returns the default parameter set: N = 8192, ℓ = 64,
// Q = q_0·q_1·q_2·q_3 of 48, 48, 48 and 60 bits (log2 Q ≈ 204, under the
// 218 bits the HE standard allows at N = 8192 for 128-bit security with a
// ternary secret and σ = 3.2), responses switched down to q_0·q_1 (96
// bits), flooding at 40 bits of statistical security. A layer whose
// weights are small enough runs its queries on q_0·q_1·q_2 (144 bits)
// alone (see [NewConv]); the three are below 2^50, so that their
// transforms and products run on AVX-512 IFMA's 52-bit multiply-adds
// (a 61-bit third modulus, as before, took twice as long on its row and
// left less room to flood).
func DefaultLiteral() Literal {
	return Literal{
		LogN: 13,
		LogT: 64,
		Q: []uint64{
			0xffffffffc001, 0xfffffffd8001, // response moduli, 48 bits
			0xfffffffa0001, 0xfffffffffffc001, // dropped by the modulus switch, 48 and 60 bits
		},
		ResponseModuli: 2,
		StatBits:       40,
	}
}

// Default returns the [Params] of [DefaultLiteral], built once.
func Default() *Params { return defaultParams() }

var defaultParams = sync.OnceValue(func() *Params {
	p, err := NewParams(DefaultLiteral())
	if err != nil {
		panic("he: default parameters: " + err.Error()) // a constant set: a bug, not an input
	}
	return p
})

// maxLogQ is the largest log2 Q the HE standard (Albrecht et al.,
// "Homomorphic Encryption Standard", 2018, Table 1) allows for 128-bit
// classical security with a uniform ternary secret and error σ = 3.2.
var maxLogQ = map[int]int{10: 27, 11: 54, 12: 109, 13: 218, 14: 438, 15: 881}

// Errors: the centered binomial distribution of parameter errBound (see
// errorFrom), standard deviation √(errBound/2) ≈ 3.24 ≥ σ, the HE
// standard's 3.2, and |e| ≤ errBound by construction.
const (
	sigma    = 3.2
	errBound = 21
)

// Params is a validated parameter set with its precomputed constants.
// It is immutable and safe for concurrent use.
type Params struct {
	lit   Literal
	n     int
	ntt   []*nttTable // one per modulus
	ringQ *ring.Ring  // all moduli; AtLevel(resp.level) is the response ring
	bits  []int       // bit length of each modulus: its width on the wire
	logQ  float64

	// levels[l] is a query level of l+1 moduli, for ResponseModuli ≤ l <
	// len(Q) (the others are unused); top is the last, which keys use.
	levels []queryLevel
	top    *queryLevel
	resp   levelConsts

	pow64   []uint64 // 2^64 mod q_i
	barrett []uint64 // ⌊2^64/q_i⌋

	// mont52[i]: limb i's kernels are in Montgomery form for the radix
	// 2^52 (the IFMA products, see mont.go), with r52[i] = 2^52 mod q_i
	// and qInv52[i] = q_i^-1 mod 2^52; else for 2^64.
	mont52      []bool
	r52, qInv52 []uint64

	bytesPerOp float64 // the packing's exchange rate

	polys polyPool // scratch polynomials (see scratch)
}

// queryLevel is what queries at one level need: the encoding constants
// and the flood its noise budget allows. The server floods with noise
// uniform in [−2^floodBits, 2^floodBits); maxNoise is the largest
// worst-case data noise it may hide, 2^(floodBits−StatBits), or nil when
// the level has no room for a flood of StatBits.
type queryLevel struct {
	levelConsts
	floodBits int
	maxNoise  *big.Int
	floodOff  []uint64 // 2^floodBits mod q_i
}

// levelConsts holds the encoding and decoding constants of one level
// (the moduli q_0 … q_level).
type levelConsts struct {
	level      int
	deltaQ     []uint64 // ⌊Q/t⌋ mod q_i
	deltaQMont []uint64 // ⌊Q/t⌋·2^64 mod q_i (Montgomery form)
	qModT      uint64   // Q mod t
	yHat       []uint64 // (Q/q_i)^−1 mod q_i
	q          *big.Int
}

// NewParams validates lit and precomputes its constants. It refuses a
// modulus beyond the HE standard's bound for N and a set whose noise
// budget cannot hold a flood of StatBits over even a one-weight layer.
func NewParams(lit Literal) (*Params, error) {
	lit.Q = append([]uint64(nil), lit.Q...)
	if lit.LogT < 1 || lit.LogT > 64 {
		return nil, fmt.Errorf("he: LogT %d not in [1, 64]", lit.LogT)
	}
	bound, ok := maxLogQ[lit.LogN]
	if !ok {
		return nil, fmt.Errorf("he: LogN %d not in the security table [10, 15]", lit.LogN)
	}
	if len(lit.Q) < 2 || lit.ResponseModuli < 1 || lit.ResponseModuli >= len(lit.Q) {
		return nil, fmt.Errorf("he: need 1 ≤ ResponseModuli (%d) < len(Q) (%d)", lit.ResponseModuli, len(lit.Q))
	}
	if len(lit.Q) > maxModuli {
		return nil, fmt.Errorf("he: %d moduli, at most %d", len(lit.Q), maxModuli)
	}
	if lit.StatBits < 1 {
		return nil, errors.New("he: StatBits must be positive")
	}
	if !(lit.BytesPerOp >= 0 && lit.BytesPerOp < math.Inf(1)) {
		return nil, fmt.Errorf("he: BytesPerOp %v is not a finite non-negative number", lit.BytesPerOp)
	}
	n := 1 << lit.LogN
	p := &Params{lit: lit, n: n, bytesPerOp: lit.BytesPerOp}
	if p.bytesPerOp == 0 {
		p.bytesPerOp = defaultBytesPerOp
	}
	for i, q := range lit.Q {
		if q>>61 != 0 || !ring.IsPrime(q) || q%uint64(2*n) != 1 {
			return nil, fmt.Errorf("he: modulus %d is not an NTT-friendly prime of at most 61 bits", q)
		}
		if slices.Contains(lit.Q[:i], q) {
			return nil, fmt.Errorf("he: modulus %d appears twice", q)
		}
		p.bits = append(p.bits, bits.Len64(q))
	}
	var err error
	if p.ringQ, err = ring.NewRing(n, lit.Q); err != nil {
		return nil, fmt.Errorf("he: %w", err)
	}
	for _, s := range p.ringQ.SubRings {
		p.ntt = append(p.ntt, newNTTTable(s))
	}
	p.logQ = logQ(p.ringQ.Modulus())
	if p.logQ > float64(bound) {
		return nil, fmt.Errorf("he: log2 Q = %.1f exceeds the HE standard's %d bits at N = %d", p.logQ, bound, n)
	}
	p.resp = p.newLevelConsts(lit.ResponseModuli - 1)
	for _, q := range lit.Q {
		qi := new(big.Int).SetUint64(q)
		p.pow64 = append(p.pow64, new(big.Int).Mod(new(big.Int).Lsh(big.NewInt(1), 64), qi).Uint64())
		p.barrett = append(p.barrett, new(big.Int).Quo(new(big.Int).Lsh(big.NewInt(1), 64), qi).Uint64())
	}
	for i, q := range lit.Q {
		p.mont52 = append(p.mont52, useIFMA && q>>52 == 0)
		p.r52 = append(p.r52, new(big.Int).Mod(new(big.Int).Lsh(big.NewInt(1), 52), new(big.Int).SetUint64(q)).Uint64())
		p.qInv52 = append(p.qInv52, p.ringQ.SubRings[i].MRedConstant&(1<<52-1))
	}
	p.levels = make([]queryLevel, len(lit.Q))
	for l := p.resp.level + 1; l < len(lit.Q); l++ {
		p.levels[l] = p.newQueryLevel(l)
	}
	p.top = &p.levels[len(lit.Q)-1]
	if p.top.maxNoise == nil || p.top.maxNoise.Cmp(p.dataNoise(1, lit.LogT)) < 0 {
		return nil, fmt.Errorf("he: the moduli leave no room to flood a one-weight layer at %d bits", lit.StatBits)
	}
	return p, nil
}

func (p *Params) newLevelConsts(level int) levelConsts {
	t := new(big.Int).Lsh(big.NewInt(1), uint(p.lit.LogT))
	q := new(big.Int).Set(p.ringQ.AtLevel(level).Modulus())
	delta, qModT := new(big.Int).QuoRem(q, t, new(big.Int))
	c := levelConsts{level: level, qModT: qModT.Uint64(), q: q}
	for i := 0; i <= level; i++ {
		qi := new(big.Int).SetUint64(p.lit.Q[i])
		c.deltaQ = append(c.deltaQ, new(big.Int).Mod(delta, qi).Uint64())
		c.deltaQMont = append(c.deltaQMont, new(big.Int).Mod(new(big.Int).Lsh(delta, 64), qi).Uint64())
		hat := new(big.Int).Quo(q, qi)
		c.yHat = append(c.yHat, hat.ModInverse(hat.Mod(hat, qi), qi).Uint64())
	}
	return c
}

func logQ(q *big.Int) float64 {
	mant := new(big.Float).SetInt(q)
	exp := mant.MantExp(mant) // q = mant·2^exp, mant in [1/2, 1)
	f, _ := mant.Float64()
	return float64(exp) + math.Log2(f)
}

// N returns the ring degree.
func (p *Params) N() int { return p.n }

// LogT returns ℓ: plaintexts and shares live in Z_2^ℓ.
func (p *Params) LogT() int { return p.lit.LogT }

// LogQ returns log2 of the largest modulus any ciphertext uses (fresh
// ciphertexts and the public key).
func (p *Params) LogQ() float64 { return p.logQ }

// LogQResponse returns log2 of the modulus of responses.
func (p *Params) LogQResponse() float64 { return logQ(p.resp.q) }

// Literal returns the parameters in plain numbers.
func (p *Params) Literal() Literal {
	l := p.lit
	l.Q = append([]uint64(nil), l.Q...)
	return l
}

// equal reports whether p and o are the same parameter set.
func (p *Params) equal(o *Params) bool {
	return p == o || p.lit.LogN == o.lit.LogN && p.lit.LogT == o.lit.LogT &&
		p.lit.ResponseModuli == o.lit.ResponseModuli && p.lit.StatBits == o.lit.StatBits &&
		p.bytesPerOp == o.bytesPerOp && slices.Equal(p.lit.Q, o.lit.Q)
}

// tMask is 2^ℓ − 1.
func (p *Params) tMask() uint64 { return ^uint64(0) >> (64 - p.lit.LogT) }
