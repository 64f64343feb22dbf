package device

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"slices"
	"testing"
	"time"

	"veil/fixed"
	"veil/internal/record"
	"veil/slalom"
	"veil/slalom/slalomtest"
)

// setupBytes is a layer's setup frame body, as D receives it.
func setupBytes(l *slalom.Layer) []byte { return bytes.Join(setupFrame(l), nil) }

// smallLayers are layers of every kind, small enough to run per input.
func smallLayers() []*slalom.Layer {
	w := func(n int) []uint64 {
		v := make([]uint64, n)
		for i := range v {
			v[i] = uint64(i*7919) % slalom.P
		}
		return v
	}
	dense := &slalom.Layer{Index: 0, Kind: slalom.Dense, N: 4, M: 3, W: w(12), B: w(3), Clamp: 100, Requant: true}
	conv := &slalom.Layer{Index: 1, Kind: slalom.Conv, W: w(2 * 3 * 3 * 3), B: w(2), Clamp: 50}
	conv.Conv.N, conv.Conv.C, conv.Conv.H, conv.Conv.W, conv.Conv.O, conv.Conv.KH, conv.Conv.KW = 1, 3, 5, 5, 2, 3, 3
	conv.Conv.SH, conv.Conv.SW, conv.Conv.PadT, conv.Conv.PadL, conv.Conv.PadB, conv.Conv.PadR, conv.Conv.Group = 1, 1, 1, 1, 1, 1, 1
	dw := &slalom.Layer{Index: 2, Kind: slalom.Depthwise, W: w(4 * 3 * 3), B: w(4)}
	dw.Conv.N, dw.Conv.C, dw.Conv.H, dw.Conv.W, dw.Conv.O, dw.Conv.KH, dw.Conv.KW = 1, 4, 4, 4, 4, 3, 3
	dw.Conv.SH, dw.Conv.SW, dw.Conv.Group = 2, 2, 4
	sep := &slalom.Layer{Index: 3, Kind: slalom.Separable, M: 2, W: w(3 * 3 * 3), PW: w(2 * 3), B: w(2)}
	sep.Conv.N, sep.Conv.C, sep.Conv.H, sep.Conv.W, sep.Conv.O, sep.Conv.KH, sep.Conv.KW = 1, 3, 4, 4, 3, 3, 3
	sep.Conv.SH, sep.Conv.SW, sep.Conv.PadT, sep.Conv.PadL, sep.Conv.PadB, sep.Conv.PadR, sep.Conv.Group = 1, 1, 1, 1, 1, 1, 3
	return []*slalom.Layer{dense, conv, dw, sep}
}

// maxRun bounds the layers the fuzz targets run: D refuses a compute
// request whose values do not fit a frame, so larger layers are only
// parsed.
const maxRun = 1 << 12

// FuzzSetupLayer: a layer as D receives it from T. No panic; a layer
// accepted has consistent sizes, encodes back to a frame that parses to
// the same layer, and (when small) D computes it without panicking.
func FuzzSetupLayer(f *testing.F) {
	for _, l := range smallLayers() {
		f.Add(setupBytes(l))
	}
	f.Add(make([]byte, 4*setupHeader))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := parseSetupLayer(b)
		if err != nil {
			return
		}
		in, out := l.InLen(), l.OutLen()
		if in <= 0 || out <= 0 || len(l.B) != l.Channels() {
			t.Fatalf("layer %+v accepted with %d inputs, %d outputs, %d biases", l.Conv, in, out, len(l.B))
		}
		again, err := parseSetupLayer(setupBytes(l))
		if err != nil || again.Kind != l.Kind || again.Conv != l.Conv || again.N != l.N || again.M != l.M ||
			!slices.Equal(again.W, l.W) || !slices.Equal(again.PW, l.PW) || !slices.Equal(again.B, l.B) || again.Clamp != l.Clamp {
			t.Fatalf("layer does not round-trip: %v", err)
		}
		if in <= maxRun && out <= maxRun {
			x := make([]uint64, in)
			for i := range x {
				x[i] = uint64(i) % slalom.P
			}
			for _, y := range slalom.Forward(l, x, true) {
				if y >= slalom.P {
					t.Fatalf("D computed a non-residue %d", y)
				}
			}
		}
	})
}

// scripted is a connection that reads a fixed byte stream and discards
// what is written.
type scripted struct{ r io.Reader }

func (s scripted) Read(b []byte) (int, error)  { return s.r.Read(b) }
func (s scripted) Write(b []byte) (int, error) { return len(b), nil }

// frameBytes is one unsealed frame.
func frameBytes(typ byte, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(body)))
	return append(append(b, typ), body...)
}

