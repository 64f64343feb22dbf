package ir

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestToNCHW builds NHWC graphs of the ops the pass rewrites and of ops
// it must leave in NHWC (Reshape, Transpose, Slice after 4-D values), and
// checks that the NCHW graph computes the same outputs on NCHW inputs.
func TestToNCHW(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	type step struct {
		op    Op
		in    []string
		attrs Attrs
	}
	cases := []struct {
		name   string
		consts map[string]Shape
		steps  []step
	}{
		{"conv-bias-relu-pool-gap", map[string]Shape{"w": {4, 3, 3, 3}, "b": {4}, "bias": {4}}, []step{
			{OpConv, []string{"x", "w", "b"}, Attrs{Strides: []int{1, 1}, Pads: []int{1, 1, 1, 1}, Group: 1, Layout: NHWC}},
			{OpAdd, []string{"0", "bias"}, Attrs{}},
			{OpRelu, []string{"1"}, Attrs{}},
			{OpMaxPool, []string{"2"}, Attrs{Kernel: []int{2, 2}, Strides: []int{2, 2}, Pads: []int{0, 0, 0, 0}, Layout: NHWC}},
			{OpReduceMean, []string{"3"}, Attrs{Axes: []int{1, 2}}},
		}},
		{"flatten-matmul", map[string]Shape{"w": {2, 3, 1, 1}, "m": {128, 5}, "shape": nil}, []step{
			{OpConv, []string{"x", "w"}, Attrs{Strides: []int{1, 1}, Pads: []int{0, 0, 0, 0}, Group: 1, Layout: NHWC}},
			{OpSigmoid, []string{"0"}, Attrs{}},
			{OpReshape, []string{"1", "shape"}, Attrs{}},
			{OpMatMul, []string{"2", "m"}, Attrs{}},
		}},
		{"residual-concat-softmax-keepdims", map[string]Shape{"w": {3, 1, 3, 3}, "scale": {1, 1, 1, 3}}, []step{
			{OpConv, []string{"x", "w"}, Attrs{Strides: []int{1, 1}, Pads: []int{1, 1, 1, 1}, Group: 3, Layout: NHWC}},
			{OpMul, []string{"0", "scale"}, Attrs{}},
			{OpAdd, []string{"1", "x"}, Attrs{}},
			{OpConcat, []string{"2", "x"}, Attrs{Axis: -1}},
			{OpSoftmax, []string{"3"}, Attrs{Axis: -1}},
			{OpReduceMax, []string{"4"}, Attrs{Axes: []int{2}, KeepDims: true}},
			{OpTranspose, []string{"5"}, Attrs{Perm: []int{3, 1, 2, 0}}},
		}},
		{"pad-avgpool-4d-output", map[string]Shape{}, []step{
			{OpPad, []string{"x"}, Attrs{Pads: []int{0, 1, 2, 0, 0, 2, 1, 0}}},
			{OpAvgPool, []string{"0"}, Attrs{Kernel: []int{3, 3}, Strides: []int{1, 2}, Pads: []int{0, 0, 0, 0}, Layout: NHWC}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewGraph(c.name)
			g.Layout = NHWC
			xs := Shape{1, 8, 8, 3}
			if err := g.AddInput("x", xs); err != nil {
				t.Fatal(err)
			}
			for name, s := range c.consts {
				k := randTensor(r, s)
				if s == nil {
					k = IntTensor(Shape{2}, []int64{1, -1})
				}
				if err := g.AddConst(name, k); err != nil {
					t.Fatal(err)
				}
			}
			last := ""
			for i, st := range c.steps {
				last = string(rune('0' + i))
				if err := g.AddNode(&Node{Name: "n" + last, Op: st.op, Inputs: st.in, Output: last, Attrs: st.attrs}); err != nil {
					t.Fatal(err)
				}
			}
			if err := g.SetOutputs(last); err != nil {
				t.Fatal(err)
			}
			h, err := ToNCHW(g)
			if err != nil {
				t.Fatal(err)
			}
			if h.Layout != NCHW || !h.Values["x"].Shape.Equal(Shape{1, 3, 8, 8}) {
				t.Fatalf("layout %v, input %v", h.Layout, h.Values["x"].Shape)
			}
			for _, nd := range h.Nodes {
				if (nd.Op == OpConv || nd.Op == OpMaxPool || nd.Op == OpAvgPool) && nd.Attrs.Layout != NCHW {
					t.Fatalf("node %s still runs in %v", nd.Name, nd.Attrs.Layout)
				}
			}
			x := randTensor(r, xs)
			want, err := Run(g, map[string]*Tensor{"x": x})
			if err != nil {
				t.Fatal(err)
			}
			got, err := Run(h, map[string]*Tensor{"x": Transpose(x, nhwcToNCHW)})
			if err != nil {
				t.Fatal(err)
			}
			if !got[0].Shape.Equal(want[0].Shape) {
				t.Fatalf("output shape %v, want %v", got[0].Shape, want[0].Shape)
			}
			for i, w := range want[0].F {
				if math.Abs(float64(got[0].F[i]-w)) > 1e-5*(1+math.Abs(float64(w))) {
					t.Fatalf("output %d: %g, want %g", i, got[0].F[i], w)
				}
			}
		})
	}
}
