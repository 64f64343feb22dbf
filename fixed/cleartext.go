package fixed

import (
	"context"
	"fmt"
	"math"

	"veil/ir"
	"veil/tensor"
)

// Run executes p in the clear on encoded inputs (one per program input,
// in order) and returns the encoded outputs. The arithmetic is exactly the
// ring arithmetic the secure backends compute on shares, with ScaleDown as
// an arithmetic shift; it is their test oracle (see Cleartext).
func (p *Program) Run(inputs ...[]uint64) ([][]uint64, error) {
	return p.Execute(context.Background(), &Cleartext{}, inputs, nil)
}

// Trace runs p in the clear like Run but keeps and returns the value of
// every tensor (indexed like p.Tensors), for checking a secure execution
// against the cleartext one instruction by instruction.
func (p *Program) Trace(inputs ...[]uint64) ([][]uint64, error) {
	vals := make([][]uint64, len(p.Tensors))
	observe := func(k int, in *Instr, out Value) { vals[in.Out] = out.([]uint64) }
	if _, err := p.Execute(context.Background(), &Cleartext{}, inputs, &ExecOptions{Observe: observe}); err != nil {
		return nil, err
	}
	for i, id := range p.Inputs {
		vals[id] = inputs[i]
	}
	for id, t := range p.Tensors {
		if t.Kind == KindWeight {
			vals[id] = t.Values()
		}
	}
	return vals, nil
}

// Cleartext is the oracle backend: it executes a program in the clear,
// with the exact semantics of every op (see Op) over Z_2^64. It
// implements the composite ops natively (see Fuser), and its tests check
// each against its lowering. Run and Trace use it.
type Cleartext struct {
	p      *Program
	inputs [][]uint64
}

// Begin checks the inputs and the weights.
func (c *Cleartext) Begin(_ context.Context, p *Program, inputs [][]uint64) error {
	if len(inputs) != len(p.Inputs) {
		return fmt.Errorf("program %q takes %d inputs, got %d", p.Name, len(p.Inputs), len(inputs))
	}
	for i, id := range p.Inputs {
		if want := p.Tensors[id].Shape.Size(); len(inputs[i]) != want {
			return fmt.Errorf("input %q has %d values, the program expects %d (shape %v)", p.Tensors[id].Name, len(inputs[i]), want, p.Tensors[id].Shape)
		}
	}
	c.p, c.inputs = p, inputs
	return nil
}

// Input returns the i-th input as given to Begin.
func (c *Cleartext) Input(i int) (Value, error) { return c.inputs[i], nil }

// Weight returns the weight's data.
func (c *Cleartext) Weight(id int) (Value, error) {
	t := c.p.Tensors[id]
	if t.NumValues() != t.Shape.Size() {
		return nil, fmt.Errorf("program %q: weight %q has no data (a public program runs only in a secure backend)", c.p.Name, t.Name)
	}
	return t.Values(), nil
}

// Exec applies the instruction in the clear.
func (c *Cleartext) Exec(_ int, in *Instr, args []Value) (Value, error) {
	a := make([][]uint64, len(args))
	for i, v := range args {
		a[i] = v.([]uint64)
	}
	return c.p.exec(in, a)
}

// End returns the outputs.
func (c *Cleartext) End(outs []Value) ([][]uint64, error) {
	res := make([][]uint64, len(outs))
	for i, v := range outs {
		res[i] = v.([]uint64)
	}
	return res, nil
}

// Fuses reports true for every composite op: the oracle computes each
// directly.
func (c *Cleartext) Fuses(Op) bool { return true }

// LastUse returns, for every tensor, the index of the last instruction
// reading it (len(Instrs) for outputs, −1 if never read): after that
// instruction an executor may free it.
func (p *Program) LastUse() []int {
	last := make([]int, len(p.Tensors))
	for i := range last {
		last[i] = -1
	}
	for k, in := range p.Instrs {
		for _, id := range in.In {
			last[id] = k
		}
	}
	for _, id := range p.Outputs {
		last[id] = len(p.Instrs)
	}
	return last
}

// ConvParams returns the NCHW convolution parameters of a Conv
// instruction.
func (p *Program) ConvParams(in *Instr) tensor.ConvParams {
	x, w := p.Tensors[in.In[0]].Shape, p.Tensors[in.In[1]].Shape
	N, C, H, W := x[0], x[1], x[2], x[3]
	if in.Layout == "NHWC" {
		H, W, C = x[1], x[2], x[3]
	}
	return tensor.ConvParams{N: N, C: C, H: H, W: W, O: w[0], KH: w[2], KW: w[3],
		SH: in.Strides[0], SW: in.Strides[1], PadT: in.Pads[0], PadL: in.Pads[1], PadB: in.Pads[2], PadR: in.Pads[3], Group: in.Group}
}

