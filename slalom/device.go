package slalom

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"veil/fixed"
)

// Device is the untrusted worker D: it holds the public weights and
// computes linear layers exactly mod P on whatever T sends.
type Device struct {
	// Tamper, if set, may change an output before it is sent (tests
	// model a cheating device with it).
	Tamper func(layer int, seq uint64, y []uint32) []uint32
	// Received, if set, sees the values of every compute request.
	Received func(layer int, x []uint32)
	// frameHook, if set, rewrites each result frame (tests).
	frameHook func(body []byte) (byte, []byte)
	// CPUSeconds reports the device process's CPU time (for stats).
	CPUSeconds func() float64
	// IdleTimeout is how long ServeListener's sessions wait for T to
	// send anything (a heartbeat will do) before giving up on it (zero:
	// DefaultDeviceIdleTimeout).
	IdleTimeout time.Duration
}

// Serve answers T on conn until T closes it, or until a receive fails
// (c.Timeout bounds T's silence; see ServeListener).
func (d *Device) Serve(c *Conn) error {
	var layers []*Layer // per connection: one Device may serve several T sessions
	var prog *Program
	fail := func(err error) error {
		// T may be blocked sending: do not wait long for it to read.
		c.Timeout = time.Second
		c.Send(msgFailure, []byte(err.Error()))
		return err
	}
	for {
		typ, body, err := c.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		switch typ {
		case msgSetupLayer:
			l, err := parseSetupLayer(body)
			if err != nil {
				return fail(err)
			}
			if l.Index != len(layers) {
				return fail(fmt.Errorf("%w: layer %d out of order", errProto, l.Index))
			}
			layers = append(layers, l)
		case msgSetupDone:
			if len(body) != 32 {
				return fail(errProto)
			}
			if err := c.Send(msgReady, body); err != nil {
				return err
			}
		case msgCompute:
			if len(body) < 16 {
				return fail(errProto)
			}
			seq := binary.LittleEndian.Uint64(body)
			li := int(binary.LittleEndian.Uint32(body[8:]))
			n := int(binary.LittleEndian.Uint32(body[12:]))
			if li >= len(layers) {
				return fail(fmt.Errorf("%w: no layer %d", errProto, li))
			}
			l := layers[li]
			if n != l.InLen() {
				return fail(fmt.Errorf("%w: layer %d: %d inputs, want %d", errProto, li, n, l.InLen()))
			}
			x, err := DecodeResidues(body[16:], n)
			if err != nil {
				return fail(err)
			}
			if d.Received != nil {
				d.Received(li, x)
			}
			y := l.Compute(x)
			if d.Tamper != nil {
				y = d.Tamper(li, seq, y)
			}
			if err := d.sendResult(c, seq, li, y); err != nil {
				return err
			}
		case msgSetupProgram:
			p, err := parseProgram(body, layers)
			if err != nil {
				return fail(err)
			}
			prog = p
		case msgRunAll:
			if prog == nil || len(body) < 12 {
				return fail(fmt.Errorf("%w: run without a program", errProto))
			}
			seq := binary.LittleEndian.Uint64(body)
			n := int(binary.LittleEndian.Uint32(body[8:]))
			x, err := DecodeResidues(body[12:], n)
			if err != nil {
				return fail(err)
			}
			var sendErr error
			err = prog.Stream(x, func(l *Layer, y []uint32) ([]uint32, error) {
				if d.Tamper != nil {
					y = d.Tamper(l.Index, seq, y)
				}
				if err := d.sendResult(c, seq, l.Index, y); err != nil {
					sendErr = err
					return nil, err
				}
				return y, nil
			})
			if sendErr != nil {
				return sendErr
			}
			if err != nil {
				return fail(err)
			}
		case msgStats:
			var s float64
			if d.CPUSeconds != nil {
				s = d.CPUSeconds()
			}
			if err := c.Send(msgStatsReply, binary.LittleEndian.AppendUint64(nil, math.Float64bits(s))); err != nil {
				return err
			}
		default:
			return fail(fmt.Errorf("%w: message type %d", errProto, typ))
		}
	}
}

