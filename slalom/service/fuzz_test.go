package service

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"veil/internal/attestkex"
	"veil/internal/netutil"
	"veil/slalom"
	"veil/slalom/device"
)

// FuzzStatement: T's statement as a client decodes it. No panic; a
// statement accepted is canonical (encoding it again gives the same
// bytes) and describes an input that fits a frame.
func FuzzStatement(f *testing.F) {
	for _, st := range []Statement{
		{Name: "lenet", Verify: true, Blind: true, Check: slalom.Structured, P: slalom.P, K: slalom.Reps, Lx: 8, Lw: 7, OutScale: 15, OutLen: 10, Input: []int{1, 1, 28, 28}, Layout: "NCHW"},
		{Name: "", P: slalom.P, OutLen: 1, Input: []int{64}, Layout: "NHWC"},
		{Name: "mlp", Verify: true, PerLayer: true, Check: slalom.OnTheFly, P: slalom.P, K: slalom.Reps, OutLen: 10, Input: []int{1, 64}, Layout: "NCHW"},
	} {
		b, err := st.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var st Statement
		if err := st.UnmarshalBinary(b); err != nil {
			return
		}
		again, err := st.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("statement %+v accepted from %x re-encodes to %x (%v)", st, b, again, err)
		}
		// Its input and output messages fit a sealed frame.
		if n := st.inputSize(); n < 1 || sealedOverhead+4+4*n > maxFrame || st.OutLen < 1 || sealedOverhead+8+8*st.OutLen > maxFrame {
			t.Fatalf("statement of %d inputs, %d outputs accepted", n, st.OutLen)
		}
	})
}

// FuzzServiceFrame: a frame of the client protocol read from arbitrary
// bytes, under the hello limit or the full one. No panic; a frame read
// is written back to the same bytes; its buffer is at most twice what
// arrived plus a read step.
func FuzzServiceFrame(f *testing.F) {
	var b bytes.Buffer
	writeFrame(&b, msgHello, make([]byte, nonceSize+32))
	f.Add(b.Bytes(), true)
	f.Add(b.Bytes(), false)
	f.Add([]byte{0, 0, 0, 2, version, msgSealed}, false)
	f.Add([]byte{1, 0, 0, 0, version, msgHello, 1, 2}, false)
	f.Add([]byte{0, 0, 0, 3, 2, msgAbort, 'x'}, true)
	f.Fuzz(func(t *testing.T, in []byte, hello bool) {
		max := maxFrame
		if hello {
			max = helloFrame
		}
		typ, body, err := readFrame(bytes.NewReader(in), max)
		if err != nil {
			return
		}
		if len(body)+2 > max || cap(body) > 2*len(in)+netutil.ReadStep {
			t.Fatalf("body of %d bytes (buffer %d) from %d bytes, limit %d", len(body), cap(body), len(in), max)
		}
		var again bytes.Buffer
		writeFrame(&again, typ, body)
		if !bytes.HasPrefix(in, again.Bytes()) {
			t.Fatalf("frame %x read from %x", again.Bytes(), in)
		}
	})
}

// sessionPair derives T's and the client's sessions from fixed keys.
func sessionPair(t testing.TB, tw, cr io.ReadWriter) (tSide, cSide *session) {
	shared := bytes.Repeat([]byte{3}, 32)
	hello, att := []byte("hello"), []byte("attest")
	sec := attestkex.NewSecret(shared, transcriptSalt(hello, att))
	tSide, err := newSession(tw, sec, true)
	if err != nil {
		t.Fatal(err)
	}
	cSide, err = newSession(cr, sec, false)
	if err != nil {
		t.Fatal(err)
	}
	return tSide, cSide
}

// FuzzServiceRecords: the client's view of T's sealed records. T sends an
// output and a heartbeat; the wire is changed (a byte flipped, cut short,
// bytes appended, or replaced by the input altogether). The client
// accepts only a prefix of what T sent, each record exactly as sent.
func FuzzServiceRecords(f *testing.F) {
	f.Add([]byte("logits"), uint32(0), byte(0), uint32(0), []byte(nil), false)
	f.Add([]byte("logits"), uint32(9), byte(4), uint32(0), []byte(nil), false)
	f.Add([]byte{}, uint32(0), byte(0), uint32(3), []byte(nil), false)
	f.Add([]byte{}, uint32(0), byte(0), uint32(0), []byte{0, 0, 0, 27, version, msgSealed, 0, 0, 0, 0, 0, 0, 0, 0}, true)
	f.Fuzz(func(t *testing.T, msg []byte, pos uint32, flip byte, cut uint32, extra []byte, raw bool) {
		var wire bytes.Buffer
		tSide, _ := sessionPair(t, &wire, nil)
		type rec struct {
			kind byte
			msg  []byte
		}
		sent := []rec{{recOutput, msg}, {recHeartbeat, []byte{}}}
		for _, r := range sent {
			if err := tSide.send(r.kind, r.msg); err != nil {
				return // too long for a frame
			}
		}
		w := wire.Bytes()
		if raw {
			w, sent = nil, nil
		}
		changed := raw
		if flip != 0 && len(w) > 0 {
			w[int(pos)%len(w)] ^= flip
			changed = true
		}
		if cut > 0 && len(w) > 0 {
			w = w[:len(w)-int(cut)%len(w)]
			changed = true
		}
		w = append(w, extra...)
		_, cSide := sessionPair(t, nil, bytes.NewBuffer(w))
		for i := 0; ; i++ {
			kind, got, err := cSide.recv()
			if err != nil {
				if !changed && i < len(sent) {
					t.Fatalf("record %d of an unchanged wire refused: %v", i, err)
				}
				return
			}
			if i >= len(sent) || kind != sent[i].kind || !bytes.Equal(got, sent[i].msg) {
				t.Fatalf("accepted record %d (kind %d, %q) that T did not send there", i, kind, got)
			}
		}
	})
}