// PoolParams returns the pooling parameters of a MaxPool or SumPool
// instruction (over NCHW planes).
func (p *Program) PoolParams(in *Instr) tensor.PoolParams {
	x := p.Tensors[in.In[0]].Shape
	N, C, H, W := x[0], x[1], x[2], x[3]
	if in.Layout == "NHWC" {
		H, W, C = x[1], x[2], x[3]
	}
	return tensor.PoolParams{NC: N * C, H: H, W: W, KH: in.Kernel[0], KW: in.Kernel[1], SH: in.Strides[0], SW: in.Strides[1],
		PadT: in.Pads[0], PadL: in.Pads[1], PadB: in.Pads[2], PadR: in.Pads[3]}
}

// ToNCHW and FromNCHW convert a 4-D tensor between layouts.
func ToNCHW(x []uint64, s ir.Shape) []uint64 {
	return permute(x, s, []int{0, 3, 1, 2})
}

// FromNCHW converts an NCHW tensor of NHWC shape s back to NHWC.
func FromNCHW(x []uint64, s ir.Shape) []uint64 {
	return permute(x, ir.Shape{s[0], s[3], s[1], s[2]}, []int{0, 2, 3, 1})
}

func permute(x []uint64, s ir.Shape, perm []int) []uint64 {
	t := ir.Transpose(ringTensor(x, s), perm)
	return fromInts(t.I)
}

func ringTensor(x []uint64, s ir.Shape) *ir.Tensor {
	v := make([]int64, len(x))
	for i, u := range x {
		v[i] = int64(u)
	}
	return ir.IntTensor(s, v)
}

func fromInts(v []int64) []uint64 {
	u := make([]uint64, len(v))
	for i, x := range v {
		u[i] = uint64(x)
	}
	return u
}

// broadcast applies f element-wise over a and b broadcast to out.
func broadcast[T any](a, b []T, as, bs, out ir.Shape, f func(x, y T) T) []T {
	res := make([]T, out.Size())
	if as.Equal(out) && bs.Equal(out) {
		for i := range res {
			res[i] = f(a[i], b[i])
		}
		return res
	}
	ai, bi := ir.BroadcastIndex(as, out), ir.BroadcastIndex(bs, out)
	for i := range res {
		res[i] = f(a[ai[i]], b[bi[i]])
	}
	return res
}

