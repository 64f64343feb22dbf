package slalom

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestCheatingDeviceCaught: a device that adds δ ≢ 0 to one random entry
// of one random layer's output is caught every time, in integrity and in
// privacy + integrity mode, with both check variants; the error names the
// layer and no output is released. 10,000 trials on the Fashion-MNIST
// LeNet plus 2,000 on the MNIST ResNet (every layer of each is hit).
func TestCheatingDeviceCaught(t *testing.T) {
	type cfg struct {
		model  int
		mode   Mode
		trials int
	}
	cfgs := []cfg{
		{0, Mode{Verify: true}, 4000},
		{0, Mode{Verify: true, Check: Structured}, 1000},
		{0, Mode{Verify: true, PerLayer: true}, 1000},
		{0, Mode{Verify: true, Check: OnTheFly}, 1500},
		{0, Mode{Verify: true, Blind: true}, 2500},
		{2, Mode{Verify: true}, 500},
		{2, Mode{Verify: true, Blind: true}, 300},
		{2, Mode{Verify: true, Blind: true, Check: Structured}, 200},
	}
	if testing.Short() {
		for i := range cfgs {
			cfgs[i].trials /= 20
		}
	}
	for _, c := range cfgs {
		loadBundled(t, c.model)
	}
	for _, c := range cfgs {
		t.Run(fmt.Sprintf("%s/%v/%v", bundled[c.model].name, c.mode, c.mode.Check), func(t *testing.T) {
			t.Parallel()
			l := loadBundled(t, c.model)
			rng := rand.New(rand.NewPCG(uint64(c.model), uint64(c.trials)))
			// The trial's corruption, keyed by the request's sequence number:
			// in streaming mode D may still be finishing the previous
			// (aborted) run while the next trial is set up.
			type corruption struct {
				target, entry int
				delta         uint32
			}
			var mu sync.Mutex
			plan := map[uint64]corruption{}
			var seqNext uint64
			target, entry, delta := -1, 0, uint32(0)
			d := &Device{Tamper: func(layer int, seq uint64, y []uint32) []uint32 {
				mu.Lock()
				c, ok := plan[seq]
				mu.Unlock()
				if ok && layer == c.target {
					e := c.entry % len(y)
					y[e] = uint32((uint64(y[e]) + uint64(c.delta)) % P)
				}
				return y
			}}
			tr := newTrusted(t, l.p, c.mode, d)
			hit := make([]int, len(l.p.Layers))
			for trial := 0; trial < c.trials; trial++ {
				target = rng.IntN(len(l.p.Layers))
				entry = rng.IntN(1 << 30)
				delta = 1 + uint32(rng.IntN(P-1))
				x := l.test[rng.IntN(len(l.test))].x
				// Every request of this trial carries sequence numbers above
				// seqNext: streaming sends one, per-layer mode one per layer.
				mu.Lock()
				for k := uint64(1); k <= uint64(len(l.p.Layers)); k++ {
					plan[seqNext+k] = corruption{target, entry, delta}
				}
				mu.Unlock()
				out, err := tr.Infer(x)
				seqNext = tr.Dev.(*Remote).seq
				var ce *CheckError
				if !errors.As(err, &ce) || out != nil {
					t.Fatalf("%s %v trial %d: corruption of layer %d entry %d by %d not caught (err %v)", bundled[c.model].name, c.mode, trial, target, entry, delta, err)
				}
				if ce.Layer != target || !strings.Contains(err.Error(), l.p.Layers[target].Name) {
					t.Fatalf("error %q does not name layer %d", err, target)
				}
				if _, err := tr.Infer(x); err == nil {
					t.Fatal("T ran again after a rejection without a restart")
				}
				tr.Restart()
				hit[target]++
			}
			for i, h := range hit {
				if h == 0 && !testing.Short() {
					t.Errorf("layer %d never corrupted", i)
				}
			}
			t.Logf("%d corruptions over %d layers, all caught", c.trials, len(hit))
		})
	}
}

