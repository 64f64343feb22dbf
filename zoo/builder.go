package zoo

import (
	"fmt"
	"math"
	"math/rand/v2"

	"veil/ir"
)

// builder appends nodes to a graph the way an ONNX import of the
// PyTorch model would produce them (NCHW, batch 1). The first error sticks:
// later calls do nothing and return "", and finish reports it.
type builder struct {
	g   *ir.Graph
	rng *rand.Rand
	err error
}

func newBuilder(name string, seed uint64) *builder {
	return &builder{g: ir.NewGraph(name), rng: rand.New(rand.NewPCG(seed, 0x7a6f6f /* "zoo" */))}
}

func (b *builder) input(name string, shape ir.Shape) string {
	if b.err == nil {
		b.g.Layout = ir.NCHW
		b.err = b.g.AddInput(name, shape)
	}
	return name
}

func (b *builder) shape(x string) ir.Shape {
	if v := b.g.Values[x]; v != nil {
		return v.Shape
	}
	return nil
}

func (b *builder) channels(x string) int {
	if s := b.shape(x); len(s) > 1 {
		return s[1]
	}
	return 0
}

// constant adds a float constant named name.
func (b *builder) constant(name string, shape ir.Shape, data []float32) string {
	if b.err == nil {
		b.err = b.g.AddConst(name, ir.FloatTensor(shape, data))
	}
	return name
}

// normal returns n samples of N(0, std²).
func (b *builder) normal(n int, std float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(b.rng.NormFloat64() * std)
	}
	return v
}

// uniform returns n samples of U(lo, hi).
func (b *builder) uniform(n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*b.rng.Float64())
	}
	return v
}

func (b *builder) node(name string, op ir.Op, attrs ir.Attrs, inputs ...string) string {
	if b.err != nil {
		return ""
	}
	b.err = b.g.AddNode(&ir.Node{Name: name, Op: op, Inputs: inputs, Output: name, Attrs: attrs})
	return name
}

// conv adds a k×k convolution with out filters, He-initialised with
// variance gain/fan_in, and a bias when bias is set.
func (b *builder) conv(name, x string, out, k, stride, pad, group int, bias bool, gain float64) string {
	in := b.channels(x)
	if b.err != nil {
		return ""
	}
	if group < 1 || in%group != 0 {
		b.err = fmt.Errorf("%s: %d input channels are not divisible into %d groups", name, in, group)
		return ""
	}
	fanIn := in / group * k * k
	w := b.constant(name+".weight", ir.Shape{out, in / group, k, k}, b.normal(out*fanIn, math.Sqrt(gain/float64(fanIn))))
	ins := []string{x, w}
	if bias {
		ins = append(ins, b.constant(name+".bias", ir.Shape{out}, b.uniform(out, -0.1, 0.1)))
	}
	return b.node(name, ir.OpConv, ir.Attrs{Kernel: []int{k, k}, Strides: []int{stride, stride},
		Pads: []int{pad, pad, pad, pad}, Group: group, Layout: ir.NCHW}, ins...)
}

// bn adds an inference BatchNorm whose running statistics are close to
// those of He-initialised activations (mean ≈ 0, var ≈ 1), so that it
// roughly normalises; gamma scales its output (small on the last BatchNorm
// of a residual branch).
func (b *builder) bn(name, x string, gamma float64) string { return b.bnEps(name, x, gamma, 1e-5) }

// bnEps is bn with the given epsilon (torchvision's MobileNetV3,
// EfficientNet and GoogLeNet use 1e-3).
func (b *builder) bnEps(name, x string, gamma float64, eps float32) string {
	c := b.channels(x)
	if b.err != nil {
		return ""
	}
	sc := b.constant(name+".weight", ir.Shape{c}, b.uniform(c, 0.9*gamma, 1.1*gamma))
	bi := b.constant(name+".bias", ir.Shape{c}, b.uniform(c, -0.1, 0.1))
	mean := b.constant(name+".running_mean", ir.Shape{c}, b.uniform(c, -0.1, 0.1))
	vr := b.constant(name+".running_var", ir.Shape{c}, b.uniform(c, 0.9, 1.1))
	return b.node(name, ir.OpBatchNorm, ir.Attrs{Epsilon: eps, Axis: 1}, x, sc, bi, mean, vr)
}

