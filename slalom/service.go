package slalom

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sync"
	"time"

	"veil/attest"
	"veil/internal/netutil"
	"veil/ir"
)

// T as a service: a client (say, a hospital with an X-ray) attests T
// before it hands over its input, T runs the inference with D and returns
// the result to that client only.
//
// # Wire format (version 1)
//
// Every message is a frame:
//
//	BE32(n) ‖ version (1 byte, = ServiceVersion) ‖ type (1 byte) ‖ body (n − 2 bytes)
//
// with 2 ≤ n ≤ MaxServiceFrame; a frame of another version, length or type
// stops the connection. The handshake, per connection:
//
//  1. client → T, type 1 (hello): a fresh 32-byte nonce ‖ the client's
//     fresh X25519 public key (32 bytes).
//  2. T → client, type 2 (attest): BE32 length ‖ statement ‖ BE32 length ‖
//     evidence (attest.Evidence.MarshalBinary). T generates a fresh X25519
//     key for this connection inside its process; the evidence's PubKey is
//     that key and its report data is
//     attest.Bind(key, session id, nonce) with session id =
//     SHA-256("veil/slalom/session/v1" ‖ BE32 length ‖ statement).
//     The statement (Statement.MarshalBinary) says what T runs: the model
//     hash M, the mode, p, k, l_x, l_w, the output scale and length, the
//     input shape and layout.
//  3. The client checks the evidence with its attest.Policy against the
//     report data it recomputes from the key, the statement it received
//     and its own nonce, then the statement against its Requirements.
//     On a failure before keys exist, T may send type 4 (abort: a UTF-8
//     message), which is unauthenticated and only shown as such.
//
// Both sides then derive, from the X25519 shared secret, with
// HKDF-SHA256, salt = SHA-256("veil/slalom/service/v1 transcript" ‖
// BE32 length ‖ hello body ‖ BE32 length ‖ attest body), one AES-256-GCM
// key per direction (info "veil/slalom/service/v1 client to T" and
// "veil/slalom/service/v1 T to client"). Every later frame is type 3
// (sealed):
//
//	BE64(seq) ‖ AES-256-GCM(nonce = 0^32 ‖ BE64(seq),
//	                        AAD = "veil/slalom/service/v1" ‖ version ‖ 3 ‖ direction ‖ BE64(seq),
//	                        plaintext = kind ‖ message)
//
// where seq counts the frames of one direction from 0 and direction is
// 'C' (client to T) or 'S' (T to client). A receiver accepts only the
// next seq of its direction, so a replayed, reordered, dropped or
// reflected frame, or any changed bit, is refused and the connection
// closed. Messages: kind 1 (client → T) an input: BE32(count) ‖ count
// float32 values, little-endian; kind 2 (T → client) an output:
// BE32(scale) ‖ BE32(count) ‖ count int64 logits, little-endian, at
// 2^-scale; kind 3 (T → client) an error message, UTF-8 (T refused this
// input: e.g. a failed Freivalds check naming the layer; no output is
// released); kind 4 (T → client) a heartbeat, empty, sent every
// Server.HeartbeatInterval while T works on an input or waits for its
// turn, so that a client can tell a busy T from a dead one. T answers
// inputs in order; a client may send several before reading the answers.
//
// # Resources
//
// Before the handshake T reads only a hello's worth of bytes (a longer
// first frame is refused unread), and every frame's buffer grows as its
// bytes arrive, never to the announced length at once. At most
// MaxPending connections (DefaultMaxPendingPerHost from one address) may
// be in the handshake at a time, each for HandshakeTimeout; at most
// MaxClients connections are open at a time. More are closed at once.

// ServiceVersion is the version byte of every frame.
const ServiceVersion = 1

// MaxServiceFrame bounds a frame of the client protocol (the length field's
// value: version, type and body).
const MaxServiceFrame = 16 << 20

// NonceSize is the size of the client's fresh nonce.
const NonceSize = 32

// Frame types.
const (
	msgHello  byte = 1
	msgAttest byte = 2
	msgSealed byte = 3
	msgAbort  byte = 4
)

// Kinds of sealed messages.
const (
	recInput     byte = 1
	recOutput    byte = 2
	recError     byte = 3
	recHeartbeat byte = 4
)

