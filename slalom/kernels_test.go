package slalom

import "testing"

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
