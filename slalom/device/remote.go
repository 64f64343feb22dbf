package device

import (
	"encoding/binary"
	"fmt"
	"math"

	"veil/slalom"
)

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
func (r *Remote) SetupProgram(p *slalom.Program) error {
	return r.C.send(msgSetupProgram, programWire(p))
}

// drain discards the rest of an aborted streamed run.
func (r *Remote) drain() error {
	for ; r.pending > 0; r.pending-- {
		typ, _, err := r.C.recv()
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
	binary.LittleEndian.PutUint32(f[13:], uint32((len(f)-runAllHeader)/slalom.ResidueSize))
	r.pending = layers
	return r.C.sendFrame(msgRunAll, f)
}

// Next receives the streamed result of layer l of the current run and
// validates it like Exchange does.
func (r *Remote) Next(l *slalom.Layer) ([]byte, error) {
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
func (r *Remote) Setup(p *slalom.Program) error {
	for _, l := range p.Layers {
		if err := r.C.send(msgSetupLayer, setupFrame(l)...); err != nil {
			return err
		}
	}
	if err := r.C.send(msgSetupDone, p.Hash[:]); err != nil {
		return err
	}
	typ, body, err := r.C.recv()
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
	need := header + slalom.ResidueSize*n
	if cap(r.sbuf) < need {
		r.sbuf = make([]byte, need)
	}
	return r.sbuf[:need]
}

// framed returns the frame, with room for header, whose values are buf:
// buf is normally the send buffer's own values (from Frame or
// RunAllFrame), else it is copied there.
func (r *Remote) framed(header int, buf []byte) []byte {
	f := r.frame(header, len(buf)/slalom.ResidueSize)
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
func (r *Remote) Exchange(l *slalom.Layer, buf []byte) ([]byte, error) {
	f := r.framed(computeHeader, buf)
	r.seq++
	binary.LittleEndian.PutUint64(f[5:], r.seq)
	binary.LittleEndian.PutUint32(f[13:], uint32(l.Index))
	binary.LittleEndian.PutUint32(f[17:], uint32((len(f)-computeHeader)/slalom.ResidueSize))
	if err := r.drain(); err != nil {
		return nil, &slalom.CheckError{Layer: l.Index, Name: l.Name, Reason: "device connection: " + err.Error()}
	}
	if err := r.C.sendFrame(msgCompute, f); err != nil {
		return nil, &slalom.CheckError{Layer: l.Index, Name: l.Name, Reason: "device connection: " + err.Error()}
	}
	return r.receive(l)
}

func (r *Remote) receive(l *slalom.Layer) ([]byte, error) {
	typ, body, err := r.C.recv()
	if err != nil {
		return nil, &slalom.CheckError{Layer: l.Index, Name: l.Name, Reason: "device connection: " + err.Error()}
	}
	bad := func(why string, a ...any) error {
		return &slalom.CheckError{Layer: l.Index, Name: l.Name, Reason: "device answer refused: " + fmt.Sprintf(why, a...)}
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
	if n != l.OutLen() || len(body) != 16+slalom.ResidueSize*n {
		return nil, bad("%d outputs in %d bytes, want %d (wrong shape)", n, len(body)-16, l.OutLen())
	}
	return body[16:], nil
}

// DeviceCPU asks D for its process CPU time.
func (r *Remote) DeviceCPU() (float64, error) {
	if err := r.drain(); err != nil {
		return 0, err
	}
	if err := r.C.send(msgStats); err != nil {
		return 0, err
	}
	typ, body, err := r.C.recv()
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