// Defaults of the Server's and the Client's zero settings.
const (
	DefaultHandshakeTimeout  = 30 * time.Second
	DefaultIdleTimeout       = 10 * time.Minute
	DefaultHeartbeatInterval = 5 * time.Second
	// DefaultClientTimeout is how long a client waits for T to send
	// anything (an answer or a heartbeat): six heartbeats.
	DefaultClientTimeout     = 30 * time.Second
	DefaultMaxPending        = 64
	DefaultMaxPendingPerHost = 8
	DefaultMaxClients        = 256
	// clientHandshakeTimeout bounds the client's side of the handshake
	// (T may wait for its attester).
	clientHandshakeTimeout = 2 * time.Minute
)

// helloFrame is the length field of the hello frame: version, type,
// nonce and key.
const helloFrame = 2 + NonceSize + 32

// Directions, in the AAD.
const (
	dirToT      byte = 'C'
	dirToClient byte = 'S'
)

const (
	serviceDomain    = "veil/slalom/service/v1"
	sessionDomain    = "veil/slalom/session/v1"
	transcriptDomain = "veil/slalom/service/v1 transcript"
	maxMessageText   = 4096
	maxNameLen       = 1024
	maxDims          = 8
	// sealedOverhead is what a sealed frame adds to its message: the
	// length field's version and type, the sequence number, the tag and
	// the kind.
	sealedOverhead = 2 + 8 + 16 + 1
	// maxInLen and maxOutLen are the most values an input (BE32 count,
	// float32s) and an output (BE32 scale, BE32 count, int64s) message
	// can carry in one frame.
	maxInLen  = (MaxServiceFrame - sealedOverhead - 4) / 4
	maxOutLen = (MaxServiceFrame - sealedOverhead - 8) / 8
)

func writeFrame(w io.Writer, typ byte, body []byte) error {
	if len(body)+2 > MaxServiceFrame {
		return fmt.Errorf("frame of %d bytes exceeds the maximum of %d", len(body)+2, MaxServiceFrame)
	}
	b := make([]byte, 6+len(body))
	binary.BigEndian.PutUint32(b, uint32(2+len(body)))
	b[4], b[5] = ServiceVersion, typ
	copy(b[6:], body)
	_, err := w.Write(b)
	return err
}

// readFrame reads one frame whose length field is at most max (at most
// MaxServiceFrame). It returns io.EOF only when the peer closed the
// connection at a frame boundary. The buffer grows as the bytes arrive
// (netutil.AppendFull), not to the announced length.
func readFrame(r io.Reader, max int) (typ byte, body []byte, err error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return 0, nil, errors.New("truncated frame header")
		}
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[:])
	if n < 2 || int64(n) > int64(min(max, MaxServiceFrame)) {
		return 0, nil, fmt.Errorf("frame length %d outside [2, %d]", n, min(max, MaxServiceFrame))
	}
	buf, err := netutil.AppendFull(nil, r, int(n))
	if err != nil {
		return 0, nil, fmt.Errorf("truncated frame of %d bytes: %w", n, err)
	}
	if buf[0] != ServiceVersion {
		return 0, nil, fmt.Errorf("frame of protocol version %d, want %d", buf[0], ServiceVersion)
	}
	return buf[1], buf[2:], nil
}

// Statement is what T runs, as bound into its evidence (through the
// session id): a client checks it against what it demands before it sends
// anything.
type Statement struct {
	// Model is M = SHA-256 of the quantized model (Program.Hash).
	Model [32]byte
	// Name is the program's name (informational).
	Name string
	// Mode: Verify (Freivalds checks on every layer), Blind (one-time
	// additive blinding), the check variant and PerLayer.
	Verify, Blind, PerLayer bool
	Check                   CheckMode
	// P is the field's prime, K the number of Freivalds repetitions per
	// layer (Reps; 0 without Verify).
	P uint64
	K int
	// Lx and Lw are the fixed-point scales of activations and weights.
	Lx, Lw int
	// OutScale and OutLen describe the output: OutLen int64 logits at
	// scale 2^-OutScale.
	OutScale, OutLen int
	// Input is the input tensor's shape, Layout its layout ("NCHW" or
	// "NHWC"), so that a client can prepare its images.
	Input  []int
	Layout string
}

// StatementOf describes T running t's program in t's mode, with inputs in
// the given layout.
func StatementOf(t *Trusted, layout ir.Layout) Statement {
	p := t.Prog
	st := Statement{Model: p.Hash, Name: p.Name, Verify: t.Mode.Verify, Blind: t.Mode.Blind,
		PerLayer: t.Mode.PerLayer, P: P, Lx: p.Lx, Lw: p.Lw,
		OutScale: p.OutScale, OutLen: p.OutLen, Input: append([]int(nil), p.Input...), Layout: layout.String()}
	if t.Mode.Verify {
		st.Check, st.K = t.Mode.Check, Reps
	}
	return st
}

