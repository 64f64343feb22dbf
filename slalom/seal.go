package slalom

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
)

// ChunkElems is the largest number of elements sealed under one nonce
// (2^16; tests lower it to exercise many chunks).
var ChunkElems = 1 << 16

// Record is one sealed chunk of an unblinding factor U_{j,ℓ}, as kept by
// the untrusted store. Its header fields are informational only: T opens
// a record with the associated data computed from its own state.
type Record struct {
	Pair       uint64
	Layer      uint32
	Chunk      uint32
	Count      uint32
	Elems      uint64
	Nonce      [12]byte
	Ciphertext []byte // ciphertext ‖ tag
}

// Store is the untrusted store of sealed records (host memory or disk).
type Store interface {
	Put(r Record)
	// Get returns the records filed under (pair, layer), in any order.
	Get(pair uint64, layer uint32) []Record
	// Delete drops them (T does after use; an untrusted store may not).
	Delete(pair uint64, layer uint32)
}

// MemStore is a Store in (untrusted) host memory.
type MemStore struct {
	mu sync.Mutex
	m  map[[2]uint64][]Record
}

func NewMemStore() *MemStore { return &MemStore{m: map[[2]uint64][]Record{}} }

func (s *MemStore) Put(r Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]uint64{r.Pair, uint64(r.Layer)}
	s.m[k] = append(s.m[k], r)
}

func (s *MemStore) Get(pair uint64, layer uint32) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.m[[2]uint64{pair, uint64(layer)}]...)
}

func (s *MemStore) Delete(pair uint64, layer uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, [2]uint64{pair, uint64(layer)})
}

