package porthos

import (
	"encoding/binary"
	"math/bits"
)

// Arithmetic in the three rings of the protocols: Z_L (uint64 with
// wrap-around), the odd ring Z_{L-1} (values in [0, L−2]) and Z_p.

// prime is the modulus of PrivateCompare's field; the correctness
// argument needs p ≥ 67 (the compared vectors' entries lie in [0, 65]).
const prime = 67

// oddMax is L−1, the modulus of the odd ring (and its one invalid value).
const oddMax = ^uint64(0)

// addOdd returns a + b mod L−1 for a, b in [0, L−2].
func addOdd(a, b uint64) uint64 {
	s, c := bits.Add64(a, b, 0)
	s += c
	if s == oddMax {
		s = 0
	}
	return s
}

// subOdd returns a − b mod L−1 for a, b in [0, L−2].
func subOdd(a, b uint64) uint64 {
	if a >= b {
		return a - b
	}
	return a - b - 1
}

// reduceOdd maps a Z_L value into Z_{L−1}: L−1 ≡ 0.
func reduceOdd(a uint64) uint64 {
	if a == oddMax {
		return 0
	}
	return a
}

// carry is wrap(a, b; L): 1 if a + b ≥ 2^64.
func carry(a, b uint64) uint64 {
	_, c := bits.Add64(a, b, 0)
	return c
}

// putU64s appends v to b as little-endian words.
func putU64s(b []byte, v []uint64) []byte {
	off := len(b)
	b = append(b, make([]byte, 8*len(v))...)
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[off+8*i:], x)
	}
	return b
}

// getU64s fills dst from the little-endian words at the start of b and
// returns the rest of b.
func getU64s(dst []uint64, b []byte) []byte {
	for i := range dst {
		dst[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return b[8*len(dst):]
}

// u64s reads n words from b, a message received and owned by the
// caller: where the machine allows, the words are b's own memory (see
// wordsOf), so b must not be used as bytes afterwards.
func u64s(b []byte, n int) []uint64 {
	if v := wordsOf(b, n); v != nil {
		return v
	}
	v := make([]uint64, n)
	getU64s(v, b)
	return v
}