func (p *Program) exec(in *Instr, args [][]uint64) ([]uint64, error) {
	shape := func(i int) ir.Shape { return p.Tensors[in.In[i]].Shape }
	out := p.Tensors[in.Out].Shape
	res := make([]uint64, out.Size())
	switch in.Op {
	case Conv:
		cp := p.ConvParams(in)
		x := args[0]
		if in.Layout == "NHWC" {
			x = ToNCHW(x, shape(0))
		}
		tensor.Conv2D(res, x, args[1], cp)
		if len(args) == 3 {
			plane := cp.OutH() * cp.OutW()
			for i := range res {
				res[i] += args[2][(i/plane)%cp.O]
			}
		}
		if in.Layout == "NHWC" {
			res = FromNCHW(res, out)
		}
	case MatMul:
		res = matmul(args[0], args[1], shape(0), shape(1), out)
	case Mul:
		res = broadcast(args[0], args[1], shape(0), shape(1), out, func(x, y uint64) uint64 { return x * y })
	case Add:
		res = broadcast(args[0], args[1], shape(0), shape(1), out, func(x, y uint64) uint64 { return x + y })
	case Sub:
		res = broadcast(args[0], args[1], shape(0), shape(1), out, func(x, y uint64) uint64 { return x - y })
	case AddPublic, MulPublic:
		pub := fromInts(in.Public)
		f := func(x, y uint64) uint64 { return x + y }
		if in.Op == MulPublic {
			f = func(x, y uint64) uint64 { return x * y }
		}
		res = broadcast(args[0], pub, shape(0), in.PublicShape, out, f)
	case Const:
		res = broadcast(make([]uint64, out.Size()), fromInts(in.Public), out, in.PublicShape, out, func(_, y uint64) uint64 { return y })
	case ScaleDown:
		tensor.ScaleDown(res, args[0], in.Shift)
	case DReLU:
		for i, v := range args[0] {
			if int64(v) >= 0 {
				res[i] = 1
			}
		}
	case Mux:
		b, x, y := args[0], args[1], args[2]
		for i := range res {
			res[i] = y[i] + b[i]*(x[i]-y[i])
		}
	case Relu:
		tensor.Relu(res, args[0])
	case Max, Min:
		for i := range res {
			a, b := int64(args[0][i]), int64(args[1][i])
			if (in.Op == Max) == (a-b >= 0) {
				res[i] = uint64(a)
			} else {
				res[i] = uint64(b)
			}
		}
	case Piecewise:
		if err := execPiecewise(in, in.Node, args[0], res); err != nil {
			return nil, err
		}
	case Clip:
		for i, v := range args[0] {
			res[i] = uint64(min(max(int64(v), in.Min), in.Max))
		}
	case DivPublic:
		res = broadcast(args[0], fromInts(in.Public), shape(0), in.PublicShape, out, func(x, d uint64) uint64 {
			return uint64(roundDiv(int64(x), int64(d)))
		})
	case MaxPool, SumPool:
		pp := p.PoolParams(in)
		x := args[0]
		if in.Layout == "NHWC" {
			x = ToNCHW(x, shape(0))
		}
		if in.Op == MaxPool {
			tensor.MaxPool(res, x, pp)
		} else {
			tensor.SumPool(res, x, pp)
		}
		if in.Layout == "NHWC" {
			res = FromNCHW(res, out)
		}
	case ReduceSum, ReduceMax:
		idx := reduceIndex(shape(0), in.Axes)
		if in.Op == ReduceMax {
			seen := make([]bool, len(res))
			for i, v := range args[0] {
				if j := idx[i]; !seen[j] || int64(v) > int64(res[j]) {
					res[j], seen[j] = v, true
				}
			}
			break
		}
		for i, v := range args[0] {
			res[idx[i]] += v
		}
	case ArgMax:
		x := shape(0)
		ax := in.Axis
		if ax < 0 {
			ax += len(x)
		}
		inner := 1
		for _, d := range x[ax+1:] {
			inner *= d
		}
		dim := x[ax]
		for o := 0; o < len(res)/inner; o++ {
			for j := 0; j < inner; j++ {
				base := o*dim*inner + j
				best := 0
				for k := 1; k < dim; k++ {
					if v, b := int64(args[0][base+k*inner]), int64(args[0][base+best*inner]); v > b || in.SelectLast && v == b {
						best = k
					}
				}
				res[o*inner+j] = uint64(best)
			}
		}
	case Reshape:
		copy(res, args[0])
	case Transpose:
		res = permute(args[0], shape(0), in.Perm)
	case Concat:
		shapes := make([]ir.Shape, len(args))
		for i := range args {
			shapes[i] = shape(i)
		}
		res = ir.ConcatCopy(args, shapes, in.Axis, out)
	case Pad:
		if in.Mode == "edge" {
			res = padEdge(args[0], shape(0), in.Pads, out)
			break
		}
		res = fromInts(ir.PadInt(ringTensor(args[0], shape(0)), in.Pads, in.PadValue).I)
	case Slice:
		res = ir.SliceCopy(args[0], shape(0), in.Starts, in.Steps, out)
	default:
		return nil, fmt.Errorf("unknown op %q", in.Op)
	}
	return res, nil
}

// reduceIndex maps every flat index of a tensor of shape x to the index
// of its output element in a reduction over axes (all axes if none).
func reduceIndex(x ir.Shape, axes []int) []int {
	keep := make(ir.Shape, len(x))
	red := map[int]bool{}
	for _, a := range axes {
		if a < 0 {
			a += len(x)
		}
		red[a] = true
	}
	for i, d := range x {
		keep[i] = d
		if red[i] || len(axes) == 0 {
			keep[i] = 1
		}
	}
	return ir.BroadcastIndex(keep, x)
}

// roundDiv returns ⌊x/d + 1/2⌋ for d ≥ 1 (x/d rounded to the nearest
// integer, a half up), exactly for every x: DivPublic's semantics.
func roundDiv(x, d int64) int64 {
	q, r := x/d, x%d
	if r < 0 { // floor division: 0 ≤ r < d
		q, r = q-1, r+d
	}
	if r >= d-r { // r/d ≥ 1/2, without overflow
		q++
	}
	return q
}

// padEdge pads x (of shape s) to out by repeating its nearest element:
// every output coordinate reads the input coordinate clamped into range.
func padEdge(x []uint64, s ir.Shape, pads []int, out ir.Shape) []uint64 {
	res := make([]uint64, out.Size())
	r := len(s)
	strides := s.Strides()
	coord := make([]int, r)
	for i := range res {
		off := 0
		for d := 0; d < r; d++ {
			off += min(max(coord[d]-pads[d], 0), s[d]-1) * strides[d]
		}
		res[i] = x[off]
		for d := r - 1; d >= 0; d-- {
			if coord[d]++; coord[d] < out[d] {
				break
			}
			coord[d] = 0
		}
	}
	return res
}

