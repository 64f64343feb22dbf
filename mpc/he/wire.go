package he

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/tuneinsight/lattigo/v6/ring"
)

// Wire format. Every message starts with a kind byte; queries and
// responses follow it with the layer's tag (8 bytes naming the layer's
// shape, packing and parameters, so that a message meant for another
// layer is refused) and the number of ciphertexts (uint32, big endian),
// which must equal the number the layer takes. Residues modulo
// q_i are packed little-endian-first into bits(q_i) bits each, one
// byte-aligned row per modulus:
//
//	public key  'K' | seed (32) | p₀ rows q_0…q_{L−1}           (N residues each)
//	query       'Q' | tag | count | count × (seed (32) | b rows q_0…q_{L−1})
//	response    'R' | tag | count | count × (c₁ rows q_0…q_{r−1} | c₀ rows q_0…q_{r−1})
//
// A fresh ciphertext (b, a) sends the 32-byte seed of a instead of a. A
// response's c₁ has N residues per row and its c₀ only the coefficients
// that hold outputs, in the layout's order; the other coefficients of c₀
// hold partial sums that the client must not see and are dropped.
const (
	kindPublicKey byte = 'K'
	kindQuery     byte = 'Q'
	kindResponse  byte = 'R'
	tagLen             = 8
	headerLen          = 1 + tagLen + 4
)

// rowBytes is the size of count residues of b bits.
func rowBytes(count, b int) int { return (count*b + 7) / 8 }

// freshBytes is the size of a fresh ciphertext at level: seed and b.
func (p *Params) freshBytes(level int) int {
	n := seedLen
	for _, b := range p.bits[:level+1] {
		n += rowBytes(p.n, b)
	}
	return n
}

// respPolyBytes is the size of a response's c₁.
func (p *Params) respPolyBytes() int { return p.respBytes(p.n) }

// respBytes is the size of count residues at the response level.
func (p *Params) respBytes(count int) int {
	n := 0
	for _, b := range p.bits[:p.resp.level+1] {
		n += rowBytes(count, b)
	}
	return n
}

// PublicKeyBytes returns the size of a public key: 1 + 32 + N·Σbits(q_i)/8.
func (p *Params) PublicKeyBytes() int { return 1 + p.freshBytes(p.top.level) }

// CiphertextBytes returns the size of one fresh ciphertext in a query at
// the top level: 32 + N·Σ_{i<L} bits(q_i)/8 (208,928 bytes for the
// default set; 147,488 on its three moduli).
func (p *Params) CiphertextBytes() int { return p.freshBytes(p.top.level) }

// ResponseBytes returns the size of one response ciphertext carrying k
// outputs: Σ_{i<r} (N·bits(q_i)/8 + ⌈k·bits(q_i)/8⌉) (98,304 + 12·k
// bytes for the default set).
func (p *Params) ResponseBytes(k int) int { return p.respPolyBytes() + p.respBytes(k) }

// putRow appends row's residues, b bits each, least significant first.
func putRow(dst []byte, row []uint64, b int) []byte {
	start := len(dst)
	dst = slices.Grow(dst, rowBytes(len(row), b))[:start+rowBytes(len(row), b)]
	out := dst[start:]
	if b%8 == 0 { // whole bytes (the 48-bit moduli): no shifts or ORs
		bp, j := b/8, 0
		// Each word's bytes above v's b bits are zero and are written
		// over by the next value's.
		for ; j < len(row) && j*bp+8 <= len(out); j++ {
			binary.LittleEndian.PutUint64(out[j*bp:], row[j])
		}
		for ; j < len(row); j++ {
			for k := range bp {
				out[j*bp+k] = byte(row[j] >> (8 * k))
			}
		}
		return dst
	}
	clear(out)
	for j, v := range row {
		// v < 2^b lands in the 9 bytes from off; v >> (64 − sh) is the
		// part beyond the first 8 (zero when none is).
		bit := j * b
		off, sh := bit>>3, uint(bit&7)
		if off+9 <= len(out) {
			binary.LittleEndian.PutUint64(out[off:], binary.LittleEndian.Uint64(out[off:])|v<<sh)
			out[off+8] |= byte(v >> (64 - sh))
			continue
		}
		var tmp [9]byte // the row's last bytes
		binary.LittleEndian.PutUint64(tmp[:], v<<sh)
		tmp[8] = byte(v >> (64 - sh))
		for k := 0; off+k < len(out); k++ {
			out[off+k] |= tmp[k]
		}
	}
	return dst
}

// getRow reads len(row) residues of b bits from src, which holds
// exactly rowBytes(len(row), b) bytes, and refuses one ≥ q.
func getRow(src []byte, row []uint64, b int, q uint64) error {
	mask := uint64(1)<<b - 1
	var tail [16]byte
	for j := range row {
		bit := j * b
		off, sh := bit>>3, uint(bit&7)
		w := src[off:]
		if off+9 > len(src) { // the row's last bytes
			copy(tail[:], w)
			w = tail[:]
		}
		v := (binary.LittleEndian.Uint64(w)>>sh | uint64(w[8])<<(64-sh)) & mask
		if v >= q {
			return fmt.Errorf("residue %d of a row is %d, not below the modulus %d", j, v, q)
		}
		row[j] = v
	}
	if r := len(row) * b % 8; r != 0 && src[len(src)-1]>>r != 0 {
		return errors.New("nonzero padding bits after a row")
	}
	return nil
}

// putPoly appends rows 0…level of pol.
func (p *Params) putPoly(dst []byte, pol ring.Poly, level int) []byte {
	for i := 0; i <= level; i++ {
		dst = putRow(dst, pol.Coeffs[i], p.bits[i])
	}
	return dst
}

// getPoly reads rows 0…level of pol from src, which must hold them
// exactly, and returns the rest.
func (p *Params) getPoly(src []byte, pol ring.Poly, level int) ([]byte, error) {
	for i := 0; i <= level; i++ {
		n := rowBytes(p.n, p.bits[i])
		if len(src) < n {
			return nil, fmt.Errorf("truncated row %d", i)
		}
		if err := getRow(src[:n], pol.Coeffs[i], p.bits[i], p.lit.Q[i]); err != nil {
			return nil, err
		}
		src = src[n:]
	}
	return src, nil
}

// header appends a message header.
func header(dst []byte, kind byte, tag [tagLen]byte, count int) []byte {
	dst = append(dst, kind)
	dst = append(dst, tag[:]...)
	return binary.BigEndian.AppendUint32(dst, uint32(count))
}

// checkHeader checks a message's kind, declared count and total size
// against what the layer expects, before anything is allocated.
func checkHeader(data []byte, kind byte, tag [tagLen]byte, count, size int) error {
	what := map[byte]string{kindQuery: "query", kindResponse: "response"}[kind]
	if len(data) < headerLen {
		return fmt.Errorf("he: %s of %d bytes: truncated header", what, len(data))
	}
	if data[0] != kind {
		return fmt.Errorf("he: %s: kind byte %#x, want %#x", what, data[0], kind)
	}
	if !bytes.Equal(data[1:1+tagLen], tag[:]) {
		return fmt.Errorf("he: %s for another layer (tag %x, this layer's %x)", what, data[1:1+tagLen], tag)
	}
	if got := binary.BigEndian.Uint32(data[1+tagLen:]); uint64(got) != uint64(count) {
		return fmt.Errorf("he: %s declares %d ciphertexts, the layer takes %d", what, got, count)
	}
	if len(data) != size {
		return fmt.Errorf("he: %s of %d bytes, the layer's is %d", what, len(data), size)
	}
	return nil
}
