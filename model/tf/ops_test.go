package tf

import (
	"math"
	"slices"
	"testing"

	"veil/ir"
)

// opCase is a small GraphDef with one input x, its expected output and,
// optionally, a check on the imported graph.
type opCase struct {
	name  string
	nodes []*NodeDef
	x     *ir.Tensor
	want  *ir.Tensor
	check func(t *testing.T, g *ir.Graph)
	tol   float64
	// outputs, when set, names the graph's outputs (Options.Outputs).
	outputs []string
}

// convCase builds a (possibly fused, possibly depthwise) convolution test
// with input [n, h, w, c] and filter [kh, kw, fi, fo].
func convCase(name, op string, n, h, w, c, kh, kw, fi, fo, sh, sw int, padding string, attrs map[string]*AttrValue, extra []*NodeDef, post func(nhwc) nhwc) opCase {
	depthwise := op == "DepthwiseConv2dNative" || op == "FusedDepthwiseConv2dNative"
	x := randFloats(1, n*h*w*c)
	f := randFloats(2, kh*kw*fi*fo)
	var oh, ow, pt, pl int
	switch padding {
	case "VALID":
		oh, ow = (h-kh)/sh+1, (w-kw)/sw+1
	case "SAME":
		// TensorFlow: out = ceil(in/s), total = max((out-1)*s + k - in, 0),
		// before = total/2.
		oh, ow = (h+sh-1)/sh, (w+sw-1)/sw
		pt = max((oh-1)*sh+kh-h, 0) / 2
		pl = max((ow-1)*sw+kw-w, 0) / 2
	case "EXPLICIT":
		p := attrs["explicit_paddings"].List.I
		pt, pl = int(p[2]), int(p[4])
		oh = (h+int(p[2])+int(p[3])-kh)/sh + 1
		ow = (w+int(p[4])+int(p[5])-kw)/sw + 1
	}
	a := map[string]*AttrValue{
		"strides":     aInts(1, int64(sh), int64(sw), 1),
		"padding":     aS(padding),
		"data_format": aS("NHWC"),
		"dilations":   aInts(1, 1, 1, 1),
		"T":           aT(DTFloat),
	}
	for k, v := range attrs {
		a[k] = v
	}
	inputs := []string{"x", "f"}
	for _, e := range extra {
		inputs = append(inputs, e.Name)
	}
	nodes := append([]*NodeDef{
		nd("y", op, inputs, a),
		placeholder("x", -1, int64(h), int64(w), int64(c)),
		constF("f", []int64{int64(kh), int64(kw), int64(fi), int64(fo)}, f),
	}, extra...)
	xs := nhwc{n, h, w, c, x}
	out := refConv(xs, f, kh, kw, fi, fo, depthwise, sh, sw, pt, pl, oh, ow)
	if post != nil {
		out = post(out)
	}
	return opCase{
		name:  name,
		nodes: nodes,
		x:     ir.FloatTensor(ir.Shape{n, h, w, c}, x),
		want:  ir.FloatTensor(ir.Shape{out.n, out.h, out.w, out.c}, out.v),
	}
}

// withPads adds a check that the IR convolution or pooling node got pads.
func withPads(c opCase, op ir.Op, pads ...int) opCase {
	c.check = func(t *testing.T, g *ir.Graph) {
		for _, n := range g.Nodes {
			if n.Op == op {
				if !slices.Equal(n.Attrs.Pads, pads) {
					t.Errorf("%s pads %v, want %v", op, n.Attrs.Pads, pads)
				}
				return
			}
		}
		t.Errorf("no %s node", op)
	}
	return c
}

// perChannel applies f(value, channel) to every element of an NHWC tensor.
func perChannel(f func(v float32, c int) float32) func(nhwc) nhwc {
	return func(x nhwc) nhwc {
		out := x
		out.v = make([]float32, len(x.v))
		for i, v := range x.v {
			out.v[i] = f(v, i%x.c)
		}
		return out
	}
}

