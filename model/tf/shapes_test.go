package tf

import (
	"slices"
	"strings"
	"testing"

	"veil/ir"
)

// t3 is a dense [A, B, C] tensor for the references below.
type t3 struct {
	a, b, c int
	v       []float32
}

func (x t3) at(i, j, k int) float32 { return x.v[(i*x.b+j)*x.c+k] }

// build makes an [a, b, c] tensor from f(i, j, k).
func build(a, b, c int, f func(i, j, k int) float32) []float32 {
	out := make([]float32, 0, a*b*c)
	for i := range a {
		for j := range b {
			for k := range c {
				out = append(out, f(i, j, k))
			}
		}
	}
	return out
}

// shapeCase is a case on the input x of shape [2, 3, 4] (random values):
// nodes after the placeholder, the output named y (or outputs), its shape
// and values.
func shapeCase(name string, nodes []*NodeDef, shape ir.Shape, want func(x t3) []float32) opCase {
	x := t3{2, 3, 4, randFloats(31, 24)}
	return opCase{
		name:  name,
		nodes: append([]*NodeDef{placeholder("x", 2, 3, 4)}, nodes...),
		x:     ir.FloatTensor(ir.Shape{2, 3, 4}, x.v),
		want:  ir.FloatTensor(shape, want(x)),
	}
}

func withOutputs(c opCase, outs ...string) opCase {
	c.outputs = outs
	return c
}

