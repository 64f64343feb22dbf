package fixed_test

import (
	"math/rand/v2"
	"testing"
	"veil/fixed"
	"veil/fixed/fixedtest"

	"veil/ir"
)

// BenchmarkMixedGraph measures the cleartext executor on the test graph
// (conv, depthwise conv, pools, matmul) against the float interpreter.
func BenchmarkMixedGraph(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 9))
	t := &testing.T{}
	g := fixedtest.MixedGraph(t, r, ir.NCHW, "softmax")
	p, err := fixed.Compile(g, 12)
	if err != nil {
		b.Fatal(err)
	}
	x := fixedtest.RandTensor(r, g.Values["x"].Shape, 1)
	b.Run("fixed", func(b *testing.B) {
		in := p.EncodeInput(x.F)
		for i := 0; i < b.N; i++ {
			if _, err := p.Run(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("float", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := ir.Run(g, map[string]*ir.Tensor{"x": x}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