// Mode returns the statement's mode.
func (s *Statement) Mode() Mode {
	return Mode{Verify: s.Verify, Blind: s.Blind, Check: s.Check, PerLayer: s.PerLayer}
}

// ModeString describes the mode, with the check variant when verifying
// (e.g. "private+verified, structured checks, k = 2").
func (s *Statement) ModeString() string {
	m := s.Mode().String()
	if s.Verify {
		m += fmt.Sprintf(", %s checks, k = %d", s.Check, s.K)
	}
	return m
}

// InputLayout returns the layout of the input.
func (s *Statement) InputLayout() ir.Layout {
	if s.Layout == "NHWC" {
		return ir.NHWC
	}
	return ir.NCHW
}

func (s *Statement) inputSize() int {
	n := 1
	for _, d := range s.Input {
		n *= d
	}
	return n
}

func appendLP(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// MarshalBinary encodes s canonically: M (32 bytes) ‖ flags (bit 0
// verify, bit 1 blind, bit 2 per layer) ‖ check ‖ BE64 p ‖ BE32 k ‖ BE32
// l_x ‖ BE32 l_w ‖ BE32 output scale ‖ BE32 output length ‖ BE32 number
// of input dimensions ‖ BE32 each ‖ BE32 length ‖ layout ‖ BE32 length ‖
// name.
func (s *Statement) MarshalBinary() ([]byte, error) {
	if len(s.Input) > maxDims || len(s.Name) > maxNameLen || len(s.Layout) > 16 {
		return nil, errors.New("slalom: statement too large")
	}
	for _, v := range []int{s.K, s.Lx, s.Lw, s.OutScale, s.OutLen} {
		if v < 0 || v > math.MaxInt32 {
			return nil, fmt.Errorf("slalom: statement field %d out of range", v)
		}
	}
	b := append([]byte(nil), s.Model[:]...)
	var flags byte
	if s.Verify {
		flags |= 1
	}
	if s.Blind {
		flags |= 2
	}
	if s.PerLayer {
		flags |= 4
	}
	b = append(b, flags, byte(s.Check))
	b = binary.BigEndian.AppendUint64(b, s.P)
	for _, v := range []int{s.K, s.Lx, s.Lw, s.OutScale, s.OutLen, len(s.Input)} {
		b = binary.BigEndian.AppendUint32(b, uint32(v))
	}
	for _, d := range s.Input {
		if d < 1 || d > math.MaxInt32 {
			return nil, fmt.Errorf("slalom: input dimension %d out of range", d)
		}
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	b = appendLP(b, []byte(s.Layout))
	b = appendLP(b, []byte(s.Name))
	return b, nil
}

// reader decodes big-endian fields, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errors.New("truncated")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) lp(max int) []byte {
	n := r.u32()
	if r.err == nil && int64(n) > int64(max) {
		r.err = fmt.Errorf("field of %d bytes (max %d)", n, max)
		return nil
	}
	return r.take(int(n))
}

// UnmarshalBinary decodes what MarshalBinary wrote, refusing unknown
// flags or check variants, implausible sizes and trailing bytes.
func (s *Statement) UnmarshalBinary(b []byte) error {
	r := &reader{b: b}
	var st Statement
	copy(st.Model[:], r.take(32))
	fc := r.take(2)
	pb := r.take(8)
	var ints [6]uint32
	for i := range ints {
		ints[i] = r.u32()
	}
	if r.err != nil {
		return fmt.Errorf("slalom: statement: %w", r.err)
	}
	if fc[0]&^7 != 0 {
		return fmt.Errorf("slalom: statement: unknown mode flags %#x", fc[0])
	}
	if fc[1] > byte(Structured) {
		return fmt.Errorf("slalom: statement: unknown check variant %d", fc[1])
	}
	st.Verify, st.Blind, st.PerLayer, st.Check = fc[0]&1 != 0, fc[0]&2 != 0, fc[0]&4 != 0, CheckMode(fc[1])
	st.P = binary.BigEndian.Uint64(pb)
	for i, v := range ints[:5] {
		if v > math.MaxInt32 {
			return fmt.Errorf("slalom: statement: field %d out of range", i)
		}
	}
	st.K, st.Lx, st.Lw, st.OutScale, st.OutLen = int(ints[0]), int(ints[1]), int(ints[2]), int(ints[3]), int(ints[4])
	if st.OutLen < 1 || st.OutLen > maxOutLen {
		return fmt.Errorf("slalom: statement: output length %d outside [1, %d]", st.OutLen, maxOutLen)
	}
	if ints[5] < 1 || ints[5] > maxDims {
		return fmt.Errorf("slalom: statement: %d input dimensions (want 1..%d)", ints[5], maxDims)
	}
	size := int64(1)
	for range ints[5] {
		d := r.u32()
		if r.err != nil {
			return fmt.Errorf("slalom: statement: %w", r.err)
		}
		if d < 1 || d > MaxServiceFrame {
			return fmt.Errorf("slalom: statement: input dimension %d", d)
		}
		if size *= int64(d); size > maxInLen {
			return errors.New("slalom: statement: input too large for a frame")
		}
		st.Input = append(st.Input, int(d))
	}
	st.Layout = string(r.lp(16))
	st.Name = string(r.lp(maxNameLen))
	if r.err != nil {
		return fmt.Errorf("slalom: statement: %w", r.err)
	}
	if len(r.b) != 0 {
		return fmt.Errorf("slalom: statement: %d trailing bytes", len(r.b))
	}
	if st.Layout != "NCHW" && st.Layout != "NHWC" {
		return fmt.Errorf("slalom: statement: layout %q", st.Layout)
	}
	*s = st
	return nil
}

// SessionID is SHA-256("veil/slalom/session/v1" ‖ BE32 length ‖
// statement): the session id T's evidence binds, so that the evidence
// vouches for the statement.
func SessionID(statement []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(sessionDomain))
	h.Write(appendLP(nil, statement))
	var id [32]byte
	h.Sum(id[:0])
	return id
}