func opCases() []opCase {
	bias4 := randFloats(3, 4)
	bias6 := randFloats(4, 6)
	scale, offset, mean := randFloats(5, 4), randFloats(6, 4), randFloats(7, 4)
	variance := mapFloats(randFloats(8, 4), func(v float32) float32 { return v*v + 0.5 })
	cases := []opCase{
		// H=7: out 4, total pad 2 → 1+1; W=6: out 3, total 1 → 0 before, 1 after.
		withPads(convCase("Conv2D SAME stride 2 odd", "Conv2D", 1, 7, 6, 3, 3, 3, 3, 4, 2, 2, "SAME", nil, nil, nil), ir.OpConv, 1, 0, 1, 1),
		convCase("Conv2D SAME stride 2 even kernel", "Conv2D", 2, 5, 8, 2, 2, 4, 2, 3, 2, 2, "SAME", nil, nil, nil),
		convCase("Conv2D VALID", "Conv2D", 2, 5, 5, 2, 2, 3, 2, 3, 1, 1, "VALID", nil, nil, nil),
		convCase("Conv2D VALID stride 3", "Conv2D", 1, 8, 7, 2, 3, 2, 2, 2, 3, 2, "VALID", nil, nil, nil),
		withPads(convCase("Conv2D EXPLICIT", "Conv2D", 1, 5, 4, 2, 3, 3, 2, 2, 1, 2, "EXPLICIT",
			map[string]*AttrValue{"explicit_paddings": aInts(0, 0, 1, 2, 0, 1, 0, 0)}, nil, nil), ir.OpConv, 1, 0, 2, 1),
		convCase("Conv2D grouped", "Conv2D", 1, 4, 4, 4, 3, 3, 2, 6, 1, 1, "SAME", nil, nil, nil),
		withPads(convCase("Depthwise multiplier 2 SAME stride 2", "DepthwiseConv2dNative", 1, 5, 7, 3, 3, 3, 3, 2, 2, 2, "SAME", nil, nil, nil), ir.OpConv, 1, 1, 1, 1),
		convCase("Depthwise multiplier 1 VALID", "DepthwiseConv2dNative", 2, 6, 5, 4, 3, 2, 4, 1, 1, 1, "VALID", nil, nil, nil),
		convCase("_FusedConv2D BiasAdd", "_FusedConv2D", 1, 5, 5, 3, 3, 3, 3, 4, 1, 1, "SAME",
			map[string]*AttrValue{"fused_ops": aStrs("BiasAdd"), "num_args": aI(1)},
			[]*NodeDef{constF("b", []int64{4}, bias4)},
			perChannel(func(v float32, c int) float32 { return v + bias4[c] })),
		convCase("_FusedConv2D BiasAdd Relu", "_FusedConv2D", 1, 5, 5, 3, 3, 3, 3, 4, 2, 2, "SAME",
			map[string]*AttrValue{"fused_ops": aStrs("BiasAdd", "Relu"), "num_args": aI(1)},
			[]*NodeDef{constF("b", []int64{4}, bias4)},
			perChannel(func(v float32, c int) float32 { return relu(v + bias4[c]) })),
		convCase("_FusedConv2D BiasAdd Relu6", "_FusedConv2D", 1, 5, 5, 3, 3, 3, 3, 4, 1, 1, "VALID",
			map[string]*AttrValue{"fused_ops": aStrs("BiasAdd", "Relu6"), "num_args": aI(1)},
			[]*NodeDef{constF("b", []int64{4}, mapFloats(bias4, func(v float32) float32 { return 5 * v }))},
			perChannel(func(v float32, c int) float32 { return relu6(v + 5*bias4[c]) })),
		convCase("_FusedConv2D FusedBatchNorm Relu", "_FusedConv2D", 1, 4, 5, 3, 3, 3, 3, 4, 1, 1, "SAME",
			map[string]*AttrValue{"fused_ops": aStrs("FusedBatchNorm", "Relu"), "num_args": aI(4), "epsilon": aF(0.001)},
			[]*NodeDef{constF("scale", []int64{4}, scale), constF("offset", []int64{4}, offset), constF("mean", []int64{4}, mean), constF("var", []int64{4}, variance)},
			perChannel(func(v float32, c int) float32 {
				return relu((v-mean[c])*scale[c]/float32(math.Sqrt(float64(variance[c]+0.001))) + offset[c])
			})),
		convCase("FusedDepthwiseConv2dNative BiasAdd Relu6", "FusedDepthwiseConv2dNative", 1, 6, 6, 3, 3, 3, 3, 2, 2, 2, "SAME",
			map[string]*AttrValue{"fused_ops": aStrs("BiasAdd", "Relu6"), "num_args": aI(1)},
			[]*NodeDef{constF("b", []int64{6}, mapFloats(bias6, func(v float32) float32 { return 8 * v }))},
			perChannel(func(v float32, c int) float32 { return relu6(v + 8*bias6[c]) })),
	}

	// A hand-computed SAME convolution: 3×3 ones, 2×2 ones kernel, stride 2.
	// TensorFlow pads 0 before and 1 after, so the windows cover 4, 2, 2, 1
	// real elements.
	cases = append(cases, opCase{
		name: "Conv2D SAME by hand",
		nodes: []*NodeDef{
			placeholder("x", 1, 3, 3, 1),
			constF("f", []int64{2, 2, 1, 1}, []float32{1, 1, 1, 1}),
			nd("y", "Conv2D", []string{"x", "f"}, map[string]*AttrValue{"strides": aInts(1, 2, 2, 1), "padding": aS("SAME")}),
		},
		x:    ir.FloatTensor(ir.Shape{1, 3, 3, 1}, []float32{1, 1, 1, 1, 1, 1, 1, 1, 1}),
		want: ir.FloatTensor(ir.Shape{1, 2, 2, 1}, []float32{4, 2, 2, 1}),
	})

	// Pooling on values with negatives, SAME padding over odd sizes.
	px := randFloats(9, 1*7*6*2)
	pool := func(name, op string, k, s int, padding string, pt, pl, oh, ow int) opCase {
		xs := nhwc{1, 7, 6, 2, px}
		out := refPool(xs, k, k, s, s, pt, pl, oh, ow, op == "MaxPool")
		return opCase{
			name: name,
			nodes: []*NodeDef{
				placeholder("x", -1, 7, 6, 2),
				nd("y", op, []string{"x"}, map[string]*AttrValue{
					"ksize": aInts(1, int64(k), int64(k), 1), "strides": aInts(1, int64(s), int64(s), 1),
					"padding": aS(padding), "data_format": aS("NHWC"),
				}),
			},
			x:    ir.FloatTensor(ir.Shape{1, 7, 6, 2}, px),
			want: ir.FloatTensor(ir.Shape{1, oh, ow, 2}, out.v),
		}
	}
	cases = append(cases,
		// 3×3 stride 2 SAME: H 7 → 4 (pad 1, 1), W 6 → 3 (pad 0, 1).
		withPads(pool("MaxPool SAME stride 2", "MaxPool", 3, 2, "SAME", 1, 0, 4, 3), ir.OpMaxPool, 1, 0, 1, 1),
		withPads(pool("AvgPool SAME stride 2 excludes padding", "AvgPool", 3, 2, "SAME", 1, 0, 4, 3), ir.OpAvgPool, 1, 0, 1, 1),
		pool("AvgPool VALID 2x2", "AvgPool", 2, 2, "VALID", 0, 0, 3, 3),
		pool("MaxPool VALID 3x3 stride 1", "MaxPool", 3, 1, "VALID", 0, 0, 5, 4),
	)

	// MatMul with and without transposes, and _FusedMatMul.
	a := randFloats(10, 3*4)  // [3, 4]
	bm := randFloats(11, 4*5) // [4, 5]
	mm := func(a []float32, b []float32, m, k, n int) []float32 {
		out := make([]float32, m*n)
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for p := 0; p < k; p++ {
					s += float64(a[i*k+p]) * float64(b[p*n+j])
				}
				out[i*n+j] = float32(s)
			}
		}
		return out
	}
	transpose := func(v []float32, r, c int) []float32 {
		out := make([]float32, len(v))
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				out[j*r+i] = v[i*c+j]
			}
		}
		return out
	}
	ab := mm(a, bm, 3, 4, 5)
	bias5 := randFloats(12, 5)
	fusedMM := make([]float32, len(ab))
	for i, v := range ab {
		fusedMM[i] = relu(v + bias5[i%5])
	}
	cases = append(cases,
		opCase{
			name: "MatMul",
			nodes: []*NodeDef{placeholder("x", -1, 4), constF("b", []int64{4, 5}, bm),
				nd("y", "MatMul", []string{"x", "b"}, map[string]*AttrValue{"transpose_a": aB(false), "transpose_b": aB(false)})},
			x: ir.FloatTensor(ir.Shape{3, 4}, a), want: ir.FloatTensor(ir.Shape{3, 5}, ab),
		},
		opCase{
			name: "MatMul transpose_a transpose_b",
			nodes: []*NodeDef{placeholder("x", 4, 3), constF("b", []int64{5, 4}, transpose(bm, 4, 5)),
				nd("y", "MatMul", []string{"x", "b"}, map[string]*AttrValue{"transpose_a": aB(true), "transpose_b": aB(true)})},
			x: ir.FloatTensor(ir.Shape{4, 3}, transpose(a, 3, 4)), want: ir.FloatTensor(ir.Shape{3, 5}, ab),
		},
		opCase{
			name: "_FusedMatMul BiasAdd Relu",
			nodes: []*NodeDef{placeholder("x", 3, 4), constF("b", []int64{4, 5}, bm), constF("bias", []int64{5}, bias5),
				nd("y", "_FusedMatMul", []string{"x", "b", "bias"}, map[string]*AttrValue{"fused_ops": aStrs("BiasAdd", "Relu"), "num_args": aI(1)})},
			x: ir.FloatTensor(ir.Shape{3, 4}, a), want: ir.FloatTensor(ir.Shape{3, 5}, fusedMM),
		},
	)

	// Element-wise ops with broadcasting on a [1, 2, 3, 4] input.
	ex := randFloats(13, 24)
	ec := randFloats(14, 4)
	elem := func(name, op string, other *NodeDef, f func(x float32, i int) float32, attrs map[string]*AttrValue) opCase {
		nodes := []*NodeDef{placeholder("x", 1, 2, 3, 4)}
		inputs := []string{"x"}
		if other != nil {
			nodes = append(nodes, other)
			inputs = append(inputs, other.Name)
		}
		nodes = append(nodes, nd("y", op, inputs, attrs))
		want := make([]float32, len(ex))
		for i, v := range ex {
			want[i] = f(v, i)
		}
		return opCase{name: name, nodes: nodes, x: ir.FloatTensor(ir.Shape{1, 2, 3, 4}, ex), want: ir.FloatTensor(ir.Shape{1, 2, 3, 4}, want)}
	}
	vec := constF("c", []int64{4}, ec)
	scalar := constF("c", []int64{}, []float32{0.75})
	cases = append(cases,
		elem("BiasAdd", "BiasAdd", vec, func(x float32, i int) float32 { return x + ec[i%4] }, map[string]*AttrValue{"data_format": aS("NHWC")}),
		elem("Add", "Add", vec, func(x float32, i int) float32 { return x + ec[i%4] }, nil),
		elem("AddV2", "AddV2", vec, func(x float32, i int) float32 { return x + ec[i%4] }, nil),
		elem("Sub scalar", "Sub", scalar, func(x float32, i int) float32 { return x - 0.75 }, nil),
		elem("Mul", "Mul", vec, func(x float32, i int) float32 { return x * ec[i%4] }, nil),
		elem("RealDiv", "RealDiv", scalar, func(x float32, i int) float32 { return x / 0.75 }, nil),
		elem("Relu", "Relu", nil, func(x float32, i int) float32 { return relu(x) }, nil),
		elem("Relu6", "Relu6", nil, func(x float32, i int) float32 { return relu6(8 * x) }, nil),
		elem("LeakyRelu", "LeakyRelu", nil, func(x float32, i int) float32 { return max(x, 0) + 0.1*min(x, 0) }, map[string]*AttrValue{"alpha": aF(0.1)}),
		elem("Sigmoid", "Sigmoid", nil, func(x float32, i int) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }, nil),
		elem("Tanh", "Tanh", nil, func(x float32, i int) float32 { return float32(math.Tanh(float64(x))) }, nil),
		elem("Identity with a control input", "Identity", nil, func(x float32, i int) float32 { return x }, nil),
		elem("FusedBatchNormV3", "FusedBatchNormV3", nil, func(x float32, i int) float32 {
			c := i % 4
			return (x-mean[c])*scale[c]/float32(math.Sqrt(float64(variance[c]+0.01))) + offset[c]
		}, map[string]*AttrValue{"is_training": aB(false), "epsilon": aF(0.01), "data_format": aS("NHWC")}),
	)
	// Relu6 needs values beyond 6: scale the input by 8 first.
	r6 := &cases[len(cases)-6]
	r6.nodes = []*NodeDef{placeholder("x0", 1, 2, 3, 4), constF("eight", []int64{}, []float32{8}),
		nd("x", "Mul", []string{"x0", "eight"}, nil), nd("y", "Relu6", []string{"x"}, nil)}
	id := &cases[len(cases)-2]
	id.nodes = append(id.nodes, nd("side", "NoOp", nil, nil))
	id.nodes[len(id.nodes)-2].Inputs = []string{"x", "^side"}
	bn := &cases[len(cases)-1]
	bn.nodes[len(bn.nodes)-1].Inputs = []string{"x", "scale", "offset", "mean", "var"}
	bn.nodes = append(bn.nodes, constF("scale", []int64{4}, scale), constF("offset", []int64{4}, offset),
		constF("mean", []int64{4}, mean), constF("var", []int64{4}, variance))

	// Shape ops on [2, 1, 1, 3] and [1, 2, 3, 4] inputs.
	sx := randFloats(15, 6)
	mx := ex
	meanHW := make([]float32, 4)
	for i, v := range mx {
		meanHW[i%4] += v / 6
	}
	meanC := make([]float32, 6)
	for i, v := range mx {
		meanC[i/4] += v / 4
	}
	cases = append(cases,
		opCase{
			name: "Mean keep_dims=false",
			nodes: []*NodeDef{placeholder("x", 1, 2, 3, 4), constI("ax", []int64{2}, 1, 2),
				nd("y", "Mean", []string{"x", "ax"}, map[string]*AttrValue{"keep_dims": aB(false)})},
			x: ir.FloatTensor(ir.Shape{1, 2, 3, 4}, mx), want: ir.FloatTensor(ir.Shape{1, 4}, meanHW), tol: 1e-6,
		},
		opCase{
			name: "Mean keep_dims=true",
			nodes: []*NodeDef{placeholder("x", 1, 2, 3, 4), constI("ax", []int64{2}, 1, 2),
				nd("y", "Mean", []string{"x", "ax"}, map[string]*AttrValue{"keep_dims": aB(true)})},
			x: ir.FloatTensor(ir.Shape{1, 2, 3, 4}, mx), want: ir.FloatTensor(ir.Shape{1, 1, 1, 4}, meanHW), tol: 1e-6,
		},
		opCase{
			name: "Mean negative scalar axis",
			nodes: []*NodeDef{placeholder("x", 1, 2, 3, 4), constI("ax", []int64{}, -1),
				nd("y", "Mean", []string{"x", "ax"}, nil)},
			x: ir.FloatTensor(ir.Shape{1, 2, 3, 4}, mx), want: ir.FloatTensor(ir.Shape{1, 2, 3}, meanC), tol: 1e-6,
		},
		opCase{
			name:  "Reshape with -1",
			nodes: []*NodeDef{placeholder("x", 1, 2, 3, 4), constI("s", []int64{2}, -1, 6), nd("y", "Reshape", []string{"x", "s"}, nil)},
			x:     ir.FloatTensor(ir.Shape{1, 2, 3, 4}, mx), want: ir.FloatTensor(ir.Shape{4, 6}, mx),
		},
		opCase{
			name:  "Squeeze squeeze_dims",
			nodes: []*NodeDef{placeholder("x", 2, 1, 1, 3), nd("y", "Squeeze", []string{"x"}, map[string]*AttrValue{"squeeze_dims": aInts(1, -2)})},
			x:     ir.FloatTensor(ir.Shape{2, 1, 1, 3}, sx), want: ir.FloatTensor(ir.Shape{2, 3}, sx),
		},
		opCase{
			name:  "Squeeze all",
			nodes: []*NodeDef{placeholder("x", 1, 1, 1, 6), nd("y", "Squeeze", []string{"x"}, nil)},
			x:     ir.FloatTensor(ir.Shape{1, 1, 1, 6}, sx), want: ir.FloatTensor(ir.Shape{6}, sx),
		},
	)

	// ConcatV2 along channels (-1) and height (1).
	cc := randFloats(16, 1*2*3*2)
	concatC := make([]float32, 0, 36)
	for p := 0; p < 6; p++ {
		concatC = append(concatC, mx[p*4:p*4+4]...)
		concatC = append(concatC, cc[p*2:p*2+2]...)
	}
	ch := randFloats(17, 1*1*3*4)
	cases = append(cases,
		opCase{
			name: "ConcatV2 axis -1",
			nodes: []*NodeDef{placeholder("x", 1, 2, 3, 4), constF("c", []int64{1, 2, 3, 2}, cc), constI("ax", []int64{}, -1),
				nd("y", "ConcatV2", []string{"x", "c", "ax"}, map[string]*AttrValue{"N": aI(2)})},
			x: ir.FloatTensor(ir.Shape{1, 2, 3, 4}, mx), want: ir.FloatTensor(ir.Shape{1, 2, 3, 6}, concatC),
		},
		opCase{
			name: "ConcatV2 axis 1",
			nodes: []*NodeDef{placeholder("x", 1, 2, 3, 4), constF("c", []int64{1, 1, 3, 4}, ch), constI("ax", []int64{}, 1),
				nd("y", "ConcatV2", []string{"c", "x", "ax"}, map[string]*AttrValue{"N": aI(2)})},
			x: ir.FloatTensor(ir.Shape{1, 2, 3, 4}, mx), want: ir.FloatTensor(ir.Shape{1, 3, 3, 4}, append(slices.Clone(ch), mx...)),
		},
	)

	// Pad and PadV2 on [1, 2, 2, 1].
	pv := []float32{1, 2, 3, 4}
	padded := func(fill float32) []float32 {
		// paddings [[0,0],[1,0],[0,2],[0,0]] → [1, 3, 4, 1]
		out := []float32{fill, fill, fill, fill, 1, 2, fill, fill, 3, 4, fill, fill}
		return out
	}
	cases = append(cases,
		opCase{
			name: "Pad",
			nodes: []*NodeDef{placeholder("x", 1, 2, 2, 1), constI("p", []int64{4, 2}, 0, 0, 1, 0, 0, 2, 0, 0),
				nd("y", "Pad", []string{"x", "p"}, nil)},
			x: ir.FloatTensor(ir.Shape{1, 2, 2, 1}, pv), want: ir.FloatTensor(ir.Shape{1, 3, 4, 1}, padded(0)),
		},
		opCase{
			name: "PadV2",
			nodes: []*NodeDef{placeholder("x", 1, 2, 2, 1), constI("p", []int64{4, 2}, 0, 0, 1, 0, 0, 2, 0, 0),
				constF("v", []int64{}, []float32{-0.5}), nd("y", "PadV2", []string{"x", "p", "v"}, nil)},
			x: ir.FloatTensor(ir.Shape{1, 2, 2, 1}, pv), want: ir.FloatTensor(ir.Shape{1, 3, 4, 1}, padded(-0.5)),
		},
	)

	// Softmax and ArgMax over the last axis of [2, 3].
	smx := []float32{1, 2, 3, -1, 5, 0}
	sm := make([]float32, 6)
	for r := 0; r < 2; r++ {
		var s float64
		for j := 0; j < 3; j++ {
			s += math.Exp(float64(smx[r*3+j]))
		}
		for j := 0; j < 3; j++ {
			sm[r*3+j] = float32(math.Exp(float64(smx[r*3+j])) / s)
		}
	}
	cases = append(cases,
		opCase{
			name:  "Softmax",
			nodes: []*NodeDef{placeholder("x", 2, 3), nd("y", "Softmax", []string{"x"}, nil)},
			x:     ir.FloatTensor(ir.Shape{2, 3}, smx), want: ir.FloatTensor(ir.Shape{2, 3}, sm), tol: 1e-6,
		},
		opCase{
			name: "ArgMax",
			nodes: []*NodeDef{placeholder("x", 2, 3), constI("d", []int64{}, 1),
				nd("y", "ArgMax", []string{"x", "d"}, map[string]*AttrValue{"output_type": aT(DTInt64)})},
			x: ir.FloatTensor(ir.Shape{2, 3}, smx), want: ir.IntTensor(ir.Shape{2}, []int64{2, 1}),
		},
	)
	return cases
}

