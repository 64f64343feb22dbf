package slalom_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"veil/slalom"
	"veil/slalom/device"
	"veil/slalom/device/devicetest"
	"veil/slalom/slalomtest"
	"veil/zoo"
)

// TestExactOnBundledModels: in every mode, the outsourced output equals
// the cleartext quantized oracle bit for bit on 500 real test images per
// slalomtest.Bundled model (the whole test set where smaller).
func TestExactOnBundledModels(t *testing.T) {
	n := 500
	if testing.Short() {
		n = 50
	}
	for i := range slalomtest.Bundled {
		l := slalomtest.Load(t, i)
		want := make([][]int64, min(n, len(l.Test)))
		slalomtest.Parallel(len(want), func(k int) {
			z, err := l.P.Oracle(l.Test[k].X)
			if err != nil {
				t.Error(err)
			}
			want[k] = z
		})
		for _, mode := range slalomtest.Modes {
			t.Run(slalomtest.Bundled[i].Name+"/"+mode.String()+"/"+mode.Check.String(), func(t *testing.T) {
				t.Parallel()
				tr := devicetest.Trusted(t, l.P, mode, nil)
				if mode.Blind {
					tr.Offline(len(want))
				}
				for k := range want {
					got, err := tr.Infer(l.Test[k].X)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(got, want[k]) {
						t.Fatalf("image %d: output %v, oracle %v", k, got, want[k])
					}
				}
			})
		}
	}
}

// TestExactRandomAndClamped: random inputs, and inputs far outside the
// data range that hit every clamp, match the oracle; the field path and
// the oracle agree because the clamps keep |Z| ≤ H.
func TestExactRandomAndClamped(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range slalomtest.Bundled {
		l := slalomtest.Load(t, i)
		tr := devicetest.Trusted(t, l.P, slalom.Mode{Verify: true, Blind: true}, nil)
		for k := 0; k < 20; k++ {
			x := make([]float32, l.P.Input.Size())
			for j := range x {
				switch k % 3 {
				case 0:
					x[j] = rng.Float32()
				case 1:
					x[j] = 1e4 * (2*rng.Float32() - 1) // hits the input clamp
				default:
					x[j] = 40
				}
			}
			want, _ := l.P.Oracle(x)
			loc, _ := l.P.Local(x)
			got, err := tr.Infer(x)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) || !slices.Equal(loc, want) {
				t.Fatalf("%s input %d: secure %v, local %v, oracle %v", slalomtest.Bundled[i].Name, k, got, loc, want)
			}
		}
	}
}

// TestSeparableFused: in MobileNet-sep every depthwise + pointwise pair is
// compiled into one Separable layer, whose outsourced output equals the
// oracle in integrity and private modes, and whose corruption is caught.
func TestSeparableFused(t *testing.T) {
	p := slalom.ZooProgram(t, zoo.MobileNetV1Sep)
	sep := -1
	n := 0
	for _, l := range p.Layers {
		if l.Kind == slalom.Separable {
			n++
			sep = l.Index
		}
	}
	if n != 13 {
		t.Fatalf("%d separable layers, want 13", n)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	x := make([]float32, p.Input.Size())
	for i := range x {
		x[i] = rng.Float32()
	}
	want, _ := p.Oracle(x)
	for _, mode := range []slalom.Mode{{Verify: true, Check: slalom.Structured}, {Verify: true, Blind: true}} {
		cheat := false
		d := &device.Device{Tamper: func(layer int, seq uint64, y []uint32) []uint32 {
			if cheat && layer == sep {
				y[len(y)/2] = (y[len(y)/2] + 1) % slalom.P
			}
			return y
		}}
		tr := devicetest.Trusted(t, p, mode, d)
		got, err := tr.Infer(x)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("%v: %v", mode, err)
		}
		cheat = true
		if _, err := tr.Infer(x); err == nil || !strings.Contains(err.Error(), p.Layers[sep].Name) {
			t.Fatalf("%v: corrupted separable layer not caught: %v", mode, err)
		}
	}
}

// TestRankOnePointwise: MobileNet v1's pointwise convolutions, whose s̃
// T keeps in rank-one form (TestRankOneSecrets), give exact outputs in
// the three structured modes, and a corrupted pointwise layer (the first,
// a middle and the last) is caught and named.
func TestRankOnePointwise(t *testing.T) {
	p := slalom.ZooProgram(t, zoo.MobileNetV1)
	pw := slalom.RankOneLayers(p)
	if len(pw) != 13 {
		t.Fatalf("%d rank-one layers, want MobileNet v1's 13 pointwise convolutions", len(pw))
	}
	rng := rand.New(rand.NewPCG(4, 4))
	x := make([]float32, p.Input.Size())
	for i := range x {
		x[i] = rng.Float32()
	}
	want, _ := p.Oracle(x)
	for _, mode := range []slalom.Mode{
		{Verify: true, Check: slalom.Structured},
		{Verify: true, Check: slalom.Structured, PerLayer: true},
		{Verify: true, Blind: true, Check: slalom.Structured},
	} {
		cheat := -1
		d := &device.Device{Tamper: func(layer int, seq uint64, y []uint32) []uint32 {
			if layer == cheat {
				i := rng.IntN(len(y))
				y[i] = (y[i] + 1 + uint32(rng.IntN(slalom.P-1))) % slalom.P
			}
			return y
		}}
		tr := devicetest.Trusted(t, p, mode, d)
		got, err := tr.Infer(x)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("%v: %v (output equal: %v)", mode, err, slices.Equal(got, want))
		}
		for _, li := range []int{pw[0], pw[len(pw)/2], pw[len(pw)-1]} {
			cheat = li
			if _, err := tr.Infer(x); err == nil || !strings.Contains(err.Error(), p.Layers[li].Name+")") {
				t.Fatalf("%v: corrupted pointwise layer %d (%s) not caught: %v", mode, li, p.Layers[li].Name, err)
			}
			tr.Restart()
		}
	}
}
