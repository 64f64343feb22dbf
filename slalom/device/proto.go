package device

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"veil/fixed"
	"veil/internal/netutil"
	"veil/slalom"
)

// The T↔D protocol: length-framed messages (4-byte big-endian length,
// then a type byte and the body) over an authenticated connection.
// Residues travel as 3 little-endian bytes each (the spec's optional packing).
//
//	T→D setupLayer  index u32, kind u8, conv params 15×u32, n u32, m u32, |W| u32, |B| u32, W, B
//	T→D setupDone   model hash (32 bytes)
//	D→T ready       model hash
//	T→D compute     seq u64, layer u32, count u32, values
//	D→T result      seq u64, layer u32, count u32, values
//	D→T failure     message
//	T→D stats       (empty)          D→T statsReply  cpu seconds (float64 bits)
//	T→D program     the public program (integrity mode without blinding; see programWire)
//	T→D runAll      seq u64, count u32, X_0; D answers with one result per
//	                linear layer, in program order, all with this seq
//	T→D heartbeat   (empty): T is alive (Conn.keepAlive); never returned by recv
const (
	msgSetupLayer byte = iota + 1
	msgSetupDone
	msgReady
	msgCompute
	msgResult
	msgFailure
	msgStats
	msgStatsReply
	msgSetupProgram // T→D: the public program (programWire), for the one-round-trip integrity mode
	msgRunAll       // T→D: seq u64, count u32, X_0: D runs the whole network and streams every layer's result
	msgFramesHello  // D→T, first sealed frame: the TLS handshake is over on both sides
	msgHeartbeat    // T→D: nothing to do but alive (Conn.keepAlive); recv skips it
)

// maxFrame bounds a frame (the largest is VGG-16's fc6 weights, 411 MB).
const maxFrame = 1 << 30

// Conn is a framed message connection. send may be called from one
// goroutine while keepAlive sends heartbeats from another; recv from one
// goroutine at a time.
type Conn struct {
	rw io.ReadWriter // the connection
	tm timed         // rw with Timeout applied to every read and write
	r  *bufio.Reader
	w  *bufio.Writer
	// Peer names the other end in errors ("the device at 10.0.0.2:7000");
	// "" says "the peer".
	Peer string
	// Sent, if set, sees every frame this end sends (tests inspect them).
	Sent func(frame []byte)
	// BytesIn and BytesOut count payload bytes.
	BytesIn, BytesOut int64
	rbuf              []byte // reused by recv
	lower             interface{ Flush() error }
	// sealed, when set, carries the frames (see seal_channel.go) instead
	// of rw.
	sealed *sealedConn
	// Timeout, if positive, bounds how long the peer may move no byte
	// (when the connection supports deadlines): every read and write
	// must make progress within it, so a stalled peer is an error naming
	// it, not a hang. Set it before the connection is used.
	Timeout time.Duration

	wmu      sync.Mutex   // one frame at a time
	lastSend atomic.Int64 // UnixNano of the last frame sent
}

// timed applies its Conn's Timeout to every read and write: a deadline
// that moves forward with each call, so only a peer that moves no byte
// for that long fails.
type timed struct{ c *Conn }

func (t timed) Read(b []byte) (int, error) {
	if d, ok := t.c.rw.(interface{ SetReadDeadline(time.Time) error }); ok && t.c.Timeout > 0 {
		d.SetReadDeadline(time.Now().Add(t.c.Timeout))
	}
	return t.c.rw.Read(b)
}

func (t timed) Write(b []byte) (int, error) {
	if d, ok := t.c.rw.(interface{ SetWriteDeadline(time.Time) error }); ok && t.c.Timeout > 0 {
		d.SetWriteDeadline(time.Now().Add(t.c.Timeout))
	}
	return t.c.rw.Write(b)
}

func (c *Conn) peer() string {
	if c.Peer != "" {
		return c.Peer
	}
	return "the peer"
}

// stalled names the peer when err is a passed deadline.
func (c *Conn) stalled(err error, what string) error {
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("slalom: %s %s for %v (stalled or unreachable): %w", c.peer(), what, c.Timeout, err)
	}
	return err
}

func (c *Conn) flush() error {
	if err := c.w.Flush(); err != nil {
		return err
	}
	if c.lower != nil {
		return c.lower.Flush()
	}
	return nil
}