func shapeCases() []opCase {
	same := func(x t3) []float32 { return x.v }
	col := func(k int) func(x t3) []float32 {
		return func(x t3) []float32 { return build(2, 3, 1, func(i, j, _ int) float32 { return x.at(i, j, k) }) }
	}
	return []opCase{
		shapeCase("ExpandDims -1", []*NodeDef{constI("a", nil, -1), nd("y", "ExpandDims", []string{"x", "a"}, nil)}, ir.Shape{2, 3, 4, 1}, same),
		shapeCase("ExpandDims 1", []*NodeDef{constI("a", []int64{1}, 1), nd("y", "ExpandDims", []string{"x", "a"}, nil)}, ir.Shape{2, 1, 3, 4}, same),
		shapeCase("Pack axis 1", []*NodeDef{nd("n", "Neg", []string{"x"}, nil),
			nd("y", "Pack", []string{"x", "n"}, map[string]*AttrValue{"axis": aI(1), "N": aI(2)})}, ir.Shape{2, 2, 3, 4},
			func(x t3) []float32 {
				var out []float32
				for i := range 2 {
					for _, sign := range []float32{1, -1} {
						for j := range 3 {
							for k := range 4 {
								out = append(out, sign*x.at(i, j, k))
							}
						}
					}
				}
				return out
			}),
		shapeCase("Pack axis -1", []*NodeDef{nd("n", "Neg", []string{"x"}, nil),
			nd("y", "Pack", []string{"x", "n"}, map[string]*AttrValue{"axis": aI(-1)})}, ir.Shape{2, 3, 4, 2},
			func(x t3) []float32 {
				var out []float32
				for _, v := range x.v {
					out = append(out, v, -v)
				}
				return out
			}),
		// tf.reshape(x, [tf.shape(x)[0], -1]): Shape, StridedSlice, Pack fold.
		countOps(shapeCase("Reshape to Pack of shape arithmetic", []*NodeDef{
			nd("shape", "Shape", []string{"x"}, nil),
			constI("b", []int64{1}, 0), constI("e", []int64{1}, 1), constI("s", []int64{1}, 1),
			nd("n", "StridedSlice", []string{"shape", "b", "e", "s"}, map[string]*AttrValue{"shrink_axis_mask": aI(1)}),
			constI("m1", nil, -1),
			nd("spec", "Pack", []string{"n", "m1"}, map[string]*AttrValue{"axis": aI(0)}),
			nd("r", "Reshape", []string{"x", "spec"}, nil), nd("y", "Relu", []string{"r"}, nil)}, ir.Shape{2, 12},
			func(x t3) []float32 { return mapFloats(x.v, relu) }), ir.OpReshape, 1),
		withOutputs(shapeCase("Unpack axis 2 output 3", []*NodeDef{nd("y", "Unpack", []string{"x"}, map[string]*AttrValue{"axis": aI(2), "num": aI(4)})},
			ir.Shape{2, 3}, func(x t3) []float32 { return col(3)(x) }), "y:3"),
		withOutputs(shapeCase("Unpack axis 0 output 0", []*NodeDef{nd("y", "Unpack", []string{"x"}, map[string]*AttrValue{"num": aI(2)})},
			ir.Shape{3, 4}, func(x t3) []float32 { return x.v[:12] }), "y"),
		shapeCase("Slice with size -1", []*NodeDef{constI("b", []int64{3}, 1, 1, 0), constI("s", []int64{3}, -1, 2, 3),
			nd("y", "Slice", []string{"x", "b", "s"}, nil)}, ir.Shape{1, 2, 3},
			func(x t3) []float32 { return build(1, 2, 3, func(i, j, k int) float32 { return x.at(1+i, 1+j, k) }) }),
		shapeCase("Transpose", []*NodeDef{constI("p", []int64{3}, 2, 0, 1), nd("y", "Transpose", []string{"x", "p"}, nil)}, ir.Shape{4, 2, 3},
			func(x t3) []float32 { return build(4, 2, 3, func(i, j, k int) float32 { return x.at(j, k, i) }) }),
		shapeCase("Tile", []*NodeDef{constI("m", []int64{3}, 2, 1, 3), nd("y", "Tile", []string{"x", "m"}, nil)}, ir.Shape{4, 3, 12},
			func(x t3) []float32 { return build(4, 3, 12, func(i, j, k int) float32 { return x.at(i%2, j, k%4) }) }),
		shapeCase("Fill", []*NodeDef{constI("d", []int64{2}, 3, 1), constF("v", nil, []float32{0.25}), nd("f", "Fill", []string{"d", "v"}, nil),
			nd("y", "AddV2", []string{"x", "f"}, nil)}, ir.Shape{2, 3, 4},
			func(x t3) []float32 { return mapFloats(x.v, func(v float32) float32 { return v + 0.25 }) }),
		shapeCase("Range float", []*NodeDef{constF("a", nil, []float32{-1}), constF("l", nil, []float32{0.9}), constF("d", nil, []float32{0.5}),
			nd("r", "Range", []string{"a", "l", "d"}, nil), nd("y", "Mul", []string{"x", "r"}, nil)}, ir.Shape{2, 3, 4},
			func(x t3) []float32 {
				return build(2, 3, 4, func(i, j, k int) float32 { return x.at(i, j, k) * (-1 + 0.5*float32(k)) })
			}),
		shapeCase("Range int cast", []*NodeDef{constI("a", nil, 7), constI("l", nil, -1), constI("d", nil, -2),
			nd("r", "Range", []string{"a", "l", "d"}, nil), nd("c", "Cast", []string{"r"}, map[string]*AttrValue{"DstT": aT(DTFloat)}),
			nd("y", "Mul", []string{"x", "c"}, nil)}, ir.Shape{2, 3, 4},
			func(x t3) []float32 {
				return build(2, 3, 4, func(i, j, k int) float32 { return x.at(i, j, k) * float32(7-2*k) })
			}),
		shapeCase("OnesLike ZerosLike", []*NodeDef{nd("o", "OnesLike", []string{"x"}, nil), nd("z", "ZerosLike", []string{"x"}, nil),
			nd("s", "Sub", []string{"x", "o"}, nil), nd("y", "AddV2", []string{"s", "z"}, nil)}, ir.Shape{2, 3, 4},
			func(x t3) []float32 { return mapFloats(x.v, func(v float32) float32 { return v - 1 }) }),
		shapeCase("GatherV2 axis 2", []*NodeDef{constI("i", []int64{3}, 3, 0, 0), constI("a", nil, 2), nd("y", "GatherV2", []string{"x", "i", "a"}, nil)},
			ir.Shape{2, 3, 3}, func(x t3) []float32 {
				return build(2, 3, 3, func(i, j, k int) float32 { return x.at(i, j, []int{3, 0, 0}[k]) })
			}),
		shapeCase("GatherV2 2-D indices axis -3", []*NodeDef{constI("i", []int64{1, 2}, 1, 0), constI("a", nil, -3), nd("y", "GatherV2", []string{"x", "i", "a"}, nil)},
			ir.Shape{1, 2, 3, 4}, func(x t3) []float32 { return append(append([]float32(nil), x.v[12:]...), x.v[:12]...) }),
		withOutputs(shapeCase("Split axis 2 output 1", []*NodeDef{constI("a", nil, 2), nd("y", "Split", []string{"a", "x"}, map[string]*AttrValue{"num_split": aI(2)})},
			ir.Shape{2, 3, 2}, func(x t3) []float32 { return build(2, 3, 2, func(i, j, k int) float32 { return x.at(i, j, 2+k) }) }), "y:1"),
		withOutputs(shapeCase("SplitV -1 output 1", []*NodeDef{constI("s", []int64{2}, 1, -1), constI("a", nil, 1), nd("y", "SplitV", []string{"x", "s", "a"}, nil)},
			ir.Shape{2, 2, 4}, func(x t3) []float32 { return build(2, 2, 4, func(i, j, k int) float32 { return x.at(i, 1+j, k) }) }), "y:1"),
		withOutputs(shapeCase("SplitV output 0", []*NodeDef{constI("s", []int64{2}, 1, -1), constI("a", nil, 1), nd("y", "SplitV", []string{"x", "s", "a"}, nil)},
			ir.Shape{2, 1, 4}, func(x t3) []float32 { return build(2, 1, 4, func(i, j, k int) float32 { return x.at(i, 0, k) }) }), "y"),
		withOutputs(shapeCase("IdentityN", []*NodeDef{nd("n", "Neg", []string{"x"}, nil), nd("y", "IdentityN", []string{"x", "n"}, nil)},
			ir.Shape{2, 3, 4}, func(x t3) []float32 { return mapFloats(x.v, func(v float32) float32 { return -v }) }), "y:1"),
		shapeCase("Squeeze after Slice", []*NodeDef{constI("b", []int64{3}, 0, 0, 1), constI("s", []int64{3}, -1, -1, 1),
			nd("sl", "Slice", []string{"x", "b", "s"}, nil), nd("y", "Squeeze", []string{"sl"}, map[string]*AttrValue{"squeeze_dims": aInts(-1)})},
			ir.Shape{2, 3}, func(x t3) []float32 { return build(2, 3, 1, func(i, j, _ int) float32 { return x.at(i, j, 1) }) }),
		shapeCase("BatchMatMulV2 adj_y", []*NodeDef{constF("w", []int64{5, 4}, randFloats(32, 20)),
			nd("y", "BatchMatMulV2", []string{"x", "w"}, map[string]*AttrValue{"adj_y": aB(true)})}, ir.Shape{2, 3, 5},
			func(x t3) []float32 {
				w := randFloats(32, 20)
				return build(2, 3, 5, func(i, j, k int) float32 {
					var s float32
					for p := range 4 {
						s += x.at(i, j, p) * w[k*4+p]
					}
					return s
				})
			}),
		shapeCase("BatchMatMul adj_x", []*NodeDef{nd("y", "BatchMatMul", []string{"x", "x"}, map[string]*AttrValue{"adj_x": aB(true)})}, ir.Shape{2, 4, 4},
			func(x t3) []float32 {
				return build(2, 4, 4, func(i, j, k int) float32 {
					var s float32
					for p := range 3 {
						s += x.at(i, p, j) * x.at(i, p, k)
					}
					return s
				})
			}),
	}
}