func (b *builder) relu(name, x string) string { return b.node(name, ir.OpRelu, ir.Attrs{}, x) }

// relu6 is ReLU6 as ONNX exports it: Clip(0, 6).
func (b *builder) relu6(name, x string) string {
	return b.node(name, ir.OpClip, ir.Attrs{Min: 0, Max: 6}, x)
}

func (b *builder) maxPool(name, x string, k, stride, pad int) string {
	return b.node(name, ir.OpMaxPool, ir.Attrs{Kernel: []int{k, k}, Strides: []int{stride, stride},
		Pads: []int{pad, pad, pad, pad}, Layout: ir.NCHW}, x)
}

// avgPool is torch's AvgPool2d (count_include_pad=True).
func (b *builder) avgPool(name, x string, k, stride, pad int) string {
	return b.node(name, ir.OpAvgPool, ir.Attrs{Kernel: []int{k, k}, Strides: []int{stride, stride},
		Pads: []int{pad, pad, pad, pad}, Layout: ir.NCHW, CountIncludePad: true}, x)
}

// globalAvgPool is ONNX GlobalAveragePool (adaptive_avg_pool2d to 1×1):
// ReduceMean over H, W keeping the dimensions.
func (b *builder) globalAvgPool(name, x string) string {
	return b.node(name, ir.OpReduceMean, ir.Attrs{Axes: []int{2, 3}, KeepDims: true}, x)
}

// flatten is torch.flatten(x, 1) as exported: Reshape to [0, -1] (the
// leading axis copied, so that the network takes a batch: Graph.WithBatch).
func (b *builder) flatten(name, x string) string {
	if b.err == nil {
		b.err = b.g.AddConst(name+".shape", ir.IntTensor(ir.Shape{2}, []int64{0, -1}))
	}
	return b.node(name, ir.OpReshape, ir.Attrs{}, x, name+".shape")
}

// fc is nn.Linear as an ONNX Gemm lowers: MatMul by the [in, out] weight,
// then Add of the bias.
func (b *builder) fc(name, x string, out int, gain float64) string {
	s := b.shape(x)
	if b.err != nil {
		return ""
	}
	if len(s) != 2 {
		b.err = fmt.Errorf("%s: input shape %v is not [batch, features]", name, s)
		return ""
	}
	in := s[1]
	w := b.constant(name+".weight", ir.Shape{in, out}, b.normal(in*out, math.Sqrt(gain/float64(in))))
	bias := b.constant(name+".bias", ir.Shape{out}, b.uniform(out, -0.1, 0.1))
	mm := b.node(name+".matmul", ir.OpMatMul, ir.Attrs{}, x, w)
	return b.node(name, ir.OpAdd, ir.Attrs{}, mm, bias)
}

func (b *builder) add(name, x, y string) string { return b.node(name, ir.OpAdd, ir.Attrs{}, x, y) }

func (b *builder) concat(name string, xs ...string) string {
	return b.node(name, ir.OpConcat, ir.Attrs{Axis: 1}, xs...)
}

// finish declares out as the graph output and returns the graph.
func (b *builder) finish(out string) (*ir.Graph, error) {
	if b.err == nil {
		b.err = b.g.SetOutputs(out)
	}
	if b.err != nil {
		return nil, fmt.Errorf("zoo: building %s: %w", b.g.Name, b.err)
	}
	return b.g, nil
}

func (b *builder) mul(name, x, y string) string { return b.node(name, ir.OpMul, ir.Attrs{}, x, y) }

// hardSwish is nn.Hardswish as ONNX exports it from opset 14.
func (b *builder) hardSwish(name, x string) string {
	return b.node(name, ir.OpHardSwish, ir.Attrs{}, x)
}

// hardSigmoid is nn.Hardsigmoid as exported: HardSigmoid(α = 1/6, β = 1/2).
func (b *builder) hardSigmoid(name, x string) string {
	return b.node(name, ir.OpHardSigmoid, ir.Attrs{Alpha: 1.0 / 6, Beta: 0.5}, x)
}

func (b *builder) sigmoid(name, x string) string { return b.node(name, ir.OpSigmoid, ir.Attrs{}, x) }

// silu is nn.SiLU as torch exports it: x·Sigmoid(x), a product of two
// secret values.
func (b *builder) silu(name, x string) string {
	return b.mul(name, x, b.sigmoid(name+".sigmoid", x))
}

