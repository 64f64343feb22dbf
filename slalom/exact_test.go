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
	p := zooProgram(t, zoo.MobileNetV1Sep)
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

// TestRankOnePointwise covers the structured checks of MobileNet v1's
// pointwise convolutions, whose s̃ T keeps in rank-one form: ⟨x, s̃⟩ from
// wt and r_sp equals the dot product with the full f^T(s); outputs are
// exact in the three structured modes; and a corrupted pointwise layer
// (the first, a middle and the last) is caught and named.
func TestRankOnePointwise(t *testing.T) {
	p := zooProgram(t, zoo.MobileNetV1)
	var pw []int
	for _, l := range p.Layers {
		if rankOne(l) {
			pw = append(pw, l.Index)
		}
	}
	if len(pw) != 13 {
		t.Fatalf("%d rank-one layers, want MobileNet v1's 13 pointwise convolutions", len(pw))
	}
	v := NewVerifier(p, Structured)
	v.Prepare()
	rng := rand.New(rand.NewPCG(4, 4))
	for _, li := range pw {
		l, sec := p.Layers[li], v.secrets[li]
		if sec.st[0] != nil || sec.wt[0] == nil {
			t.Fatalf("layer %d (%s): s̃ kept in full", li, l.Name)
		}
		x := make([]uint32, l.InLen())
		for i := range x {
			x[i] = uint32(rng.IntN(P))
		}
		for r := range Reps {
			s := make([]uint64, l.OutLen())
			plane := len(sec.rsp[r])
			for o, c := range sec.rch[r] {
				for q, sp := range sec.rsp[r] {
					s[o*plane+q] = uint64(c) * uint64(sp) % P
				}
			}
			if got, want := sec.xdot(r, x), dotU32(x, toU32(Transpose(l, s))); got != want {
				t.Fatalf("layer %d (%s) rep %d: rank-one <x, s~> %d, full %d", li, l.Name, r, got, want)
			}
		}
	}
	x := make([]float32, p.Input.Size())
	for i := range x {
		x[i] = rng.Float32()
	}
	want, _ := p.Oracle(x)
	for _, mode := range []Mode{
		{Verify: true, Check: Structured},
		{Verify: true, Check: Structured, PerLayer: true},
		{Verify: true, Blind: true, Check: Structured},
	} {
		cheat := -1
		d := &Device{Tamper: func(layer int, seq uint64, y []uint32) []uint32 {
			if layer == cheat {
				i := rng.IntN(len(y))
				y[i] = (y[i] + 1 + uint32(rng.IntN(P-1))) % P
			}
			return y
		}}
		tr := newTrusted(t, p, mode, d)
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

// zooProgram builds a zoo network (seed 1), optimizes and compiles it with
// the default scales.
func zooProgram(t *testing.T, build func(seed uint64) (*ir.Graph, error)) *Program {
	t.Helper()
	g, err := build(1)
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
	return p
}