// session is the record layer of an established connection.
type session struct {
	rw            io.ReadWriter
	out, in       cipher.AEAD
	outDir, inDir byte
	outSeq, inSeq uint64
	wmu           sync.Mutex
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

// newSession derives both directions' keys from the X25519 shared
// secret and the transcript (hello and attest bodies).
func newSession(rw io.ReadWriter, shared, hello, attestBody []byte, isT bool) (*session, error) {
	h := sha256.New()
	h.Write([]byte(transcriptDomain))
	h.Write(appendLP(nil, hello))
	h.Write(appendLP(nil, attestBody))
	salt := h.Sum(nil)
	kc, err := hkdf.Key(sha256.New, shared, salt, serviceDomain+" client to T", 32)
	if err != nil {
		return nil, err
	}
	kt, err := hkdf.Key(sha256.New, shared, salt, serviceDomain+" T to client", 32)
	if err != nil {
		return nil, err
	}
	toT, err := newAEAD(kc)
	if err != nil {
		return nil, err
	}
	toClient, err := newAEAD(kt)
	if err != nil {
		return nil, err
	}
	s := &session{rw: rw, out: toT, in: toClient, outDir: dirToT, inDir: dirToClient}
	if isT {
		s.out, s.in, s.outDir, s.inDir = toClient, toT, dirToClient, dirToT
	}
	return s, nil
}

func recordNonce(seq uint64) []byte {
	var n [12]byte
	binary.BigEndian.PutUint64(n[4:], seq)
	return n[:]
}

func recordAAD(dir byte, seq uint64) []byte {
	a := append([]byte(serviceDomain), ServiceVersion, msgSealed, dir)
	return binary.BigEndian.AppendUint64(a, seq)
}

// send seals kind ‖ msg under the next sequence number of this direction.
func (s *session) send(kind byte, msg []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.outSeq == math.MaxUint64 {
		return errors.New("sequence numbers exhausted")
	}
	seq := s.outSeq
	s.outSeq++ // never reused, even if the write fails
	pt := append([]byte{kind}, msg...)
	body := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(pt)+s.out.Overhead()), seq)
	body = s.out.Seal(body, recordNonce(seq), pt, recordAAD(s.outDir, seq))
	return writeFrame(s.rw, msgSealed, body)
}

// recv reads, authenticates and decrypts the next frame of the other
// direction. io.EOF means the peer closed cleanly between frames.
func (s *session) recv() (kind byte, msg []byte, err error) {
	typ, body, err := readFrame(s.rw, MaxServiceFrame)
	if err != nil {
		return 0, nil, err
	}
	if typ != msgSealed {
		return 0, nil, fmt.Errorf("unauthenticated frame of type %d after the handshake", typ)
	}
	if len(body) < 8+s.in.Overhead()+1 {
		return 0, nil, fmt.Errorf("sealed frame of %d bytes is too short", len(body))
	}
	seq := binary.BigEndian.Uint64(body)
	if seq != s.inSeq {
		return 0, nil, fmt.Errorf("frame with sequence number %d refused (replayed, reordered or dropped frame: want %d)", seq, s.inSeq)
	}
	pt, err := s.in.Open(nil, recordNonce(seq), body[8:], recordAAD(s.inDir, seq))
	if err != nil {
		return 0, nil, fmt.Errorf("frame %d failed authentication (tampered, or not from this session)", seq)
	}
	s.inSeq++
	return pt[0], pt[1:], nil
}