func reduceCases() []opCase {
	red := func(x t3, axes [3]bool, init float32, f func(a, v float32) float32) []float32 {
		a, b, c := 2, 3, 4
		if axes[0] {
			a = 1
		}
		if axes[1] {
			b = 1
		}
		if axes[2] {
			c = 1
		}
		out := make([]float32, a*b*c)
		for i := range out {
			out[i] = init
		}
		for i := range 2 {
			for j := range 3 {
				for k := range 4 {
					o := 0
					if !axes[0] {
						o = i
					}
					if !axes[1] {
						o = o*b + j
					} else {
						o = o * b
					}
					if !axes[2] {
						o = o*c + k
					} else {
						o = o * c
					}
					out[o] = f(out[o], x.at(i, j, k))
				}
			}
		}
		return out
	}
	sum := func(a, v float32) float32 { return a + v }
	inf := float32(1e30)
	return []opCase{
		shapeCase("Sum axis 1", []*NodeDef{constI("a", []int64{1}, 1), nd("y", "Sum", []string{"x", "a"}, nil)}, ir.Shape{2, 4},
			func(x t3) []float32 { return red(x, [3]bool{false, true, false}, 0, sum) }),
		shapeCase("Max axis -1 keep_dims", []*NodeDef{constI("a", nil, -1), nd("y", "Max", []string{"x", "a"}, map[string]*AttrValue{"keep_dims": aB(true)})},
			ir.Shape{2, 3, 1}, func(x t3) []float32 {
				return red(x, [3]bool{false, false, true}, -inf, func(a, v float32) float32 { return max(a, v) })
			}),
		shapeCase("Min axes 2 0 with a repeat", []*NodeDef{constI("a", []int64{3}, 2, 0, -1), nd("y", "Min", []string{"x", "a"}, nil)},
			ir.Shape{3}, func(x t3) []float32 {
				return red(x, [3]bool{true, false, true}, inf, func(a, v float32) float32 { return min(a, v) })
			}),
		shapeCase("Mean all axes", []*NodeDef{constI("a", []int64{3}, 0, 1, 2), nd("y", "Mean", []string{"x", "a"}, map[string]*AttrValue{"keep_dims": aB(true)})},
			ir.Shape{1, 1, 1}, func(x t3) []float32 {
				return mapFloats(red(x, [3]bool{true, true, true}, 0, sum), func(v float32) float32 { return v / 24 })
			}),
		shapeCase("Sum over no axes", []*NodeDef{constI("a", []int64{0}), nd("s", "Sum", []string{"x", "a"}, nil), nd("y", "Relu", []string{"s"}, nil)},
			ir.Shape{2, 3, 4}, func(x t3) []float32 { return mapFloats(x.v, relu) }),
		// Prod folds: x · Prod([[1, 2, 3, 4], [2, 2, 2, -1]], axis 0).
		shapeCase("Prod of a constant", []*NodeDef{constF("c", []int64{2, 4}, []float32{1, 2, 3, 4, 2, 2, 2, -1}), constI("a", nil, 0),
			nd("p", "Prod", []string{"c", "a"}, nil), nd("y", "Mul", []string{"x", "p"}, nil)}, ir.Shape{2, 3, 4},
			func(x t3) []float32 {
				return build(2, 3, 4, func(i, j, k int) float32 { return x.at(i, j, k) * []float32{2, 4, 6, -4}[k] })
			}),
		shapeCase("Prod of an int constant keep_dims", []*NodeDef{constI("c", []int64{2, 4}, 3, -2, 5, 7, 1, 2, -1, 3), constI("a", nil, 0),
			nd("p", "Prod", []string{"c", "a"}, map[string]*AttrValue{"keep_dims": aB(true)}),
			nd("f", "Cast", []string{"p"}, map[string]*AttrValue{"DstT": aT(DTFloat)}),
			nd("y", "Mul", []string{"x", "f"}, nil)}, ir.Shape{2, 3, 4},
			func(x t3) []float32 {
				return build(2, 3, 4, func(i, j, k int) float32 { return x.at(i, j, k) * []float32{3, -4, -5, 21}[k] })
			}),
	}
}