func matmul[T tensor.Number](a, b []T, as, bs, out ir.Shape) []T {
	mm := MatMulShape(as, bs)
	M, K, N := mm.M, mm.K, mm.N
	res := make([]T, out.Size())
	for p := range mm.A {
		tensor.MatMul(res[p*M*N:(p+1)*M*N], a[mm.A[p]*M*K:(mm.A[p]+1)*M*K], b[mm.B[p]*K*N:(mm.B[p]+1)*K*N], M, K, N)
	}
	return res
}

// MatMulBatches is how a MatMul (numpy semantics) of shapes as × bs
// splits into matrix products: batch p multiplies the M×K matrix A[p] of
// the first operand by the K×N matrix B[p] of the second into the p-th
// M×N block of the output.
type MatMulBatches struct {
	M, K, N int
	A, B    []int
}

// MatMulShape returns the batches of a MatMul of shapes as × bs (a
// vector operand taken as a row, or a column, as numpy does); the shapes
// are those of a valid program.
func MatMulShape(as, bs ir.Shape) MatMulBatches {
	if len(as) == 1 {
		as = ir.Shape{1, as[0]}
	}
	if len(bs) == 1 {
		bs = ir.Shape{bs[0], 1}
	}
	batch, _ := ir.BroadcastShapes(as[:len(as)-2], bs[:len(bs)-2])
	return MatMulBatches{M: as[len(as)-2], K: as[len(as)-1], N: bs[len(bs)-1],
		A: ir.BroadcastIndex(as[:len(as)-2], batch), B: ir.BroadcastIndex(bs[:len(bs)-2], batch)}
}

// EncodeInput encodes float values at the program's scale.
func (p *Program) EncodeInput(x []float32) []uint64 {
	u := make([]uint64, len(x))
	for i, v := range x {
		u[i] = Encode(float64(v), p.Scale)
	}
	return u
}

// DecodeOutput decodes output i: real values at its tensor's scale (an
// ArgMax output has scale 0, so its indices come back as they are).
func (p *Program) DecodeOutput(i int, v []uint64) []float64 {
	s := p.Tensors[p.Outputs[i]].Scale
	out := make([]float64, len(v))
	for j, u := range v {
		out[j] = Decode(u, s)
	}
	return out
}

// ApplyPost applies the program's trailing Softmax or Sigmoid (see
// Compile) to a decoded output, over its last axis.
func (p *Program) ApplyPost(y []float64) []float64 {
	inner := 1
	if shape := p.Tensors[p.Outputs[0]].Shape; len(shape) > 0 {
		inner = shape[len(shape)-1]
	}
	return ApplyPost(p.Post, inner, y)
}

// ApplyPost applies post ("softmax" or "logsoftmax" over groups of inner
// values, "sigmoid"
// to every value, or nothing for "") to decoded outputs y.
func ApplyPost(post string, inner int, y []float64) []float64 {
	switch post {
	case "softmax":
		inner = max(inner, 1)
		out := make([]float64, len(y))
		for o := 0; o+inner <= len(y); o += inner {
			m := math.Inf(-1)
			for _, v := range y[o : o+inner] {
				m = math.Max(m, v)
			}
			var sum float64
			for j, v := range y[o : o+inner] {
				out[o+j] = math.Exp(v - m)
				sum += out[o+j]
			}
			for j := range y[o : o+inner] {
				out[o+j] /= sum
			}
		}
		return out
	case "logsoftmax":
		inner = max(inner, 1)
		out := make([]float64, len(y))
		for o := 0; o+inner <= len(y); o += inner {
			m := math.Inf(-1)
			for _, v := range y[o : o+inner] {
				m = math.Max(m, v)
			}
			var sum float64
			for _, v := range y[o : o+inner] {
				sum += math.Exp(v - m)
			}
			for j, v := range y[o : o+inner] {
				out[o+j] = v - m - math.Log(sum)
			}
		}
		return out
	case "sigmoid":
		out := make([]float64, len(y))
		for j, v := range y {
			out[j] = 1 / (1 + math.Exp(-v))
		}
		return out
	}
	return y
}

// Predict encodes one float input, runs the program and returns the
// decoded first output (before Post).
func (p *Program) Predict(x []float32) ([]float64, error) {
	outs, err := p.Run(p.EncodeInput(x))
	if err != nil {
		return nil, err
	}
	return p.DecodeOutput(0, outs[0]), nil
}