// encodeInput is kind-1 message: BE32 count ‖ float32 values, LE.
func encodeInput(x []float32) []byte {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 4+4*len(x)), uint32(len(x)))
	for _, v := range x {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func decodeInput(b []byte, want int) ([]float32, error) {
	if len(b) < 4 {
		return nil, errors.New("input message too short")
	}
	n := binary.BigEndian.Uint32(b)
	if int64(n) != int64(want) {
		return nil, fmt.Errorf("input of %d values, the model takes %d", n, want)
	}
	if len(b) != 4+4*want {
		return nil, fmt.Errorf("input message of %d bytes, want %d", len(b), 4+4*want)
	}
	x := make([]float32, want)
	for i := range x {
		v := math.Float32frombits(binary.LittleEndian.Uint32(b[4+4*i:]))
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("input value %d is not finite", i)
		}
		x[i] = v
	}
	return x, nil
}

// encodeOutput is kind-2 message: BE32 scale ‖ BE32 count ‖ int64, LE.
func encodeOutput(z []int64, scale int) []byte {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 8+8*len(z)), uint32(scale))
	b = binary.BigEndian.AppendUint32(b, uint32(len(z)))
	for _, v := range z {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	return b
}

func decodeOutput(b []byte, st *Statement) ([]int64, error) {
	if len(b) < 8 {
		return nil, errors.New("output message too short")
	}
	scale, n := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	if int64(scale) != int64(st.OutScale) {
		return nil, fmt.Errorf("output at scale %d, the statement says %d", scale, st.OutScale)
	}
	if int64(n) != int64(st.OutLen) || len(b) != 8+8*st.OutLen {
		return nil, fmt.Errorf("output of %d values in %d bytes, the statement says %d values", n, len(b), st.OutLen)
	}
	z := make([]int64, n)
	for i := range z {
		z[i] = int64(binary.LittleEndian.Uint64(b[8+8*i:]))
	}
	return z, nil
}

func clip(s string) []byte {
	if len(s) > maxMessageText {
		s = s[:maxMessageText]
	}
	return []byte(s)
}

// Server serves clients with T: per connection, an attested handshake
// (a fresh X25519 key, evidence binding it, the statement and the
// client's nonce), then inferences over the encrypted channel. T runs one
// inference at a time.
type Server struct {
	// T is the trusted executor, set up with its device.
	T *Trusted
	// Attester produces T's evidence (attest.Detect on a TEE; a simulated
	// one proves nothing).
	Attester attest.Attester
	// Layout is the layout of the model's input, announced to clients.
	Layout ir.Layout
	// Logf, if set, reports connections, refusals and restarts.
	Logf func(format string, args ...any)
	// HandshakeTimeout bounds the handshake, IdleTimeout the wait for a
	// client's next input (zero: DefaultHandshakeTimeout, 30 s, and
	// DefaultIdleTimeout, 10 min).
	HandshakeTimeout, IdleTimeout time.Duration
	// HeartbeatInterval is how often T tells a client that it is still
	// working on (or waiting to run) its input (zero:
	// DefaultHeartbeatInterval, 5 s).
	HeartbeatInterval time.Duration
	// MaxPending bounds the connections in the handshake at once,
	// MaxPendingPerHost those from one address, and MaxClients all open
	// connections; more are closed at once (zero: DefaultMaxPending,
	// DefaultMaxPendingPerHost, DefaultMaxClients).
	MaxPending, MaxPendingPerHost, MaxClients int

	once  sync.Once
	st    Statement
	stb   []byte
	sterr error
	mu    sync.Mutex // T
	amu   sync.Mutex // the attester
}

func (s *Server) logf(f string, a ...any) {
	if s.Logf != nil {
		s.Logf(f, a...)
	}
}

func (s *Server) statement() ([]byte, error) {
	s.once.Do(func() {
		s.st = StatementOf(s.T, s.Layout)
		s.stb, s.sterr = s.st.MarshalBinary()
	})
	return s.stb, s.sterr
}

