package ot

import "encoding/binary"

// A Block is 128 bits: the correlated OTs' strings and Δ. Bit i is bit
// i%64 of word i/64.
type Block [2]uint64

// Xor returns b ⊕ c.
func (b Block) Xor(c Block) Block { return Block{b[0] ^ c[0], b[1] ^ c[1]} }

// And returns b ∧ c.
func (b Block) And(c Block) Block { return Block{b[0] & c[0], b[1] & c[1]} }

// Bit returns bit i of b.
func (b Block) Bit(i int) uint64 { return b[i/64] >> (i % 64) & 1 }

// bytes writes b little-endian into p[:16].
func (b Block) bytes(p []byte) {
	binary.LittleEndian.PutUint64(p, b[0])
	binary.LittleEndian.PutUint64(p[8:], b[1])
}

func blockFrom(p []byte) Block {
	return Block{binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[8:])}
}

// Bits is a packed bit vector: bit j is bit j%64 of word j/64.
type Bits []uint64

// NewBits returns n zero bits.
func NewBits(n int) Bits { return make(Bits, (n+63)/64) }

// Bit returns bit j (0 or 1).
func (b Bits) Bit(j int) uint64 { return b[j/64] >> (j % 64) & 1 }

// Set sets bit j to v's lowest bit.
func (b Bits) Set(j int, v uint64) {
	b[j/64] = b[j/64]&^(1<<(j%64)) | (v&1)<<(j%64)
}
