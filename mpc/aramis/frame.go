package aramis

import (
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"veil/mpc"
)

// Frame types.
const (
	frameData       byte = 0 // a protocol message
	frameHello      byte = 1 // the sender's session id and input commitment
	frameCheckpoint byte = 2 // what the sender has sent and verified so far
	frameAbort      byte = 3 // the sender stops: its account of why
	frameEnd        byte = 4 // the sender closes the session in order
	frameHeartbeat  byte = 5 // the sender is alive (sent on idle links)
	frameVerdict    byte = 6 // first frame of a link: whether the sender accepted the receiver's evidence
)

var frameNames = [...]string{"data", "hello", "checkpoint", "abort", "end", "heartbeat", "verdict"}

func frameName(t byte) string {
	if int(t) < len(frameNames) {
		return frameNames[t]
	}
	return fmt.Sprintf("type %d", t)
}

const (
	version   = 1
	headerLen = 32 // version, type, sender, receiver, seq(8), length(4), chain(16)
	tagLen    = 16
	// Overhead is what authentication adds to every message on the wire.
	Overhead = headerLen + tagLen
)

// header is a frame's authenticated header.
type header struct {
	typ      byte
	from, to mpc.Party
	seq      uint64
	length   uint32
	chain    [16]byte // the link's chain value before this frame
}

func (h *header) put(b []byte) {
	b[0] = version
	b[1] = h.typ
	b[2], b[3] = byte(h.from), byte(h.to)
	binary.BigEndian.PutUint64(b[4:], h.seq)
	binary.BigEndian.PutUint32(b[12:], h.length)
	copy(b[16:32], h.chain[:])
}

func parseHeader(b []byte) (header, error) {
	var h header
	if len(b) < headerLen+tagLen {
		return h, fmt.Errorf("frame of %d bytes is shorter than header and tag (%d)", len(b), headerLen+tagLen)
	}
	if b[0] != version {
		return h, fmt.Errorf("frame version %d, want %d", b[0], version)
	}
	h.typ, h.from, h.to = b[1], mpc.Party(b[2]), mpc.Party(b[3])
	h.seq = binary.BigEndian.Uint64(b[4:])
	h.length = binary.BigEndian.Uint32(b[12:])
	copy(h.chain[:], b[16:32])
	if int64(h.length) != int64(len(b)-headerLen-tagLen) {
		return h, fmt.Errorf("header says %d payload bytes, frame carries %d", h.length, len(b)-headerLen-tagLen)
	}
	return h, nil
}

// direction is one directed link's state: its key, the next sequence
// number and the chain value over every frame so far.
type direction struct {
	aead  cipher.AEAD
	seq   uint64
	chain [32]byte
	data  uint64 // data frames so far
	// dataChain is the chain value right after the last data frame
	// (what checkpoints compare: control frames may cross in flight).
	dataChain [32]byte
}

// initChain is a link's chain value before its first frame; salt is the
// pair's (pairSalt).
func initChain(salt [32]byte, from, to mpc.Party) [32]byte {
	h := sha256.New()
	h.Write([]byte("veil aramis chain v2"))
	h.Write(salt[:])
	h.Write([]byte{byte(from), byte(to)})
	var c [32]byte
	h.Sum(c[:0])
	return c
}

// advance extends the chain over a frame's header and tag (the tag
// authenticates the payload, so the chain commits to every frame).
func (d *direction) advance(hdr, tag []byte) {
	h := sha256.New()
	h.Write(d.chain[:])
	h.Write(hdr)
	h.Write(tag)
	h.Sum(d.chain[:0])
	d.seq++
}

func nonce(seq uint64) []byte {
	var n [12]byte
	binary.BigEndian.PutUint64(n[4:], seq)
	return n[:]
}

// seal builds the next frame of type typ on this direction. The tag is
// AES-GCM's over header ‖ payload as associated data (nothing is
// encrypted: the transport below already is), with the sequence number as
// the nonce, so a key never sees a nonce twice.
func (d *direction) seal(typ byte, from, to mpc.Party, payload []byte) []byte {
	h := header{typ: typ, from: from, to: to, seq: d.seq, length: uint32(len(payload))}
	copy(h.chain[:], d.chain[:16])
	frame := make([]byte, headerLen+len(payload), headerLen+len(payload)+tagLen)
	h.put(frame)
	copy(frame[headerLen:], payload)
	frame = d.aead.Seal(frame, nonce(d.seq), nil, frame)
	d.advance(frame[:headerLen], frame[len(frame)-tagLen:])
	if typ == frameData {
		d.data++
		d.dataChain = d.chain
	}
	return frame
}

// Errors of frame verification, wrapped with the frame's details. Each
// names the one check that caught the frame.
var (
	// ErrTag: the authentication tag does not verify over the header and
	// payload: a byte was altered, or the frame was forged.
	ErrTag = errors.New("authentication tag does not verify (altered or forged frame)")
	// ErrSequence: an authentic frame arrived out of turn: replayed,
	// reordered, or a frame before it was dropped.
	ErrSequence = errors.New("out of sequence (replayed, reordered or dropped frame)")
	// ErrChain: the frame's chain value disagrees with the transcript the
	// receiver has verified so far.
	ErrChain = errors.New("chain value does not match the transcript")
	// ErrIdentity: the header names another sender or receiver than the
	// link it came on (a frame injected under another identity).
	ErrIdentity = errors.New("header names another link (frame injected under another identity)")
	// ErrMalformed: too short, another version, or a length field that
	// disagrees with the frame.
	ErrMalformed = errors.New("malformed frame")
)

// open verifies the next frame expected on this direction and returns its
// header and payload (a slice of frame). The checks, in order: the
// header's shape, the link it names, the tag (under this direction's key,
// with the header's sequence number as the nonce), the sequence number,
// the chain value.
func (d *direction) open(frame []byte, from, to mpc.Party) (header, []byte, error) {
	h, err := parseHeader(frame)
	if err != nil {
		return h, nil, fmt.Errorf("frame %d: %w: %v", d.seq, ErrMalformed, err)
	}
	if h.from != from || h.to != to {
		return h, nil, fmt.Errorf("frame %d: %s→%s in the header on the %s→%s link: %w", d.seq, h.from, h.to, from, to, ErrIdentity)
	}
	body := frame[:len(frame)-tagLen]
	if _, err := d.aead.Open(nil, nonce(h.seq), frame[len(frame)-tagLen:], body); err != nil {
		return h, nil, fmt.Errorf("frame %d (%s, %d bytes): %w", d.seq, frameName(h.typ), h.length, ErrTag)
	}
	if h.seq != d.seq {
		return h, nil, fmt.Errorf("frame %d: an authentic %s frame numbered %d: %w", d.seq, frameName(h.typ), h.seq, ErrSequence)
	}
	if [16]byte(d.chain[:16]) != h.chain {
		return h, nil, fmt.Errorf("frame %d: %w", d.seq, ErrChain)
	}
	d.advance(frame[:headerLen], frame[len(frame)-tagLen:])
	if h.typ == frameData {
		d.data++
		d.dataChain = d.chain
	}
	return h, body[headerLen:], nil
}