// Statement returns what this server's evidence says T runs.
func (s *Server) Statement() (Statement, error) {
	_, err := s.statement()
	return s.st, err
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Serve accepts clients on ln until ln is closed, serving each in its own
// goroutine (inferences are serialized). Temporary Accept errors (out of
// file descriptors) are retried; connections beyond the bounds
// (MaxPending, MaxPendingPerHost, MaxClients) are closed at once, and a
// connection that has not finished the handshake within HandshakeTimeout
// is closed (see internal/netutil).
func (s *Server) Serve(ln net.Listener) error {
	g := &netutil.Guard{MaxPending: or(s.MaxPending, DefaultMaxPending), MaxPerHost: or(s.MaxPendingPerHost, DefaultMaxPendingPerHost),
		HandshakeTimeout: or(s.HandshakeTimeout, DefaultHandshakeTimeout), Logf: s.Logf}
	open := &netutil.Limit{Total: or(s.MaxClients, DefaultMaxClients)}
	err := g.Serve(ln, func(p *netutil.Pending) {
		release, ok := open.Acquire(p.RemoteAddr())
		if !ok {
			return // the guard closes it
		}
		defer release()
		defer p.Close()
		if err := s.serveConn(p.Conn, p.Authenticated); err != nil {
			s.logf("client %s: %v", p.RemoteAddr(), err)
		}
	})
	return fmt.Errorf("slalom service: accepting: %w", err)
}

// ServeConn runs the handshake with one client and answers its inputs
// until it closes the connection (nil) or a frame is refused (an error
// naming the problem; the connection should then be closed).
func (s *Server) ServeConn(conn net.Conn) error { return s.serveConn(conn, nil) }

// serveConn is ServeConn; once the session keys exist it calls
// handshaken, if set, and stops if that says the connection timed out.
func (s *Server) serveConn(conn net.Conn, handshaken func() bool) error {
	ht, it := or(s.HandshakeTimeout, DefaultHandshakeTimeout), or(s.IdleTimeout, DefaultIdleTimeout)
	conn.SetDeadline(time.Now().Add(ht))
	abort := func(err error) error {
		writeFrame(conn, msgAbort, clip(err.Error()))
		return err
	}
	// Nothing longer than a hello is read (nor allocated) before the
	// handshake.
	typ, hello, err := readFrame(conn, helloFrame)
	if err != nil {
		return fmt.Errorf("slalom service: reading the client's hello: %w", err)
	}
	if typ != msgHello || len(hello) != NonceSize+32 {
		return abort(fmt.Errorf("slalom service: expected a hello frame (type %d, %d bytes), got type %d of %d bytes", msgHello, NonceSize+32, typ, len(hello)))
	}
	nonce := hello[:NonceSize]
	peer, err := ecdh.X25519().NewPublicKey(hello[NonceSize:])
	if err != nil {
		return abort(fmt.Errorf("slalom service: the client's key: %w", err))
	}
	stb, err := s.statement()
	if err != nil {
		return abort(fmt.Errorf("slalom service: statement: %w", err))
	}
	// A fresh key for this connection, generated inside T.
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return abort(fmt.Errorf("slalom service: generating the channel key: %w", err))
	}
	pub := priv.PublicKey().Bytes()
	sid := SessionID(stb)
	s.amu.Lock()
	ev, err := attest.AttestKey(s.Attester, pub, sid[:], nonce)
	s.amu.Unlock()
	if err != nil {
		return abort(fmt.Errorf("slalom service: attestation: %w", err))
	}
	evb, err := ev.MarshalBinary()
	if err != nil {
		return abort(fmt.Errorf("slalom service: encoding the evidence: %w", err))
	}
	body := appendLP(appendLP(nil, stb), evb)
	if err := writeFrame(conn, msgAttest, body); err != nil {
		return fmt.Errorf("slalom service: sending the evidence: %w", err)
	}
	shared, err := priv.ECDH(peer)
	if err != nil {
		return fmt.Errorf("slalom service: key agreement: %w", err)
	}
	sess, err := newSession(conn, shared, hello, body, true)
	if err != nil {
		return fmt.Errorf("slalom service: deriving keys: %w", err)
	}
	if handshaken != nil && !handshaken() {
		return fmt.Errorf("slalom service: handshake not finished within %v", ht)
	}
	size := s.T.Prog.Input.Size()
	for {
		conn.SetDeadline(time.Now().Add(it))
		kind, msg, err := sess.recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("slalom service: %w", err)
		}
		if kind != recInput {
			return fmt.Errorf("slalom service: message of kind %d from the client, want an input", kind)
		}
		x, err := decodeInput(msg, size)
		var out []int64
		if err == nil {
			stop := s.heartbeats(sess)
			out, err = s.infer(x)
			stop()
		}
		if err != nil {
			s.logf("input %d refused: %v", sess.inSeq-1, err)
			err = sess.send(recError, clip(err.Error()))
		} else {
			err = sess.send(recOutput, encodeOutput(out, s.T.Prog.OutScale))
		}
		if err != nil {
			return fmt.Errorf("slalom service: sending an answer: %w", err)
		}
	}
}

