package main

import (
	"testing"

	"veil/fixed"
	"veil/ir"
)

// BenchmarkLeNet measures one Fashion-MNIST LeNet inference in float and
// in the cleartext fixed-point executor.
func BenchmarkLeNet(b *testing.B) {
	var mf modelFlags
	g, _, err := mf.load(lenet)
	if err != nil {
		b.Fatal(err)
	}
	shape, _ := g.InputShape()
	xs, err := (&dataFlags{}).loadExamples(fashionT, 1, shape, g.Layout)
	if err != nil {
		b.Fatal(err)
	}
	p, err := fixed.Compile(g, 12)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("float", func(b *testing.B) {
		in := map[string]*ir.Tensor{g.Inputs[0]: ir.FloatTensor(shape, xs[0].Input)}
		for i := 0; i < b.N; i++ {
			if _, err := ir.Run(g, in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fixed", func(b *testing.B) {
		in := p.EncodeInput(xs[0].Input)
		for i := 0; i < b.N; i++ {
			if _, err := p.Run(in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
