package slalom

import (
	"math/rand/v2"
	"testing"

	"veil/zoo"
)

// TestRankOneSecrets covers the structured checks of MobileNet v1's
// pointwise convolutions, whose s̃ T keeps in rank-one form: ⟨x, s̃⟩ from
// wt and r_sp equals the dot product with the full f^T(s). (With a
// device: TestRankOnePointwise.)
func TestRankOneSecrets(t *testing.T) {
	p := zooProgram(t, zoo.MobileNetV1)
	pw := RankOneLayers(p)
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
}
