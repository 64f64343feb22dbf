package device_test

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/slalom"
	"veil/slalom/device"
	"veil/slalom/device/devicetest"
	"veil/slalom/slalomtest"
)

// TestStalledDeviceTimesOut: a device that stops answering in the middle
// of an inference makes T stop with an error naming the layer and the
// wait, instead of hanging; no output is released.
func TestStalledDeviceTimesOut(t *testing.T) {
	l := slalomtest.Load(t, 0)
	for _, mode := range []slalom.Mode{{Verify: true}, {Verify: true, Blind: true}} {
		stall := make(chan struct{})
		d := &device.Device{Tamper: func(layer int, seq uint64, y []uint32) []uint32 {
			if layer == 1 {
				<-stall
			}
			return y
		}}
		tr := devicetest.Trusted(t, l.P, mode, d)
		tr.Dev.(*device.Remote).C.Timeout = 200 * time.Millisecond
		start := time.Now()
		out, err := tr.Infer(l.Test[0].X)
		close(stall)
		if err == nil || out != nil || !strings.Contains(err.Error(), l.P.Layers[1].Name+")") || !strings.Contains(err.Error(), "sent nothing") {
			t.Fatalf("%v: stalled device: output %v, error %v", mode, out != nil, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("%v: took %v to give up", mode, d)
		}
	}
}

// TestDeviceAnswersRefused: answers with the wrong shape, for the wrong
// layer, stale (replayed), with a value ≥ p, or of the wrong type are
// refused before any check; a layer swapped for another of the same size
// fails the Freivalds check.
func TestDeviceAnswersRefused(t *testing.T) {
	l := slalomtest.Load(t, 2)
	x := l.Test[0].X
	var last []byte
	armed := false
	saved := map[uint32][]byte{}
	cases := []struct {
		name  string
		frame func(body []byte) (byte, []byte)
		want  string
	}{
		{"wrong shape", func(b []byte) (byte, []byte) {
			binary.LittleEndian.PutUint32(b[12:], binary.LittleEndian.Uint32(b[12:])-1)
			return device.MsgResult, b[:len(b)-slalom.ResidueSize]
		}, "wrong shape"},
		{"wrong layer", func(b []byte) (byte, []byte) {
			binary.LittleEndian.PutUint32(b[8:], binary.LittleEndian.Uint32(b[8:])+1)
			return device.MsgResult, b
		}, "answer for layer"},
		{"out of range", func(b []byte) (byte, []byte) {
			copy(b[16+3*slalom.ResidueSize:], slalom.AppendResidues(nil, []uint32{slalom.P + 1}))
			return device.MsgResult, b
		}, "not a residue"},
		{"max 24-bit value", func(b []byte) (byte, []byte) {
			copy(b[16:], slalom.AppendResidues(nil, []uint32{1<<24 - 1}))
			return device.MsgResult, b
		}, "not a residue"},
		{"stale", func(b []byte) (byte, []byte) {
			// Replay the same layer's answer from the previous inference.
			li := binary.LittleEndian.Uint32(b[8:])
			if old := saved[li]; old != nil {
				return device.MsgResult, old
			}
			saved[li] = append([]byte(nil), b...)
			return device.MsgResult, b
		}, "stale"},
		{"wrong type", func(b []byte) (byte, []byte) { return device.MsgReady, b }, "message type"},
		{"swapped layers", func(b []byte) (byte, []byte) {
			// Layers 1 and 2 (two 16×28×28 convolutions): answer layer 2's
			// request with layer 1's output under the right header.
			if binary.LittleEndian.Uint32(b[8:]) == 1 {
				last = append([]byte(nil), b...)
			}
			if binary.LittleEndian.Uint32(b[8:]) == 2 {
				copy(b[16:], last[16:])
			}
			return device.MsgResult, b
		}, "Freivalds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The hook state is shared with the device goroutine, which may
			// still be streaming an aborted run: guard it.
			var mu sync.Mutex
			set := func(a bool) {
				mu.Lock()
				armed = a
				mu.Unlock()
			}
			// gen numbers the modes: a device left streaming an aborted
			// run of an earlier mode passes its frames through untouched
			// (its answers carry sequence numbers that a later mode's
			// connection, counting afresh, could take for its own).
			gen := 0
			for _, mode := range []slalom.Mode{{Verify: true}, {Verify: true, PerLayer: true}, {Verify: true, Blind: true}} {
				mu.Lock()
				clear(saved)
				last = nil
				gen++
				g := gen
				mu.Unlock()
				// A fresh device per mode, so no leftover of the previous
				// mode's aborted run reaches this one.
				d := &device.Device{}
				device.SetFrameHook(d, func(b []byte) (byte, []byte) {
					mu.Lock()
					defer mu.Unlock()
					if !armed || g != gen {
						return device.MsgResult, b
					}
					return c.frame(b)
				})
				tr := devicetest.Trusted(t, l.P, mode, d)
				if c.name == "stale" {
					set(true)
					if _, err := tr.Infer(x); err != nil {
						t.Fatal(err)
					}
				}
				set(true)
				out, err := tr.Infer(x)
				set(false)
				if err == nil || out != nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("%v: got %v, want an error containing %q", mode, err, c.want)
				}
			}
		})
	}

}