// TestFreivaldsMissRates uses the test hook S = {0..7}: a single bad entry
// escapes a check exactly when its coordinate of the random vector is 0,
// so the miss rate is 1/8 for k = 1, 1/64 for k = 2 and 15/64 for the
// batched check (two vectors); each within 4σ over 20,000 trials.
func TestFreivaldsMissRates(t *testing.T) {
	l := loadBundled(t, 0) // LeNet: conv, conv, dense ×3
	p := l.p
	x0, _ := p.Oracle(l.test[0].x)
	_ = x0
	// Inputs and honest outputs of every layer on one image.
	xs, ys := layerIO(t, p, l.test[0].x)
	trials := 20000
	if testing.Short() {
		trials = 2000
	}
	cases := []struct {
		name   string
		mode   CheckMode
		reps   int
		batch  bool
		expect float64
	}{
		{"preprocessed k=1", Preprocessed, 1, false, 1.0 / 8},
		{"preprocessed k=2", Preprocessed, 2, false, 1.0 / 64},
		{"on-the-fly k=1", OnTheFly, 1, false, 1.0 / 8},
		{"structured k=1", Structured, 1, false, 15.0 / 64},
		{"batched k=1", Preprocessed, 1, true, 15.0 / 64},
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(7, uint64(ci)))
			v := NewVerifier(p, c.mode)
			v.limit, v.reps = 8, c.reps
			miss := 0
			for i := 0; i < trials; i++ {
				li := i % len(p.Layers)
				if c.mode == OnTheFly {
					li = i % 2 // the two convolutions
				}
				if c.batch {
					li = []int{0, 1, 2}[i%3]
				}
				ly := p.Layers[li]
				bad := append([]uint32(nil), ys[li]...)
				e := rng.IntN(len(bad))
				bad[e] = uint32((uint64(bad[e]) + 1 + uint64(rng.IntN(P-1))) % P)
				var err error
				if c.batch {
					err = v.CheckBatch(ly, [][]uint32{xs[li], xs[li]}, [][]uint32{ys[li], bad})
				} else {
					// Fresh secrets for the layer under test (Prepare does all layers).
					v.secrets = make([]*layerSecret, len(p.Layers))
					v.prg.limit = v.limit
					v.prepareLayer(li)
					v.prepared = true
					err = v.Check(ly, xs[li], bad)
				}
				if err == nil {
					miss++
				}
			}
			rate := float64(miss) / float64(trials)
			sigma := math.Sqrt(c.expect * (1 - c.expect) / float64(trials))
			t.Logf("%s: miss rate %.4f, expected %.4f (σ %.4f)", c.name, rate, c.expect, sigma)
			if math.Abs(rate-c.expect) > 4*sigma {
				t.Errorf("%s: miss rate %.4f is not within 4σ of %.4f", c.name, rate, c.expect)
			}
		})
	}
}

