package tf

import (
	"math"
	"testing"

	"veil/ir"
)

// fusedCases cover the fused activations beyond Relu and Relu6: Prelu
// (its slope a second argument, as TF.js's converter fuses it), LeakyRelu
// and Gelu, on each fused op.
func fusedCases() []opCase {
	bias4 := randFloats(41, 4)
	bias6 := randFloats(42, 6)
	slope4 := randFloats(43, 4)
	slope6 := randFloats(44, 6)
	prelu := func(v, s float32) float32 { return max(v, 0) + s*min(v, 0) }
	cases := []opCase{
		countOps(convCase("_FusedConv2D BiasAdd Prelu", "_FusedConv2D", 1, 5, 5, 3, 3, 3, 3, 4, 1, 1, "SAME",
			map[string]*AttrValue{"fused_ops": aStrs("BiasAdd", "Prelu"), "num_args": aI(2)},
			[]*NodeDef{constF("b", []int64{4}, bias4), constF("alpha", []int64{4}, slope4)},
			perChannel(func(v float32, c int) float32 { return prelu(v+bias4[c], slope4[c]) })), ir.OpPRelu, 1),
		convCase("FusedDepthwiseConv2dNative BiasAdd Prelu", "FusedDepthwiseConv2dNative", 1, 6, 6, 3, 3, 3, 3, 2, 2, 2, "SAME",
			map[string]*AttrValue{"fused_ops": aStrs("BiasAdd", "Prelu"), "num_args": aI(2)},
			[]*NodeDef{constF("b", []int64{6}, bias6), constF("alpha", []int64{1, 1, 6}, slope6)},
			perChannel(func(v float32, c int) float32 { return prelu(v+bias6[c], slope6[c]) })),
		convCase("FusedDepthwiseConv2dNative BiasAdd LeakyRelu", "FusedDepthwiseConv2dNative", 1, 5, 4, 3, 3, 3, 3, 2, 1, 1, "VALID",
			map[string]*AttrValue{"fused_ops": aStrs("BiasAdd", "LeakyRelu"), "num_args": aI(1), "leakyrelu_alpha": aF(0.3)},
			[]*NodeDef{constF("b", []int64{6}, bias6)},
			perChannel(func(v float32, c int) float32 { return prelu(v+bias6[c], 0.3) })),
		convCase("FusedDepthwiseConv2dNative BiasAdd Relu", "FusedDepthwiseConv2dNative", 1, 5, 4, 3, 3, 3, 3, 1, 1, 1, "SAME",
			map[string]*AttrValue{"fused_ops": aStrs("BiasAdd", "Relu"), "num_args": aI(1)},
			[]*NodeDef{constF("b", []int64{3}, bias6[:3])},
			perChannel(func(v float32, c int) float32 { return relu(v + bias6[c]) })),
	}

	// _FusedMatMul [3, 4] × [4, 5] with each activation.
	a := randFloats(45, 12)
	w := randFloats(46, 20)
	bias := randFloats(47, 5)
	slope := randFloats(48, 5)
	mm := make([]float32, 15)
	for i := range 3 {
		for j := range 5 {
			var s float32
			for p := range 4 {
				s += a[i*4+p] * w[p*5+j]
			}
			mm[i*5+j] = s
		}
	}
	gelu := func(v float32) float32 { return float32(float64(v) * 0.5 * (1 + math.Erf(float64(v)/math.Sqrt2))) }
	geluTanh := func(v float32) float32 {
		x := float64(v)
		return float32(0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x))))
	}
	for _, tc := range []struct {
		act   string
		extra []*NodeDef
		f     func(v float32, j int) float32
	}{
		{"Prelu", []*NodeDef{constF("alpha", []int64{5}, slope)}, func(v float32, j int) float32 { return prelu(v, slope[j]) }},
		{"LeakyRelu", nil, func(v float32, _ int) float32 { return prelu(v, 0.2) }},
		{"Relu6", nil, func(v float32, _ int) float32 { return relu6(v) }},
		{"Sigmoid", nil, func(v float32, _ int) float32 { return float32(1 / (1 + math.Exp(-float64(v)))) }},
		{"GeluExact", nil, func(v float32, _ int) float32 { return gelu(v) }},
		{"GeluApproximate", nil, func(v float32, _ int) float32 { return geluTanh(v) }},
		{"Elu", nil, func(v float32, _ int) float32 { return elu(v, 1, 1) }},
		{"Selu", nil, func(v float32, _ int) float32 { return elu(v, seluAlpha, seluScale) }},
	} {
		inputs := []string{"x", "w", "bias"}
		for _, e := range tc.extra {
			inputs = append(inputs, e.Name)
		}
		// Relu6 needs values beyond 6: the input is scaled by k.
		k := float32(1)
		if tc.act == "Relu6" {
			k = 8
		}
		x := mapFloats(a, func(v float32) float32 { return k * v })
		want := make([]float32, 15)
		for i := range want {
			want[i] = tc.f(k*mm[i]+bias[i%5], i%5)
		}
		nodes := append([]*NodeDef{placeholder("x", 3, 4), constF("w", []int64{4, 5}, w), constF("bias", []int64{5}, bias),
			nd("y", "_FusedMatMul", inputs, map[string]*AttrValue{"fused_ops": aStrs("BiasAdd", tc.act), "num_args": aI(int64(len(inputs) - 2))})},
			tc.extra...)
		cases = append(cases, opCase{name: "_FusedMatMul BiasAdd " + tc.act, nodes: nodes,
			x: ir.FloatTensor(ir.Shape{3, 4}, x), want: ir.FloatTensor(ir.Shape{3, 5}, want), tol: 1e-5})
	}
	return cases
}

func TestFusedActivations(t *testing.T) {
	for _, c := range fusedCases() {
		t.Run(c.name, func(t *testing.T) { runOpCase(t, c) })
	}
}
