// Package record is veil's one AEAD record layer: the sealing and
// opening of the records of one direction of a channel, each under the
// next sequence number, with associated data. Aramis' frames
// (mpc/aramis), Slalom's sealed T↔D channel and its client service
// (slalom) all seal and open their records here; each keeps its own
// framing and associated data, so their wire formats stay their own.
//
// # Construction
//
// Each direction has its own key (AES-GCM; 16 or 32 bytes) and its own
// sequence number, from 0. Record n is sealed under the 96-bit nonce
// 0^32 ‖ BE64(n), so a nonce never repeats under a key (a [Sealer]
// refuses a 2^64-th record rather than wrap), and with the caller's
// associated data (its header: lengths, types, parties, the sequence
// number where the wire carries one). A [Pair] holds both directions of
// one end; [NewPair] refuses the same key for both, so that a record
// reflected back to its sender never opens.
//
// # What a receiver refuses
//
// An [Opener] accepts exactly the next record of its direction:
//
//   - a changed byte of ciphertext, tag or associated data, a record
//     sealed under another key (another session, another link, the other
//     direction), or a record truncated or made up fails authentication
//     ([ErrAuth]);
//   - a replayed, reordered or dropped record is opened under the wrong
//     sequence number: with implicit numbering ([Opener.Open]) it fails
//     authentication, with the number carried on the wire
//     ([Opener.OpenNumbered]) it is authentic but out of turn
//     ([ErrSequence]).
//
// A record that is refused leaves the Opener as it was (though a record
// opened in place may have been overwritten); the callers end the
// connection on the first one.
//
// A Sealer or Opener is a value: a copy goes on from the same sequence
// number independently of the original (tests seal alternative records
// from one state that way). Neither is safe for concurrent use.
package record

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// TagSize is what sealing adds to a record: the AES-GCM tag.
const TagSize = 16

// nonceSize is the size of a record's nonce.
const nonceSize = 12

// Errors of opening and sealing. Callers wrap them with what the record
// was and which peer sent it.
var (
	// ErrAuth: the record does not authenticate under this direction's
	// key, sequence number and the associated data given: changed,
	// forged, truncated, from another session or direction, or (with
	// implicit numbering) replayed, reordered or after a dropped one.
	ErrAuth = errors.New("record failed authentication")
	// ErrSequence: an authentic record numbered other than the next one
	// expected: replayed, reordered, or a record before it was dropped.
	ErrSequence = errors.New("record out of sequence")
	// ErrExhausted: the direction has used every sequence number.
	ErrExhausted = errors.New("record sequence numbers exhausted")
)

// nonce returns the nonce of record seq: 0^32 ‖ BE64(seq).
func nonce(seq uint64) [nonceSize]byte {
	var n [nonceSize]byte
	binary.BigEndian.PutUint64(n[4:], seq)
	return n
}

// newAEAD returns AES-GCM under key, which must be 16 or 32 bytes.
func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 16 && len(key) != 32 {
		return nil, fmt.Errorf("record: key of %d bytes, want 16 or 32", len(key))
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

// Sealer seals the records of one direction.
type Sealer struct {
	aead cipher.AEAD
	seq  uint64
}

// NewSealer returns the sealing end of a direction keyed by key (16 or
// 32 bytes), at sequence number 0.
func NewSealer(key []byte) (Sealer, error) {
	a, err := newAEAD(key)
	if err != nil {
		return Sealer{}, err
	}
	return Sealer{aead: a}, nil
}

// Seq is the sequence number the next record is sealed under (the number
// of records sealed so far).
func (s *Sealer) Seq() uint64 { return s.seq }

// Seal appends to dst the next record: plaintext encrypted, followed by
// the tag over it and aad; it uses the next sequence number, which is
// never used again, and returns the updated slice. To seal in place, pass
// plaintext[:0] as dst. An empty plaintext makes a record that only
// authenticates aad (Aramis' frames, whose transport already encrypts).
func (s *Sealer) Seal(dst, plaintext, aad []byte) ([]byte, error) {
	if s.aead == nil {
		return nil, errors.New("record: sealer without a key")
	}
	if s.seq == math.MaxUint64 {
		return nil, ErrExhausted
	}
	n := nonce(s.seq)
	s.seq++
	return s.aead.Seal(dst, n[:], plaintext, aad), nil
}

// Opener opens the records of one direction, in order.
type Opener struct {
	aead cipher.AEAD
	seq  uint64
}

// NewOpener returns the opening end of a direction keyed by key (16 or
// 32 bytes), expecting sequence number 0 first.
func NewOpener(key []byte) (Opener, error) {
	a, err := newAEAD(key)
	if err != nil {
		return Opener{}, err
	}
	return Opener{aead: a}, nil
}

// Seq is the sequence number of the next record expected (the number of
// records opened so far).
func (o *Opener) Seq() uint64 { return o.seq }

// Open opens the next record, which the wire does not number: record
// (ciphertext ‖ tag) is authenticated with aad under the next sequence
// number and its plaintext appended to dst. To open in place, pass
// record[:0] as dst. A record that fails (ErrAuth) changes nothing.
func (o *Opener) Open(dst, record, aad []byte) ([]byte, error) {
	return o.open(o.seq, dst, record, aad)
}

// OpenNumbered opens a record that carries its sequence number seq on
// the wire (authenticated as part of aad, or through the nonce alone):
// it is authenticated under seq first, so that a refusal says which
// check caught it, then must be the next one expected. A changed or
// forged record fails with ErrAuth; an authentic one out of turn
// (replayed, reordered, after a dropped one) with ErrSequence. Either
// changes nothing.
func (o *Opener) OpenNumbered(seq uint64, dst, record, aad []byte) ([]byte, error) {
	return o.open(seq, dst, record, aad)
}

func (o *Opener) open(seq uint64, dst, record, aad []byte) ([]byte, error) {
	if o.aead == nil {
		return nil, errors.New("record: opener without a key")
	}
	if o.seq == math.MaxUint64 {
		return nil, ErrExhausted
	}
	n := nonce(seq)
	pt, err := o.aead.Open(dst, n[:], record, aad)
	if err != nil {
		return nil, ErrAuth
	}
	if seq != o.seq {
		return nil, fmt.Errorf("%w: record %d, want %d", ErrSequence, seq, o.seq)
	}
	o.seq++
	return pt, nil
}

// Pair is one end's two directions of a channel.
type Pair struct {
	Out Sealer // what this end sends
	In  Opener // what it receives
}

// NewPair returns the end of a channel that seals under out and opens
// under in. The keys must differ (so that a record reflected back to its
// sender is refused): equal keys are an error.
func NewPair(out, in []byte) (Pair, error) {
	if len(out) == len(in) && subtle.ConstantTimeCompare(out, in) == 1 {
		return Pair{}, errors.New("record: the same key for both directions (a reflected record would open)")
	}
	s, err := NewSealer(out)
	if err != nil {
		return Pair{}, err
	}
	o, err := NewOpener(in)
	if err != nil {
		return Pair{}, err
	}
	return Pair{Out: s, In: o}, nil
}