// TestFramesToDevicePublic inspects every message T sends to D in every
// mode: only setup (the public weights and bias, shapes, the model hash),
// the public program, X_0 (integrity mode) and compute requests, which in
// private mode carry no plaintext activation value and in integrity mode
// carry X itself. (slalom's TestNothingSecretSent looks in the same
// messages for T's keys, check vectors and unblinding factors.)
func TestFramesToDevicePublic(t *testing.T) {
	l := slalomtest.Load(t, 2)
	for _, mode := range []slalom.Mode{{Verify: true}, {Verify: true, PerLayer: true}, {Blind: true}, {Verify: true, Blind: true}} {
		var frames [][]byte
		tr := devicetest.Recording(t, l.P, mode, &frames)
		// Plain activations T computes, layer by layer.
		var plain, inputs [][]int64
		for k := 0; k < 3; k++ {
			q, _ := l.P.Quantize(l.Test[k].X)
			inputs = append(inputs, q)
			l.P.Run(l.Test[k].X, func(ly *slalom.Layer, x []int64) ([]int64, error) {
				plain = append(plain, append([]int64(nil), x...))
				return slalomtest.FieldLinear(ly, x), nil
			})
			if _, err := tr.Infer(l.Test[k].X); err != nil {
				t.Fatal(err)
			}
		}
		// residues decodes the values of a request that should carry n.
		residues := func(b []byte, n int) []uint32 {
			v, err := slalom.DecodeResidues(b, n)
			if err != nil {
				t.Fatalf("%v: request of %d values: %v", mode, n, err)
			}
			return v
		}
		ci, ri := 0, 0
		for _, f := range frames {
			switch f[0] {
			case device.MsgSetupLayer:
				ly, err := device.ParseSetupLayer(f[1:])
				if err != nil {
					t.Fatal(err)
				}
				pl := l.P.Layers[ly.Index]
				if !slices.Equal(ly.W, pl.W) || !slices.Equal(ly.B, pl.B) {
					t.Fatal("setup carries something other than the public weights")
				}
			case device.MsgSetupProgram:
				if !bytes.Equal(f[1:], device.ProgramWire(l.P)) {
					t.Fatal("program message carries something other than the public steps")
				}
			case device.MsgRunAll:
				if mode.Blind {
					t.Fatalf("%v: the whole network was sent to D in private mode", mode)
				}
				vals := residues(f[13:], len(inputs[ri]))
				for i, v := range inputs[ri] {
					if vals[i] != slalomtest.Residue(v) {
						t.Fatal("run request carries something other than X_0")
					}
				}
				ri++
			case device.MsgSetupDone:
				if !bytes.Equal(f[1:], l.P.Hash[:]) {
					t.Fatal("setup done carries something other than the model hash")
				}
			case device.MsgCompute:
				x := plain[ci]
				vals := residues(f[17:], len(x))
				ci++
				same, nonzero := 0, 0
				for i, v := range x {
					if v != 0 {
						nonzero++
						if vals[i] == slalomtest.Residue(v) {
							same++
						}
					}
				}
				// A blinded value equals its plaintext when its blind is
				// 0 mod P, once in P = 2^24 − 3 values: a frame of
				// thousands shows one now and then (seen: 1 of 6,348).
				// Four or more would be a 10^-15 event; a request sent
				// unblinded, even in part, shows thousands.
				if mode.Blind && same > 3 {
					t.Fatalf("%v: a compute request reveals %d of %d plaintext values", mode, same, nonzero)
				}
				if !mode.Blind && same != nonzero {
					t.Fatalf("integrity mode should send X itself")
				}
			default:
				t.Fatalf("%v: unexpected message type %d to D", mode, f[0])
			}
		}
		if ci+ri*len(l.P.Layers) != len(plain) {
			t.Fatalf("%d compute and %d run requests for %d layer inputs", ci, ri, len(plain))
		}
	}
}