func TestShapeOps(t *testing.T) {
	for _, c := range append(shapeCases(), reduceCases()...) {
		t.Run(c.name, func(t *testing.T) { runOpCase(t, c) })
	}
}

// TestGatherNd checks GatherNd at constant indices (depth 1 and 2, a
// negative index) against a direct reference, and that computed indices
// are refused.
func TestGatherNd(t *testing.T) {
	x := make([]float32, 24) // [2, 3, 4]
	for i := range x {
		x[i] = float32(i)
	}
	at := func(i, j, k int) float32 { return x[i*12+j*4+k] }
	cases := []struct {
		name  string
		idx   []int64
		shape []int64
		want  []float32
		out   ir.Shape
	}{
		{"depth 2", []int64{1, 2, 0, -1}, []int64{2, 2}, append(rowOf(at, 1, 2), rowOf(at, 0, 2)...), ir.Shape{2, 4}},
		{"depth 1", []int64{1}, []int64{1, 1}, x[12:], ir.Shape{1, 3, 4}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nodes := []*NodeDef{placeholder("x", 2, 3, 4), constI("i", c.shape, c.idx...), nd("y", "GatherNd", []string{"x", "i"}, nil)}
			g, err := importBinary(t, nodes, Options{})
			if err != nil {
				t.Fatal(err)
			}
			out, err := ir.Run(g, map[string]*ir.Tensor{"x": ir.FloatTensor(ir.Shape{2, 3, 4}, x)})
			if err != nil {
				t.Fatal(err)
			}
			if !out[0].Shape.Equal(c.out) || !slices.Equal(out[0].Floats(), c.want) {
				t.Fatalf("got %v %v, want %v %v", out[0].Shape, out[0].Floats(), c.out, c.want)
			}
		})
	}
	nodes := []*NodeDef{placeholder("x", 2, 3, 4), placeholder("j", 1, 2),
		nd("i", "Cast", []string{"j"}, map[string]*AttrValue{"SrcT": aT(DTFloat), "DstT": aT(DTInt32)}),
		nd("y", "GatherNd", []string{"x", "i"}, nil)}
	if _, err := importBinary(t, nodes, Options{}); err == nil || !strings.Contains(err.Error(), "constant indices") {
		t.Fatalf("computed indices: %v", err)
	}
}

