package ot

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// A keystream expands a GGM leaf into the bits of its column: AES-128 in
// counter mode keyed by the leaf (a fresh pseudo-random key per leaf,
// used for nothing else), read as little-endian 64-bit words.
type keystream struct {
	leaf Block // kept for tests that replay a stream
	ctr  cipher.Stream
}

func newKeystream(leaf Block) *keystream {
	var key [16]byte
	leaf.bytes(key[:])
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err) // a 16-byte key is always valid
	}
	return &keystream{leaf: leaf, ctr: cipher.NewCTR(block, make([]byte, aes.BlockSize))}
}

// fill sets dst to the stream's next 8·len(dst) bytes.
func (k *keystream) fill(dst []uint64) {
	if len(dst) == 0 {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 8*len(dst))
	clear(b)
	k.ctr.XORKeyStream(b, b)
	if !littleEndian {
		for i, v := range dst {
			dst[i] = bits.ReverseBytes64(v)
		}
	}
}

// littleEndian is whether uint64s are stored least significant byte
// first, as the stream's bytes are read.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
