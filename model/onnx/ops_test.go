package onnx

import (
	"math"
	"strings"
	"testing"

	"veil/ir"
)

func s(xs ...string) []string { return xs }

func softmaxRef(xs []float32) []float32 {
	m := float32(math.Inf(-1))
	for _, v := range xs {
		m = max(m, v)
	}
	var sum float64
	out := make([]float32, len(xs))
	for i, v := range xs {
		e := math.Exp(float64(v - m))
		out[i] = float32(e)
		sum += e
	}
	for i := range out {
		out[i] = float32(float64(out[i]) / sum)
	}
	return out
}

// boxSum3 is the 3×3 zero-padded neighbourhood sum of a 3×3 plane.
func boxSum3(x []float32, k float32) []float32 {
	out := make([]float32, 9)
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for di := -1; di <= 1; di++ {
				for dj := -1; dj <= 1; dj++ {
					if a, b := i+di, j+dj; a >= 0 && a < 3 && b >= 0 && b < 3 {
						out[i*3+j] += k * x[a*3+b]
					}
				}
			}
		}
	}
	return out
}

func ones(n int, v float32) []float32 {
	f := make([]float32, n)
	for i := range f {
		f[i] = v
	}
	return f
}

// TestOps imports small single-op models across opsets (attribute versus
// input forms) and checks outputs or import errors.
func TestOps(t *testing.T) {
	x9 := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	x18 := append(append([]float32(nil), x9...), x9...)
	dw := append(boxSum3(x9, 1), boxSum3(x9, 2)...)
	type tc struct {
		name    string
		opset   int64
		nodes   [][]byte
		inits   [][]byte
		shape   []int // of input x
		x       []float32
		out     []any // output dims
		want    []float32
		wantErr string
	}
	tests := []tc{
		{name: "clip/opset10-attributes", opset: 10,
			nodes: [][]byte{nodeB("Clip", s("x"), s("y"), aFloat("min", -1), aFloat("max", 1))},
			shape: []int{4}, x: []float32{-2, -0.5, 0.5, 2}, out: []any{4}, want: []float32{-1, -0.5, 0.5, 1}},
		{name: "clip/opset12-inputs-relu6", opset: 12,
			nodes: [][]byte{nodeB("Clip", s("x", "lo", "hi"), s("y"))},
			inits: [][]byte{tFloat("lo", nil, []float32{0}), tFloat("hi", nil, []float32{6})},
			shape: []int{3}, x: []float32{-1, 3, 7}, out: []any{3}, want: []float32{0, 3, 6}},
		{name: "clip/opset12-min-only", opset: 12,
			nodes: [][]byte{nodeB("Clip", s("x", "lo"), s("y"))},
			inits: [][]byte{tFloat("lo", nil, []float32{0})},
			shape: []int{3}, x: []float32{-1, 3, 7}, out: []any{3}, want: []float32{0, 3, 7}},
		{name: "clip/opset12-max-skipped-min", opset: 12,
			nodes: [][]byte{nodeB("Clip", s("x", "", "hi"), s("y"))},
			inits: [][]byte{tFloat("hi", nil, []float32{2})},
			shape: []int{3}, x: []float32{-1, 3, 7}, out: []any{3}, want: []float32{-1, 2, 2}},
		// A computed bound: Max (and Min) of computed values.
		{name: "clip/opset12-min-computed", opset: 12,
			nodes: [][]byte{nodeB("Neg", s("x"), s("m")), nodeB("Clip", s("x", "m"), s("y"))},
			shape: []int{3}, x: []float32{-2, 0.5, 3}, out: []any{3}, want: []float32{2, 0.5, 3}},
		{name: "clip/opset12-both-computed", opset: 12,
			nodes: [][]byte{nodeB("Neg", s("x"), s("m")), nodeB("Abs", s("x"), s("a")), nodeB("Clip", s("x", "m", "a"), s("y"))},
			shape: []int{3}, x: []float32{-2, 0.5, 3}, out: []any{3}, want: []float32{2, 0.5, 3}},
		// Gather of computed data at constant indices becomes Slices,
		// Concat and Reshape (the fixed-point backends have no Gather).
		{name: "gather/computed-scalar-index", opset: 13,
			nodes: [][]byte{nodeB("Gather", s("x", "i"), s("y"), aInt("axis", 1))},
			inits: [][]byte{tInt("i", nil, []int64{0})},
			shape: []int{1, 3, 2}, x: []float32{1, 2, 3, 4, 5, 6}, out: []any{1, 2}, want: []float32{1, 2}},
		{name: "gather/computed-negative-index", opset: 13,
			nodes: [][]byte{nodeB("Gather", s("x", "i"), s("y"), aInt("axis", -1))},
			inits: [][]byte{tInt("i", nil, []int64{-1})},
			shape: []int{2, 3}, x: []float32{1, 2, 3, 4, 5, 6}, out: []any{2}, want: []float32{3, 6}},
		{name: "gather/computed-runs", opset: 13,
			nodes: [][]byte{nodeB("Gather", s("x", "i"), s("y"), aInt("axis", 0))},
			inits: [][]byte{tInt("i", []int64{4}, []int64{2, 0, 1, 2})},
			shape: []int{3, 2}, x: []float32{1, 2, 3, 4, 5, 6}, out: []any{4, 2}, want: []float32{5, 6, 1, 2, 3, 4, 5, 6}},
		{name: "gather/computed-2d-indices", opset: 13,
			nodes: [][]byte{nodeB("Gather", s("x", "i"), s("y"), aInt("axis", 1))},
			inits: [][]byte{tInt("i", []int64{2, 2}, []int64{1, 1, 0, 2})},
			shape: []int{1, 3}, x: []float32{7, 8, 9}, out: []any{1, 2, 2}, want: []float32{8, 8, 7, 9}},
		{name: "gather/computed-index-out-of-range", opset: 13,
			nodes: [][]byte{nodeB("Gather", s("x", "i"), s("y"), aInt("axis", 0))},
			inits: [][]byte{tInt("i", nil, []int64{3})},
			shape: []int{3}, out: []any{}, wantErr: "index 3 out of range"},
		{name: "pad/opset10-attribute", opset: 10,
			nodes: [][]byte{nodeB("Pad", s("x"), s("y"), aInts("pads", 0, 1, 0, 1), aFloat("value", 9))},
			shape: []int{1, 2}, x: []float32{1, 2}, out: []any{1, 4}, want: []float32{9, 1, 2, 9}},
		{name: "pad/opset13-inputs", opset: 13,
			nodes: [][]byte{nodeB("Pad", s("x", "p", "v"), s("y"))},
			inits: [][]byte{tInt("p", []int64{4}, []int64{1, 0, 0, 0}), tFloat("v", nil, []float32{-1})},
			shape: []int{1, 2}, x: []float32{1, 2}, out: []any{2, 2}, want: []float32{-1, -1, 1, 2}},
		// numpy.pad([1, 2, 3], (4, 2), mode) for reflect and edge; wrap is
		// periodic (ONNX: "as if the data tensor forms a torus"), where
		// numpy's chunked wrap gives [2 1 2 3 …] for pads beyond the size.
		{name: "pad/reflect", opset: 13,
			nodes: [][]byte{nodeB("Pad", s("x", "p"), s("y"), aStr("mode", "reflect"))},
			inits: [][]byte{tInt("p", []int64{2}, []int64{4, 2})},
			shape: []int{3}, x: []float32{1, 2, 3}, out: []any{9}, want: []float32{1, 2, 3, 2, 1, 2, 3, 2, 1}},
		{name: "pad/edge", opset: 13,
			nodes: [][]byte{nodeB("Pad", s("x", "p"), s("y"), aStr("mode", "edge"))},
			inits: [][]byte{tInt("p", []int64{2}, []int64{4, 2})},
			shape: []int{3}, x: []float32{1, 2, 3}, out: []any{9}, want: []float32{1, 1, 1, 1, 1, 2, 3, 3, 3}},
		{name: "pad/wrap", opset: 19,
			nodes: [][]byte{nodeB("Pad", s("x", "p"), s("y"), aStr("mode", "wrap"))},
			inits: [][]byte{tInt("p", []int64{2}, []int64{4, 2})},
			shape: []int{3}, x: []float32{1, 2, 3}, out: []any{9}, want: []float32{3, 1, 2, 3, 1, 2, 3, 1, 2}},
		{name: "pad/reflect-2d", opset: 13,
			nodes: [][]byte{nodeB("Pad", s("x", "p"), s("y"), aStr("mode", "reflect"))},
			inits: [][]byte{tInt("p", []int64{4}, []int64{1, 0, 0, 1})},
			shape: []int{2, 2}, x: []float32{1, 2, 3, 4}, out: []any{3, 3}, want: []float32{3, 4, 3, 1, 2, 1, 3, 4, 3}},
		{name: "pad/wrap-before-opset-19", opset: 18,
			nodes: [][]byte{nodeB("Pad", s("x", "p"), s("y"), aStr("mode", "wrap"))},
			inits: [][]byte{tInt("p", []int64{2}, []int64{1, 1})},
			shape: []int{3}, out: []any{5}, wantErr: `mode "wrap" is not supported`},
		{name: "pad/reflect-too-long", opset: 13,
			nodes: [][]byte{nodeB("Pad", s("x", "p"), s("y"), aStr("mode", "reflect"))},
			inits: [][]byte{tInt("p", []int64{2}, []int64{1 << 21, 0})},
			shape: []int{3}, out: []any{5}, wantErr: `at most 1048576 are supported`},
		{name: "squeeze/opset11-attribute", opset: 11,
			nodes: [][]byte{nodeB("Squeeze", s("x"), s("y"), aInts("axes", 0))},
			shape: []int{1, 2}, x: []float32{1, 2}, out: []any{2}, want: []float32{1, 2}},
		{name: "squeeze/opset13-all-ones", opset: 13,
			nodes: [][]byte{nodeB("Squeeze", s("x"), s("y"))},
			shape: []int{1, 2, 1}, x: []float32{1, 2}, out: []any{2}, want: []float32{1, 2}},
		{name: "squeeze/not-one", opset: 13,
			nodes: [][]byte{nodeB("Squeeze", s("x", "a"), s("y"))}, inits: [][]byte{tInt("a", []int64{1}, []int64{1})},
			shape: []int{1, 2}, out: []any{2}, wantErr: "its size is not 1"},
		{name: "unsqueeze/opset11-attribute", opset: 11,
			nodes: [][]byte{nodeB("Unsqueeze", s("x"), s("y"), aInts("axes", 0, -1))},
			shape: []int{2}, x: []float32{1, 2}, out: []any{1, 2, 1}, want: []float32{1, 2}},
		{name: "reducemean/opset13-attribute", opset: 13,
			nodes: [][]byte{nodeB("ReduceMean", s("x"), s("y"), aInts("axes", 1), aInt("keepdims", 0))},
			shape: []int{2, 2}, x: []float32{1, 2, 3, 4}, out: []any{2}, want: []float32{1.5, 3.5}},
		{name: "reducemean/opset18-input", opset: 18,
			nodes: [][]byte{nodeB("ReduceMean", s("x", "a"), s("y"), aInt("keepdims", 0))},
			inits: [][]byte{tInt("a", []int64{1}, []int64{-1})},
			shape: []int{2, 2}, x: []float32{1, 2, 3, 4}, out: []any{2}, want: []float32{1.5, 3.5}},
		{name: "reducemean/opset18-noop", opset: 18,
			nodes: [][]byte{nodeB("ReduceMean", s("x"), s("y"), aInt("noop_with_empty_axes", 1))},
			shape: []int{2, 2}, x: []float32{1, 2, 3, 4}, out: []any{2, 2}, want: []float32{1, 2, 3, 4}},
		{name: "reducemean/opset18-all", opset: 18,
			nodes: [][]byte{nodeB("ReduceMean", s("x"), s("y"))},
			shape: []int{2, 2}, x: []float32{1, 2, 3, 4}, out: []any{1, 1}, want: []float32{2.5}},
		{name: "reducesum/opset11-attribute", opset: 11,
			nodes: [][]byte{nodeB("ReduceSum", s("x"), s("y"), aInts("axes", 0))},
			shape: []int{2, 2}, x: []float32{1, 2, 3, 4}, out: []any{1, 2}, want: []float32{4, 6}},
		{name: "softmax/opset11-coerced-2d", opset: 11,
			nodes: [][]byte{nodeB("Softmax", s("x"), s("y"))},
			shape: []int{2, 2, 2}, x: []float32{0, 1, 2, 3, 0, 0, 0, 0}, out: []any{2, 2, 2},
			want: append(softmaxRef([]float32{0, 1, 2, 3}), 0.25, 0.25, 0.25, 0.25)},
		{name: "softmax/opset11-axis0", opset: 11,
			nodes: [][]byte{nodeB("Softmax", s("x"), s("y"), aInt("axis", 0))},
			shape: []int{2, 2}, x: []float32{0, 1, 2, 3}, out: []any{2, 2},
			want: softmaxRef([]float32{0, 1, 2, 3})},
		{name: "softmax/opset11-last-axis", opset: 11,
			nodes: [][]byte{nodeB("Softmax", s("x"), s("y"), aInt("axis", -1))},
			shape: []int{1, 2, 2}, x: []float32{0, 1, 2, 2}, out: []any{1, 2, 2},
			want: append(softmaxRef([]float32{0, 1}), 0.5, 0.5)},
		{name: "softmax/opset13-default-last", opset: 13,
			nodes: [][]byte{nodeB("Softmax", s("x"), s("y"))},
			shape: []int{2, 2}, x: []float32{0, 1, 2, 2}, out: []any{2, 2},
			want: append(softmaxRef([]float32{0, 1}), 0.5, 0.5)},
		{name: "dropout/opset10-ratio", opset: 10,
			nodes: [][]byte{nodeB("Dropout", s("x"), s("y"), aFloat("ratio", 0.5))},
			shape: []int{2}, x: []float32{1, 2}, out: []any{2}, want: []float32{1, 2}},
		{name: "dropout/opset13-mask-unused", opset: 13,
			nodes: [][]byte{nodeB("Dropout", s("x"), s("y", "mask"))},
			shape: []int{2}, x: []float32{1, 2}, out: []any{2}, want: []float32{1, 2}},
		{name: "slice/opset9-attributes", opset: 9,
			nodes: [][]byte{nodeB("Slice", s("x"), s("y"), aInts("starts", 1), aInts("ends", 3), aInts("axes", 1))},
			shape: []int{1, 4}, x: []float32{1, 2, 3, 4}, out: []any{1, 2}, want: []float32{2, 3}},
		{name: "slice/opset13-steps-without-axes", opset: 13,
			nodes: [][]byte{nodeB("Slice", s("x", "st", "en", "", "sp"), s("y"))},
			inits: [][]byte{tInt("st", []int64{1}, []int64{-1}), tInt("en", []int64{1}, []int64{-100}), tInt("sp", []int64{1}, []int64{-2})},
			shape: []int{4}, x: []float32{1, 2, 3, 4}, out: []any{2}, want: []float32{4, 2}},
		{name: "gemm/alpha-beta-transB", opset: 13,
			nodes: [][]byte{nodeB("Gemm", s("x", "b", "c"), s("y"), aFloat("alpha", 2), aFloat("beta", 0.5), aInt("transB", 1))},
			inits: [][]byte{tFloat("b", []int64{3, 2}, []float32{1, 0, 0, 1, 1, 1}), tFloat("c", []int64{3}, []float32{2, 4, 6})},
			shape: []int{1, 2}, x: []float32{1, 2}, out: []any{1, 3}, want: []float32{2*1 + 1, 2*2 + 2, 2*3 + 3}},
		{name: "gemm/transA-no-bias", opset: 13,
			nodes: [][]byte{nodeB("Gemm", s("x", "b"), s("y"), aInt("transA", 1))},
			inits: [][]byte{tFloat("b", []int64{1, 1}, []float32{3})},
			shape: []int{1, 2}, x: []float32{1, 2}, out: []any{2, 1}, want: []float32{3, 6}},
		{name: "conv/depthwise", opset: 13,
			nodes: [][]byte{nodeB("Conv", s("x", "w"), s("y"), aInt("group", 2), aInts("pads", 1, 1, 1, 1), aInts("kernel_shape", 3, 3))},
			inits: [][]byte{tFloat("w", []int64{2, 1, 3, 3}, append(ones(9, 1), ones(9, 2)...))},
			shape: []int{1, 2, 3, 3}, x: x18, out: []any{1, 2, 3, 3}, want: dw},
		{name: "conv/same-lower", opset: 13,
			nodes: [][]byte{nodeB("Conv", s("x", "w", "b"), s("y"), aStr("auto_pad", "SAME_LOWER"))},
			inits: [][]byte{tFloat("w", []int64{1, 1, 2, 2}, ones(4, 1)), tFloat("b", []int64{1}, []float32{100})},
			shape: []int{1, 1, 3, 3}, x: x9, out: []any{1, 1, 3, 3},
			want: []float32{101, 103, 105, 105, 112, 116, 111, 124, 128}},
		{name: "conv/dilations", opset: 13,
			nodes: [][]byte{nodeB("Conv", s("x", "w"), s("y"), aInts("dilations", 2, 2))},
			inits: [][]byte{tFloat("w", []int64{1, 1, 2, 2}, ones(4, 1))},
			shape: []int{1, 1, 3, 3}, out: []any{1, 1, 1, 1},
			wantErr: `node "n_Conv" (Conv): attribute dilations=[2 2] is not supported`},
		{name: "conv/1d", opset: 13,
			nodes: [][]byte{nodeB("Conv", s("x", "w"), s("y"))},
			inits: [][]byte{tFloat("w", []int64{1, 1, 2}, ones(2, 1))},
			shape: []int{1, 1, 3}, x: []float32{1, 2, 3}, out: []any{1, 1, 2}, want: []float32{3, 5}},
		{name: "conv/1d-strides-pads", opset: 13,
			nodes: [][]byte{nodeB("Conv", s("x", "w"), s("y"), aInts("strides", 2), aInts("pads", 1, 1))},
			inits: [][]byte{tFloat("w", []int64{1, 1, 3}, ones(3, 1))},
			shape: []int{1, 1, 5}, x: []float32{1, 2, 3, 4, 5}, out: []any{1, 1, 3}, want: []float32{3, 9, 9}},
		{name: "conv/3d", opset: 13,
			nodes: [][]byte{nodeB("Conv", s("x", "w"), s("y"))},
			inits: [][]byte{tFloat("w", []int64{1, 1, 1, 1, 1}, ones(1, 1))},
			shape: []int{1, 1, 2, 2, 2}, out: []any{1, 1, 2, 2, 2}, wantErr: "only 1-D and 2-D convolution are supported"},
		{name: "maxpool/1d-ceil", opset: 13,
			nodes: [][]byte{nodeB("MaxPool", s("x"), s("y"), aInts("kernel_shape", 2), aInts("strides", 2), aInt("ceil_mode", 1))},
			shape: []int{1, 1, 5}, x: []float32{1, 5, 2, 4, 3}, out: []any{1, 1, 3}, want: []float32{5, 4, 3}},
		{name: "maxpool/ceil-drops-a-window-of-padding", opset: 13,
			nodes: [][]byte{nodeB("MaxPool", s("x"), s("y"), aInts("kernel_shape", 3), aInts("strides", 2), aInts("pads", 2, 2), aInt("ceil_mode", 1))},
			shape: []int{1, 1, 4}, x: []float32{1, 2, 3, 4}, out: []any{1, 1, 3}, want: []float32{1, 3, 4}},
		{name: "averagepool/ceil-count-include-pad", opset: 13,
			nodes: [][]byte{nodeB("AveragePool", s("x"), s("y"), aInts("kernel_shape", 3), aInts("strides", 2), aInts("pads", 1, 0), aInt("ceil_mode", 1), aInt("count_include_pad", 1))},
			shape: []int{1, 1, 5}, x: []float32{1, 2, 3, 4, 5}, out: []any{1, 1, 3}, want: []float32{1, 3, 4.5}},
		{name: "averagepool/ceil-exclude-pad", opset: 13,
			nodes: [][]byte{nodeB("AveragePool", s("x"), s("y"), aInts("kernel_shape", 3), aInts("strides", 2), aInts("pads", 1, 0), aInt("ceil_mode", 1))},
			shape: []int{1, 1, 5}, x: []float32{1, 2, 3, 4, 5}, out: []any{1, 1, 3}, want: []float32{1.5, 3, 4.5}},
		{name: "max/three-inputs", opset: 13,
			nodes: [][]byte{nodeB("Max", s("x", "a", "b"), s("y"))},
			inits: [][]byte{tFloat("a", []int64{3}, []float32{2, 2, 2}), tFloat("b", []int64{3}, []float32{0, 6, 1})},
			shape: []int{3}, x: []float32{1, 5, 3}, out: []any{3}, want: []float32{2, 6, 3}},
		{name: "min/three-inputs", opset: 13,
			nodes: [][]byte{nodeB("Min", s("x", "a", "b"), s("y"))},
			inits: [][]byte{tFloat("a", []int64{3}, []float32{2, 2, 2}), tFloat("b", []int64{3}, []float32{0, 6, 1})},
			shape: []int{3}, x: []float32{1, 5, 3}, out: []any{3}, want: []float32{0, 2, 1}},
		{name: "gelu/tanh", opset: 20,
			nodes: [][]byte{nodeB("Gelu", s("x"), s("y"), aStr("approximate", "tanh"))},
			shape: []int{2}, x: []float32{1, 0}, out: []any{2}, want: []float32{0.8411920, 0}},
		{name: "gelu/exact", opset: 20,
			nodes: [][]byte{nodeB("Gelu", s("x"), s("y"))},
			shape: []int{1}, x: []float32{1}, out: []any{1}, want: []float32{0.8413447}},
		{name: "gelu/bad-approximate", opset: 20,
			nodes: [][]byte{nodeB("Gelu", s("x"), s("y"), aStr("approximate", "erf"))},
			shape: []int{1}, out: []any{1}, wantErr: `node "n_Gelu" (Gelu): attribute approximate="erf" is not supported`},
		{name: "gelu/before-opset-20", opset: 18,
			nodes: [][]byte{nodeB("Gelu", s("x"), s("y"))},
			shape: []int{1}, out: []any{1}, wantErr: "Gelu before opset 20 is not supported"},
		{name: "hardsigmoid/default", opset: 13,
			nodes: [][]byte{nodeB("HardSigmoid", s("x"), s("y"))},
			shape: []int{3}, x: []float32{-5, 0, 1}, out: []any{3}, want: []float32{0, 0.5, 0.7}},
		{name: "prelu/per-channel", opset: 13,
			nodes: [][]byte{nodeB("PRelu", s("x", "slope"), s("y"))},
			inits: [][]byte{tFloat("slope", []int64{2, 1, 1}, []float32{0.1, 0.5})},
			shape: []int{1, 2, 1, 2}, x: []float32{-1, 2, -3, 4}, out: []any{1, 2, 1, 2}, want: []float32{-0.1, 2, -1.5, 4}},
		{name: "pow/square", opset: 15,
			nodes: [][]byte{nodeB("Pow", s("x", "e"), s("y"))},
			inits: [][]byte{tFloat("e", nil, []float32{2})},
			shape: []int{2}, x: []float32{3, -2}, out: []any{2}, want: []float32{9, 4}},
		{name: "pow/sqrt-int-exponent-tensor", opset: 15,
			nodes: [][]byte{nodeB("Pow", s("x", "e"), s("y"))},
			inits: [][]byte{tFloat("e", []int64{2}, []float32{0.5, 0.5})},
			shape: []int{2}, x: []float32{4, 9}, out: []any{2}, want: []float32{2, 3}},
		{name: "pow/unsupported-exponent", opset: 15,
			nodes: [][]byte{nodeB("Pow", s("x", "e"), s("y"))},
			inits: [][]byte{tFloat("e", nil, []float32{1.5})},
			shape: []int{2}, out: []any{2}, wantErr: `node "n_Pow" (Pow): exponent 1.5 is not supported`},
		{name: "logsoftmax", opset: 13,
			nodes: [][]byte{nodeB("LogSoftmax", s("x"), s("y"))},
			shape: []int{2}, x: []float32{0, 0}, out: []any{2}, want: []float32{-0.6931472, -0.6931472}},
		{name: "globalmaxpool", opset: 13,
			nodes: [][]byte{nodeB("GlobalMaxPool", s("x"), s("y"))},
			shape: []int{1, 1, 2, 2}, x: []float32{1, 4, 2, 3}, out: []any{1, 1, 1, 1}, want: []float32{4}},
		{name: "reducemax/opset18-axes-input", opset: 18,
			nodes: [][]byte{nodeB("ReduceMax", s("x", "axes"), s("y"), aInt("keepdims", 0))},
			inits: [][]byte{tInt("axes", []int64{1}, []int64{1})},
			shape: []int{2, 2}, x: []float32{1, 4, 2, 3}, out: []any{2}, want: []float32{4, 3}},
		{name: "reducemin/opset13-axes-attribute", opset: 13,
			nodes: [][]byte{nodeB("ReduceMin", s("x"), s("y"), aInts("axes", 0), aInt("keepdims", 0))},
			shape: []int{2, 2}, x: []float32{1, 4, 2, 3}, out: []any{2}, want: []float32{1, 3}},
		{name: "resize/rank3-linear-sizes", opset: 13,
			nodes: [][]byte{nodeB("Resize", s("x", "", "", "sizes"), s("y"), aStr("mode", "linear"))},
			inits: [][]byte{tInt("sizes", []int64{3}, []int64{1, 1, 4})},
			shape: []int{1, 1, 2}, x: []float32{1, 3}, out: []any{1, 1, 4}, want: []float32{1, 1.5, 2.5, 3}},
		{name: "resize/opset10-nearest-up", opset: 10,
			nodes: [][]byte{nodeB("Resize", s("x", "scales"), s("y"))},
			inits: [][]byte{tFloat("scales", []int64{4}, []float32{1, 1, 1, 2})},
			shape: []int{1, 1, 1, 2}, x: []float32{1, 2}, out: []any{1, 1, 1, 4}, want: []float32{1, 1, 2, 2}},
		{name: "resize/opset10-nearest-down", opset: 10,
			nodes: [][]byte{nodeB("Resize", s("x", "scales"), s("y"))},
			inits: [][]byte{tFloat("scales", []int64{4}, []float32{1, 1, 1, 0.75})},
			shape: []int{1, 1, 1, 4}, x: []float32{1, 2, 3, 4}, out: []any{1, 1, 1, 3}, want: []float32{1, 3, 4}},
		{name: "resize/axes", opset: 18,
			nodes: [][]byte{nodeB("Resize", s("x", "", "scales"), s("y"), aInts("axes", -1))},
			inits: [][]byte{tFloat("scales", []int64{1}, []float32{2})},
			shape: []int{1, 1, 1, 2}, x: []float32{1, 2}, out: []any{1, 1, 1, 4}, want: []float32{1, 1, 2, 2}},
		{name: "resize/antialias-downscale", opset: 18,
			nodes: [][]byte{nodeB("Resize", s("x", "", "scales"), s("y"), aStr("mode", "linear"), aInt("antialias", 1))},
			inits: [][]byte{tFloat("scales", []int64{4}, []float32{1, 1, 1, 0.5})},
			shape: []int{1, 1, 1, 4}, out: []any{1, 1, 1, 2}, wantErr: "antialias=1 when downscaling is not supported"},
		{name: "resize/keep-aspect-ratio", opset: 18,
			nodes: [][]byte{nodeB("Resize", s("x", "", "", "sizes"), s("y"), aStr("keep_aspect_ratio_policy", "not_larger"))},
			inits: [][]byte{tInt("sizes", []int64{4}, []int64{1, 1, 2, 2})},
			shape: []int{1, 1, 1, 4}, out: []any{1, 1, 1, 2}, wantErr: `keep_aspect_ratio_policy="not_larger" is not supported`},
		{name: "resize/symmetric-before-19", opset: 18,
			nodes: [][]byte{nodeB("Resize", s("x", "", "scales"), s("y"), aStr("coordinate_transformation_mode", "half_pixel_symmetric"))},
			inits: [][]byte{tFloat("scales", []int64{4}, []float32{1, 1, 1, 2})},
			shape: []int{1, 1, 1, 2}, out: []any{1, 1, 1, 4}, wantErr: "defined from opset 19 on"},
		{name: "resize/channels", opset: 13,
			nodes: [][]byte{nodeB("Resize", s("x", "", "scales"), s("y"))},
			inits: [][]byte{tFloat("scales", []int64{4}, []float32{1, 2, 1, 1})},
			shape: []int{1, 1, 1, 2}, out: []any{1, 2, 1, 2}, wantErr: "resizing axis 1 of [1×1×1×2] is not supported"},
		{name: "upsample/opset7-attribute", opset: 7,
			nodes: [][]byte{nodeB("Upsample", s("x"), s("y"), aFloats("scales", 1, 1, 1, 2))},
			shape: []int{1, 1, 1, 2}, x: []float32{1, 2}, out: []any{1, 1, 1, 4}, want: []float32{1, 1, 2, 2}},
		{name: "split/opset18-num-outputs-uneven", opset: 18,
			nodes: [][]byte{nodeB("Split", s("x"), s("y", "z"), aInt("num_outputs", 2))},
			shape: []int{5}, x: []float32{1, 2, 3, 4, 5}, out: []any{3}, want: []float32{1, 2, 3}},
		{name: "split/opset11-attribute", opset: 11,
			nodes: [][]byte{nodeB("Split", s("x"), s("z", "y"), aInts("split", 1, 2))},
			shape: []int{3}, x: []float32{1, 2, 3}, out: []any{2}, want: []float32{2, 3}},
		{name: "split/opset18-no-count", opset: 18,
			nodes: [][]byte{nodeB("Split", s("x"), s("y", "z"))},
			shape: []int{4}, out: []any{2}, wantErr: "either the split input or attribute num_outputs is required"},
		{name: "tile", opset: 13,
			nodes: [][]byte{nodeB("Tile", s("x", "r"), s("y"))},
			inits: [][]byte{tInt("r", []int64{1}, []int64{2})},
			shape: []int{2}, x: []float32{1, 2}, out: []any{4}, want: []float32{1, 2, 1, 2}},
		{name: "depthtospace/dcr", opset: 13,
			nodes: [][]byte{nodeB("DepthToSpace", s("x"), s("y"), aInt("blocksize", 2))},
			shape: []int{1, 8, 1, 1}, x: []float32{1, 2, 3, 4, 5, 6, 7, 8}, out: []any{1, 2, 2, 2}, want: []float32{1, 3, 5, 7, 2, 4, 6, 8}},
		{name: "depthtospace/crd", opset: 13,
			nodes: [][]byte{nodeB("DepthToSpace", s("x"), s("y"), aInt("blocksize", 2), aStr("mode", "CRD"))},
			shape: []int{1, 8, 1, 1}, x: []float32{1, 2, 3, 4, 5, 6, 7, 8}, out: []any{1, 2, 2, 2}, want: []float32{1, 2, 3, 4, 5, 6, 7, 8}},
		{name: "convtranspose/1d-stride", opset: 13,
			nodes: [][]byte{nodeB("ConvTranspose", s("x", "w"), s("y"), aInts("strides", 2))},
			inits: [][]byte{tFloat("w", []int64{1, 1, 2}, ones(2, 1))},
			shape: []int{1, 1, 3}, x: []float32{1, 2, 3}, out: []any{1, 1, 6}, want: []float32{1, 1, 2, 2, 3, 3}},
		{name: "convtranspose/computed-weights", opset: 13,
			nodes: [][]byte{nodeB("Relu", s("x"), s("w")), nodeB("ConvTranspose", s("x", "w"), s("y"))},
			shape: []int{1, 1, 1, 1}, out: []any{1, 1, 1, 1}, wantErr: `node "n_ConvTranspose" (ConvTranspose): weights "w" must be a constant`},
		{name: "layernorm/mean-output", opset: 17,
			nodes: [][]byte{nodeB("LayerNormalization", s("x", "scale"), s("t", "m")), nodeB("Add", s("t", "m"), s("y"))},
			inits: [][]byte{tFloat("scale", []int64{2}, ones(2, 1))},
			shape: []int{1, 2}, x: []float32{1, 3}, out: []any{1, 2}, want: []float32{1.000005, 2.999995}},
		{name: "layernorm/stash-type", opset: 17,
			nodes: [][]byte{nodeB("LayerNormalization", s("x", "scale"), s("y"), aInt("stash_type", typeFloat16))},
			inits: [][]byte{tFloat("scale", []int64{2}, ones(2, 1))},
			shape: []int{1, 2}, out: []any{1, 2}, wantErr: "attribute stash_type=FLOAT16 is not supported"},
		{name: "instancenorm", opset: 13,
			nodes: [][]byte{nodeB("InstanceNormalization", s("x", "scale", "b"), s("y"))},
			inits: [][]byte{tFloat("scale", []int64{1}, []float32{2}), tFloat("b", []int64{1}, []float32{1})},
			shape: []int{1, 1, 2}, x: []float32{1, 3}, out: []any{1, 1, 2}, want: []float32{-0.99999, 2.99999}},
		{name: "maxpool/ceil-mode-without-effect", opset: 13,
			nodes: [][]byte{nodeB("MaxPool", s("x"), s("y"), aInts("kernel_shape", 2, 2), aInts("strides", 2, 2), aInt("ceil_mode", 1), aInt("storage_order", 1))},
			shape: []int{1, 1, 2, 4}, x: []float32{1, 5, 2, 3, 4, 0, 9, 1}, out: []any{1, 1, 1, 2}, want: []float32{5, 9}},
		{name: "globalaveragepool", opset: 13,
			nodes: [][]byte{nodeB("GlobalAveragePool", s("x"), s("y"))},
			shape: []int{1, 2, 1, 2}, x: []float32{1, 2, 3, 5}, out: []any{1, 2, 1, 1}, want: []float32{1.5, 4}},
		{name: "batchnorm/opset7-spatial0", opset: 7,
			nodes: [][]byte{nodeB("BatchNormalization", s("x", "p", "p", "p", "p"), s("y"), aInt("spatial", 0))},
			inits: [][]byte{tFloat("p", []int64{1}, []float32{1})},
			shape: []int{1, 1, 1, 1}, out: []any{1, 1, 1, 1}, wantErr: "spatial=0 is not supported"},
		{name: "batchnorm/opset9", opset: 9,
			nodes: [][]byte{nodeB("BatchNormalization", s("x", "sc", "b", "m", "v"), s("y"), aFloat("epsilon", 0), aFloat("momentum", 0.9))},
			inits: [][]byte{tFloat("sc", []int64{2}, []float32{2, 1}), tFloat("b", []int64{2}, []float32{1, 0}),
				tFloat("m", []int64{2}, []float32{1, 0}), tFloat("v", []int64{2}, []float32{4, 1})},
			shape: []int{1, 2, 1, 1}, x: []float32{3, 5}, out: []any{1, 2, 1, 1}, want: []float32{3, 5}},
		{name: "flatten/axis2", opset: 13,
			nodes: [][]byte{nodeB("Flatten", s("x"), s("y"), aInt("axis", 2))},
			shape: []int{1, 2, 1, 2}, x: []float32{1, 2, 3, 4}, out: []any{2, 2}, want: []float32{1, 2, 3, 4}},
		{name: "constant/value-floats", opset: 13,
			nodes: [][]byte{nodeB("Constant", nil, s("c"), aFloats("value_floats", 10, 20)), nodeB("Add", s("x", "c"), s("y"))},
			shape: []int{2}, x: []float32{1, 2}, out: []any{2}, want: []float32{11, 22}},
		{name: "constant/value-tensor", opset: 13,
			nodes: [][]byte{nodeB("Constant", nil, s("c"), aTensor("value", tFloat("", []int64{1}, []float32{3}))), nodeB("Mul", s("x", "c"), s("y"))},
			shape: []int{2}, x: []float32{1, 2}, out: []any{2}, want: []float32{3, 6}},
		{name: "leakyrelu/default-alpha", opset: 13,
			nodes: [][]byte{nodeB("LeakyRelu", s("x"), s("y"))},
			shape: []int{2}, x: []float32{-1, 2}, out: []any{2}, want: []float32{-0.01, 2}},
		{name: "cast/to-int8", opset: 13,
			nodes: [][]byte{nodeB("Cast", s("x"), s("y"), aInt("to", typeInt8))},
			shape: []int{2}, out: []any{2}, wantErr: "cast to INT8 is not supported"},
		{name: "unknown-op", opset: 13,
			nodes: [][]byte{nodeB("Einsum", s("x"), s("y"))},
			shape: []int{2}, out: []any{2}, wantErr: `node "n_Einsum" (Einsum): op "Einsum" is not supported`},
		{name: "unknown-attribute", opset: 13,
			nodes: [][]byte{nodeB("Relu", s("x"), s("y"), aInt("bogus", 1))},
			shape: []int{2}, out: []any{2}, wantErr: `node "n_Relu" (Relu): attribute(s) bogus not supported`},
		{name: "attribute-wrong-type", opset: 13,
			nodes: [][]byte{nodeB("LeakyRelu", s("x"), s("y"), aInt("alpha", 1))},
			shape: []int{2}, out: []any{2}, wantErr: `attribute "alpha" has type 2, want 1`},
		{name: "op-too-old-for-opset", opset: 6,
			nodes: [][]byte{nodeB("Add", s("x", "x"), s("y"))},
			shape: []int{2}, out: []any{2}, wantErr: "Add before opset 7 is not supported"},
		{name: "opset-too-new", opset: 21,
			nodes: [][]byte{nodeB("Relu", s("x"), s("y"))},
			shape: []int{2}, out: []any{2}, wantErr: "ai.onnx opset 21 is not supported"},
		{name: "undefined-input", opset: 13,
			nodes: [][]byte{nodeB("Add", s("x", "nope"), s("y"))},
			shape: []int{2}, out: []any{2}, wantErr: `input "nope" is not defined`},
		{name: "shape-mismatch", opset: 13,
			nodes: [][]byte{nodeB("MatMul", s("x", "w"), s("y"))},
			inits: [][]byte{tFloat("w", []int64{3, 1}, ones(3, 1))},
			shape: []int{1, 2}, out: []any{1, 1}, wantErr: "inner dimensions differ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dims := make([]any, len(tt.shape))
			for i, d := range tt.shape {
				dims[i] = d
			}
			spec := graphSpec{opset: tt.opset, nodes: tt.nodes, inits: tt.inits,
				inputs: [][]byte{vinfo("x", dims...)}, outputs: [][]byte{vinfo("y", tt.out...)}}
			g, err := Decode(spec.bytes(), tt.name, Options{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Validate(); err != nil {
				t.Fatal(err)
			}
			outs, err := ir.Run(g, map[string]*ir.Tensor{"x": ir.FloatTensor(ir.Shape(tt.shape), tt.x)})
			if err != nil {
				t.Fatal(err)
			}
			wantShape := make(ir.Shape, len(tt.out))
			for i, d := range tt.out {
				wantShape[i] = d.(int)
			}
			if err := compare(outs[0], ir.FloatTensor(wantShape, tt.want)); err != nil {
				t.Fatalf("%v: got %v", err, outs[0].F)
			}
		})
	}
}

// TestShapeArithmeticFolds checks that PyTorch's flatten pattern (Shape →
// Gather → Unsqueeze → Concat → Reshape) folds to a single Reshape.
func TestShapeArithmeticFolds(t *testing.T) {
	spec := graphSpec{opset: 11,
		nodes: [][]byte{
			nodeB("Shape", s("x"), s("sh")),
			nodeB("Constant", nil, s("zero"), aTensor("value", tInt("", nil, []int64{0}))),
			nodeB("Gather", s("sh", "zero"), s("n"), aInt("axis", 0)),
			nodeB("Unsqueeze", s("n"), s("n1"), aInts("axes", 0)),
			nodeB("Constant", nil, s("m1"), aTensor("value", tInt("", []int64{1}, []int64{-1}))),
			nodeB("Concat", s("n1", "m1"), s("target"), aInt("axis", 0)),
			nodeB("Reshape", s("x", "target"), s("y")),
		},
		inputs:  [][]byte{vinfo("x", "batch", 2, 3)},
		outputs: [][]byte{vinfo("y", "batch", 6)},
	}
	g, err := Decode(spec.bytes(), "flatten", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 1 || g.Nodes[0].Op != ir.OpReshape {
		t.Fatalf("nodes %s, want one Reshape", ir.FormatOpCounts(g.OpCounts()))
	}
	if got := g.Values["y"].Shape; !got.Equal(ir.Shape{1, 6}) {
		t.Errorf("output shape %v, want [1×6]", got)
	}
}

// TestInputShapes covers symbolic and overridden input dimensions.
func TestInputShapes(t *testing.T) {
	tests := []struct {
		name    string
		dims    []any
		opt     []int
		want    ir.Shape
		wantErr string
	}{
		{name: "static", dims: []any{2, 3}, want: ir.Shape{2, 3}},
		{name: "symbolic-batch", dims: []any{"N", 3}, want: ir.Shape{1, 3}},
		{name: "zero-batch", dims: []any{0, 3}, want: ir.Shape{1, 3}},
		{name: "symbolic-other", dims: []any{"N", "C"}, wantErr: "symbolic or unknown dimensions [N, C]; give its shape (--input-shape NAME=DIMS)"},
		{name: "override", dims: []any{"N", "C"}, opt: []int{4, 5}, want: ir.Shape{4, 5}},
		{name: "override-wrong-rank", dims: []any{"N", "C"}, opt: []int{4}, wantErr: "has rank 1, the model declares rank 2"},
		{name: "override-zero", dims: []any{"N", "C"}, opt: []int{4, 0}, wantErr: "not positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := graphSpec{nodes: [][]byte{nodeB("Relu", s("x"), s("y"))},
				inputs: [][]byte{vinfo("x", tt.dims...)}, outputs: [][]byte{vinfo("y")}}
			g, err := Decode(spec.bytes(), tt.name, Options{InputShape: tt.opt})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := g.Values["x"].Shape; !got.Equal(tt.want) {
				t.Errorf("input shape %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSeveralInputs checks inputs shaped by name, an integer input fed
// as real values, and an input bound to a constant.
func TestSeveralInputs(t *testing.T) {
	spec := graphSpec{
		nodes: [][]byte{
			nodeB("Cast", s("pix"), s("f"), aInt("to", typeFloat)),
			nodeB("Add", s("f", "bias"), s("y")),
			nodeB("Relu", s("state"), s("z")),
		},
		inputs:  [][]byte{vinfoT("pix", typeInt32, "N", 4), vinfo("bias", "N", "K"), vinfo("state", 2, "B", 3), vinfoT("sr", typeInt64)},
		outputs: [][]byte{vinfo("y"), vinfo("z")},
	}
	opt := Options{
		InputShapes: map[string][]int{"bias": {1, 4}, "state": {2, 1, 3}},
		Constants:   map[string]*ir.Tensor{"sr": ir.IntTensor(ir.Shape{}, []int64{16000})},
	}
	g, err := Decode(spec.bytes(), "several", opt)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]ir.Shape{"pix": {1, 4}, "bias": {1, 4}, "state": {2, 1, 3}}
	if len(g.Inputs) != 3 {
		t.Fatalf("inputs %v, want pix, bias, state (sr is a constant)", g.Inputs)
	}
	for _, in := range g.Inputs {
		if got := g.Values[in].Shape; !got.Equal(want[in]) {
			t.Errorf("input %s: shape %v, want %v", in, got, want[in])
		}
	}
	if _, err := Decode(spec.bytes(), "several", Options{}); err == nil || !strings.Contains(err.Error(), `"bias"`) {
		t.Errorf("without shapes: %v, want an error naming input bias", err)
	}
}
