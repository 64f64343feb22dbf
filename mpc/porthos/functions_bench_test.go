package porthos

import (
	"math/rand/v2"
	"testing"

	"veil/fixed"
	"veil/ir"
)

// BenchmarkFunctions measures the 3PC cost per element of every secure
// function (fixed/functions.go) on 4096 elements at scale 12: bytes sent
// by the three parties together and rounds, reported as B/elem and
// rounds. go test ./mpc/porthos -run '^$' -bench Functions -benchtime 1x
func BenchmarkFunctions(b *testing.B) {
	const n = 4096
	cases := []struct {
		name   string
		op     ir.Op
		attrs  ir.Attrs
		lo, hi float64
	}{
		{"relu", ir.OpRelu, ir.Attrs{}, -8, 8},
		{"abs", ir.OpAbs, ir.Attrs{}, -8, 8},
		{"hardswish", ir.OpHardSwish, ir.Attrs{}, -8, 8},
		{"sigmoid", ir.OpSigmoid, ir.Attrs{}, -8, 8},
		{"tanh", ir.OpTanh, ir.Attrs{}, -8, 8},
		{"silu", ir.OpSilu, ir.Attrs{}, -8, 8},
		{"gelu", ir.OpGelu, ir.Attrs{}, -8, 8},
		{"softplus", ir.OpSoftplus, ir.Attrs{}, -8, 8},
		{"erf", ir.OpErf, ir.Attrs{}, -4, 4},
		{"exp_neg", ir.OpExp, ir.Attrs{}, -16, 0},
		{"reciprocal[0.5,8]", ir.OpReciprocal, ir.Attrs{}, 0.5, 8},
		{"rsqrt[0.01,100]", ir.OpRsqrt, ir.Attrs{}, 0.01, 100},
		{"softmax/16", ir.OpSoftmax, ir.Attrs{Axis: 1}, -8, 8},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			shape := ir.Shape{n / 16, 16}
			g := ir.NewGraph(c.name)
			if err := g.AddInput("x", shape); err != nil {
				b.Fatal(err)
			}
			if err := g.AddNode(&ir.Node{Name: "f", Op: c.op, Inputs: []string{"x"}, Output: "f", Attrs: c.attrs}); err != nil {
				b.Fatal(err)
			}
			// A Relu after the function, so that a Softmax or Sigmoid is not
			// left to the output's receiver (Post).
			if err := g.AddNode(&ir.Node{Name: "r", Op: ir.OpRelu, Inputs: []string{"f"}, Output: "y"}); err != nil {
				b.Fatal(err)
			}
			if err := g.SetOutputs("y"); err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(c.lo + (c.hi-c.lo)*r.Float64())
			}
			ranges, err := fixed.TraceRanges(g, []fixed.Example{{Input: x}})
			if err != nil {
				b.Fatal(err)
			}
			p, err := fixed.CompileWith(g, 12, fixed.Options{Ranges: ranges})
			if err != nil {
				b.Fatal(err)
			}
			in := p.EncodeInput(x)
			// The trailing Relu's cost, measured alone, is subtracted.
			var relu int64
			var reluRounds int
			if c.op != ir.OpRelu {
				q := fixedRelu(b, shape)
				_, st, _ := run3PC(b, q, make([]uint64, n), false)
				for _, s := range st {
					relu += s.TotalSent()
				}
				reluRounds = st[0].Rounds
			}
			b.ResetTimer()
			var sent int64
			var rounds int
			for range b.N {
				_, st, _ := run3PC(b, p, in, false)
				sent, rounds = 0, st[0].Rounds
				for _, s := range st {
					sent += s.TotalSent()
				}
			}
			b.ReportMetric(float64(sent-relu)/n, "B/elem")
			b.ReportMetric(float64(rounds-reluRounds), "rounds")
		})
	}
}

func fixedRelu(b *testing.B, shape ir.Shape) *fixed.Program {
	g := ir.NewGraph("relu")
	if err := g.AddInput("x", shape); err != nil {
		b.Fatal(err)
	}
	if err := g.AddNode(&ir.Node{Name: "r", Op: ir.OpRelu, Inputs: []string{"x"}, Output: "y"}); err != nil {
		b.Fatal(err)
	}
	if err := g.SetOutputs("y"); err != nil {
		b.Fatal(err)
	}
	p, err := fixed.Compile(g, 12)
	if err != nil {
		b.Fatal(err)
	}
	return p
}