// FuzzDevice: D serving an arbitrary stream of frames from T (setup,
// program, compute, run-all, heartbeats, anything). No panic, and D
// stops at the end of the stream.
func FuzzDevice(f *testing.F) {
	ls := smallLayers()
	var setup []byte
	for _, l := range ls[:1] {
		setup = append(setup, frameBytes(msgSetupLayer, setupBytes(l))...)
	}
	compute := binary.LittleEndian.AppendUint64(nil, 1)
	compute = binary.LittleEndian.AppendUint32(compute, 0)
	compute = binary.LittleEndian.AppendUint32(compute, 4)
	compute = slalom.AppendResidues(compute, []uint32{1, 2, 3, slalom.P - 1})
	f.Add(append(slices.Clone(setup), frameBytes(msgCompute, compute)...))
	f.Add(append(slices.Clone(setup), frameBytes(msgSetupDone, make([]byte, 32))...))
	f.Add(append(frameBytes(msgHeartbeat, nil), frameBytes(msgStats, nil)...))
	prog := slalomtest.TinyProgram(f)
	runAll := binary.LittleEndian.AppendUint64(nil, 1)
	runAll = binary.LittleEndian.AppendUint32(runAll, 4)
	runAll = slalom.AppendResidues(runAll, []uint32{1, 2, 3, 4})
	f.Add(append(append(frameBytes(msgSetupLayer, setupBytes(prog.Layers[0])), frameBytes(msgSetupProgram, programWire(prog))...), frameBytes(msgRunAll, runAll)...))
	f.Add([]byte{0, 0, 0, 1, msgCompute})
	f.Fuzz(func(t *testing.T, stream []byte) {
		if len(stream) > 1<<16 || !smallWork(stream) {
			return
		}
		d := &Device{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			d.Serve(NewConn(scripted{bytes.NewReader(stream)}))
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("D still serving after the end of its input")
		}
	})
}

// smallWork reports whether the layers and programs a stream of frames
// sets up are small enough to run per input: T, trusted, decides how
// much work D does (up to frames of 1 GiB), which is no finding.
func smallWork(stream []byte) bool {
	for len(stream) >= 5 {
		n := int(binary.BigEndian.Uint32(stream))
		if n < 1 || n > len(stream)-4 {
			return true
		}
		typ, body := stream[4], stream[5:4+n]
		stream = stream[4+n:]
		switch typ {
		case msgSetupLayer:
			if l, err := parseSetupLayer(body); err == nil && (l.InLen() > maxRun || l.OutLen() > maxRun) {
				return false
			}
		case msgSetupProgram:
			if !smallProgram(body) {
				return false
			}
		}
	}
	return true
}

// sealedWire seals frames one after the other under a fixed key and
// returns the bytes on the wire.
func sealedWire(t testing.TB, frames ...[]byte) []byte {
	var wire bytes.Buffer
	out, err := record.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	w := &sealedConn{w: bufio.NewWriter(&wire), out: out}
	for _, fr := range frames {
		if err := w.writeFrame(fr); err != nil {
			t.Fatal(err)
		}
	}
	return wire.Bytes()
}

// FuzzSealedFrames: the T↔D record layer. Two frames are sealed, then
// the wire is changed (a byte flipped, cut short, bytes appended). The
// receiver opens only a prefix of the frames sent, each exactly as sent:
// a changed record never opens. Its buffer stays within twice what
// arrived plus a record.
func FuzzSealedFrames(f *testing.F) {
	f.Add([]byte("activation"), uint32(0), byte(0), uint32(0), []byte(nil))
	f.Add([]byte("activation"), uint32(3), byte(1), uint32(0), []byte(nil))
	f.Add([]byte{}, uint32(20), byte(0x80), uint32(0), []byte(nil))
	f.Add(bytes.Repeat([]byte{1}, 1000), uint32(0), byte(0), uint32(7), []byte{0, 0, 0, 9})
	f.Add([]byte("x"), uint32(0), byte(0), uint32(0), []byte{0x40, 0, 0, 0, 1, 2, 3})
	f.Fuzz(func(t *testing.T, payload []byte, pos uint32, flip byte, cut uint32, extra []byte) {
		sent := [][]byte{payload, []byte("second frame")}
		wire := sealedWire(t, sent...)
		orig := len(wire)
		if flip != 0 {
			wire[int(pos)%len(wire)] ^= flip
		}
		if cut > 0 {
			wire = wire[:len(wire)-int(cut)%len(wire)]
		}
		wire = append(wire, extra...)
		in, _ := record.NewOpener(bytes.Repeat([]byte{7}, 32))
		r := &sealedConn{r: bufio.NewReader(bytes.NewReader(wire)), in: in}
		var buf []byte
		for i := 0; ; i++ {
			got, err := r.readFrame(buf, 1<<20)
			if err != nil {
				if i < len(sent) && flip == 0 && cut == 0 {
					t.Fatalf("frame %d of an unchanged wire refused: %v", i, err)
				}
				return
			}
			if cap(got) > 2*len(wire)+recordMax+tagSize {
				t.Fatalf("buffer of %d bytes for a wire of %d", cap(got), len(wire))
			}
			if i >= len(sent) || !bytes.Equal(got, sent[i]) {
				t.Fatalf("opened frame %d %q, which was not sent there (wire of %d bytes, %d sent)", i, got, len(wire), orig)
			}
			buf = got
		}
	})
}

// smallProgram reports whether a program message (programWire) asks D
// for little work per input: every tensor and the multiply-adds of the
// instructions D runs in the clear within maxRun (or the message does
// not parse).
func smallProgram(body []byte) bool {
	if len(body) < 4 {
		return true
	}
	n := int(binary.LittleEndian.Uint32(body))
	if n > len(body)/8 {
		return true
	}
	var fp fixed.Program
	if json.Unmarshal(body[4+8*n:], &fp) != nil || fp.ValidateStructure() != nil {
		return true
	}
	fp.ComputeStats()
	for _, t := range fp.Tensors {
		if t.Shape.Size() > maxRun {
			return false
		}
	}
	return fp.Stats.MACs <= 16*maxRun
}