// layerIO returns each layer's (clamped input, honest output) residues on x.
func layerIO(t testing.TB, p *Program, x []float32) (xs, ys [][]uint32) {
	xs = make([][]uint32, len(p.Layers))
	ys = make([][]uint32, len(p.Layers))
	_, err := p.Run(x, func(l *Layer, in []int64) ([]int64, error) {
		r := make([]uint64, len(in))
		for i, v := range in {
			r[i] = toField(v)
		}
		y := Forward(l, r, true)
		xs[l.Index], ys[l.Index] = toU32(r), toU32(y)
		z := make([]int64, len(y))
		for i, v := range y {
			z[i] = lift(v)
		}
		return z, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return xs, ys
}

// TestHonestChecksPass: no false rejections for honest outputs, in every
// check variant including the batched one.
func TestHonestChecksPass(t *testing.T) {
	l := loadBundled(t, 2)
	for _, m := range []CheckMode{Preprocessed, OnTheFly} {
		v := NewVerifier(l.p, m)
		v.Prepare()
		for k := 0; k < 5; k++ {
			xs, ys := layerIO(t, l.p, l.test[k].x)
			xs2, ys2 := layerIO(t, l.p, l.test[k+5].x)
			for i, ly := range l.p.Layers {
				if err := v.Check(ly, xs[i], ys[i]); err != nil {
					t.Fatal(err)
				}
				if err := v.CheckBatch(ly, [][]uint32{xs[i], xs2[i]}, [][]uint32{ys[i], ys2[i]}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestTransposeIsAdjoint: ⟨f(x), s⟩ = ⟨x, f^T(s)⟩ for every layer kind
// (conv with stride and padding, depthwise, dense).
func TestTransposeIsAdjoint(t *testing.T) {
	g := NewRandomPRG()
	layers := testLayers()
	for _, l := range layers {
		x := make([]uint64, l.InLen())
		s := make([]uint64, l.OutLen())
		g.Fill(x)
		g.Fill(s)
		if a, b := dot(Forward(l, x, false), s), dot(x, Transpose(l, s)); a != b {
			t.Errorf("%s: ⟨f(x),s⟩ = %d, ⟨x,f^T(s)⟩ = %d", l.Name, a, b)
		}
	}
}

// testLayers are synthetic layers of every kind with random weights.
func testLayers() []*Layer {
	g := NewRandomPRG()
	mk := func(name string, kind LayerKind, c, h, w, o, k, s, pad, grp int) *Layer {
		l := &Layer{Name: name, Kind: kind}
		l.Conv.N, l.Conv.C, l.Conv.H, l.Conv.W, l.Conv.O, l.Conv.KH, l.Conv.KW = 1, c, h, w, o, k, k
		l.Conv.SH, l.Conv.SW, l.Conv.PadT, l.Conv.PadL, l.Conv.PadB, l.Conv.PadR, l.Conv.Group = s, s, pad, pad, pad+s-1, pad, grp
		l.W = make([]uint64, o*c/grp*k*k)
		l.B = make([]uint64, o)
		g.Fill(l.W)
		g.Fill(l.B)
		return l
	}
	sep := mk("separable", Separable, 8, 10, 10, 8, 3, 2, 1, 8)
	sep.M = 12
	sep.PW = make([]uint64, 12*8)
	sep.B = make([]uint64, 12)
	g.Fill(sep.PW)
	g.Fill(sep.B)
	d := &Layer{Name: "dense", Kind: Dense, N: 300, M: 70}
	d.W, d.B = make([]uint64, 300*70), make([]uint64, 70)
	g.Fill(d.W)
	g.Fill(d.B)
	return []*Layer{
		mk("conv3x3s1", Conv, 5, 11, 9, 7, 3, 1, 1, 1),
		mk("conv3x3s2", Conv, 4, 12, 13, 6, 3, 2, 1, 1),
		mk("pointwise", Conv, 16, 7, 7, 24, 1, 1, 0, 1),
		mk("depthwise", Depthwise, 8, 10, 10, 8, 3, 1, 1, 8),
		mk("depthwise-s2", Depthwise, 8, 10, 10, 16, 3, 2, 1, 8),
		sep,
		d,
	}
}

// TestDeviceAnswersRefused: answers with the wrong shape, for the wrong
// layer, stale (replayed), with a value ≥ p, or of the wrong type are
// refused before any check; a layer swapped for another of the same size
// fails the Freivalds check.
func TestDeviceAnswersRefused(t *testing.T) {
	l := loadBundled(t, 2)
	x := l.test[0].x
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
			return msgResult, b[:len(b)-rb]
		}, "wrong shape"},
		{"wrong layer", func(b []byte) (byte, []byte) {
			binary.LittleEndian.PutUint32(b[8:], binary.LittleEndian.Uint32(b[8:])+1)
			return msgResult, b
		}, "answer for layer"},
		{"out of range", func(b []byte) (byte, []byte) {
			put24(b[16+rb*3:], P+1)
			return msgResult, b
		}, "not a residue"},
		{"max 24-bit value", func(b []byte) (byte, []byte) {
			put24(b[16:], 1<<24-1)
			return msgResult, b
		}, "not a residue"},
		{"stale", func(b []byte) (byte, []byte) {
			// Replay the same layer's answer from the previous inference.
			li := binary.LittleEndian.Uint32(b[8:])
			if old := saved[li]; old != nil {
				return msgResult, old
			}
			saved[li] = append([]byte(nil), b...)
			return msgResult, b
		}, "stale"},
		{"wrong type", func(b []byte) (byte, []byte) { return msgReady, b }, "message type"},
		{"swapped layers", func(b []byte) (byte, []byte) {
			// Layers 1 and 2 (two 16×28×28 convolutions): answer layer 2's
			// request with layer 1's output under the right header.
			if binary.LittleEndian.Uint32(b[8:]) == 1 {
				last = append([]byte(nil), b...)
			}
			if binary.LittleEndian.Uint32(b[8:]) == 2 {
				copy(b[16:], last[16:])
			}
			return msgResult, b
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
			mu.Lock()
			last = nil
			mu.Unlock()
			d := &Device{frameHook: func(b []byte) (byte, []byte) {
				mu.Lock()
				defer mu.Unlock()
				if !armed {
					return msgResult, b
				}
				return c.frame(b)
			}}
			for _, mode := range []Mode{{Verify: true}, {Verify: true, PerLayer: true}, {Verify: true, Blind: true}} {
				mu.Lock()
				clear(saved)
				last = nil
				mu.Unlock()
				// A fresh device per mode, so no leftover of the previous
				// mode's aborted run reaches this one.
				tr := newTrusted(t, l.p, mode, d)
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