func TestOps(t *testing.T) {
	for _, c := range opCases() {
		t.Run(c.name, func(t *testing.T) { runOpCase(t, c) })
	}
}

// runOpCase imports c's graph from its binary form, runs it on c.x and
// compares the first output with c.want.
func runOpCase(t *testing.T, c opCase) {
	t.Helper()
	g, err := importBinary(t, c.nodes, Options{InputShape: c.x.Shape, Outputs: c.outputs})
	if err != nil {
		t.Fatal(err)
	}
	if g.Layout != ir.NHWC {
		t.Errorf("layout %v, want NHWC", g.Layout)
	}
	if c.check != nil {
		c.check(t, g)
	}
	outs, err := ir.Run(g, map[string]*ir.Tensor{g.Inputs[0]: c.x})
	if err != nil {
		t.Fatal(err)
	}
	got := outs[0]
	if !got.Shape.Equal(c.want.Shape) || got.DType != c.want.DType {
		t.Fatalf("output %v %v, want %v %v", got.DType, got.Shape, c.want.DType, c.want.Shape)
	}
	if c.want.DType == ir.Int64 {
		if !slices.Equal(got.I, c.want.I) {
			t.Fatalf("output %v, want %v", got.I, c.want.I)
		}
		return
	}
	tol := c.tol
	if tol == 0 {
		tol = 1e-5
	}
	for i := range c.want.F {
		if relErr(got.F[i], c.want.F[i]) > tol {
			t.Fatalf("output[%d] = %v, want %v", i, got.F[i], c.want.F[i])
		}
	}
}
