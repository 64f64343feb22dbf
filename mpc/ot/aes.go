package ot

import (
	"crypto/aes"
	"crypto/cipher"
)

// fixedCipher is AES-128 under a fixed key, applied to many blocks at
// once: the permutation π of the correlation-robust hash. On amd64 with
// AES-NI eight blocks go through the rounds together (aes_amd64.s);
// elsewhere, and for tests, block by block through crypto/aes.
type fixedCipher struct {
	rk    [176]byte // the expanded key, round after round (FIPS-197)
	block cipher.Block
}

func newFixedCipher(key []byte) *fixedCipher {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // a 16-byte key is always valid
	}
	c := &fixedCipher{block: b}
	expandKey(&c.rk, key)
	return c
}

// encrypt sets dst[i] = π(src[i]); dst and src may be the same slice.
func (c *fixedCipher) encrypt(dst, src []Block) {
	if n := len(src) &^ 7; useAESNI && n > 0 {
		encrypt8(&c.rk, dst[:n], src[:n])
		src, dst = src[n:], dst[n:]
	}
	c.encryptGo(dst, src)
}

// encryptGo is encrypt through crypto/aes, one block at a time.
func (c *fixedCipher) encryptGo(dst, src []Block) {
	var in, out [16]byte
	for i, x := range src {
		x.bytes(in[:])
		c.block.Encrypt(out[:], in[:])
		dst[i] = blockFrom(out[:])
	}
}

// expandKey writes the AES-128 key schedule of key into rk.
func expandKey(rk *[176]byte, key []byte) {
	copy(rk[:16], key)
	rcon := byte(1)
	for i := 16; i < 176; i += 4 {
		t := [4]byte{rk[i-4], rk[i-3], rk[i-2], rk[i-1]}
		if i%16 == 0 {
			t = [4]byte{sbox[t[1]] ^ rcon, sbox[t[2]], sbox[t[3]], sbox[t[0]]}
			rcon = xtime(rcon)
		}
		for j := range 4 {
			rk[i+j] = rk[i-16+j] ^ t[j]
		}
	}
}

// xtime multiplies by x in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1.
func xtime(b byte) byte {
	if b&0x80 != 0 {
		return b<<1 ^ 0x1b
	}
	return b << 1
}

// sbox is AES's S-box: the inverse in GF(2^8) (0 for 0), then the
// affine map b ⊕ rotl(b,1) ⊕ rotl(b,2) ⊕ rotl(b,3) ⊕ rotl(b,4) ⊕ 0x63.
var sbox = func() (s [256]byte) {
	mul := func(a, b byte) byte {
		var p byte
		for b != 0 {
			if b&1 != 0 {
				p ^= a
			}
			a, b = xtime(a), b>>1
		}
		return p
	}
	rotl := func(b byte, n int) byte { return b<<n | b>>(8-n) }
	for x := range 256 {
		inv := byte(0)
		if x != 0 { // x^254 = x^−1
			inv = 1
			for range 254 {
				inv = mul(inv, byte(x))
			}
		}
		s[x] = inv ^ rotl(inv, 1) ^ rotl(inv, 2) ^ rotl(inv, 3) ^ rotl(inv, 4) ^ 0x63
	}
	return s
}()
