package aramis

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"veil/internal/record"
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
	tagLen    = record.TagSize
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

// transcript is one directed link's chain state: the chain value over
// every frame so far, and the data frames among them.
type transcript struct {
	chain [32]byte
	data  uint64 // data frames so far
	// dataChain is the chain value right after the last data frame
	// (what checkpoints compare: control frames may cross in flight).
	dataChain [32]byte
}

// sender is the sending end of a directed link: its record layer
// (internal/record: the key, and the sequence number that is the nonce)
// and its transcript.
type sender struct {
	rec record.Sealer
	transcript
}

// receiver is the receiving end of a directed link.
type receiver struct {
	rec record.Opener
	transcript
}

// newTranscript is a directed link's transcript before its first frame.
func newTranscript(chain [32]byte) transcript {
	return transcript{chain: chain, dataChain: chain}
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
func (t *transcript) advance(typ byte, hdr, tag []byte) {
	h := sha256.New()
	h.Write(t.chain[:])
	h.Write(hdr)
	h.Write(tag)
	h.Sum(t.chain[:0])
	if typ == frameData {
		t.data++
		t.dataChain = t.chain
	}
}

// seal builds the next frame of type typ on this direction. The tag is
// AES-GCM's over header ‖ payload as associated data (nothing is
// encrypted: the transport below already is), with the sequence number as
// the nonce (internal/record), so a key never sees a nonce twice.
func (d *sender) seal(typ byte, from, to mpc.Party, payload []byte) ([]byte, error) {
	h := header{typ: typ, from: from, to: to, seq: d.rec.Seq(), length: uint32(len(payload))}
	copy(h.chain[:], d.chain[:16])
	frame := make([]byte, headerLen+len(payload), headerLen+len(payload)+tagLen)
	h.put(frame)
	copy(frame[headerLen:], payload)
	frame, err := d.rec.Seal(frame, nil, frame)
	if err != nil {
		return nil, fmt.Errorf("frame %d: %w", h.seq, err)
	}
	d.advance(typ, frame[:headerLen], frame[len(frame)-tagLen:])
	return frame, nil
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
// the chain value. A frame that fails any of them changes nothing.
func (d *receiver) open(frame []byte, from, to mpc.Party) (header, []byte, error) {
	next := d.rec.Seq()
	h, err := parseHeader(frame)
	if err != nil {
		return h, nil, fmt.Errorf("frame %d: %w: %v", next, ErrMalformed, err)
	}
	if h.from != from || h.to != to {
		return h, nil, fmt.Errorf("frame %d: %s→%s in the header on the %s→%s link: %w", next, h.from, h.to, from, to, ErrIdentity)
	}
	body, tag := frame[:len(frame)-tagLen], frame[len(frame)-tagLen:]
	rec := d.rec // advanced only once every check passed
	if _, err := rec.OpenNumbered(h.seq, nil, tag, body); err != nil {
		if errors.Is(err, record.ErrSequence) {
			return h, nil, fmt.Errorf("frame %d: an authentic %s frame numbered %d: %w", next, frameName(h.typ), h.seq, ErrSequence)
		}
		return h, nil, fmt.Errorf("frame %d (%s, %d bytes): %w", next, frameName(h.typ), h.length, ErrTag)
	}
	if [16]byte(d.chain[:16]) != h.chain {
		return h, nil, fmt.Errorf("frame %d: %w", next, ErrChain)
	}
	d.rec = rec
	d.advance(h.typ, frame[:headerLen], tag)
	return h, body[headerLen:], nil
}
