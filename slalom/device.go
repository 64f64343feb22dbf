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
			x, err := decodeResidues(body[16:], n)
			if err != nil {
				return fail(err)
			}
			if d.Received != nil {
				d.Received(li, x)
			}
			y := toU32(Forward(l, toU64(x), true))
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
			x, err := decodeResidues(body[12:], n)
			if err != nil {
				return fail(err)
			}
			q := make([]int64, n)
			for i, v := range x {
				q[i] = lift(uint64(v))
			}
			var sendErr error
			_, err = prog.execute(q, adapt(func(l *Layer, x []int64) ([]int64, error) {
				xr := make([]uint64, len(x))
				for i, v := range x {
					xr[i] = toField(v)
				}
				y := toU32(Forward(l, xr, true))
				if d.Tamper != nil {
					y = d.Tamper(l.Index, seq, y)
				}
				if err := d.sendResult(c, seq, l.Index, y); err != nil {
					sendErr = err
					return nil, err
				}
				// D continues from its own (honest or not) outputs, as T will not.
				z := make([]int64, l.OutLen())
				for i := range z {
					if i < len(y) {
						z[i] = lift(uint64(y[i] % P))
					}
				}
				return z, nil
			}, nil), nil)
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
	typ, body := msgResult, append(hdr, u32Bytes(y)...)
	if d.frameHook != nil {
		typ, body = d.frameHook(body)
	}
	return c.Send(typ, body)
}

// Remote is T's end of the connection to D. Every answer is validated:
// type, sequence number (no stale answers), layer, shape, and that every
// value is a canonical residue.
type Remote struct {
	C    *Conn
	seq  uint64
	sbuf []byte
	// pending is the number of streamed results of an aborted run still
	// to be discarded before the next request.
	pending int
	program bool // D holds the program (one-round-trip mode available)
}

// SetupProgram sends the public program structure, so that D can run the
// whole network from X_0 (integrity mode without blinding).
func (r *Remote) SetupProgram(p *Program) error {
	if err := r.C.Send(msgSetupProgram, p.wire()); err != nil {
		return err
	}
	r.program = true
	return nil
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

// RunAll sends X_0 (residues) and tells D to run the whole network; the
// results then come one per linear layer through Next.
func (r *Remote) RunAll(x0 []uint32, layers int) error {
	f := r.RunAllFrame(len(x0))
	putU32s(f[runAllHeader:], x0)
	return r.RunAllSend(f, layers)
}

// runAllHeader is the room RunAllFrame reserves before the values: frame
// length, type, sequence number, count.
const runAllHeader = 5 + 12

// RunAllFrame returns a reusable buffer for X_0 as n residues; the values
// (3 bytes each) go at [runAllHeader:].
func (r *Remote) RunAllFrame(n int) []byte { return r.frame(runAllHeader, n) }

// RunAllSend sends X_0 built in f (from RunAllFrame) and tells D to run
// the whole network, as RunAll does.
func (r *Remote) RunAllSend(f []byte, layers int) error {
	if err := r.drain(); err != nil {
		return err
	}
	r.seq++
	binary.LittleEndian.PutUint64(f[5:], r.seq)
	binary.LittleEndian.PutUint32(f[13:], uint32((len(f)-runAllHeader)/rb))
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
		if err := r.C.Send(msgSetupLayer, l.setupFrame()...); err != nil {
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

// Compute sends x (residues) for layer l and returns D's validated answer.
func (r *Remote) Compute(l *Layer, x []uint32) ([]uint32, error) {
	f := r.Frame(len(x))
	putU32s(f[computeHeader:], x)
	raw, err := r.Exchange(l, f)
	if err != nil {
		return nil, err
	}
	y, err := decodeResidues(raw, l.OutLen())
	if err != nil {
		return nil, &CheckError{l.Index, l.Name, "device answer refused: " + err.Error()}
	}
	return y, nil
}

// computeHeader is the room Frame reserves before the values: frame
// length, type, sequence number, layer, count.
const computeHeader = 5 + 16

// Frame returns a reusable buffer for a compute request of n values; the
// values go at [computeHeader:].
func (r *Remote) Frame(n int) []byte { return r.frame(computeHeader, n) }

// frame returns the reusable send buffer sized for a header and n residues.
func (r *Remote) frame(header, n int) []byte {
	need := header + rb*n
	if cap(r.sbuf) < need {
		r.sbuf = make([]byte, need)
	}
	return r.sbuf[:need]
}

// Exchange sends a compute request built in f (from Frame) for layer l
// and returns the raw values of D's answer, after checking its type,
// sequence number (no stale or replayed answers), layer and shape. The
// caller must still refuse any value ≥ P. The result is valid until the
// next exchange.
func (r *Remote) Exchange(l *Layer, f []byte) ([]byte, error) {
	r.seq++
	binary.LittleEndian.PutUint64(f[5:], r.seq)
	binary.LittleEndian.PutUint32(f[13:], uint32(l.Index))
	binary.LittleEndian.PutUint32(f[17:], uint32((len(f)-computeHeader)/rb))
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
	if n != l.OutLen() || len(body) != 16+rb*n {
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

// wire is the public program D needs to run the network itself in the
// one-round-trip integrity mode (the layers' weights went in their setup
// frames): the layer count (u32), each layer's ClipAt and LinAt (u32
// each), then Fixed without weight data (fixed.Program.Public) as JSON.
func (p *Program) wire() []byte {
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
// layers D holds, and checks it: a valid fixed program without weight
// data (fixed.Program.ValidateStructure: D's linear layers use the
// weights of their setup) with one input and one output, in which every
// layer sits where the message says (see newPlan), so that a bad message
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
	if err := fp.ValidateStructure(); err != nil {
		return nil, fmt.Errorf("%w: program: %v", errProto, err)
	}
	if len(fp.Inputs) != 1 || len(fp.Outputs) != 1 {
		return nil, fmt.Errorf("%w: program of %d inputs and %d outputs", errProto, len(fp.Inputs), len(fp.Outputs))
	}
	for i, l := range layers {
		l.ClipAt = int(binary.LittleEndian.Uint32(spans[8*i:]))
		l.LinAt = int(binary.LittleEndian.Uint32(spans[8*i+4:]))
	}
	in := fp.Tensors[fp.Inputs[0]]
	p := &Program{Name: fp.Name, Lx: fp.Scale, Input: in.Shape, InClamp: H, Layers: layers, Fixed: fp,
		OutScale: fp.Tensors[fp.Outputs[0]].Scale, OutLen: fp.Tensors[fp.Outputs[0]].Shape.Size()}
	if _, err := p.plans(); err != nil {
		return nil, fmt.Errorf("%w: program: %v", errProto, err)
	}
	return p, nil
}
