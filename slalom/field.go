// Package slalom is veil's Slalom (Tramèr & Boneh, ICLR 2019): a trusted
// executor T runs a network quantized into Z_p, p = 2^24 − 3, and hands
// every linear layer (dense, convolution, depthwise and pointwise) to an
// untrusted device D in another process. T checks every answer with
// Freivalds' algorithm (integrity) and hides its input with one-time
// additive blinding whose unblinding factors it precomputes and seals
// with AES-GCM (privacy). The specification is ../../shared/SLALOM.md;
// README.md beside this file describes the design and the measurements.
//
// This package is the executor and its checks: the quantized program,
// the field and kernels, Freivalds checks, blinding and sealed factors,
// and T ([Trusted]), which reaches D through a [Link]. D's worker and the
// T↔D wire are package slalom/device (whose Remote is the Link over the
// network); T as an attested service for clients is package
// slalom/service. Both import this package, never the other way round.
package slalom

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
)

// P is the prime of the field: 2^24 − 3.
const P = 1<<24 - 3

// H = (P−1)/2 is the largest magnitude a signed value stored mod P may have.
const H = (P - 1) / 2

// lazyTerms is the number of products of two residues that a uint64 sum
// holds exactly: 2^16·(p−1)^2 < 2^64.
const lazyTerms = 1 << 16

// MaxDepth is the most products one output of a linear layer may sum,
// 2^16: that many products of two residues fit a uint64 exactly, so the
// kernels reduce once per output. The compiler refuses a deeper layer,
// and D a setup that asks for one.
const MaxDepth = lazyTerms

// toField maps a signed value |v| ≤ H (or any int64) to its residue.
func toField(v int64) uint64 {
	r := v % P
	if r < 0 {
		r += P
	}
	return uint64(r)
}

// lift maps a residue to the signed value in [−H, H].
func lift(a uint64) int64 {
	if a <= H {
		return int64(a)
	}
	return int64(a) - P
}

// dot returns ⟨a, b⟩ mod P for residues, reducing every lazyTerms products.
func dot(a, b []uint64) uint64 {
	var acc uint64
	for lo := 0; lo < len(a); lo += lazyTerms {
		hi := min(lo+lazyTerms, len(a))
		var s uint64
		aa, bb := a[lo:hi], b[lo:hi]
		for i := range aa {
			s += aa[i] * bb[i]
		}
		acc = (acc + s%P) % P
	}
	return acc
}

// PRG is a CSPRNG: AES-256 in counter mode. Field elements are drawn by
// rejection sampling of 3-byte values (a value ≥ P is rejected, probability
// 3·2^-24), so they are uniform over Z_P.
type PRG struct {
	stream cipher.Stream
	buf    []byte
	pos    int
	// limit, when non-zero, restricts samples to {0, …, limit−1} (a test
	// hook for measuring Freivalds miss rates with a small set S).
	limit uint64
}

// NewPRG returns a generator keyed by key (32 bytes).
func NewPRG(key []byte) *PRG {
	blk, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	var iv [16]byte
	return &PRG{stream: cipher.NewCTR(blk, iv[:]), buf: make([]byte, 3<<12), pos: 3 << 12}
}

// NewRandomPRG returns a generator keyed from crypto/rand.
func NewRandomPRG() *PRG {
	return NewPRG(RandomKey())
}

// RandomKey returns 32 bytes from crypto/rand.
func RandomKey() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic(fmt.Sprintf("slalom: crypto/rand: %v", err))
	}
	return k
}

func (g *PRG) refill() {
	clear(g.buf)
	g.stream.XORKeyStream(g.buf, g.buf)
	g.pos = 0
}

// Elem returns one field element (uniform in Z_P, or in the test set S).
func (g *PRG) Elem() uint64 {
	for {
		if g.pos+3 > len(g.buf) {
			g.refill()
		}
		b := g.buf[g.pos : g.pos+3]
		g.pos += 3
		v := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16
		if g.limit != 0 {
			return v % g.limit // limit is a power of two in tests
		}
		if v < P {
			return v
		}
	}
}

// Fill fills dst with field elements.
func (g *PRG) Fill(dst []uint64) {
	for i := range dst {
		dst[i] = g.Elem()
	}
}

// Bytes fills dst with raw keystream.
func (g *PRG) Bytes(dst []byte) {
	for i := range dst {
		if g.pos >= len(g.buf) {
			g.refill()
		}
		dst[i] = g.buf[g.pos]
		g.pos++
	}
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// dotU32 returns ⟨a, b⟩ mod P for residues stored as uint32.
func dotU32(a, b []uint32) uint64 {
	var acc uint64
	b = b[:len(a)]
	for lo := 0; lo < len(a); lo += lazyTerms {
		hi := min(lo+lazyTerms, len(a))
		var s0, s1 uint64
		aa, bb := a[lo:hi], b[lo:hi]
		i := 0
		for ; i+1 < len(aa); i += 2 {
			s0 += uint64(aa[i]) * uint64(bb[i])
			s1 += uint64(aa[i+1]) * uint64(bb[i+1])
		}
		if i < len(aa) {
			s0 += uint64(aa[i]) * uint64(bb[i])
		}
		acc = (acc + s0%P + s1%P) % P
	}
	return acc
}

// FillU32 fills dst with field elements (the same sequence as Elem).
func (g *PRG) FillU32(dst []uint32) {
	if g.limit != 0 {
		for i := range dst {
			dst[i] = uint32(g.Elem())
		}
		return
	}
	i := 0
	for i < len(dst) {
		if g.pos+3 > len(g.buf) {
			g.refill()
		}
		b := g.buf[g.pos:]
		n := min(len(b)/3, len(dst)-i)
		b = b[:3*n]
		d := dst[i:]
		if unpack24(d[:n], b) < P { // no rejection in this stretch (the usual case)
			i += n
			g.pos += 3 * n
			continue
		}
		k := 0
		for j := 0; j+2 < len(b); j += 3 {
			v := uint32(b[j]) | uint32(b[j+1])<<8 | uint32(b[j+2])<<16
			if v < P {
				d[k] = v
				k++
			}
		}
		i += k
		g.pos += 3 * n
	}
}

func toU64(a []uint32) []uint64 {
	r := make([]uint64, len(a))
	for i, v := range a {
		r[i] = uint64(v)
	}
	return r
}

func toU32(a []uint64) []uint32 {
	r := make([]uint32, len(a))
	for i, v := range a {
		r[i] = uint32(v)
	}
	return r
}

// useSIMD selects T's AVX2 decode and check kernels where the CPU has
// them; VEIL_NOSIMD=1 forces the portable Go path (tests compare both).
var useSIMD = cpuSIMD && os.Getenv("VEIL_NOSIMD") == ""