// Len is the number of (pair, layer) entries held.
func (s *MemStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// Blinder holds T's blinding state: the keys (from crypto/rand, only in
// T's memory, new at every start), the epoch, and the pair counters.
type Blinder struct {
	Prog   *Program
	Store  Store
	kBlind []byte
	kSeal  []byte
	aead   cipher.AEAD
	epoch  [16]byte
	// nonce is the low 64 bits of the last 96-bit nonce used (the high
	// 32 bits stay 0). It only grows, so no nonce repeats under K_seal
	// and T keeps no record of the nonces it used: its state stays the
	// same size however many records it seals. (2^64 chunks are never
	// reached; seal refuses to wrap.)
	nonce    uint64
	nextSeal uint64
	nextUse  uint64
	ptbuf    []byte
}

// NewBlinder makes fresh keys and a fresh epoch.
func NewBlinder(p *Program, store Store) *Blinder {
	b := &Blinder{Prog: p, Store: store, kBlind: RandomKey(), kSeal: RandomKey()}
	blk, err := aes.NewCipher(b.kSeal)
	if err != nil {
		panic(err)
	}
	if b.aead, err = cipher.NewGCM(blk); err != nil {
		panic(err)
	}
	if _, err := rand.Read(b.epoch[:]); err != nil {
		panic(err)
	}
	return b
}

// rPRG is the PRG of R_{j,ℓ}: AES-256-CTR keyed by
// HKDF-SHA256(K_blind, "veil/slalom/R" ‖ M ‖ BE64(j) ‖ BE32(ℓ)).
func (b *Blinder) rPRG(j uint64, l int) *PRG {
	info := bytes.Join([][]byte{[]byte("veil/slalom/R"), b.Prog.Hash[:], be64(j), be32(uint32(l))}, nil)
	key, err := hkdf.Key(sha256.New, b.kBlind, nil, string(info), 32)
	if err != nil {
		panic(err)
	}
	return NewPRG(key)
}

// R returns the blinding factor of pair j at layer ℓ (the layer's input size).
func (b *Blinder) R(j uint64, l *Layer) []uint32 {
	return b.RInto(j, l, make([]uint32, l.InLen()))
}

// RInto is R writing into r.
func (b *Blinder) RInto(j uint64, l *Layer, r []uint32) []uint32 {
	r = r[:l.InLen()]
	b.rPRG(j, l.Index).FillU32(r)
	return r
}

// Blind returns X̃ = X + R_{j,ℓ} mod P: what the device sees of x.
func (b *Blinder) Blind(j uint64, l *Layer, x []int64) []uint32 {
	r := b.R(j, l)
	for i, v := range x {
		r[i] = uint32((toField(v) + uint64(r[i])) % P)
	}
	return r
}

func (b *Blinder) aad(j uint64, layer, chunk, count uint32, elems uint64) []byte {
	return bytes.Join([][]byte{[]byte("veil/slalom/U/v1"), b.Prog.Hash[:], b.epoch[:], be64(j), be32(layer), be32(chunk), be32(count), be64(elems)}, nil)
}

// Offline precomputes n more pairs: for each, R_{j,ℓ} and U_{j,ℓ} =
// f_ℓ(R_{j,ℓ}) mod P (without bias) in T, sealed in chunks to the store.
func (b *Blinder) Offline(n int) {
	for ; n > 0; n-- {
		j := b.nextSeal
		for _, l := range b.Prog.Layers {
			u := Forward(l, toU64(b.R(j, l)), false)
			b.seal(j, uint32(l.Index), u)
			clear(u)
		}
		b.nextSeal++
	}
}

func (b *Blinder) seal(j uint64, layer uint32, u []uint64) {
	count := uint32((len(u) + ChunkElems - 1) / ChunkElems)
	buf := make([]byte, rb*min(len(u), ChunkElems))
	for c := uint32(0); c < count; c++ {
		part := u[int(c)*ChunkElems : min(len(u), int(c+1)*ChunkElems)]
		pt := buf[:rb*len(part)]
		for i, v := range part {
			put24(pt[rb*i:], uint32(v))
		}
		var nonce [12]byte
		if b.nonce == math.MaxUint64 {
			panic("slalom: sealing nonces exhausted")
		}
		b.nonce++
		binary.BigEndian.PutUint64(nonce[4:], b.nonce)
		ct := b.aead.Seal(nil, nonce[:], pt, b.aad(j, layer, c, count, uint64(len(u))))
		clear(pt)
		b.Store.Put(Record{Pair: j, Layer: layer, Chunk: c, Count: count, Elems: uint64(len(u)), Nonce: nonce, Ciphertext: ct})
	}
}

// Available is the number of sealed pairs not yet used.
func (b *Blinder) Available() uint64 { return b.nextSeal - b.nextUse }

// Next claims the next pair; it is burnt whether or not the inference
// completes, so no pair is ever used twice.
func (b *Blinder) Next() (uint64, error) {
	j := b.nextUse
	if j >= b.nextSeal {
		return 0, errors.New("slalom: no sealed unblinding factors left; run the offline phase")
	}
	b.nextUse++
	return j, nil
}

// Forget deletes every record of pair j from the store: T calls it when
// an inference that claimed j aborts, so that the records of the layers
// it never reached do not stay in a long-running T's store (j is burnt
// and will never be opened).
func (b *Blinder) Forget(j uint64) {
	for _, l := range b.Prog.Layers {
		b.Store.Delete(j, uint32(l.Index))
	}
}

// ErrSealed reports a sealed record that is missing, tampered with,
// swapped, replayed or otherwise not the one T sealed for this use.
var ErrSealed = errors.New("sealed unblinding factor rejected")

// Open authenticates and decrypts U_{j,ℓ} (n elements) with associated
// data computed from T's own state, never from the record.
func (b *Blinder) Open(j uint64, l *Layer) ([]uint32, error) {
	return b.OpenInto(j, l, make([]uint32, l.OutLen()))
}

// OpenInto is Open writing into u (of the layer's output size).
func (b *Blinder) OpenInto(j uint64, l *Layer, u []uint32) ([]uint32, error) {
	n := l.OutLen()
	count := uint32((n + ChunkElems - 1) / ChunkElems)
	recs := b.Store.Get(j, uint32(l.Index))
	fail := func(why string, a ...any) error {
		return &CheckError{l.Index, l.Name, fmt.Sprintf("%v: %s", ErrSealed, fmt.Sprintf(why, a...))}
	}
	if len(recs) != int(count) {
		return nil, fail("%d records for pair %d, want %d", len(recs), j, count)
	}
	u = u[:n]
	seen := make([]bool, count)
	for _, r := range recs {
		c := r.Chunk // position claimed by the store; authenticated through the AAD below
		if c >= count || seen[c] {
			return nil, fail("chunk index %d out of place", c)
		}
		lo, hi := int(c)*ChunkElems, min(n, int(c+1)*ChunkElems)
		pt, err := b.aead.Open(b.ptbuf[:0], r.Nonce[:], r.Ciphertext, b.aad(j, uint32(l.Index), c, count, uint64(n)))
		b.ptbuf = pt[:0]
		if err != nil {
			return nil, fail("authentication failed for pair %d chunk %d", j, c)
		}
		if len(pt) != rb*(hi-lo) {
			return nil, fail("chunk %d holds %d bytes, want %d", c, len(pt), rb*(hi-lo))
		}
		if unpack24(u[lo:hi], pt) >= P {
			return nil, fail("value out of range")
		}
		clear(pt)
		seen[c] = true
	}
	b.Store.Delete(j, uint32(l.Index))
	return u, nil
}