// FuzzMessages: the bodies of inputs and outputs. No panic; a message
// accepted encodes back to the same bytes.
func FuzzMessages(f *testing.F) {
	f.Add(encodeInput([]float32{0, 1, -2.5, float32(math.Inf(1))}), uint8(4))
	f.Add(encodeInput([]float32{1, 2, 3}), uint8(3))
	f.Add(encodeOutput([]int64{-1, 0, math.MaxInt64}, 15), uint8(3))
	f.Add([]byte{0, 0, 0, 1}, uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, n uint8) {
		if x, err := decodeInput(b, int(n)); err == nil {
			if !bytes.Equal(encodeInput(x), b) {
				t.Fatalf("input %v from %x re-encodes differently", x, b)
			}
			for _, v := range x {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("non-finite input %v accepted", v)
				}
			}
		}
		st := &Statement{OutScale: 15, OutLen: int(n)}
		if z, err := decodeOutput(b, st); err == nil && !bytes.Equal(encodeOutput(z, 15), b) {
			t.Fatalf("output %v from %x re-encodes differently", z, b)
		}
	})
}

// FuzzServiceHandshake: T's side of the handshake fed arbitrary client
// bytes. No panic, T stops once the client's bytes end, and no input
// reaches the device (nothing can be sealed without T's fresh key).
func FuzzServiceHandshake(f *testing.F) {
	var reached atomic.Int32
	e := newSvc(f, slalom.Mode{Verify: true}, &device.Device{Received: func(int, []uint32) { reached.Add(1) }})
	var hello bytes.Buffer
	writeFrame(&hello, msgHello, make([]byte, nonceSize+32))
	f.Add(hello.Bytes())
	f.Add(append(slices.Clone(hello.Bytes()), 0, 0, 0, 30, version, msgSealed, 1, 2, 3))
	f.Add([]byte{0, 0, 0, 66, version, msgHello})
	f.Add([]byte{0, 0x10, 0, 0, version, msgHello})
	f.Fuzz(func(t *testing.T, in []byte) {
		c, s := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			e.srv.ServeConn(s)
			s.Close()
		}()
		go io.Copy(io.Discard, c)
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		c.Write(in)
		c.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("T still serving after the client's bytes ended")
		}
		if reached.Load() != 0 {
			t.Fatal("an input reached the device")
		}
	})
}

// FuzzClientHandshake: the client's side of the handshake fed an
// arbitrary answer to its hello. No panic, and nothing is accepted (the
// evidence cannot be signed by the pinned platform key).
func FuzzClientHandshake(f *testing.F) {
	e := newSvc(f, slalom.Mode{Verify: true}, nil)
	// A genuine attest frame (for another nonce) as a seed.
	var recorded []byte
	cl, _, err := e.dial(f, func(toT bool, i int, fr svcFrame) []svcFrame {
		if !toT && fr.typ == msgAttest {
			var b bytes.Buffer
			writeFrame(&b, fr.typ, fr.body)
			recorded = b.Bytes()
		}
		return []svcFrame{fr}
	}, Requirements{})
	if err != nil {
		f.Fatal(err)
	}
	cl.Close()
	f.Add(recorded)
	f.Add([]byte{0, 0, 0, 4, version, msgAbort, 'n', 'o'})
	f.Add([]byte{0, 0, 0, 10, version, msgAttest, 0, 0, 0, 1, 9, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, answer []byte) {
		a, b := net.Pipe()
		go func() {
			readFrame(b, helloFrame)
			b.SetWriteDeadline(time.Now().Add(5 * time.Second))
			b.Write(answer)
			b.Close()
		}()
		cl, err := NewClient(a, e.pol, Requirements{})
		a.Close()
		if err == nil {
			cl.Close()
			t.Fatal("the client accepted a forged answer")
		}
		if !errors.Is(err, io.EOF) && err.Error() == "" {
			t.Fatal("an empty error")
		}
	})
}
