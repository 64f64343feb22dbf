package tf

import (
	"math"
	"testing"

	"veil/ir"
)

// elemCase returns a case y = op(pre(x)) on x of shape [1, 2, 3, 4] with
// values uniform in [-scale, scale), where pre is a chain of nodes ending
// in "p" (nil: p is x), and want computes y from x.
func elemCase(name string, scale float32, pre []*NodeDef, y *NodeDef, want func(x float32, i int) float32) opCase {
	x := mapFloats(randFloats(21, 24), func(v float32) float32 { return v * scale })
	nodes := append([]*NodeDef{placeholder("x", 1, 2, 3, 4)}, pre...)
	nodes = append(nodes, y)
	w := make([]float32, len(x))
	for i, v := range x {
		w[i] = want(v, i)
	}
	return opCase{name: name, nodes: nodes, x: ir.FloatTensor(ir.Shape{1, 2, 3, 4}, x), want: ir.FloatTensor(ir.Shape{1, 2, 3, 4}, w)}
}

// countOps checks that the imported graph has n nodes of op.
func countOps(c opCase, op ir.Op, n int) opCase {
	prev := c.check
	c.check = func(t *testing.T, g *ir.Graph) {
		if prev != nil {
			prev(t, g)
		}
		k := 0
		for _, nd := range g.Nodes {
			if nd.Op == op {
				k++
			}
		}
		if k != n {
			var ops []ir.Op
			for _, nd := range g.Nodes {
				ops = append(ops, nd.Op)
			}
			t.Errorf("%d %s nodes, want %d (graph: %v)", k, op, n, ops)
		}
	}
	return c
}

func f64(f func(float64) float64) func(float32) float32 {
	return func(v float32) float32 { return float32(f(float64(v))) }
}

// elu is scale·ELU_α(x), the reference of Elu and Selu.
func elu(x, alpha, scale float32) float32 {
	if x > 0 {
		return scale * x
	}
	return scale * alpha * float32(math.Expm1(float64(x)))
}

