package ot

import (
	"crypto/aes"
	"crypto/cipher"
)

// The correlation-robust hash that turns correlated OTs into random
// ones is Guo, Katz, Wang and Yu's tweakable construction from a fixed
// permutation π (S&P 2020, "TMMO"): H(j, x) = π(π(x) ⊕ j) ⊕ π(x), with π
// AES-128 under a fixed, public key. The key is no secret: the
// construction models AES under a known key as a random permutation.
var fixedKey = []byte("veil ot tmmo v1\x00")

var fixedAES = mustAES(fixedKey)

func mustAES(key []byte) cipher.Block {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // a 16-byte key is always valid
	}
	return b
}

// hashBlocks sets dst[i] = H(first + i, src[i]).
func hashBlocks(dst, src []Block, first uint64) {
	var in, px, out [16]byte
	for i, x := range src {
		x.bytes(in[:])
		fixedAES.Encrypt(px[:], in[:])
		p := blockFrom(px[:])
		p.Xor(Block{first + uint64(i), 0}).bytes(in[:])
		fixedAES.Encrypt(out[:], in[:])
		dst[i] = blockFrom(out[:]).Xor(p)
	}
}

// Hash returns H(j, x), the tweakable correlation-robust hash of the
// package's derived OTs.
func Hash(j uint64, x Block) Block {
	var out [1]Block
	hashBlocks(out[:], []Block{x}, j)
	return out[0]
}