// heartbeats sends the client a heartbeat every HeartbeatInterval until
// stop is called (and returns).
func (s *Server) heartbeats(sess *session) (stop func()) {
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(or(s.HeartbeatInterval, DefaultHeartbeatInterval))
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if sess.send(recHeartbeat, nil) != nil {
					return
				}
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// infer runs one inference; after a rejection T draws new check secrets
// (the reuse-safety rule), so later inputs are checked afresh.
func (s *Server) infer(x []float32) ([]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := s.T.Infer(x)
	if err != nil && s.T.Broken != nil {
		s.logf("rejection (%v): restarting T with new check secrets", s.T.Broken)
		s.T.Restart()
	}
	return out, err
}

// Requirements are what a client demands of T's statement.
type Requirements struct {
	// ModelHash, if set, pins M (32 bytes).
	ModelHash []byte
	// Verify demands Freivalds checks on every layer (with k ≥ Reps);
	// Blind demands blinding of every layer's input.
	Verify, Blind bool
}

// Check returns an error naming the first demand st does not meet.
func (r Requirements) Check(st *Statement) error {
	if st.P != P {
		return fmt.Errorf("slalom client: T computes mod %d, this client knows only p = %d", st.P, uint64(P))
	}
	if r.ModelHash != nil && !bytes.Equal(r.ModelHash, st.Model[:]) {
		return fmt.Errorf("slalom client: T runs model hash %x, not the pinned %x", st.Model[:], r.ModelHash)
	}
	if r.Verify && (!st.Verify || st.K < Reps) {
		return fmt.Errorf("slalom client: verification required, but T runs mode %s with k = %d", st.Mode(), st.K)
	}
	if r.Blind && !st.Blind {
		return fmt.Errorf("slalom client: blinding required, but T runs mode %s", st.Mode())
	}
	return nil
}

// ServiceError is T's refusal of one input (for example a failed Freivalds
// check naming the layer): authenticated, with no output.
type ServiceError struct{ Msg string }

func (e *ServiceError) Error() string { return "T refused the input: " + e.Msg }

// Result is T's answer to one input: the logits at 2^-Scale, or Err
// (a *ServiceError).
type Result struct {
	Logits []int64
	Scale  int
	Err    error
}

// Client is a client's end of an attested session with T.
type Client struct {
	// Statement is what T's evidence says it runs; Claims what the
	// evidence established (platform, measurement, debug, TCB).
	Statement Statement
	Claims    *attest.Claims
	// Key is T's channel key for this session.
	Key []byte
	// Timeout is how long InferAll waits for T to send anything, an
	// answer or a heartbeat, before it gives up on T (NewClient sets
	// DefaultClientTimeout; zero waits without limit).
	Timeout time.Duration

	conn net.Conn
	s    *session
}

// DialService connects to T at addr and runs the handshake (NewClient).
func DialService(addr string, pol attest.Policy, req Requirements) (*Client, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("slalom client: connecting to %s: %w", addr, err)
	}
	cl, err := NewClient(c, pol, req)
	if err != nil {
		c.Close()
		return nil, err
	}
	return cl, nil
}

