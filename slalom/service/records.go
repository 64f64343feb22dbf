package service

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"veil/internal/attestkex"
	"veil/internal/record"
)

// session is the record layer of an established connection: veil's
// record layer (internal/record) in both directions, each record
// carrying its sequence number on the wire, bound into its associated
// data with the direction.
type session struct {
	rw            io.ReadWriter
	rec           record.Pair // rec.Out under wmu; rec.In is the reader's
	outDir, inDir byte
	wmu           sync.Mutex
}

// transcriptSalt is the HKDF salt of a connection's keys: SHA-256 of the
// transcript domain and the length-prefixed hello and attest bodies.
func transcriptSalt(hello, attestBody []byte) []byte {
	s := attestkex.Transcript(transcriptDomain, hello, attestBody)
	return s[:]
}

// newSession derives both directions' keys from the agreed secret (the
// X25519 secret, salted with transcriptSalt): AES-256-GCM, labelled
// serviceDomain + " client to T" and " T to client". isT is T's end.
func newSession(rw io.ReadWriter, sec *attestkex.Secret, isT bool) (*session, error) {
	toT, toClient := serviceDomain+" client to T", serviceDomain+" T to client"
	s := &session{rw: rw, outDir: dirToT, inDir: dirToClient}
	out, in := toT, toClient
	if isT {
		out, in, s.outDir, s.inDir = toClient, toT, dirToClient, dirToT
	}
	var err error
	if s.rec, err = sec.Pair(out, in, 32); err != nil {
		return nil, err
	}
	return s, nil
}

// recordAAD is a sealed frame's associated data: the service domain,
// the version and type bytes, the direction and the sequence number.
func recordAAD(dir byte, seq uint64) []byte {
	a := append([]byte(serviceDomain), version, msgSealed, dir)
	return binary.BigEndian.AppendUint64(a, seq)
}

// send seals kind ‖ msg under the next sequence number of this direction
// (never used again, even if the write fails).
func (s *session) send(kind byte, msg []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	seq := s.rec.Out.Seq()
	pt := append([]byte{kind}, msg...)
	body := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(pt)+record.TagSize), seq)
	body, err := s.rec.Out.Seal(body, pt, recordAAD(s.outDir, seq))
	if err != nil {
		return err
	}
	return writeFrame(s.rw, msgSealed, body)
}

// recv reads, authenticates and decrypts the next frame of the other
// direction. io.EOF means the peer closed cleanly between frames.
func (s *session) recv() (kind byte, msg []byte, err error) {
	typ, body, err := readFrame(s.rw, maxFrame)
	if err != nil {
		return 0, nil, err
	}
	if typ != msgSealed {
		return 0, nil, fmt.Errorf("unauthenticated frame of type %d after the handshake", typ)
	}
	if len(body) < 8+record.TagSize+1 {
		return 0, nil, fmt.Errorf("sealed frame of %d bytes is too short", len(body))
	}
	seq := binary.BigEndian.Uint64(body)
	if want := s.rec.In.Seq(); seq != want {
		return 0, nil, fmt.Errorf("frame with sequence number %d refused (replayed, reordered or dropped frame: want %d)", seq, want)
	}
	pt, err := s.rec.In.OpenNumbered(seq, nil, body[8:], recordAAD(s.inDir, seq))
	switch {
	case errors.Is(err, record.ErrAuth):
		return 0, nil, fmt.Errorf("frame %d failed authentication (tampered, or not from this session)", seq)
	case err != nil:
		return 0, nil, fmt.Errorf("frame %d: %w", seq, err)
	}
	return pt[0], pt[1:], nil
}