func elementwiseCases() []opCase {
	vec := randFloats(22, 4)
	one := func(name, op string) *NodeDef { return nd("y", op, []string{"p"}, nil) }
	abs := []*NodeDef{nd("a", "Abs", []string{"x"}, nil), constF("half", nil, []float32{0.5}), nd("p", "AddV2", []string{"a", "half"}, nil)}
	pos := func(x float32) float32 { return float32(math.Abs(float64(x))) + 0.5 }
	id := []*NodeDef{nd("p", "Identity", []string{"x"}, nil)}
	sixth := float32(1.0 / 6)
	return []opCase{
		elemCase("Square", 1, id, one("y", "Square"), func(x float32, _ int) float32 { return x * x }),
		elemCase("SquaredDifference", 1, []*NodeDef{constF("p", []int64{4}, vec)},
			nd("y", "SquaredDifference", []string{"x", "p"}, nil), func(x float32, i int) float32 { d := x - vec[i%4]; return d * d }),
		elemCase("Abs Sqrt", 2, abs, one("y", "Sqrt"), func(x float32, _ int) float32 { return f64(math.Sqrt)(pos(x)) }),
		elemCase("Rsqrt", 2, abs, one("y", "Rsqrt"), func(x float32, _ int) float32 { return 1 / f64(math.Sqrt)(pos(x)) }),
		elemCase("Log", 2, abs, one("y", "Log"), func(x float32, _ int) float32 { return f64(math.Log)(pos(x)) }),
		elemCase("Reciprocal", 2, abs, one("y", "Reciprocal"), func(x float32, _ int) float32 { return 1 / pos(x) }),
		elemCase("Exp", 2, id, one("y", "Exp"), func(x float32, _ int) float32 { return f64(math.Exp)(x) }),
		elemCase("Neg", 2, id, one("y", "Neg"), func(x float32, _ int) float32 { return -x }),
		elemCase("Erf", 2, id, one("y", "Erf"), func(x float32, _ int) float32 { return f64(math.Erf)(x) }),
		elemCase("Softplus", 2, id, one("y", "Softplus"), func(x float32, _ int) float32 { return float32(math.Log1p(math.Exp(float64(x)))) }),
		elemCase("Elu", 2, id, one("y", "Elu"), func(x float32, _ int) float32 { return elu(x, 1, 1) }),
		elemCase("Selu", 2, id, one("y", "Selu"), func(x float32, _ int) float32 { return elu(x, seluAlpha, seluScale) }),
		elemCase("Relu6 merges with a Clip before it", 9, []*NodeDef{constF("c", nil, []float32{-1}), nd("p", "Maximum", []string{"x", "c"}, nil)},
			one("y", "Relu6"), func(x float32, _ int) float32 { return relu6(x) }),
		countOps(elemCase("Maximum by a scalar is a Clip", 1, []*NodeDef{constF("p", nil, []float32{0.1})},
			nd("y", "Maximum", []string{"p", "x"}, nil), func(x float32, _ int) float32 { return max(x, 0.1) }), ir.OpClip, 1),
		countOps(elemCase("Minimum by a vector", 1, []*NodeDef{constF("p", []int64{4}, vec)},
			nd("y", "Minimum", []string{"x", "p"}, nil), func(x float32, i int) float32 { return min(x, vec[i%4]) }), ir.OpMin, 1),
		countOps(elemCase("Maximum of computed values", 1, []*NodeDef{nd("p", "Neg", []string{"x"}, nil)},
			nd("y", "Maximum", []string{"x", "p"}, nil), func(x float32, _ int) float32 { return max(x, -x) }), ir.OpMax, 1),
		// tf.clip_by_value: Minimum, then Maximum; one Clip.
		countOps(elemCase("clip_by_value", 1, []*NodeDef{constF("hi", nil, []float32{0.5}), constF("lo", nil, []float32{-0.25}),
			nd("p", "Minimum", []string{"x", "hi"}, nil)},
			nd("y", "Maximum", []string{"p", "lo"}, nil), func(x float32, _ int) float32 { return min(max(x, -0.25), 0.5) }), ir.OpClip, 1),
		// Disjoint ranges do not merge: Maximum(Minimum(x, -1), 1) is 1.
		countOps(elemCase("disjoint clips", 2, []*NodeDef{constF("hi", nil, []float32{-1}), constF("lo", nil, []float32{1}),
			nd("p", "Minimum", []string{"x", "hi"}, nil)},
			nd("y", "Maximum", []string{"p", "lo"}, nil), func(x float32, _ int) float32 { return 1 }), ir.OpClip, 2),
		// Keras' hard_sigmoid: clip_by_value(0.2·x + 0.5, 0, 1).
		countOps(elemCase("Keras hard_sigmoid", 4, []*NodeDef{constF("a", nil, []float32{0.2}), constF("b", nil, []float32{0.5}),
			constF("one", nil, []float32{1}), constF("zero", nil, []float32{0}),
			nd("m", "Mul", []string{"x", "a"}, nil), nd("s", "AddV2", []string{"m", "b"}, nil), nd("p", "Minimum", []string{"s", "one"}, nil)},
			nd("y", "Maximum", []string{"p", "zero"}, nil), func(x float32, _ int) float32 { return min(max(0.2*x+0.5, 0), 1) }), ir.OpHardSigmoid, 1),
		// Keras' MobileNetV3: hard_swish(x) = x · Relu6(x + 3) · (1/6).
		countOps(elemCase("MobileNetV3 hard_swish", 5, []*NodeDef{constF("three", nil, []float32{3}), constF("sixth", nil, []float32{sixth}),
			nd("s", "AddV2", []string{"x", "three"}, nil), nd("r", "Relu6", []string{"s"}, nil), nd("p", "Mul", []string{"r", "sixth"}, nil)},
			nd("y", "Mul", []string{"x", "p"}, nil), func(x float32, _ int) float32 { return x * relu6(x+3) * sixth }), ir.OpHardSwish, 1),
		countOps(elemCase("Relu6(x+3)/6 is HardSigmoid", 5, []*NodeDef{constF("three", nil, []float32{3}), constF("six", nil, []float32{6}),
			nd("s", "AddV2", []string{"three", "x"}, nil), nd("p", "Relu6", []string{"s"}, nil)},
			nd("y", "RealDiv", []string{"p", "six"}, nil), func(x float32, _ int) float32 { return relu6(x+3) / 6 }), ir.OpHardSigmoid, 1),
		countOps(elemCase("AddN", 1, []*NodeDef{constF("p", []int64{4}, vec)},
			nd("y", "AddN", []string{"x", "p", "x"}, map[string]*AttrValue{"N": aI(3)}), func(x float32, i int) float32 { return x + vec[i%4] + x }), ir.OpAdd, 2),
		countOps(elemCase("RealDiv by a computed value", 1, abs, nd("y", "RealDiv", []string{"x", "p"}, nil),
			func(x float32, _ int) float32 { return x / pos(x) }), ir.OpDiv, 1),
		elemCase("Div by a constant", 1, []*NodeDef{constF("p", []int64{4}, []float32{2, -4, 0.5, 8})},
			nd("y", "Div", []string{"x", "p"}, nil), func(x float32, i int) float32 { return x / []float32{2, -4, 0.5, 8}[i%4] }),
		elemCase("FloorDiv", 4, []*NodeDef{constF("p", nil, []float32{1.5})},
			nd("y", "FloorDiv", []string{"x", "p"}, nil), func(x float32, _ int) float32 { return float32(math.Floor(float64(x / 1.5))) }),
		countOps(elemCase("Prelu", 1, []*NodeDef{constF("p", []int64{4}, vec)},
			nd("y", "Prelu", []string{"x", "p"}, nil), func(x float32, i int) float32 { return max(x, 0) + vec[i%4]*min(x, 0) }), ir.OpPRelu, 1),
		elemCase("Pow 2", 1, []*NodeDef{constF("p", nil, []float32{2})},
			nd("y", "Pow", []string{"x", "p"}, nil), func(x float32, _ int) float32 { return x * x }),
		elemCase("Pow 0.5", 1, append(abs[:2:2], constF("e", []int64{1}, []float32{0.5}), nd("p", "AddV2", []string{"a", "half"}, nil)),
			nd("y", "Pow", []string{"p", "e"}, nil), func(x float32, _ int) float32 { return f64(math.Sqrt)(pos(x)) }),
		elemCase("Pow of constants folds", 1, []*NodeDef{constF("b", []int64{4}, []float32{1, 2, 3, 4}), constF("e", nil, []float32{1.5}),
			nd("p", "Pow", []string{"b", "e"}, nil)},
			nd("y", "Mul", []string{"x", "p"}, nil), func(x float32, i int) float32 { return x * float32(math.Pow(float64(i%4+1), 1.5)) }),
		// x / Cast(Shape(x)[3]): shape arithmetic folds away.
		countOps(countOps(elemCase("Shape StridedSlice Cast fold", 1, []*NodeDef{
			nd("shape", "Shape", []string{"x"}, map[string]*AttrValue{"out_type": aT(DTInt32)}),
			constI("b", []int64{1}, 3), constI("e", []int64{1}, 4), constI("s", []int64{1}, 1),
			nd("d", "StridedSlice", []string{"shape", "b", "e", "s"}, map[string]*AttrValue{"shrink_axis_mask": aI(1)}),
			nd("p", "Cast", []string{"d"}, map[string]*AttrValue{"SrcT": aT(DTInt32), "DstT": aT(DTFloat)})},
			nd("y", "RealDiv", []string{"x", "p"}, nil), func(x float32, _ int) float32 { return x / 4 }), ir.OpDiv, 1), ir.OpCast, 0),
		// Equal's booleans are the IR's 0 and 1; a Cast to float keeps them.
		elemCase("Equal Cast", 1, []*NodeDef{nd("r", "Relu", []string{"x"}, nil), nd("e", "Equal", []string{"x", "r"}, nil),
			nd("p", "Cast", []string{"e"}, map[string]*AttrValue{"SrcT": aT(DTBool), "DstT": aT(DTFloat)})},
			nd("y", "Mul", []string{"x", "p"}, nil), func(x float32, _ int) float32 { return relu(x) }),
		elemCase("Cast float to float", 1, nil, nd("y", "Cast", []string{"x"}, map[string]*AttrValue{"DstT": aT(DTFloat)}),
			func(x float32, _ int) float32 { return x }),
		elemCase("Identity StopGradient Snapshot", 1, []*NodeDef{nd("a", "StopGradient", []string{"x"}, nil), nd("p", "Snapshot", []string{"a"}, nil)},
			nd("y", "Relu", []string{"p"}, nil), func(x float32, _ int) float32 { return relu(x) }),
	}
}

func TestElementwise(t *testing.T) {
	for _, c := range elementwiseCases() {
		t.Run(c.name, func(t *testing.T) { runOpCase(t, c) })
	}
}

// TestLogSoftmax checks LogSoftmax over the last axis.
func TestLogSoftmax(t *testing.T) {
	x := []float32{1, 2, 3, -1, 5, 0}
	want := make([]float32, 6)
	for r := range 2 {
		var s float64
		for j := range 3 {
			s += math.Exp(float64(x[r*3+j]))
		}
		for j := range 3 {
			want[r*3+j] = float32(float64(x[r*3+j]) - math.Log(s))
		}
	}
	runOpCase(t, opCase{
		nodes: []*NodeDef{placeholder("x", 2, 3), nd("y", "LogSoftmax", []string{"x"}, nil)},
		x:     ir.FloatTensor(ir.Shape{2, 3}, x), want: ir.FloatTensor(ir.Shape{2, 3}, want), tol: 1e-5,
	})
}
