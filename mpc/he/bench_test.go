package he

import (
	"math/rand/v2"
	"testing"

	"github.com/tuneinsight/lattigo/v6/ring"
)

var benchConvs = []struct {
	name string
	cp   func() Layer
}{}

func BenchmarkNTT(b *testing.B) {
	p := Default()
	pol := p.ringQ.NewPoly()
	for b.Loop() {
		p.ringQ.NTT(pol, pol)
	}
}

func BenchmarkMulAdd(b *testing.B) {
	p := Default()
	x, y, z := p.ringQ.NewPoly(), p.ringQ.NewPoly(), p.ringQ.NewPoly()
	for b.Loop() {
		p.ringQ.MulCoeffsMontgomeryThenAdd(x, y, z)
	}
}

var _ = ring.NewPoly
var _ = rand.New
