package slalom

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"veil/ir"
	"veil/zoo"
)

// TestExactOnBundledModels: in every mode, the outsourced output equals
// the cleartext quantized oracle bit for bit on 500 real test images per
// bundled model (the whole test set where smaller).
func TestExactOnBundledModels(t *testing.T) {
	n := 500
	if testing.Short() {
		n = 50
	}
	for i := range bundled {
		l := loadBundled(t, i)
		want := make([][]int64, min(n, len(l.test)))
		parallel(len(want), func(k int) {
			z, err := l.p.Oracle(l.test[k].x)
			if err != nil {
				t.Error(err)
			}
			want[k] = z
		})
		for _, mode := range allModes {
			t.Run(bundled[i].name+"/"+mode.String()+"/"+mode.Check.String(), func(t *testing.T) {
				t.Parallel()
				tr := newTrusted(t, l.p, mode, nil)
				if mode.Blind {
					tr.Offline(len(want))
				}
				for k := range want {
					got, err := tr.Infer(l.test[k].x)
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
	for i := range bundled {
		l := loadBundled(t, i)
		tr := newTrusted(t, l.p, Mode{Verify: true, Blind: true}, nil)
		for k := 0; k < 20; k++ {
			x := make([]float32, l.p.Input.Size())
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
			want, _ := l.p.Oracle(x)
			loc, _ := l.p.Local(x)
			got, err := tr.Infer(x)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) || !slices.Equal(loc, want) {
				t.Fatalf("%s input %d: secure %v, local %v, oracle %v", bundled[i].name, k, got, loc, want)
			}
		}
	}
}

// TestSeparableFused: in MobileNet-sep every depthwise + pointwise pair is
// compiled into one Separable layer, whose outsourced output equals the
// oracle in integrity and private modes, and whose corruption is caught.
func TestSeparableFused(t *testing.T) {
	g, err := zoo.MobileNetV1Sep(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ir.Optimize(g); err != nil {
		t.Fatal(err)
	}
	p, err := Compile(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sep := -1
	n := 0
	for _, l := range p.Layers {
		if l.Kind == Separable {
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
	for _, mode := range []Mode{{Verify: true, Check: Structured}, {Verify: true, Blind: true}} {
		cheat := false
		d := &Device{Tamper: func(layer int, seq uint64, y []uint32) []uint32 {
			if cheat && layer == sep {
				y[len(y)/2] = (y[len(y)/2] + 1) % P
			}
			return y
		}}
		tr := newTrusted(t, p, mode, d)
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
