package ir

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// batchGraph is Conv, Relu, a flatten by Reshape to target and a fully
// connected layer, for one 1×6×6 example.
func batchGraph(t *testing.T, target []int64) *Graph {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 8))
	g := NewGraph("batch")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	g.Layout = NCHW
	must(g.AddInput("x", Shape{1, 1, 6, 6}))
	must(g.AddConst("w", randTensor(r, Shape{2, 1, 3, 3})))
	must(g.AddConst("fc", randTensor(r, Shape{32, 4})))
	must(g.AddConst("bias", randTensor(r, Shape{4})))
	must(g.AddConst("shape", IntTensor(Shape{2}, target)))
	must(g.AddNode(&Node{Name: "conv", Op: OpConv, Inputs: []string{"x", "w"}, Output: "c",
		Attrs: Attrs{Strides: []int{1, 1}, Pads: []int{0, 0, 0, 0}, Group: 1, Layout: NCHW}}))
	must(g.AddNode(&Node{Name: "relu", Op: OpRelu, Inputs: []string{"c"}, Output: "r"}))
	must(g.AddNode(&Node{Name: "flatten", Op: OpReshape, Inputs: []string{"r", "shape"}, Output: "f"}))
	must(g.AddNode(&Node{Name: "gemm", Op: OpMatMul, Inputs: []string{"f", "fc"}, Output: "m"}))
	must(g.AddNode(&Node{Name: "add", Op: OpAdd, Inputs: []string{"m", "bias"}, Output: "y"}))
	must(g.SetOutputs("y"))
	return g
}

// TestWithBatch: the batched graph's output on n examples is the
// one-example graph's on each, stacked; the original is untouched.
func TestWithBatch(t *testing.T) {
	g := batchGraph(t, []int64{0, -1})
	const n = 3
	b, err := g.WithBatch(n)
	if err != nil {
		t.Fatal(err)
	}
	if s := b.Values["y"].Shape; !s.Equal(Shape{n, 4}) {
		t.Fatalf("batched output shape %v", s)
	}
	if s := g.Values["y"].Shape; !s.Equal(Shape{1, 4}) {
		t.Fatalf("the original's output shape became %v", s)
	}
	r := rand.New(rand.NewPCG(9, 10))
	x := randTensor(r, Shape{n, 1, 6, 6})
	got, err := Run(b, map[string]*Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	var want []float32
	for i := range n {
		one := FloatTensor(Shape{1, 1, 6, 6}, x.F[i*36:(i+1)*36])
		y, err := Run(g, map[string]*Tensor{"x": one})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, y[0].F...)
	}
	if !slices.Equal(got[0].F, want) {
		t.Errorf("batched output %v, one by one %v", got[0].F, want)
	}
	if same, err := g.WithBatch(1); err != nil || same != g {
		t.Errorf("WithBatch(1) = %p, %v; want the graph itself", same, err)
	}
}

func TestWithBatchRefused(t *testing.T) {
	for _, c := range []struct {
		name  string
		g     func() *Graph
		n     int
		words string
	}{
		{"flatten to a leading 1", func() *Graph { return batchGraph(t, []int64{1, -1}) }, 2, `node "gemm" (MatMul)`},
		{"output of one example", func() *Graph {
			g := NewGraph("batch")
			if err := g.AddInput("x", Shape{1, 4}); err != nil {
				t.Fatal(err)
			}
			if err := g.AddConst("shape", IntTensor(Shape{2}, []int64{1, -1})); err != nil {
				t.Fatal(err)
			}
			if err := g.AddNode(&Node{Name: "flat", Op: OpReshape, Inputs: []string{"x", "shape"}, Output: "y"}); err != nil {
				t.Fatal(err)
			}
			if err := g.SetOutputs("y"); err != nil {
				t.Fatal(err)
			}
			return g
		}, 2, `output "y" has shape [1×8], whose leading axis is not the batch`},
		{"fixed flatten", func() *Graph { return batchGraph(t, []int64{1, 32}) }, 2, `node "flatten" (Reshape)`},
		{"no example", func() *Graph { return batchGraph(t, []int64{0, -1}) }, 0, "a batch of 0 examples"},
		{"already batched", func() *Graph {
			g, err := batchGraph(t, []int64{0, -1}).WithBatch(2)
			if err != nil {
				t.Fatal(err)
			}
			return g
		}, 2, "no leading axis of one example"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.g().WithBatch(c.n)
			if err == nil || !strings.Contains(err.Error(), c.words) {
				t.Errorf("WithBatch(%d) = %v, want an error saying %q", c.n, err, c.words)
			}
		})
	}
}