// rowOf returns the last-axis row (i, j) of a [2, 3, 4] tensor.
func rowOf(at func(i, j, k int) float32, i, j int) []float32 {
	r := make([]float32, 4)
	for k := range r {
		r[k] = at(i, j, k)
	}
	return r
}

// TestSparseToDense folds SparseToDense of constants (a scattered mask
// added to an input) and refuses computed operands.
func TestSparseToDense(t *testing.T) {
	nodes := []*NodeDef{
		placeholder("x", 2, 3),
		constI("idx", []int64{2, 2}, 0, 1, 1, 2),
		constI("shape", []int64{2}, 2, 3),
		constF("vals", []int64{2}, []float32{5, 7}),
		constF("def", nil, []float32{-1}),
		nd("m", "SparseToDense", []string{"idx", "shape", "vals", "def"}, nil),
		nd("y", "AddV2", []string{"x", "m"}, nil),
	}
	g, err := importBinary(t, nodes, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := ir.Run(g, map[string]*ir.Tensor{"x": ir.FloatTensor(ir.Shape{2, 3}, make([]float32, 6))})
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{-1, 5, -1, -1, -1, 7}; !slices.Equal(out[0].Floats(), want) {
		t.Fatalf("got %v, want %v", out[0].Floats(), want)
	}
	nodes[3] = nd("vals", "Identity", []string{"x"}, nil)
	if _, err := importBinary(t, nodes, Options{}); err == nil || !strings.Contains(err.Error(), "computed from the data") {
		t.Fatalf("computed values: %v", err)
	}
}
