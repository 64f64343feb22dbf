// Package fixedtest holds what the tests of fixed and of every backend
// share: small programs of one op and inputs over the ops' domain.
package fixedtest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"veil/fixed"
	"veil/ir"
)

// SingleOp compiles, at scale 8, a float graph of one node of the given
// op and attributes on one input "x" of the given shape and layout.
func SingleOp(tb testing.TB, shape ir.Shape, layout ir.Layout, op ir.Op, a ir.Attrs) *fixed.Program {
	tb.Helper()
	g := ir.NewGraph(string(op))
	g.Layout = layout
	if err := g.AddInput("x", shape); err != nil {
		tb.Fatal(err)
	}
	a.Layout = layout
	if err := g.AddNode(&ir.Node{Name: "n", Op: op, Inputs: []string{"x"}, Output: "y", Attrs: a}); err != nil {
		tb.Fatal(err)
	}
	if err := g.SetOutputs("y"); err != nil {
		tb.Fatal(err)
	}
	p, err := fixed.Compile(g, 8)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// DomainValues returns n ring values in the comparison domain
// [−2^61, 2^61) (see fixed.Op): many small ones, so that ties are
// common, the domain's ends, and uniform ones.
func DomainValues(r *rand.Rand, n int) []uint64 {
	lim := int64(1) << 61
	v := make([]uint64, n)
	for i := range v {
		switch r.IntN(6) {
		case 0:
			v[i] = uint64(-lim)
		case 1:
			v[i] = uint64(lim - 1)
		case 2, 3:
			v[i] = uint64(r.Int64N(2*lim) - lim)
		default:
			v[i] = uint64(r.Int64N(5) - 2)
		}
	}
	return v
}

// CompositeCase is a program of one composite op, named for a subtest.
type CompositeCase struct {
	Name  string
	Shape ir.Shape
	Prog  *fixed.Program
}

// CompositeCases returns programs of every composite op over a range of
// shapes and attributes: Relu; MaxPool in both layouts with square,
// oblong, unit and larger-than-stride kernels and symmetric, asymmetric
// and no padding; ArgMax over every axis of several shapes, with and
// without SelectLast and KeepDims. With short, it returns a few of each.
func CompositeCases(tb testing.TB, short bool) []CompositeCase {
	tb.Helper()
	var cs []CompositeCase
	add := func(name string, shape ir.Shape, l ir.Layout, op ir.Op, a ir.Attrs) {
		cs = append(cs, CompositeCase{name, shape, SingleOp(tb, shape, l, op, a)})
	}
	add("relu", ir.Shape{3, 17}, ir.NCHW, ir.OpRelu, ir.Attrs{})
	pools := []struct{ k, s, p []int }{
		{[]int{2, 2}, []int{2, 2}, []int{0, 0, 0, 0}},
		{[]int{3, 3}, []int{2, 2}, []int{1, 1, 1, 1}},
		{[]int{2, 3}, []int{3, 2}, []int{1, 0, 0, 2}},
		{[]int{3, 3}, []int{1, 1}, []int{1, 1, 1, 1}},
		{[]int{1, 1}, []int{2, 1}, []int{0, 0, 0, 0}},
		{[]int{5, 5}, []int{1, 2}, []int{2, 4, 4, 1}},
	}
	shapes := []ir.Shape{{1, 10}, {4, 7, 3}, {2, 1, 5}, {3, 16}}
	if short {
		pools, shapes = pools[:3], shapes[:2]
	}
	for _, l := range []ir.Layout{ir.NCHW, ir.NHWC} {
		for _, pc := range pools {
			shape := ir.Shape{2, 3, 7, 6}
			if l == ir.NHWC {
				shape = ir.Shape{2, 7, 6, 3}
			}
			add(fmtName("maxpool", l, "k", pc.k, "s", pc.s, "p", pc.p), shape, l, ir.OpMaxPool, ir.Attrs{Kernel: pc.k, Strides: pc.s, Pads: pc.p})
		}
	}
	for _, shape := range shapes {
		for axis := -1; axis < len(shape); axis++ {
			for _, last := range []bool{false, true} {
				for _, keep := range []bool{false, true} {
					if short && keep == last {
						continue
					}
					add(fmtName("argmax", shape, "axis", axis, "last", last, "keep", keep), shape, ir.NCHW, ir.OpArgMax,
						ir.Attrs{Axis: axis, SelectLast: last, KeepDims: keep})
				}
			}
		}
	}
	return cs
}

func fmtName(parts ...any) string {
	return strings.TrimSpace(fmt.Sprintln(parts...))
}