func (d *Device) sendResult(c *Conn, seq uint64, li int, y []uint32) error {
	hdr := make([]byte, 16)
	binary.LittleEndian.PutUint64(hdr, seq)
	binary.LittleEndian.PutUint32(hdr[8:], uint32(li))
	binary.LittleEndian.PutUint32(hdr[12:], uint32(len(y)))
	typ, body := msgResult, AppendResidues(hdr, y)
	if d.frameHook != nil {
		typ, body = d.frameHook(body)
	}
	return c.Send(typ, body)
}

// Remote is T's end of the connection to D: the slalom.Link T runs
// over a Conn. Every answer is validated: type, sequence number (no
// stale answers), layer and shape; T refuses values that are not
// canonical residues as it decodes them.
type Remote struct {
	C    *Conn
	seq  uint64
	sbuf []byte
	// pending is the number of streamed results of an aborted run still
	// to be discarded before the next request.
	pending int
}

// SetupProgram sends the public program structure, so that D can run the
// whole network from X_0 (integrity mode without blinding).
func (r *Remote) SetupProgram(p *Program) error {
	return r.C.Send(msgSetupProgram, programWire(p))
}

// drain discards the rest of an aborted streamed run.
func (r *Remote) drain() error {
	for ; r.pending > 0; r.pending-- {
		typ, _, err := r.C.Recv()
		if err != nil {
			return err
		}
		if typ == msgFailure {
			r.pending = 0
			return nil
		}
	}
	return nil
}

// runAllHeader is the room RunAllFrame reserves before the values: frame
// length, type, sequence number, count.
const runAllHeader = 5 + 12

// RunAllFrame returns a reusable buffer for X_0 as n residues.
func (r *Remote) RunAllFrame(n int) []byte { return r.frame(runAllHeader, n)[runAllHeader:] }

// RunAllSend sends X_0 from buf (from RunAllFrame) and tells D to run the
// whole network, whose results come one per linear layer through Next.
func (r *Remote) RunAllSend(buf []byte, layers int) error {
	if err := r.drain(); err != nil {
		return err
	}
	f := r.framed(runAllHeader, buf)
	r.seq++
	binary.LittleEndian.PutUint64(f[5:], r.seq)
	binary.LittleEndian.PutUint32(f[13:], uint32((len(f)-runAllHeader)/ResidueSize))
	r.pending = layers
	return r.C.SendFrame(msgRunAll, f)
}

// Next receives the streamed result of layer l of the current run and
// validates it like Exchange does.
func (r *Remote) Next(l *Layer) ([]byte, error) {
	raw, err := r.receive(l)
	if err == nil {
		r.pending--
	} else {
		r.pending-- // this frame was consumed
		if r.pending < 0 {
			r.pending = 0
		}
	}
	return raw, err
}

// Setup sends the public layers (weights and bias in the clear, as in the
// paper: no model privacy towards the device) and waits for D.
func (r *Remote) Setup(p *Program) error {
	for _, l := range p.Layers {
		if err := r.C.Send(msgSetupLayer, setupFrame(l)...); err != nil {
			return err
		}
	}
	if err := r.C.Send(msgSetupDone, p.Hash[:]); err != nil {
		return err
	}
	typ, body, err := r.C.Recv()
	if err != nil {
		return fmt.Errorf("slalom: device setup: %w", err)
	}
	if typ == msgFailure {
		return fmt.Errorf("slalom: device refused setup: %s", body)
	}
	if typ != msgReady || string(body) != string(p.Hash[:]) {
		return fmt.Errorf("slalom: device setup: unexpected answer")
	}
	return nil
}

// computeHeader is the room Frame reserves before the values: frame
// length, type, sequence number, layer, count.
const computeHeader = 5 + 16

// Frame returns a reusable buffer for a compute request of n residues.
func (r *Remote) Frame(n int) []byte { return r.frame(computeHeader, n)[computeHeader:] }

