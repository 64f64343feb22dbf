package ot

import "veil/internal/parallel"

// The correlation-robust hash that turns correlated OTs into random
// ones is Guo, Katz, Wang and Yu's tweakable construction from a fixed
// permutation π (S&P 2020, "TMMO"): H(j, x) = π(π(x) ⊕ j) ⊕ π(x), with π
// AES-128 under a fixed, public key. The key is no secret: the
// construction models AES under a known key as a random permutation.
var fixedKey = []byte("veil ot tmmo v1\x00")

var pi = newFixedCipher(fixedKey)

// hashChunk is how many blocks HashBlocks runs through π at a time.
const hashChunk = 256

// HashBlocks sets dst[i] = H(first + i, src[i]); dst and src may be the
// same slice. Tweaks must never repeat for correlated inputs: each use
// of the hash in veil draws its own range of them.
func HashBlocks(dst, src []Block, first uint64) {
	hash(dst, src, first, nil)
}

// HashTweaked sets dst[i] = H(tweaks[i], src[i]).
func HashTweaked(dst, src []Block, tweaks []uint64) {
	hash(dst, src, 0, tweaks)
}

// parallelHash is the number of blocks from which hash uses every core.
const parallelHash = 1 << 13

// hash is H with the tweaks first + i, or tweaks[i] when tweaks is set,
// on every core for long inputs.
func hash(dst, src []Block, first uint64, tweaks []uint64) {
	parallel.Ranges(len(src), parallelHash, func(lo, hi int) {
		var tw []uint64
		if tweaks != nil {
			tw = tweaks[lo:hi]
		}
		hashRange(dst[lo:hi], src[lo:hi], first+uint64(lo), tw)
	})
}

// hashRange is hash on one goroutine: with AES-NI both passes of eight
// blocks at a time in assembly (tmmo8), the last few padded to eight
// (their outputs dropped); without, through hashRangeGo.
func hashRange(dst, src []Block, first uint64, tweaks []uint64) {
	if !useAESNI {
		hashRangeGo(dst, src, first, tweaks)
		return
	}
	if n := len(src) &^ 7; n > 0 {
		var tw []uint64
		if tweaks != nil {
			tw, tweaks = tweaks[:n], tweaks[n:]
		}
		tmmo8(&pi.rk, dst[:n], src[:n], first, tw)
		dst, src, first = dst[n:], src[n:], first+uint64(n)
	}
	if len(src) == 0 {
		return
	}
	var in, out [8]Block
	var tw []uint64
	copy(in[:], src)
	if tweaks != nil {
		var t [8]uint64
		copy(t[:], tweaks)
		tw = t[:]
	}
	tmmo8(&pi.rk, out[:], in[:], first, tw)
	copy(dst, out[:len(src)])
}

// hashRangeGo is hashRange through fixedCipher.encrypt.
func hashRangeGo(dst, src []Block, first uint64, tweaks []uint64) {
	var p, t [hashChunk]Block
	for off := 0; off < len(src); off += hashChunk {
		n := min(hashChunk, len(src)-off)
		pc, tc := p[:n], t[:n]
		pi.encrypt(pc, src[off:off+n])
		if tweaks != nil {
			tw := tweaks[off : off+n]
			for i := range tc {
				tc[i] = Block{pc[i][0] ^ tw[i], pc[i][1]}
			}
		} else {
			j := first + uint64(off)
			for i := range tc {
				tc[i] = Block{pc[i][0] ^ (j + uint64(i)), pc[i][1]}
			}
		}
		pi.encrypt(tc, tc)
		d := dst[off : off+n]
		for i := range d {
			d[i] = Block{tc[i][0] ^ pc[i][0], tc[i][1] ^ pc[i][1]}
		}
	}
}

// Hash returns H(j, x).
func Hash(j uint64, x Block) Block {
	out := [1]Block{x}
	HashBlocks(out[:], out[:], j)
	return out[0]
}
