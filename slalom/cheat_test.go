package slalom_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"veil/slalom"
	"veil/slalom/device"
	"veil/slalom/device/devicetest"
	"veil/slalom/slalomtest"
)

// TestCheatingDeviceCaught: a device that adds δ ≢ 0 to one random entry
// of one random layer's output is caught every time, in integrity and in
// privacy + integrity mode, with both check variants; the error names the
// layer and no output is released. 10,000 trials on the Fashion-MNIST
// LeNet plus 2,000 on the MNIST ResNet (every layer of each is hit).
func TestCheatingDeviceCaught(t *testing.T) {
	type cfg struct {
		model  int
		mode   slalom.Mode
		trials int
	}
	cfgs := []cfg{
		{0, slalom.Mode{Verify: true}, 4000},
		{0, slalom.Mode{Verify: true, Check: slalom.Structured}, 1000},
		{0, slalom.Mode{Verify: true, PerLayer: true}, 1000},
		{0, slalom.Mode{Verify: true, Check: slalom.OnTheFly}, 1500},
		{0, slalom.Mode{Verify: true, Blind: true}, 2500},
		{2, slalom.Mode{Verify: true}, 500},
		{2, slalom.Mode{Verify: true, Blind: true}, 300},
		{2, slalom.Mode{Verify: true, Blind: true, Check: slalom.Structured}, 200},
	}
	if testing.Short() {
		for i := range cfgs {
			cfgs[i].trials /= 20
		}
	}
	for _, c := range cfgs {
		slalomtest.Load(t, c.model)
	}
	for _, c := range cfgs {
		t.Run(fmt.Sprintf("%s/%v/%v", slalomtest.Bundled[c.model].Name, c.mode, c.mode.Check), func(t *testing.T) {
			t.Parallel()
			l := slalomtest.Load(t, c.model)
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
			// seen is the last sequence number D saw: T's last request,
			// once T refused an answer to it.
			var seqNext, seen uint64
			target, entry, delta := -1, 0, uint32(0)
			d := &device.Device{Tamper: func(layer int, seq uint64, y []uint32) []uint32 {
				mu.Lock()
				seen = max(seen, seq)
				c, ok := plan[seq]
				mu.Unlock()
				if ok && layer == c.target {
					e := c.entry % len(y)
					y[e] = uint32((uint64(y[e]) + uint64(c.delta)) % slalom.P)
				}
				return y
			}}
			tr := devicetest.Trusted(t, l.P, c.mode, d)
			hit := make([]int, len(l.P.Layers))
			for trial := 0; trial < c.trials; trial++ {
				target = rng.IntN(len(l.P.Layers))
				entry = rng.IntN(1 << 30)
				delta = 1 + uint32(rng.IntN(slalom.P-1))
				x := l.Test[rng.IntN(len(l.Test))].X
				// Every request of this trial carries sequence numbers above
				// seqNext: streaming sends one, per-layer mode one per layer.
				mu.Lock()
				for k := uint64(1); k <= uint64(len(l.P.Layers)); k++ {
					plan[seqNext+k] = corruption{target, entry, delta}
				}
				mu.Unlock()
				out, err := tr.Infer(x)
				mu.Lock()
				seqNext = seen
				mu.Unlock()
				var ce *slalom.CheckError
				if !errors.As(err, &ce) || out != nil {
					t.Fatalf("%s %v trial %d: corruption of layer %d entry %d by %d not caught (err %v)", slalomtest.Bundled[c.model].Name, c.mode, trial, target, entry, delta, err)
				}
				if ce.Layer != target || !strings.Contains(err.Error(), l.P.Layers[target].Name) {
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
	l := slalomtest.Load(t, 0) // LeNet: conv, conv, dense ×3
	p := l.P
	x0, _ := p.Oracle(l.Test[0].X)
	_ = x0
	// Inputs and honest outputs of every layer on one image.
	xs, ys := layerIO(t, p, l.Test[0].X)
	trials := 20000
	if testing.Short() {
		trials = 2000
	}
	cases := []struct {
		name   string
		mode   slalom.CheckMode
		reps   int
		batch  bool
		expect float64
	}{
		{"preprocessed k=1", slalom.Preprocessed, 1, false, 1.0 / 8},
		{"preprocessed k=2", slalom.Preprocessed, 2, false, 1.0 / 64},
		{"on-the-fly k=1", slalom.OnTheFly, 1, false, 1.0 / 8},
		{"structured k=1", slalom.Structured, 1, false, 15.0 / 64},
		{"batched k=1", slalom.Preprocessed, 1, true, 15.0 / 64},
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(7, uint64(ci)))
			v := slalom.NewVerifier(p, c.mode)
			v.TestSet(8, c.reps)
			miss := 0
			for i := 0; i < trials; i++ {
				li := i % len(p.Layers)
				if c.mode == slalom.OnTheFly {
					li = i % 2 // the two convolutions
				}
				if c.batch {
					li = []int{0, 1, 2}[i%3]
				}
				ly := p.Layers[li]
				bad := append([]uint32(nil), ys[li]...)
				e := rng.IntN(len(bad))
				bad[e] = uint32((uint64(bad[e]) + 1 + uint64(rng.IntN(slalom.P-1))) % slalom.P)
				var err error
				if c.batch {
					err = v.CheckBatch(ly, [][]uint32{xs[li], xs[li]}, [][]uint32{ys[li], bad})
				} else {
					// Fresh secrets for the layer under test (Prepare does all layers).
					v.PrepareLayer(li)
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
func layerIO(t testing.TB, p *slalom.Program, x []float32) (xs, ys [][]uint32) {
	xs = make([][]uint32, len(p.Layers))
	ys = make([][]uint32, len(p.Layers))
	_, err := p.Run(x, func(l *slalom.Layer, in []int64) ([]int64, error) {
		r := make([]uint32, len(in))
		for i, v := range in {
			r[i] = slalomtest.Residue(v)
		}
		xs[l.Index], ys[l.Index] = r, l.Compute(r)
		return slalomtest.FieldLinear(l, in), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return xs, ys
}

// TestHonestChecksPass: no false rejections for honest outputs, in every
// check variant including the batched one.
func TestHonestChecksPass(t *testing.T) {
	l := slalomtest.Load(t, 2)
	for _, m := range []slalom.CheckMode{slalom.Preprocessed, slalom.OnTheFly} {
		v := slalom.NewVerifier(l.P, m)
		v.Prepare()
		for k := 0; k < 5; k++ {
			xs, ys := layerIO(t, l.P, l.Test[k].X)
			xs2, ys2 := layerIO(t, l.P, l.Test[k+5].X)
			for i, ly := range l.P.Layers {
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
