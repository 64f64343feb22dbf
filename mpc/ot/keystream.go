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
// used for nothing else; the 128-bit big-endian counter from zero), read
// as little-endian 64-bit words. With AVX-512 VAES the blocks are made
// four to a register (ctrVAES); elsewhere crypto/aes's CTR makes them.
// The two give the same stream (TestKeystreamPaths).
type keystream struct {
	leaf  Block // kept for tests that replay a stream
	block cipher.Block
	ctr   cipher.Stream // the portable path
	rk    [176]byte     // the leaf's key schedule, for ctrVAES
	next  uint64        // blocks of the stream made, with ctrVAES
	spare uint64        // the second word of the last block, when
	half  bool          // a fill ended in its middle
}

func newKeystream(leaf Block) *keystream {
	var key [16]byte
	leaf.bytes(key[:])
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err) // a 16-byte key is always valid
	}
	k := &keystream{leaf: leaf, block: block}
	if useVAES {
		expandKey(&k.rk, key[:])
	} else {
		k.ctr = cipher.NewCTR(block, make([]byte, aes.BlockSize))
	}
	return k
}

// fill sets dst to the stream's next 8·len(dst) bytes.
func (k *keystream) fill(dst []uint64) {
	if len(dst) == 0 {
		return
	}
	if !useVAES {
		b := unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 8*len(dst))
		clear(b)
		k.ctr.XORKeyStream(b, b)
		if !littleEndian {
			for i, v := range dst {
				dst[i] = bits.ReverseBytes64(v)
			}
		}
		return
	}
	if k.half {
		dst[0], dst, k.half = k.spare, dst[1:], false
	}
	blocks := len(dst) / 2
	if n := blocks &^ 3; n > 0 {
		ctrVAES(&k.rk, (*Block)(unsafe.Pointer(&dst[0])), n, k.next)
		k.next += uint64(n)
		dst = dst[2*n:]
		blocks -= n
	}
	for range blocks {
		dst[0], dst[1] = k.counterBlock()
		dst = dst[2:]
	}
	if len(dst) == 1 {
		dst[0], k.spare = k.counterBlock()
		k.half = true
	}
}

// counterBlock returns the stream's next block, as two words.
func (k *keystream) counterBlock() (lo, hi uint64) {
	var b [16]byte
	binary.BigEndian.PutUint64(b[8:], k.next)
	k.block.Encrypt(b[:], b[:])
	k.next++
	return binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])
}

// littleEndian is whether uint64s are stored least significant byte
// first, as the stream's bytes are read.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