// scalar adds a float scalar constant.
func (b *builder) scalar(name string, v float32) string {
	return b.constant(name, ir.Shape{}, []float32{v})
}

// gelu is nn.GELU (exact) as torch exports it: (x·(Erf(x/√2) + 1))·½.
func (b *builder) gelu(name, x string) string {
	e := b.node(name+".erf", ir.OpErf, ir.Attrs{}, b.node(name+".div", ir.OpDiv, ir.Attrs{}, x, b.scalar(name+".sqrt2", float32(math.Sqrt2))))
	y := b.mul(name+".mul", x, b.add(name+".add", e, b.scalar(name+".one", 1)))
	return b.mul(name, y, b.scalar(name+".half", 0.5))
}

// reshape reshapes x to shape (which may hold one -1, and 0 for a
// dimension of x kept).
func (b *builder) reshape(name, x string, shape ...int) string {
	s := make([]int64, len(shape))
	for i, d := range shape {
		s[i] = int64(d)
	}
	if b.err == nil {
		b.err = b.g.AddConst(name+".shape", ir.IntTensor(ir.Shape{len(s)}, s))
	}
	return b.node(name, ir.OpReshape, ir.Attrs{}, x, name+".shape")
}

func (b *builder) transpose(name, x string, perm ...int) string {
	return b.node(name, ir.OpTranspose, ir.Attrs{Perm: perm}, x)
}

// split is torch.chunk/split along axis as exported (ONNX Split), one
// Slice per part.
func (b *builder) split(name, x string, axis int, sizes ...int) []string {
	outs := make([]string, len(sizes))
	for i := range outs {
		outs[i] = fmt.Sprintf("%s.%d", name, i)
	}
	if b.err == nil {
		b.err = b.g.AddSplit(name, x, outs, axis, sizes)
	}
	return outs
}

// linear is nn.Linear on an input of any rank as torch exports it: MatMul
// by the [in, out] weight, then Add of the bias.
func (b *builder) linear(name, x string, out int, gain float64) string {
	s := b.shape(x)
	if b.err != nil {
		return ""
	}
	in := s[len(s)-1]
	w := b.constant(name+".weight", ir.Shape{in, out}, b.normal(in*out, math.Sqrt(gain/float64(in))))
	bias := b.constant(name+".bias", ir.Shape{out}, b.uniform(out, -0.1, 0.1))
	return b.add(name, b.node(name+".matmul", ir.OpMatMul, ir.Attrs{}, x, w), bias)
}

// layerNorm is nn.LayerNorm over the last axis (ONNX LayerNormalization,
// opset 17) with scale ≈ 1 and bias ≈ 0.
func (b *builder) layerNorm(name, x string, eps float32) string {
	s := b.shape(x)
	if b.err != nil {
		return ""
	}
	c := s[len(s)-1]
	sc := b.constant(name+".weight", ir.Shape{c}, b.uniform(c, 0.9, 1.1))
	bi := b.constant(name+".bias", ir.Shape{c}, b.uniform(c, -0.1, 0.1))
	if b.err == nil {
		b.err = b.g.AddLayerNorm(name, x, sc, bi, name, -1, eps)
	}
	return name
}

func (b *builder) softmax(name, x string, axis int) string {
	return b.node(name, ir.OpSoftmax, ir.Attrs{Axis: axis}, x)
}

// maxPoolCeil is nn.MaxPool2d with ceil_mode=True as the ONNX importer
// represents it: the output size rounded up (dropping a last window that
// would start in the end padding), by padding the end further.
func (b *builder) maxPoolCeil(name, x string, k, stride, pad int) string {
	s := b.shape(x)
	if b.err != nil {
		return ""
	}
	pads := []int{pad, pad, pad, pad}
	for i, in := range s[2:] {
		span := in + 2*pad - k
		out := (span+stride-1)/stride + 1
		if (out-1)*stride >= in+pad {
			out--
		}
		pads[2+i] += max(0, (out-1)*stride+k-(in+2*pad))
	}
	return b.node(name, ir.OpMaxPool, ir.Attrs{Kernel: []int{k, k}, Strides: []int{stride, stride}, Pads: pads, Layout: ir.NCHW}, x)
}