// frame returns the reusable send buffer sized for a header and n residues.
func (r *Remote) frame(header, n int) []byte {
	need := header + ResidueSize*n
	if cap(r.sbuf) < need {
		r.sbuf = make([]byte, need)
	}
	return r.sbuf[:need]
}

// framed returns the frame, with room for header, whose values are buf:
// buf is normally the send buffer's own values (from Frame or
// RunAllFrame), else it is copied there.
func (r *Remote) framed(header int, buf []byte) []byte {
	f := r.frame(header, len(buf)/ResidueSize)
	if v := f[header:]; len(v) > 0 && &v[0] != &buf[0] {
		copy(v, buf)
	}
	return f
}

// Exchange sends a compute request whose values are buf (from Frame) for
// layer l and returns the raw values of D's answer, after checking its
// type, sequence number (no stale or replayed answers), layer and shape.
// The caller must still refuse any value ≥ P. The result is valid until
// the next exchange.
func (r *Remote) Exchange(l *Layer, buf []byte) ([]byte, error) {
	f := r.framed(computeHeader, buf)
	r.seq++
	binary.LittleEndian.PutUint64(f[5:], r.seq)
	binary.LittleEndian.PutUint32(f[13:], uint32(l.Index))
	binary.LittleEndian.PutUint32(f[17:], uint32((len(f)-computeHeader)/ResidueSize))
	if err := r.drain(); err != nil {
		return nil, &CheckError{l.Index, l.Name, "device connection: " + err.Error()}
	}
	if err := r.C.SendFrame(msgCompute, f); err != nil {
		return nil, &CheckError{l.Index, l.Name, "device connection: " + err.Error()}
	}
	return r.receive(l)
}

func (r *Remote) receive(l *Layer) ([]byte, error) {
	typ, body, err := r.C.Recv()
	if err != nil {
		return nil, &CheckError{l.Index, l.Name, "device connection: " + err.Error()}
	}
	bad := func(why string, a ...any) error {
		return &CheckError{l.Index, l.Name, "device answer refused: " + fmt.Sprintf(why, a...)}
	}
	switch {
	case typ == msgFailure:
		r.pending = 0
		return nil, bad("device failed: %q", body)
	case typ != msgResult:
		return nil, bad("message type %d", typ)
	case len(body) < 16:
		return nil, bad("short header")
	}
	if s := binary.LittleEndian.Uint64(body); s != r.seq {
		return nil, bad("sequence number %d, want %d (stale or replayed answer)", s, r.seq)
	}
	if li := binary.LittleEndian.Uint32(body[8:]); int(li) != l.Index {
		return nil, bad("answer for layer %d", li)
	}
	n := int(binary.LittleEndian.Uint32(body[12:]))
	if n != l.OutLen() || len(body) != 16+ResidueSize*n {
		return nil, bad("%d outputs in %d bytes, want %d (wrong shape)", n, len(body)-16, l.OutLen())
	}
	return body[16:], nil
}

// DeviceCPU asks D for its process CPU time.
func (r *Remote) DeviceCPU() (float64, error) {
	if err := r.drain(); err != nil {
		return 0, err
	}
	if err := r.C.Send(msgStats); err != nil {
		return 0, err
	}
	typ, body, err := r.C.Recv()
	if err != nil {
		return 0, err
	}
	if typ != msgStatsReply || len(body) != 8 {
		return 0, errProto
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(body)), nil
}

// Traffic is the payload bytes sent to D and received from it so far.
func (r *Remote) Traffic() (sent, received int64) { return r.C.BytesOut, r.C.BytesIn }

// programWire is the public program D needs to run the network itself in
// the one-round-trip integrity mode (the layers' weights went in their
// setup frames): the layer count (u32), each layer's ClipAt and LinAt
// (u32 each), then Fixed without weight data (fixed.Program.Public) as
// JSON.
func programWire(p *Program) []byte {
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
func parseProgram(b []byte, layers []*Layer) (*Program, error) {
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
	p, err := PublicProgram(fp, layers)
	if err != nil {
		return nil, fmt.Errorf("%w: program: %v", errProto, err)
	}
	return p, nil
}
