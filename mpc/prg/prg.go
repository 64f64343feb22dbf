// Package prg is veil's pseudo-random generator: AES-128 in counter mode
// (hardware AES through crypto/aes) keyed by HKDF-SHA256 of a secret and a
// label, so that each purpose draws from its own stream. Two parties that
// share a secret draw exactly the same values in the same order.
//
// Keys must come from a key exchange or crypto/rand; nothing in veil keys
// a stream with a constant.
package prg

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"unsafe"
)

// Stream is a deterministic stream of pseudo-random values. It is not
// safe for concurrent use.
type Stream struct {
	ctr  cipher.Stream
	buf  []byte
	pos  int
	bits uint64 // buffered bits for Bit, MSB first
	nb   int
}

const bufSize = 16 << 10

// New returns the stream for secret and label. The secret must be at least
// 16 bytes of key-exchange output or crypto/rand.
func New(secret []byte, label string) (*Stream, error) {
	if len(secret) < 16 {
		return nil, fmt.Errorf("prg: secret of %d bytes is too short", len(secret))
	}
	key, err := hkdf.Key(sha256.New, secret, nil, "veil prg "+label, 16+aes.BlockSize)
	if err != nil {
		return nil, fmt.Errorf("prg: %w", err)
	}
	block, err := aes.NewCipher(key[:16])
	if err != nil {
		return nil, fmt.Errorf("prg: %w", err)
	}
	return &Stream{ctr: cipher.NewCTR(block, key[16:]), buf: make([]byte, bufSize), pos: bufSize}, nil
}

// MustNew is New for secrets already checked to be long enough.
func MustNew(secret []byte, label string) *Stream {
	s, err := New(secret, label)
	if err != nil {
		panic(err)
	}
	return s
}

// NewRandom returns a stream keyed from crypto/rand, for a party's private
// randomness.
func NewRandom(label string) *Stream {
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		panic(fmt.Sprintf("prg: crypto/rand failed: %v", err))
	}
	return MustNew(k[:], label)
}

func (s *Stream) refill() {
	clear(s.buf)
	s.ctr.XORKeyStream(s.buf, s.buf)
	s.pos = 0
}

// Read fills p with stream bytes.
func (s *Stream) Read(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if s.pos == len(s.buf) {
			s.refill()
		}
		c := copy(p, s.buf[s.pos:])
		s.pos += c
		p = p[c:]
	}
	return n, nil
}

// nextByte returns the next byte.
func (s *Stream) nextByte() byte {
	if s.pos == len(s.buf) {
		s.refill()
	}
	b := s.buf[s.pos]
	s.pos++
	return b
}

// Uint64 returns the next 8 bytes as a little-endian uint64: a uniform
// element of Z_2^64.
func (s *Stream) Uint64() uint64 {
	if len(s.buf)-s.pos < 8 {
		s.refill()
	}
	v := binary.LittleEndian.Uint64(s.buf[s.pos:])
	s.pos += 8
	return v
}

// Uint64s fills dst with uniform elements of Z_2^64: the same values as
// that many calls of Uint64. Past what is buffered, the key stream is
// written straight into dst (on little-endian machines), without going
// through the buffer.
func (s *Stream) Uint64s(dst []uint64) {
	i := 0
	for ; i < len(dst) && len(s.buf)-s.pos >= 8; i++ {
		dst[i] = binary.LittleEndian.Uint64(s.buf[s.pos:])
		s.pos += 8
	}
	rest := dst[i:]
	if len(rest) < 64 || !littleEndian {
		for j := range rest {
			rest[j] = s.Uint64()
		}
		return
	}
	// The buffer holds fewer than 8 bytes, which Uint64 would skip too;
	// the next key-stream bytes go to rest, as Uint64 would read them.
	b := unsafe.Slice((*byte)(unsafe.Pointer(&rest[0])), 8*len(rest))
	clear(b)
	s.ctr.XORKeyStream(b, b)
	s.pos = len(s.buf)
}

// littleEndian is whether uint64s are stored least significant byte
// first, as the stream's bytes are read.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// OddRing returns a uniform element of Z_{2^64−1} (rejecting 2^64−1).
func (s *Stream) OddRing() uint64 {
	for {
		if v := s.Uint64(); v != ^uint64(0) {
			return v
		}
	}
}

// Mod returns a uniform element of Z_p for a prime p < 128, from one byte
// with rejection above the largest multiple of p.
func (s *Stream) Mod(p byte) byte {
	lim := 256 / int(p) * int(p)
	for {
		if b := s.nextByte(); int(b) < lim {
			return b % p
		}
	}
}

// ModNonZero returns a uniform element of Z_p \ {0}.
func (s *Stream) ModNonZero(p byte) byte {
	for {
		if v := s.Mod(p); v != 0 {
			return v
		}
	}
}

// Bit returns the next stream bit (bits of each byte MSB first).
func (s *Stream) Bit() uint64 {
	if s.nb == 0 {
		s.bits = uint64(s.nextByte())
		s.nb = 8
	}
	s.nb--
	return (s.bits >> s.nb) & 1
}

// intn returns a uniform integer in [0, n) for 1 ≤ n ≤ 256, from one byte
// with rejection.
func (s *Stream) intn(n int) int {
	lim := 256 / n * n
	for {
		if b := int(s.nextByte()); b < lim {
			return b % n
		}
	}
}

// Perm fills perm with a uniform permutation of 0..len(perm)−1
// (Fisher–Yates; len(perm) ≤ 256).
func (s *Stream) Perm(perm []int) {
	for i := range perm {
		perm[i] = i
	}
	for i := len(perm) - 1; i > 0; i-- {
		j := s.intn(i + 1)
		perm[i], perm[j] = perm[j], perm[i]
	}
}