// NewConn frames messages over rw (unsealed: tests use it over pipes).
func NewConn(rw io.ReadWriter) *Conn {
	c := &Conn{rw: rw}
	c.tm = timed{c}
	c.r, c.w = bufio.NewReaderSize(c.tm, 1<<20), bufio.NewWriterSize(c.tm, 1<<20)
	return c
}

// keepAlive sends an empty heartbeat frame whenever this end has sent
// nothing for about every, so that the peer, waiting with its idle
// timeout (Device.IdleTimeout), can tell an idle T from a dead one. It
// stops when stop is called or a send fails (the connection closed).
func (c *Conn) keepAlive(every time.Duration) (stop func()) {
	done := make(chan struct{})
	var once sync.Once
	go func() {
		tick := time.NewTicker(max(every/2, time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if time.Since(time.Unix(0, c.lastSend.Load())) < every/2 {
					continue
				}
				if c.send(msgHeartbeat) != nil {
					return
				}
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

// send writes one frame: typ followed by the body parts.
func (c *Conn) send(typ byte, parts ...[]byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.stalled(c.writeParts(typ, parts...), "read nothing")
}

func (c *Conn) writeParts(typ byte, parts ...[]byte) error {
	c.lastSend.Store(time.Now().UnixNano())
	n := 1
	for _, p := range parts {
		n += len(p)
	}
	if n > maxFrame {
		return fmt.Errorf("slalom: frame of %d bytes exceeds %d", n, maxFrame)
	}
	var hdr [5]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(n))
	hdr[4] = typ
	if c.Sent != nil {
		f := append([]byte{typ}, nil...)
		for _, p := range parts {
			f = append(f, p...)
		}
		c.Sent(f)
	}
	if typ != msgHeartbeat {
		c.BytesOut += int64(n + 4)
	}
	if c.sealed != nil {
		return c.sealed.writeFrame(append([][]byte{hdr[4:]}, parts...)...)
	}
	if _, err := c.w.Write(hdr[:]); err != nil {
		return err
	}
	for _, p := range parts {
		if _, err := c.w.Write(p); err != nil {
			return err
		}
	}
	return c.flush()
}

// sendFrame sends a frame built in place: f[0:5] is reserved for the
// length and type, the body follows.
func (c *Conn) sendFrame(typ byte, f []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.stalled(c.writeBuilt(typ, f), "read nothing")
}

func (c *Conn) writeBuilt(typ byte, f []byte) error {
	c.lastSend.Store(time.Now().UnixNano())
	n := len(f) - 4
	if n > maxFrame {
		return fmt.Errorf("slalom: frame of %d bytes exceeds %d", n, maxFrame)
	}
	binary.BigEndian.PutUint32(f, uint32(n))
	f[4] = typ
	if c.Sent != nil {
		c.Sent(append([]byte(nil), f[4:]...))
	}
	c.BytesOut += int64(len(f))
	if c.sealed != nil {
		return c.sealed.writeFrame(f[4:])
	}
	if _, err := c.w.Write(f); err != nil {
		return err
	}
	return c.flush()
}

// recv reads one frame and returns its type and body. The body is valid
// until the next recv. Heartbeats are skipped (they only keep the
// connection's Timeout from passing). A frame's buffer grows as its
// bytes arrive (by at most a record of 4 MiB ahead on a sealed
// connection), not as its header announces.
func (c *Conn) recv() (byte, []byte, error) {
	for {
		typ, body, err := c.readOne()
		if err != nil {
			return 0, nil, c.stalled(err, "sent nothing")
		}
		if typ != msgHeartbeat || len(body) != 0 {
			return typ, body, nil
		}
	}
}

func (c *Conn) readOne() (byte, []byte, error) {
	if c.sealed != nil {
		buf, err := c.sealed.readFrame(c.rbuf, maxFrame)
		if err != nil {
			return 0, nil, err
		}
		c.rbuf = buf
		if len(buf) == 0 {
			return 0, nil, errors.New("slalom: empty frame refused")
		}
		if buf[0] != msgHeartbeat {
			c.BytesIn += int64(len(buf) + 4)
		}
		return buf[0], buf[1:], nil
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if n == 0 || n > maxFrame {
		return 0, nil, fmt.Errorf("slalom: frame of %d bytes refused (limit %d)", n, maxFrame)
	}
	// What the reader holds comes from it; the rest straight from the
	// connection into the buffer (one copy fewer for large frames).
	k := min(c.r.Buffered(), n)
	buf, err := netutil.AppendFull(c.rbuf[:0], c.r, k)
	if err == nil {
		buf, err = netutil.AppendFull(buf, c.tm, n-k)
	}
	c.rbuf = buf[:0]
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	if buf[0] != msgHeartbeat {
		c.BytesIn += int64(n + 4)
	}
	return buf[0], buf[1:], nil
}

var errProto = errors.New("slalom: protocol error")

// setupFrame is the body of l's setup message, in parts.
func setupFrame(l *slalom.Layer) [][]byte {
	c := l.Conv
	h := []uint32{uint32(l.Index), uint32(l.Kind), uint32(c.N), uint32(c.C), uint32(c.H), uint32(c.W), uint32(c.O), uint32(c.KH), uint32(c.KW),
		uint32(c.SH), uint32(c.SW), uint32(c.PadT), uint32(c.PadL), uint32(c.PadB), uint32(c.PadR), uint32(c.Group),
		uint32(l.N), uint32(l.M), uint32(len(l.W) + len(l.PW)), uint32(len(l.B)), uint32(l.Clamp), b2u(l.Requant)}
	hb := make([]byte, 4*len(h))
	for i, v := range h {
		binary.LittleEndian.PutUint32(hb[4*i:], v)
	}
	w := slalom.AppendResidues(slalom.AppendResidues(make([]byte, 0, slalom.ResidueSize*(len(l.W)+len(l.PW))), l.W), l.PW)
	return [][]byte{hb, w, slalom.AppendResidues(nil, l.B)}
}

const setupHeader = 22

// Bounds of a layer D accepts, so that no setup can make its sizes
// overflow or its buffers outgrow what frames carry: every dimension of a
// convolution (channels, size, kernel, stride, padding, groups, output
// features) at most maxDim, and inputs and outputs of at most
// maxLayerLen values (what one frame holds at 3 bytes a residue).
const (
	maxDim      = 1 << 16
	maxLayerLen = maxFrame / slalom.ResidueSize
)

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

func parseSetupLayer(b []byte) (*slalom.Layer, error) {
	if len(b) < 4*setupHeader {
		return nil, errProto
	}
	h := make([]int, setupHeader)
	for i := range h {
		h[i] = int(binary.LittleEndian.Uint32(b[4*i:]))
	}
	l := &slalom.Layer{Index: h[0], Kind: slalom.LayerKind(h[1]), N: h[16], M: h[17], Clamp: int64(h[20]), Requant: h[21] == 1}
	if l.Clamp > slalom.H {
		return nil, fmt.Errorf("%w: layer %d: clamp %d", errProto, l.Index, l.Clamp)
	}
	l.Conv.N, l.Conv.C, l.Conv.H, l.Conv.W, l.Conv.O, l.Conv.KH, l.Conv.KW = h[2], h[3], h[4], h[5], h[6], h[7], h[8]
	l.Conv.SH, l.Conv.SW, l.Conv.PadT, l.Conv.PadL, l.Conv.PadB, l.Conv.PadR, l.Conv.Group = h[9], h[10], h[11], h[12], h[13], h[14], h[15]
	if l.Kind != slalom.Dense {
		for _, v := range append(h[2:16], l.M) {
			if v < 0 || v > maxDim {
				return nil, fmt.Errorf("%w: layer %d: dimension %d over %d", errProto, l.Index, v, maxDim)
			}
		}
	}
	nw, nb := h[18], h[19]
	body := b[4*setupHeader:]
	if len(body) != slalom.ResidueSize*(nw+nb) {
		return nil, fmt.Errorf("%w: layer %d: %d bytes for %d+%d values", errProto, l.Index, len(body), nw, nb)
	}
	w, err := slalom.DecodeResidues(body[:slalom.ResidueSize*nw], nw)
	if err != nil {
		return nil, err
	}
	bias, err := slalom.DecodeResidues(body[slalom.ResidueSize*nw:], nb)
	if err != nil {
		return nil, err
	}
	l.W, l.B = make([]uint64, nw), make([]uint64, nb)
	for i, v := range w {
		l.W[i] = uint64(v)
	}
	for i, v := range bias {
		l.B[i] = uint64(v)
	}
	// Sanity of the shape, so that a bad setup cannot crash the device.
	switch l.Kind {
	case slalom.Dense:
		if l.N <= 0 || l.M <= 0 || nw != l.N*l.M || nb != l.M || l.N > slalom.MaxDepth {
			return nil, fmt.Errorf("%w: bad dense layer %d", errProto, l.Index)
		}
	case slalom.Separable:
		c := l.Conv
		dwLen := c.O * c.KH * c.KW
		if c.N != 1 || c.C <= 0 || c.H <= 0 || c.W <= 0 || c.Group != c.C || c.O != c.C || c.KH <= 0 || c.KW <= 0 || c.SH <= 0 || c.SW <= 0 ||
			c.OutH() <= 0 || c.OutW() <= 0 || l.M <= 0 || nw != dwLen+l.M*c.O || nb != l.M || max(c.KH*c.KW, c.O) > slalom.MaxDepth {
			return nil, fmt.Errorf("%w: bad separable layer %d", errProto, l.Index)
		}
		l.W, l.PW = l.W[:dwLen:dwLen], l.W[dwLen:]
	case slalom.Conv, slalom.Depthwise:
		c := l.Conv
		if c.N != 1 || c.C <= 0 || c.H <= 0 || c.W <= 0 || c.O <= 0 || c.Group <= 0 || c.C%c.Group != 0 || c.O%c.Group != 0 || c.KH <= 0 || c.KW <= 0 || c.SH <= 0 || c.SW <= 0 ||
			c.OutH() <= 0 || c.OutW() <= 0 || nw != c.O*c.C/c.Group*c.KH*c.KW || nb != c.O || c.C/c.Group*c.KH*c.KW > slalom.MaxDepth {
			return nil, fmt.Errorf("%w: bad convolution layer %d", errProto, l.Index)
		}
	default:
		return nil, fmt.Errorf("%w: layer kind %d", errProto, l.Kind)
	}
	if in, out := l.InLen(), l.OutLen(); in > maxLayerLen || out > maxLayerLen {
		return nil, fmt.Errorf("%w: layer %d of %d inputs and %d outputs does not fit a frame", errProto, l.Index, in, out)
	}
	return l, nil
}

// programWire is the public program D needs to run the network itself in
// the one-round-trip integrity mode (the layers' weights went in their
// setup frames): the layer count (u32), each layer's ClipAt and LinAt
// (u32 each), then Fixed without weight data (fixed.Program.Public) as
// JSON.
func programWire(p *slalom.Program) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(p.Layers)))
	for _, l := range p.Layers {
		b = binary.LittleEndian.AppendUint32(b, uint32(l.ClipAt))
		b = binary.LittleEndian.AppendUint32(b, uint32(l.LinAt))
	}
	j, err := json.Marshal(p.Fixed.Public())
	if err != nil {
		panic(err) // a program always marshals
	}
	return append(b, j...)
}

// parseProgram rebuilds the program on D from its wire form and the
// layers D holds, and checks it (PublicProgram), so that a bad message
// cannot crash D.
func parseProgram(b []byte, layers []*slalom.Layer) (*slalom.Program, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: short program", errProto)
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n != len(layers) || len(b)-4 < 8*n {
		return nil, fmt.Errorf("%w: program of %d layers, D holds %d", errProto, n, len(layers))
	}
	spans := b[4 : 4+8*n]
	fp := &fixed.Program{}
	dec := json.NewDecoder(bytes.NewReader(b[4+8*n:]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(fp); err != nil || dec.More() {
		return nil, fmt.Errorf("%w: program: %v", errProto, err)
	}
	for i, l := range layers {
		l.ClipAt = int(binary.LittleEndian.Uint32(spans[8*i:]))
		l.LinAt = int(binary.LittleEndian.Uint32(spans[8*i+4:]))
	}
	p, err := slalom.PublicProgram(fp, layers)
	if err != nil {
		return nil, fmt.Errorf("%w: program: %v", errProto, err)
	}
	return p, nil
}