// NewClient runs the client's handshake on conn: it sends a fresh nonce,
// checks T's evidence with pol against the report data it computes from
// T's key, the statement and that nonce, checks the statement against req
// and derives the channel keys. Any failure is an error naming it.
func NewClient(conn net.Conn, pol attest.Policy, req Requirements) (*Client, error) {
	conn.SetDeadline(time.Now().Add(clientHandshakeTimeout))
	defer conn.SetDeadline(time.Time{})
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("slalom client: %w", err)
	}
	hello := make([]byte, NonceSize, NonceSize+32)
	if _, err := rand.Read(hello); err != nil {
		return nil, fmt.Errorf("slalom client: nonce: %w", err)
	}
	nonce := hello[:NonceSize]
	hello = append(hello, eph.PublicKey().Bytes()...)
	if err := writeFrame(conn, msgHello, hello); err != nil {
		return nil, fmt.Errorf("slalom client: sending the hello: %w", err)
	}
	typ, body, err := readFrame(conn, MaxServiceFrame)
	if err != nil {
		return nil, fmt.Errorf("slalom client: reading T's evidence: %w", err)
	}
	if typ == msgAbort {
		return nil, fmt.Errorf("slalom client: T aborted the handshake (unauthenticated message): %q", clip(string(body)))
	}
	if typ != msgAttest {
		return nil, fmt.Errorf("slalom client: expected T's evidence (frame type %d), got type %d", msgAttest, typ)
	}
	r := &reader{b: body}
	stb := r.lp(MaxServiceFrame)
	evb := r.lp(attest.MaxEvidenceSize)
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("slalom client: T's evidence message: %w", r.err)
	}
	var st Statement
	if err := st.UnmarshalBinary(stb); err != nil {
		return nil, fmt.Errorf("slalom client: %w", err)
	}
	var ev attest.Evidence
	if err := ev.UnmarshalBinary(evb); err != nil {
		return nil, fmt.Errorf("slalom client: T's evidence: %w", err)
	}
	tpub, err := ecdh.X25519().NewPublicKey(ev.PubKey)
	if err != nil {
		return nil, fmt.Errorf("slalom client: the key T's evidence names is not an X25519 key: %w", err)
	}
	sid := SessionID(stb)
	claims, err := pol.Check(&ev, attest.Bind(ev.PubKey, sid[:], nonce))
	if err != nil {
		return nil, fmt.Errorf("slalom client: T's evidence refused (it must bind T's key, this statement and this client's nonce): %w", err)
	}
	if err := req.Check(&st); err != nil {
		return nil, err
	}
	shared, err := eph.ECDH(tpub)
	if err != nil {
		return nil, fmt.Errorf("slalom client: key agreement: %w", err)
	}
	s, err := newSession(conn, shared, hello, body, false)
	if err != nil {
		return nil, fmt.Errorf("slalom client: deriving keys: %w", err)
	}
	return &Client{Statement: st, Claims: claims, Key: ev.PubKey, Timeout: DefaultClientTimeout, conn: conn, s: s}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Infer sends one input and returns T's output logits at scale
// Statement.OutScale, or T's refusal (*ServiceError) or a channel error.
func (c *Client) Infer(x []float32) ([]int64, error) {
	rs, err := c.InferAll([][]float32{x})
	if err != nil {
		return nil, err
	}
	return rs[0].Logits, rs[0].Err
}

// InferAll sends every input without waiting (T answers in order) and
// returns one Result per input. A T refusal is per input (Result.Err); a
// refused frame or a broken connection ends the session and is the
// returned error.
func (c *Client) InferAll(xs [][]float32) ([]Result, error) {
	size := c.Statement.inputSize()
	for i, x := range xs {
		if len(x) != size {
			return nil, fmt.Errorf("slalom client: input %d has %d values, T's model takes %d", i, len(x), size)
		}
	}
	werr := make(chan error, 1)
	go func() {
		for i, x := range xs {
			if err := c.s.send(recInput, encodeInput(x)); err != nil {
				werr <- fmt.Errorf("slalom client: sending input %d: %w", i, err)
				return
			}
		}
		werr <- nil
	}()
	out := make([]Result, len(xs))
	fail := func(err error) ([]Result, error) {
		c.conn.Close() // unblocks the writer
		<-werr
		return nil, err
	}
	for i := 0; i < len(xs); {
		if c.Timeout > 0 {
			c.conn.SetReadDeadline(time.Now().Add(c.Timeout))
		}
		kind, msg, err := c.s.recv()
		switch {
		case err == io.EOF:
			err = errors.New("T closed the connection")
		case errors.Is(err, os.ErrDeadlineExceeded):
			err = fmt.Errorf("T at %s sent nothing, not even a heartbeat, for %v (stalled or unreachable): %w", c.conn.RemoteAddr(), c.Timeout, err)
		}
		if err != nil {
			return fail(fmt.Errorf("slalom client: answer %d: %w", i, err))
		}
		if kind == recHeartbeat && len(msg) == 0 {
			continue // T is alive, still working
		}
		switch kind {
		case recOutput:
			z, err := decodeOutput(msg, &c.Statement)
			if err != nil {
				return fail(fmt.Errorf("slalom client: answer %d: %w", i, err))
			}
			out[i] = Result{Logits: z, Scale: c.Statement.OutScale}
		case recError:
			out[i] = Result{Err: &ServiceError{Msg: string(clip(string(msg)))}}
		default:
			return fail(fmt.Errorf("slalom client: answer %d: message of kind %d", i, kind))
		}
		i++
	}
	if err := <-werr; err != nil {
		return nil, err
	}
	return out, nil
}
